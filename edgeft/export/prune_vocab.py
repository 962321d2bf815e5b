"""Shrink a run's vocabulary to the tokens a domain uses: fewer rows in the word-embedding matrix,
the largest single weight of a small encoder (half of a 6-layer MiniLM int8 bundle).

Kept: the special tokens, every token the corpus produces, and (by default) every one-character
token with its ``##`` form, so any word can still be spelled out in pieces instead of becoming
``[UNK]``. Ids are renumbered in their old order; the embedding rows, ``tokenizer.json`` (WordPiece
vocabulary, special-token ids of the post-processor, the padding id), ``vocab.txt`` and
``tokenizer_config.json`` follow. Words the corpus never showed are split differently than the
original model saw them, so the caller compares both models on held-out data:
``export_pruned`` (``edgeft export --prune-vocab``) prunes into a temporary run folder and exports
that, with the parity gate holding every variant to ``--max-drop`` against the unpruned run too.

WordPiece only (BERT, MiniLM, DistilBERT, ELECTRA): a BPE vocabulary's merges name tokens by
their text, and pruning one breaks every merge built on it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable

from edgeft_runtime.constants import TOKENIZER_FILE

from ..errors import ModelError

# The Hugging Face tokenizer files beside tokenizer.json that pruning rewrites.
VOCAB_FILE = "vocab.txt"
TOKENIZER_CONFIG = "tokenizer_config.json"


def read_wordpiece(folder: Path) -> dict[str, Any]:
    """The folder's ``tokenizer.json``, refused unless its model is WordPiece."""
    path = folder / TOKENIZER_FILE
    if not path.is_file():
        raise ModelError(f"{folder}: no {TOKENIZER_FILE}; vocabulary pruning needs a fast (tokenizers) tokenizer")
    data = json.loads(path.read_text(encoding="utf-8"))
    kind = data.get("model", {}).get("type")
    if kind != "WordPiece":
        raise ModelError(f"{path}: a {kind} vocabulary cannot be pruned (its merges name tokens); only WordPiece (BERT-style) vocabularies can")
    return data


def kept_ids(tokenizer_data: dict[str, Any], texts: Iterable[str], *, keep_characters: bool = True) -> list[int]:
    """Sorted ids to keep: specials, every id the texts tokenise to, and one-character tokens."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(json.dumps(tokenizer_data))
    tok.no_padding()
    tok.no_truncation()
    keep = {t["id"] for t in tokenizer_data.get("added_tokens", [])}
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) == 1024:
            keep.update(i for enc in tok.encode_batch(batch) for i in enc.ids)
            batch = []
    keep.update(i for enc in tok.encode_batch(batch) for i in enc.ids)
    if keep_characters:
        prefix = tokenizer_data["model"].get("continuing_subword_prefix", "##")
        for token, i in tokenizer_data["model"]["vocab"].items():
            if len(token.removeprefix(prefix)) == 1:
                keep.add(i)
    return sorted(keep)


def remap_tokenizer(data: dict[str, Any], keep: list[int]) -> dict[str, Any]:
    """``tokenizer.json`` with only the ``keep`` ids, renumbered 0..n-1 in their old order."""
    new_id = {old: new for new, old in enumerate(keep)}
    out = json.loads(json.dumps(data))
    out["model"]["vocab"] = {token: new_id[i] for token, i in sorted(data["model"]["vocab"].items(), key=lambda kv: kv[1]) if i in new_id}
    for token in out.get("added_tokens", []):
        token["id"] = new_id[token["id"]]
    post = out.get("post_processor") or {}
    for spec in (post.get("special_tokens") or {}).values():  # TemplateProcessing
        spec["ids"] = [new_id[i] for i in spec["ids"]]
    for key in ("sep", "cls"):  # BertProcessing / RobertaProcessing: [token, id]
        if isinstance(post.get(key), list):
            post[key][1] = new_id[post[key][1]]
    if out.get("padding"):
        out["padding"]["pad_id"] = new_id[out["padding"]["pad_id"]]
    return out


def write_pruned_tokenizer(src: Path, dst: Path, data: dict[str, Any], keep: list[int]) -> None:
    """The tokenizer files of ``src`` with the pruned vocabulary, into ``dst``."""
    new_id = {old: new for new, old in enumerate(keep)}
    pruned = remap_tokenizer(data, keep)
    (dst / TOKENIZER_FILE).write_text(json.dumps(pruned, ensure_ascii=False), encoding="utf-8")
    by_id = sorted(pruned["model"]["vocab"].items(), key=lambda kv: kv[1])
    (dst / VOCAB_FILE).write_text("".join(token + "\n" for token, _ in by_id), encoding="utf-8")
    config_path = src / TOKENIZER_CONFIG
    if config_path.is_file():
        config = json.loads(config_path.read_text(encoding="utf-8"))
        if "added_tokens_decoder" in config:
            config["added_tokens_decoder"] = {str(new_id[int(k)]): v for k, v in config["added_tokens_decoder"].items()}
        (dst / TOKENIZER_CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    special = src / "special_tokens_map.json"
    if special.is_file():
        shutil.copyfile(special, dst / special.name)


def prune_embeddings(model: Any, keep: list[int], pad_id: int | None) -> None:
    """Keep only the ``keep`` rows of the model's word embeddings (in place)."""
    import torch

    old = model.get_input_embeddings()
    new = torch.nn.Embedding(len(keep), old.weight.shape[1], padding_idx=pad_id)
    with torch.no_grad():
        new.weight.copy_(old.weight[torch.tensor(keep)])
    model.set_input_embeddings(new)
    model.config.vocab_size = len(keep)
    if pad_id is not None:
        model.config.pad_token_id = pad_id


WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def prune_run(
    run_dir: Path, texts: Iterable[str], out_dir: Path, *, keep_characters: bool = True, run: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Write a copy of the classifier or NER run ``run_dir`` with its vocabulary pruned to
    ``texts`` into ``out_dir`` (which must exist and be empty); return what was kept.

    run: its edgeft_run.json when the caller has read it already."""
    from edgeft_exporters.run_folder import read_run
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

    run = run if run is not None else read_run(run_dir)
    if run["task"] not in ("classifier", "ner"):
        raise ModelError(f"{run_dir}: vocabulary pruning supports classifier and ner runs, not {run['task']}")
    data = read_wordpiece(run_dir)
    keep = kept_ids(data, texts, keep_characters=keep_characters)
    auto = AutoModelForTokenClassification if run["task"] == "ner" else AutoModelForSequenceClassification
    model = auto.from_pretrained(str(run_dir))
    before = model.get_input_embeddings().weight.shape[0]
    pad = (data.get("padding") or {}).get("pad_id", model.config.pad_token_id)
    prune_embeddings(model, keep, keep.index(pad) if pad in keep else None)
    skip = set(WEIGHT_FILES) | {TOKENIZER_FILE, VOCAB_FILE, TOKENIZER_CONFIG, "special_tokens_map.json", "config.json"}
    for path in run_dir.iterdir():
        if path.is_file() and path.name not in skip:
            shutil.copyfile(path, out_dir / path.name)
    model.save_pretrained(str(out_dir))
    write_pruned_tokenizer(run_dir, out_dir, data, keep)
    return {"vocab_before": before, "vocab_after": len(keep), "keep_characters": keep_characters}


def export_pruned(
    run_dir: Path,
    out_dir: Path,
    options: Any,
    corpus: list[str],
    corpus_name: str,
    *,
    keep_characters: bool = True,
    eval_rows: Any = None,
    eval_source: str | None = None,
    run: dict[str, Any] | None = None,
) -> Any:
    """``export_run`` of ``run_dir`` with its vocabulary pruned to ``corpus``: the pruned copy lives
    in a temporary folder beside ``out_dir`` (the run is never modified) and the parity gate also
    scores the unpruned run on the same held-out data. Returns the ExportResult.

    run: the run's edgeft_run.json when the caller has read it already (it is read once)."""
    from edgeft_exporters.adapters import model_folder
    from edgeft_exporters.api import DerivedFrom, export_run
    from edgeft_exporters.run_folder import read_run
    from edgeft_exporters.staging import StagedDir

    # Everything a user can get wrong fails before the run is copied and pruned.
    options.check()
    StagedDir(out_dir, overwrite=options.overwrite).check()
    if not corpus:
        raise ModelError(f"{corpus_name}: no texts to prune the vocabulary to")
    run = run if run is not None else read_run(run_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # The temporary copy sits beside the bundle (same disk); TemporaryDirectory removes it on any error.
    with model_folder(run_dir, run) as model_dir, tempfile.TemporaryDirectory(prefix=".edgeft-pruned-", dir=out_dir.parent) as tmp:
        pruned = Path(tmp) / run_dir.name
        pruned.mkdir()
        kept = prune_run(model_dir, corpus, pruned, keep_characters=keep_characters, run=run)
        about = {"derivation": "vocabulary pruning", "corpus": corpus_name, "corpus_texts": len(corpus), **kept}
        return export_run(
            pruned, out_dir, options, eval_rows=eval_rows, eval_source=eval_source, original=DerivedFrom(model_dir, about), options_checked=True
        )
