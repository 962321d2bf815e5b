"""Vocabulary pruning on a tiny BERT: ids renumbered consistently in the tokenizer and the
embedding rows, so texts of the corpus give the same outputs as before and others are spelled
in pieces rather than lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeft.errors import ModelError
from edgeft.export.prune_vocab import kept_ids, prune_embeddings, read_wordpiece, write_pruned_tokenizer


def test_pruned_model_and_tokenizer_reproduce_corpus_texts(tmp_path, tiny_base):
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    corpus = ["the film was good", "a sad story"]
    data = read_wordpiece(tiny_base)
    keep = kept_ids(data, corpus, keep_characters=False)
    vocab = data["model"]["vocab"]
    assert {vocab[t] for t in ("[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]", "film", "sad")} <= set(keep)
    assert vocab["berlin"] not in keep and len(keep) < len(vocab)

    model = AutoModelForSequenceClassification.from_pretrained(tiny_base, num_labels=2).eval()
    out = tmp_path / "pruned"
    out.mkdir()
    pad = keep.index(vocab["[PAD]"])
    pruned = AutoModelForSequenceClassification.from_pretrained(tiny_base, num_labels=2).eval()
    pruned.load_state_dict(model.state_dict())
    prune_embeddings(pruned, keep, pad)
    pruned.save_pretrained(out)
    write_pruned_tokenizer(tiny_base, out, data, keep)

    old_tok, new_tok = AutoTokenizer.from_pretrained(tiny_base), AutoTokenizer.from_pretrained(out)
    reloaded = AutoModelForSequenceClassification.from_pretrained(out).eval()
    assert reloaded.config.vocab_size == len(keep) == len(new_tok)
    with torch.no_grad():
        for text in corpus + ["good film the"]:
            a = model(**old_tok(text, return_tensors="pt")).logits
            b = reloaded(**new_tok(text, return_tensors="pt")).logits
            assert torch.allclose(a, b, atol=1e-6), text
    # A word outside the corpus and without its character pieces becomes [UNK]; with them, pieces.
    fast = Tokenizer.from_file(str(out / "tokenizer.json"))
    assert fast.encode("berlin").tokens[1] == "[UNK]"
    keep_chars = kept_ids(data, corpus, keep_characters=True)
    data_chars = json.loads(json.dumps(data))
    out2 = tmp_path / "chars"
    out2.mkdir()
    write_pruned_tokenizer(tiny_base, out2, data_chars, keep_chars)
    pieces = Tokenizer.from_file(str(out2 / "tokenizer.json")).encode("berlin").tokens[1:-1]
    assert "[UNK]" not in pieces and "".join(p.removeprefix("##") for p in pieces) == "berlin"
    # Padding and the special tokens use the new ids.
    assert json.loads((out / "tokenizer.json").read_text())["post_processor"]["special_tokens"]["[CLS]"]["ids"] == [keep.index(vocab["[CLS]"])]


def test_bpe_vocabulary_is_refused(tmp_path):
    (tmp_path / "tokenizer.json").write_text(json.dumps({"model": {"type": "BPE", "vocab": {}, "merges": []}}))
    with pytest.raises(ModelError, match="BPE vocabulary cannot be pruned"):
        read_wordpiece(tmp_path)


# ----------------------------------------------------------------------------- edgeft export --prune-vocab


def _export(*args):
    from typer.testing import CliRunner

    from edgeft.cli import app

    return CliRunner().invoke(app, ["export", *map(str, args)])


def test_export_prune_vocab_shrinks_the_bundle_and_keeps_its_answers(tmp_path, tiny_run, tiny_bundle, sentiment_files, monkeypatch):
    import csv

    import edgeft_exporters.run_folder as run_folder
    import edgeft_runtime
    from edgeft_exporters.options import ExportOptions

    reads, checks = [], []
    read_run, check = run_folder.read_run, ExportOptions.check
    monkeypatch.setattr(run_folder, "read_run", lambda folder: reads.append(Path(folder)) or read_run(folder))
    monkeypatch.setattr(ExportOptions, "check", lambda self: checks.append(self) or check(self))

    corpus = tmp_path / "domain.txt"
    texts = [row["text"] for row in csv.DictReader(open(sentiment_files["train"], encoding="utf-8"))]
    corpus.write_text("\n".join(texts) + "\n", encoding="utf-8")
    run_before = {p.name: p.stat().st_mtime_ns for p in tiny_run.iterdir()}
    out = tmp_path / "pruned-bundle"
    result = _export(tiny_run, "--prune-vocab", corpus, "--out", out, "--reference-samples", 8)
    assert result.exit_code == 0, result.output
    assert "tokens kept; before pruning PyTorch" in result.output
    assert reads.count(tiny_run) == 1 and len(checks) == 1  # the run is read once, the options checked once

    manifest = json.loads((out / "edgeft.json").read_text())
    original = manifest["parity"]["original"]
    vocab = json.loads((out / "tokenizer.json").read_text())["model"]["vocab"]
    assert original["vocab_after"] == len(vocab) < original["vocab_before"]
    # The limit it was held to: the gate's --max-drop, recorded once (parity.max_drop).
    assert original["corpus_texts"] == len(texts) and manifest["parity"]["max_drop"] == 1.0 and "max_drop" not in original
    assert "paris" not in vocab and "good" in vocab  # a word only other data uses is gone
    # The dev texts use the training texts' words: pruning changes no answer.
    fp32 = manifest["parity"]["variants"]["fp32"]
    assert fp32["original_drop"] == 0 and fp32["original_label_agreement"] == 1.0
    assert (out / "model.onnx").stat().st_size < (tiny_bundle / "model.onnx").stat().st_size
    dev = [row["text"] for row in csv.DictReader(open(sentiment_files["dev"], encoding="utf-8"))]
    pruned, full = edgeft_runtime.load(out), edgeft_runtime.load(tiny_bundle, variant="fp32")
    assert [p["label"] for p in pruned.predict(dev)] == [p["label"] for p in full.predict(dev)]
    # A word outside the corpus is spelled out in pieces, not lost.
    assert pruned.predict(["paris"])[0]["label"] in ("pos", "neg")
    assert "vocabulary pruned to the tokens of" in (out / "README.md").read_text()
    assert {p.name: p.stat().st_mtime_ns for p in tiny_run.iterdir()} == run_before  # the run is untouched
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".edgeft-pruned-")]


def test_export_prune_vocab_is_refused_when_pruning_costs_the_metric(tmp_path, tiny_run):
    from tests.conftest import assert_one_error_line

    corpus = tmp_path / "no-sentiment.txt"
    corpus.write_text("the film was really a story\nthis movie is so very\n", encoding="utf-8")
    out = tmp_path / "refused"
    result = _export(tiny_run, "--prune-vocab", corpus, "--out", out)
    assert_one_error_line(result, "points below the model before vocabulary pruning", "--max-drop 1", "without --prune-vocab")
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".edgeft-pruned-")]


def test_export_prune_vocab_bad_corpus_is_one_line(tmp_path, tiny_run):
    from tests.conftest import assert_one_error_line

    result = _export(tiny_run, "--prune-vocab", tmp_path / "missing.txt", "--out", tmp_path / "x")
    assert_one_error_line(result, "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    result = _export(tiny_run, "--prune-vocab", empty, "--out", tmp_path / "x")
    assert_one_error_line(result, "empty.txt")
    assert not (tmp_path / "x").exists()
    # An existing output folder is refused before the run is copied and pruned, and left as it was.
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine", encoding="utf-8")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the film was good\n", encoding="utf-8")
    result = _export(tiny_run, "--prune-vocab", corpus, "--out", taken)
    assert_one_error_line(result, "already exists", "--overwrite")
    assert [p.name for p in taken.iterdir()] == ["keep.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".edgeft-pruned-")]
