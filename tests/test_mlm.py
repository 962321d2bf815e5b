"""Masked-LM continued pretraining: corpus readers, masking, blocks, the head, the run folder,
chaining into other tasks, and the fill-mask bundle."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from typer.testing import CliRunner

from edgeft.cli import app
from edgeft.config import MlmConfig
from edgeft.config_loader import build_config
from edgeft.data.corpus import read_corpus, read_corpus_file, split_documents
from edgeft.errors import ConfigError, DataError
from tests.conftest import assert_one_error_line
from tests.reference_checks import assert_reference_round_trip
from edgeft.tasks.mlm import (
    IGNORE_INDEX,
    NO_WORD,
    Masking,
    build_blocks,
    decoder_is_tied,
    group_blocks,
    load_masked_lm,
    mask_tokens,
)
from tests import tiny

# --- corpus -----------------------------------------------------------------------------------


def test_one_document_per_line(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("first  doc here\n\n   \nsecond doc\nthird\n", encoding="utf-8")
    # a blank line between two lines of text switches auto to blank-line documents
    docs = read_corpus_file(path, documents="line")
    assert [(d.text, d.line) for d in docs] == [("first doc here", 1), ("second doc", 4), ("third", 5)]
    path.write_text("first doc\nsecond doc\nthird\n\n", encoding="utf-8")
    assert [d.text for d in read_corpus_file(path)] == ["first doc", "second doc", "third"]


def test_blank_line_separated_documents(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("para one\ncontinues here\n\n\npara two\n  \nlast\none\n", encoding="utf-8")
    docs = read_corpus_file(path)
    assert [(d.text, d.line) for d in docs] == [("para one continues here", 1), ("para two", 5), ("last one", 7)]


def test_jsonl_text_field(tmp_path, caplog):
    path = tiny.write_jsonl(tmp_path / "c.jsonl", [{"body": "a b c", "id": 1}, {"body": "  "}, {"body": "d e"}])
    with caplog.at_level(logging.WARNING, logger="edgeft"):
        docs = read_corpus_file(path, text_field="body")
    assert [(d.text, d.line) for d in docs] == [("a b c", 1), ("d e", 3)]
    assert "skipped 1 record(s) with empty 'body'" in caplog.text
    with pytest.raises(DataError, match=r"c\.jsonl:1: no field or column 'text' \(found: body, id\); pass --text-field"):
        read_corpus_file(path)


def test_a_task_training_file_is_a_corpus_by_its_text_column(tmp_path):
    """Task-adaptive pretraining: the masked-LM reads a classifier's CSV/TSV training file."""
    csv_file = tiny.write_csv(tmp_path / "train.csv", [("great phone, long battery", "pos"), ("broken on day one", "neg")])
    assert [d.text for d in read_corpus_file(csv_file)] == ["great phone, long battery", "broken on day one"]
    assert [d.line for d in read_corpus_file(csv_file)] == [2, 3]
    tsv_file = tiny.write_csv(tmp_path / "train.tsv", [("x", "y")], header=("sentence", "label"))
    tsv_file.write_text("sentence\tlabel\nfine text\tpos\n", encoding="utf-8")
    assert [d.text for d in read_corpus_file(tsv_file, text_field="sentence")] == ["fine text"]
    with pytest.raises(DataError, match=r"train\.tsv:2: no field or column 'text' \(found: sentence, label\); pass --text-field"):
        read_corpus_file(tsv_file)


def test_folder_and_several_paths(tmp_path):
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.txt").write_text("bee one\nbee two\n", encoding="utf-8")
    (folder / "a.txt").write_text("ay\n", encoding="utf-8")
    tiny.write_jsonl(folder / "sub" / "c.jsonl", [{"text": "sea"}])
    (folder / ".hidden.txt").write_text("never read\n", encoding="utf-8")
    extra = tmp_path / "extra.txt"
    extra.write_text("more\n", encoding="utf-8")
    docs = read_corpus([folder, extra])
    assert [d.text for d in docs] == ["ay", "bee one", "bee two", "sea", "more"]
    assert docs[3].source.endswith("c.jsonl")


@pytest.mark.parametrize(
    "content, expected",
    [(b"  \n\n \n", r"empty\.txt: no text in this corpus file"), (b"ok line\nbad \xff byte\n", r"empty\.txt:2: byte 0xff is not valid UTF-8")],
)
def test_corpus_errors_name_the_file(tmp_path, content, expected):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=expected):
        read_corpus([path])


def test_missing_paths_and_empty_folders(tmp_path):
    with pytest.raises(DataError, match="nope.txt: corpus file or folder not found"):
        read_corpus([tmp_path / "nope.txt"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: folder has no files"):
        read_corpus([tmp_path / "empty"])


def test_document_split_is_seeded_and_disjoint(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("".join(f"doc {i}\n" for i in range(50)), encoding="utf-8")
    docs = read_corpus([path])
    train, held = split_documents(docs, 0.1, seed=3)
    assert len(held) == 5 and len(train) == 45
    assert {d.text for d in train}.isdisjoint(d.text for d in held)
    assert [d.text for d in split_documents(docs, 0.1, seed=3)[1]] == [d.text for d in held]
    with pytest.raises(DataError, match="one document cannot be split"):
        split_documents(docs[:1], 0.1, seed=3)


def test_config_lists_and_keys_that_do_not_apply(tmp_path):
    cfg = build_config(MlmConfig, flags={"corpus": ["a.txt"]}, overrides=["corpus=x.txt, y"])
    assert cfg.corpus == ["x.txt", "y"]
    toml = tmp_path / "c.toml"
    toml.write_text('corpus = ["a.txt", "dir"]\nwhole_word_masking = true\n', encoding="utf-8")
    cfg = build_config(MlmConfig, config_file=toml)
    assert cfg.corpus == ["a.txt", "dir"] and cfg.whole_word_masking
    assert "label_column" not in cfg.to_dict() and "train" not in cfg.to_dict()
    with pytest.raises(ConfigError, match="'label_column' is not used by this task"):
        build_config(MlmConfig, overrides=["label_column=y"])
    with pytest.raises(ConfigError, match="mlm_probability=1.5 must be in"):
        build_config(MlmConfig, overrides=["mlm_probability=1.5"])
    with pytest.raises(ConfigError, match="no corpus"):
        build_config(MlmConfig).require_io()


# --- masking ----------------------------------------------------------------------------------

MASKING = Masking(mask_id=4, special_ids=(0, 1, 2, 3, 4), vocab_size=100)


def _batch(rows: int = 400, width: int = 128, seed: int = 0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, 100, size=(rows, width))
    ids[:, 0], ids[:, -1] = 2, 3  # [CLS] ... [SEP]
    ids[:, 60] = 3  # a document boundary inside the block
    return ids


def test_masking_statistics():
    ids = _batch()
    masked, labels = mask_tokens(ids, None, MASKING, np.random.default_rng(1))
    special = np.isin(ids, MASKING.special_ids)
    selected = labels != IGNORE_INDEX
    assert not selected[special].any(), "special tokens are never selected"
    assert (masked[special] == ids[special]).all()
    assert (labels[selected] == ids[selected]).all()
    assert abs(selected.sum() / (~special).sum() - 0.15) < 0.005
    n = selected.sum()
    as_mask = (masked == MASKING.mask_id) & selected
    changed = (masked != ids) & ~as_mask
    kept = (masked == ids) & selected
    assert abs(as_mask.sum() / n - 0.8) < 0.015
    assert abs(changed.sum() / n - 0.1) < 0.01  # random tokens (a draw of the same token counts as kept)
    assert abs(kept.sum() / n - 0.1) < 0.01
    assert not changed[~selected].any(), "only selected tokens change"
    assert not np.isin(masked[changed], MASKING.special_ids).any(), "random replacements are never special tokens"


def test_masking_is_reproducible_per_seed():
    ids = _batch(rows=8)
    a = mask_tokens(ids, None, MASKING, np.random.default_rng(7))
    b = mask_tokens(ids, None, MASKING, np.random.default_rng(7))
    c = mask_tokens(ids, None, MASKING, np.random.default_rng(8))
    assert all((x == y).all() for x, y in zip(a, b))
    assert not (a[1] == c[1]).all()


def test_whole_word_masking_masks_all_pieces_together():
    ids = _batch()
    rng = np.random.default_rng(2)
    words = np.full(ids.shape, NO_WORD)
    for row in range(ids.shape[0]):  # words of 1 to 4 pieces, numbered across the batch
        col, word = 1, row * 1000
        while col < ids.shape[1] - 1:
            if ids[row, col] != 3:
                size = int(rng.integers(1, 5))
                span = [c for c in range(col, min(col + size, ids.shape[1] - 1)) if ids[row, c] != 3]
                words[row, span] = word
                word += 1
                col = span[-1] + 1
            else:
                col += 1
    masking = Masking(mask_id=4, special_ids=(0, 1, 2, 3, 4), vocab_size=100, whole_word=True)
    _, labels = mask_tokens(ids, words, masking, np.random.default_rng(3))
    selected = labels != IGNORE_INDEX
    for w in np.unique(words[words != NO_WORD]):
        picked = selected[words == w]
        assert picked.all() or not picked.any(), f"word {w} was masked in part"
    assert not selected[words == NO_WORD].any()
    assert abs(selected.sum() / (words != NO_WORD).sum() - 0.15) < 0.01


# --- blocks -----------------------------------------------------------------------------------


def test_blocks_are_full_and_documents_separated():
    docs = [list(range(10, 10 + n)) for n in (7, 1, 12, 5, 30, 3)]
    words = [list(range(len(d))) for d in docs]
    blocks = group_blocks(docs, words, 10, cls_id=2, sep_id=3)
    stream = [t for i, d in enumerate(docs) for t in ([3] if i else []) + d]
    body = 8
    assert blocks.input_ids.shape == (len(stream) // body, 10)
    assert (blocks.input_ids[:, 0] == 2).all() and (blocks.input_ids[:, -1] == 3).all()
    assert not (blocks.input_ids == 0).any(), "nothing is padded"
    assert blocks.input_ids[:, 1:-1].reshape(-1).tolist() == stream[: len(blocks) * body]
    assert blocks.dropped_tokens == len(stream) % body
    assert blocks.corpus_tokens == sum(map(len, docs))
    # word ids: none at separators, and never shared by two documents
    flat_ids, flat_words = blocks.input_ids[:, 1:-1].reshape(-1), blocks.word_ids[:, 1:-1].reshape(-1)
    assert (flat_words[flat_ids == 3] == NO_WORD).all() and (flat_words[flat_ids != 3] != NO_WORD).all()
    assert len(np.unique(flat_words[flat_ids != 3])) == (flat_ids != 3).sum()


def test_blocks_from_a_tokenizer_keep_word_pieces_together(tiny_base):
    from transformers import AutoTokenizer

    from edgeft.data.corpus import Document

    tok = AutoTokenizer.from_pretrained(tiny_base)
    docs = [Document("anna visited zebraland today", "x", 1), Document("otto met quokkas in berlin", "x", 2)] * 4
    blocks = build_blocks(tok, docs, 16)
    assert len(blocks) > 0 and blocks.input_ids.shape[1] == 16
    pieces = tok.convert_ids_to_tokens(blocks.input_ids[0].tolist())
    for i, piece in enumerate(pieces):
        if piece.startswith("##"):
            assert blocks.word_ids[0, i] == blocks.word_ids[0, i - 1] != NO_WORD


# --- head -------------------------------------------------------------------------------------


def test_missing_head_is_initialised_tied_with_a_warning(tiny_base, caplog):
    with caplog.at_level(logging.WARNING, logger="edgeft"):
        model, info = load_masked_lm(str(tiny_base), "tiny")
    assert info.initialised and "cls.predictions.transform.dense.weight" in info.missing
    assert model.config.tie_word_embeddings and decoder_is_tied(model)
    assert model.get_output_embeddings().weight is model.bert.embeddings.word_embeddings.weight
    assert "base tiny has no masked-LM head; initialised a new one tied to the word embeddings" in caplog.text


def test_existing_head_is_used(tiny_base, tmp_path, caplog):
    import torch

    model, _ = load_masked_lm(str(tiny_base), "tiny")
    with torch.no_grad():
        model.cls.predictions.transform.dense.weight.fill_(0.25)
    model.save_pretrained(tmp_path / "with-head")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="edgeft"):
        again, info = load_masked_lm(str(tmp_path / "with-head"), "with-head")
    assert not info.initialised and "masked-LM head" not in caplog.text
    assert torch.all(again.cls.predictions.transform.dense.weight == 0.25)
    assert decoder_is_tied(again)


# --- training, chaining, export ---------------------------------------------------------------


def corpus_lines(n: int, seed: int) -> list[str]:
    import random

    rng = random.Random(seed)
    words = tiny.FILLER + tiny.EXTRA[:8] + ["zebra", "quokka"]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(5, 25))) for _ in range(n)]


@pytest.fixture(scope="module")
def mlm_run(tmp_path_factory, tiny_base):
    from edgeft.tasks.mlm import train_mlm

    folder = tmp_path_factory.mktemp("mlm")
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(corpus_lines(160, 0)) + "\n", encoding="utf-8")
    config = MlmConfig(
        corpus=[str(corpus)], out=str(folder / "run"), base=str(tiny_base), max_length=32, epochs=2,
        batch_size=16, lr=3e-3, logging_steps=1000, head_warmup_steps=3,
    )
    return train_mlm(config)


def test_run_folder_reports_perplexity_before_and_after(mlm_run):
    run = mlm_run.out
    names = {p.name for p in run.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "edgeft_run.json", "train_config.json", "metrics.json", "eval.jsonl"} <= names
    assert "checkpoints" not in names and "training_args.bin" not in names and "head-warmup" not in names
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("perplexity_before", "perplexity_after_head_warmup", "perplexity_after"):
        assert metrics[key] > 1
    assert metrics["perplexity_after"] < metrics["perplexity_before"]
    assert metrics["head_initialised"] is True and "untrained head" in metrics["note"]
    assert metrics["eval_masked_tokens"] > 0 and metrics["train_blocks"] > 0
    info = json.loads((run / "edgeft_run.json").read_text())
    assert info["task"] == "mlm" and info["max_length"] == 32 and info["masked_lm_head"] == "initialised"
    held = [json.loads(line) for line in (run / "eval.jsonl").read_text().splitlines()]
    assert len(held) == metrics["eval_documents"] == 16 and all(row["text"] for row in held)


def test_run_is_a_base_for_other_tasks(mlm_run, tiny_base):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

    from edgeft.base_models import load_base_config

    run = mlm_run.out
    path, config = load_base_config(str(run))
    assert config.model_type == "bert"
    saved = load_file(str(run / "model.safetensors"))
    base = load_file(str(tiny_base / "model.safetensors"))
    assert not torch.equal(saved["bert.encoder.layer.0.attention.self.query.weight"], base["encoder.layer.0.attention.self.query.weight"])
    for cls in (AutoModelForSequenceClassification, AutoModelForTokenClassification):
        model = cls.from_pretrained(path, num_labels=3)
        assert torch.equal(model.bert.encoder.layer[1].output.dense.weight, saved["bert.encoder.layer.1.output.dense.weight"])
        assert torch.equal(model.bert.embeddings.word_embeddings.weight, saved["bert.embeddings.word_embeddings.weight"])
    classifier = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    assert torch.equal(classifier.bert.pooler.dense.weight, base["pooler.dense.weight"]), "the base's pooler carries over"


def test_too_little_text_for_one_block(tmp_path, tiny_base):
    from edgeft.tasks.mlm import train_mlm

    corpus = tmp_path / "c.txt"
    corpus.write_text("the film\nthe plot\n", encoding="utf-8")
    config = MlmConfig(corpus=[str(corpus)], out=str(tmp_path / "run"), base=str(tiny_base), max_length=64)
    with pytest.raises(DataError, match="fewer than one block of 64 \\(--max-length\\)"):
        train_mlm(config)


@pytest.fixture(scope="module")
def fill_mask_bundle(mlm_run, tmp_path_factory):
    from edgeft_exporters.api import ExportOptions, export_run

    out = tmp_path_factory.mktemp("fm") / "bundle"
    export_run(mlm_run.out, out, ExportOptions(int8=True, max_drop=100.0))
    return out


def test_fill_mask_bundle_parity(fill_mask_bundle):
    manifest = json.loads((fill_mask_bundle / "edgeft.json").read_text())
    assert manifest["task"] == "fill-mask" and manifest["fill_mask"]["mask_token"] == "[MASK]"
    assert manifest["outputs"] == {"logits": "logits"} and manifest["default_variant"] == "int8"
    parity = manifest["parity"]
    assert parity["metric"] == "top1_accuracy" and parity["samples"] > 0
    fp32 = parity["variants"]["fp32"]
    assert fp32["max_abs_diff"] <= 1e-4 and fp32["label_agreement"] == 1.0 and fp32["top5_overlap"] == 1.0
    assert 0 <= parity["variants"]["int8"]["top5_overlap"] <= 1


def test_reference_set_holds_top_tokens_at_masks(fill_mask_bundle, mlm_run):
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from edgeft_exporters.run_folder import read_run
    from edgeft_exporters.tasks.fill_mask import FillMaskExport

    rows = [json.loads(line) for line in (mlm_run.out / "eval.jsonl").read_text().splitlines()]
    masked, gold = FillMaskExport(read_run(mlm_run.out), mlm_run.out).parse_examples(rows, "eval")
    reference, report = assert_reference_round_trip(fill_mask_bundle, masked, "top1_accuracy")
    assert report["variants"]["fp32"]["agreement_unit"] == "mask (top-1)"
    counts = reference.observed["mask_counts"]
    assert counts.tolist() == [text.count("[MASK]") for text in reference.texts] and reference.gold == gold[: counts.sum()].tolist()
    tok = AutoTokenizer.from_pretrained(mlm_run.out)
    model = AutoModelForMaskedLM.from_pretrained(mlm_run.out).eval()
    with torch.no_grad():
        enc = tok(reference.texts, padding=True, return_tensors="pt")
        probs = torch.softmax(model(**enc).logits[enc["input_ids"] == tok.mask_token_id], -1).numpy()
    np.testing.assert_array_equal(reference.observed["top_ids"][:, 0], probs.argmax(-1))
    np.testing.assert_allclose(reference.observed["top_probabilities"], np.take_along_axis(probs, reference.observed["top_ids"], -1), atol=1e-5)


def test_fill_mask_runtime_output(fill_mask_bundle, mlm_run):
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    import edgeft_runtime

    model = edgeft_runtime.load(fill_mask_bundle, variant="fp32")
    text = "anna visited [MASK] today and [MASK] ."
    result = model.fill_mask(text, top_k=4)
    assert len(result) == 2 and all(len(c) == 4 for c in result)
    for candidates in result:
        scores = [c["score"] for c in candidates]
        assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1 + 1e-6
        assert list(candidates[0]) == ["score", "token", "token_str", "sequence"]
    first = result[0][0]
    word = first["token_str"].removeprefix("##")
    assert first["sequence"].endswith("today and [MASK] .") and word in first["sequence"]

    # the probabilities are the softmax of the PyTorch model's logits at the mask
    tok = AutoTokenizer.from_pretrained(mlm_run.out)
    torch_model = AutoModelForMaskedLM.from_pretrained(mlm_run.out).eval()
    enc = tok(text, return_tensors="pt")
    with torch.inference_mode():
        probs = torch.softmax(torch_model(**enc).logits[enc["input_ids"] == tok.mask_token_id], -1).numpy()
    assert [c["token"] for c in result[1]] == np.argsort(-probs[1])[:4].tolist()
    assert np.allclose([c["score"] for c in result[1]], np.sort(probs[1])[::-1][:4], atol=1e-5)

    # transformers' fill-mask pipeline on the same model: the same fields in the same order, the
    # same token ids, token strings and scores (its `sequence` re-decodes the tokens, ours keeps the
    # input's own text around the filled word: docs/field-names.md)
    from transformers import pipeline

    one = "anna visited [MASK] today ."
    theirs = pipeline("fill-mask", model=torch_model, tokenizer=tok, top_k=4)(one)
    ours = model.fill_mask(one, top_k=4)[0]
    assert [list(c) for c in ours] == [list(c) for c in theirs]
    assert [(c["token"], c["token_str"]) for c in ours] == [(c["token"], c["token_str"]) for c in theirs]
    assert np.allclose([c["score"] for c in ours], [c["score"] for c in theirs], atol=1e-5)

    batch = model.fill_mask(["the [MASK] film", text], top_k=1)
    assert len(batch) == 2 and len(batch[0]) == 1 and len(batch[1]) == 2
    with pytest.raises(ValueError, match=r"texts\[0\] has no \[MASK\]"):
        model.fill_mask(["no mask here", text])


def test_bench_times_fill_mask_bundles_on_masked_texts(fill_mask_bundle, tmp_path, monkeypatch):
    """FillMask has no predict/tag/embed: the bench asks the model for its task call (run_task) and
    builds texts that hold its mask token, at the exact lengths."""
    from edgeft_runtime import bench

    import edgeft_runtime

    model = edgeft_runtime.load(fill_mask_bundle, variant="fp32")
    count = lambda t: len(model.tokenizer.encode([t])[0].ids)  # noqa: E731
    by_length, mix = bench.workload(count, model.tokenizer.max_length, required=model.required_tokens, throughput_texts=20)
    assert by_length and all(count(t) == n and "[MASK]" in t for n, texts in by_length.items() for t in texts)
    assert all("[MASK]" in t for t in mix)
    seen: list[int] = []
    real = type(model).fill_mask
    monkeypatch.setattr(type(model), "fill_mask", lambda self, texts, **kw: seen.append(len(texts)) or real(self, texts, **kw))
    out = tmp_path / "fm.json"
    assert bench.main([str(fill_mask_bundle), "--runs", "3", "--cold-passes", "1", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["bundle"]["task"] == "fill-mask" and set(report["results"]) == {"fp32", "int8"}
    assert report["results"]["int8"]["throughput"]["batch_size"] == 8  # the vocabulary-wide logits keep batches small
    assert report["results"]["int8"]["latency_ms"]["16"]["runs"] == 3 and seen  # timed through fill_mask
    assert report["results"]["int8"]["peak_rss_mb"] > 0


def test_cli_predict_fill_mask(fill_mask_bundle):
    result = CliRunner().invoke(app, ["predict", str(fill_mask_bundle), "the [MASK] was good"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output.strip().splitlines()[-1])
    assert row["text"] == "the [MASK] was good" and len(row["prediction"]) == 1 and len(row["prediction"][0]) == 5
    assert_one_error_line(CliRunner().invoke(app, ["predict", str(fill_mask_bundle), "no mask here"]), "has no [MASK]")


# --- CLI --------------------------------------------------------------------------------------


def test_cli_train_mlm_then_classifier_from_it(tmp_path, tiny_base, sentiment_files):
    from tests.test_cli import invoke

    corpus = tmp_path / "corpus.jsonl"
    tiny.write_jsonl(corpus, [{"body": line} for line in corpus_lines(120, 1)])
    run = tmp_path / "mlm"
    result = invoke(
        "train", "mlm", "--corpus", corpus, "--text-field", "body", "--out", run, "--base", tiny_base,
        "--max-length", 24, "--epochs", 1, "--lr", 3e-3, "--whole-word-masking", "--eval-ratio", 0.2,
    )
    assert result.exit_code == 0, result.output
    assert f"saved run to {run}" in result.output and "perplexity_after" in result.output
    assert json.loads((run / "train_config.json").read_text())["whole_word_masking"] is True

    clf = tmp_path / "clf"
    result = invoke(
        "train", "classifier", "--train", sentiment_files["train"], "--eval", sentiment_files["dev"], "--out", clf,
        "--base", run, "--epochs", 1, "--max-length", 24, "--set", "logging_steps=1000",
    )
    assert result.exit_code == 0, result.output
    assert json.loads((clf / "edgeft_run.json").read_text())["base_model"] == str(run)

    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf-8")
    assert_one_error_line(invoke("train", "mlm", "--corpus", empty, "--out", tmp_path / "x", "--base", tiny_base), "empty.txt: no text")


@pytest.mark.slow
def test_default_minilm_gets_a_tied_head(caplog):
    from edgeft.base_models import default_base_path

    with caplog.at_level(logging.WARNING, logger="edgeft"):
        model, info = load_masked_lm(default_base_path(), "all-MiniLM-L6-v2")
    assert info.initialised and len(info.missing) == 5  # transform dense + LayerNorm (4) and the output bias
    assert model.config.tie_word_embeddings and decoder_is_tied(model)
    assert "base all-MiniLM-L6-v2 has no masked-LM head; initialised a new one tied to the word embeddings" in caplog.text
