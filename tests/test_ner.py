"""NER on a tiny random BERT: label alignment, stride windows, training, export parity, the Tagger
on raw text (exact offsets), and the CLI pipeline train ner -> export --int8 -> predict -> eval."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from edgeft_exporters.api import ExportOptions, export_run
from edgeft_exporters.errors import ParityError
from edgeft_runtime import ner
from typer.testing import CliRunner

import edgeft_runtime
from edgeft.cli import app
from edgeft.config import NerConfig
from tests.conftest import assert_one_error_line
from tests.reference_checks import assert_reference_round_trip
from edgeft.data.ner import NerExample
from edgeft.tasks.ner import content_tokenizer, encode_examples, resolve_word_split, token_labels, word_tags
from tests import tiny

LABELS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


@pytest.fixture(scope="module")
def tokenizer(tiny_base):
    from transformers import AutoTokenizer

    return content_tokenizer(AutoTokenizer.from_pretrained(tiny_base))


@pytest.fixture(scope="module")
def ner_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ner")
    return {
        "train": tiny.write_conll(folder / "train.conll", tiny.ner_sentences(120, seed=1)),
        "dev": tiny.write_conll(folder / "dev.conll", tiny.ner_sentences(30, seed=2)),
    }


runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def ner_run(tmp_path_factory, tiny_base, ner_files):
    """Trained through the CLI: `edgeft train ner` (windows of 16 tokens, stride 4)."""
    out = tmp_path_factory.mktemp("ner-runs") / "run"
    result = invoke(
        "train", "ner", "--train", ner_files["train"], "--eval", ner_files["dev"], "--out", out, "--base", tiny_base,
        "--epochs", 10, "--lr", 3e-3, "--max-length", 16, "--stride", 4,
        "--set", "early_stopping_patience=0", "--set", "logging_steps=1000",
    )
    assert result.exit_code == 0, result.output
    assert f"saved run to {out}" in result.output and "entity_f1" in result.output
    return out


@pytest.fixture(scope="module")
def ner_bundle(tmp_path_factory, ner_run):
    """Exported through the CLI: `edgeft export RUN --int8`."""
    out = tmp_path_factory.mktemp("ner-bundles") / "int8"
    result = invoke("export", ner_run, "--int8", "--out", out, "--max-drop", 100)
    assert result.exit_code == 0, result.output
    assert "ONNX int8: entity_f1" in result.output
    return out


def test_word_tags_and_first_vs_all_alignment(tokenizer):
    text = "anna ottoa met in paris ."  # "ottoa" -> otto ##a: one word of two sub-tokens
    tok = ner.text_tokens(tokenizer, [text])[0]
    tags, misaligned = word_tags(tok, [(0, 10, "PER"), (18, 23, "LOC")])
    assert tags == ["B-PER", "I-PER", "O", "O", "B-LOC", "O"] and misaligned == 0
    index = {label: i for i, label in enumerate(LABELS)}
    first = token_labels(tok, tags, index, label_all=False)
    every = token_labels(tok, tags, index, label_all=True)
    assert len(tok) == 7 and tok.words.tolist() == [0, 1, 1, 2, 3, 4, 5]
    assert first.tolist() == [3, 4, ner.IGNORE_INDEX, 0, 0, 1, 0]
    assert every.tolist() == [3, 4, 4, 0, 0, 1, 0]
    # B- words labelled on every sub-token continue as I-
    tags2, _ = word_tags(tok, [(5, 10, "PER")])
    assert token_labels(tok, tags2, index, label_all=True).tolist()[1:3] == [3, 4]


def test_entity_boundary_inside_a_word_is_counted(tokenizer):
    tok = ner.text_tokens(tokenizer, ["annaotto met"])[0]
    _, misaligned = word_tags(tok, [(4, 8, "PER")])
    assert misaligned == 1


def test_long_sentences_become_overlapping_windows_each_token_labelled_once(tokenizer):
    words = " ".join(["anna", "met", "otto", "in", "paris"] * 8)  # 40 tokens
    spans = [(i, i + 4, "PER") for i in range(0, len(words), 23)]  # every "anna"
    example = NerExample(words, spans, line=1)
    specials = ner.specials_of(tokenizer)
    enc = encode_examples(tokenizer, specials, [example], LABELS, max_length=16, stride=4, label_all=False, type_ids=True, word_split="whitespace")
    assert len(enc.rows) > 1
    assert all(len(r["input_ids"]) <= 16 and len(r["labels"]) == len(r["input_ids"]) for r in enc.rows)
    labelled = sum(sum(1 for label in r["labels"] if label != ner.IGNORE_INDEX) for r in enc.rows)
    assert labelled == 40  # every word once, in the window where it is most central
    b_per = sum(r["labels"].count(LABELS.index("B-PER")) for r in enc.rows)
    assert b_per == 8


def test_whitespace_words_label_each_data_token_once(tokenizer):
    # "u.s." and "#paris" are one token of the data each: one label, on their first sub-token
    text = "anna met u.s. troops in #paris !!!"
    spans = [(0, 4, "PER"), (9, 13, "LOC"), (24, 30, "LOC")]
    specials = ner.specials_of(tokenizer)
    example = NerExample(text, spans, line=1)
    encode = dict(max_length=64, stride=4, label_all=False, type_ids=True)
    (row,) = encode_examples(tokenizer, specials, [example], LABELS, word_split="whitespace", **encode).rows
    (old,) = encode_examples(tokenizer, specials, [example], LABELS, word_split="tokenizer", **encode).rows
    tags = [LABELS[i] for i in row["labels"] if i != ner.IGNORE_INDEX]
    assert tags == ["B-PER", "O", "B-LOC", "O", "O", "B-LOC", "O"]  # anna met u.s. troops in #paris !!!
    old_tags = [LABELS[i] for i in old["labels"] if i != ner.IGNORE_INDEX]
    assert old_tags == ["B-PER", "O", "B-LOC", "I-LOC", "I-LOC", "I-LOC", "O", "O", "B-LOC", "I-LOC", "O", "O", "O"]
    assert row["input_ids"] == old["input_ids"]  # the same model input: only the labels differ


def test_word_split_auto(tokenizer):
    tokens = [NerExample("anna met otto in paris .", [(0, 4, "PER"), (17, 22, "LOC")], line=1)]
    raw = [NerExample("anna met otto (in paris).", [(0, 4, "PER"), (18, 23, "LOC")], line=1)]
    auto = NerConfig(word_split="auto")
    assert resolve_word_split(auto, "space", tokenizer, tokens) == "whitespace"
    assert resolve_word_split(auto, "none", tokenizer, tokens) == "tokenizer"  # text without spaces
    # span data whose entity sits inside a longer whitespace run ("paris)." holds "paris")
    assert resolve_word_split(auto, "space", tokenizer, raw) == "tokenizer"
    for split in ner.WORD_SPLITS:
        assert resolve_word_split(NerConfig(word_split=split), "none", tokenizer, raw) == split


def test_run_folder_and_metrics(ner_run):
    run = json.loads((ner_run / "edgeft_run.json").read_text())
    assert run["task"] == "ner" and run["labels"] == LABELS
    assert run["ner"] == {
        "scheme": "IOB2", "source_scheme": "IOB2", "join": "space", "aggregation": "first", "stride": 4, "label_all_tokens": False,
        "word_split": "whitespace",
    }
    metrics = json.loads((ner_run / "metrics.json").read_text())
    assert set(metrics) >= {"entity_f1", "entity_precision", "entity_recall", "per_type"}
    assert set(metrics["per_type"]) == {"LOC", "PER"} and metrics["entity_f1"] > 0.5  # the toy task is learnable
    row = json.loads((ner_run / "eval.jsonl").read_text().splitlines()[0])
    assert set(row) == {"text", "spans"}


def test_bundle_manifest_and_parity_on_entity_f1(ner_run, ner_bundle):
    manifest = json.loads((ner_bundle / "edgeft.json").read_text())
    assert manifest["task"] == "ner" and manifest["labels"] == LABELS
    assert manifest["ner"]["scheme"] == "IOB2" and manifest["ner"]["stride"] == 4 and manifest["ner"]["aggregation"] == "first"
    assert manifest["ner"]["word_split"] == "whitespace"
    assert manifest["metrics"]["entity_f1"] > 0.5
    parity = manifest["parity"]
    assert parity["metric"] == "entity_f1" and parity["samples"] == 30
    assert parity["variants"]["fp32"]["max_abs_diff"] <= 1e-4
    assert parity["variants"]["fp32"]["metric"] == pytest.approx(parity["reference_metric"])
    assert set(parity["reference_scores"]["per_type_f1"]) == {"LOC", "PER"}


def test_int8_gate_compares_entity_f1(ner_run, tmp_path, break_variants):
    break_variants("int8")
    with pytest.raises(ParityError, match=r"int8 entity_f1 .* points below PyTorch .*--max-drop 0\b"):
        export_run(ner_run, tmp_path / "never", ExportOptions(int8=True, max_drop=0.0, per_channel="off"))
    assert not (tmp_path / "never").exists()


def test_tagger_offsets_are_exact_on_raw_text(ner_bundle):
    tagger = edgeft_runtime.load(ner_bundle, variant="fp32")
    texts = [
        "Anna met Otto in Paris.",
        "ANNA  visited   BERLIN today",
        "Zoë and Ünal 😀 visited Paris",
        "北京 anna in berlin",
        "",
        "anna met otto in paris . " * 6,  # longer than max_length 16: windows
    ]
    results = tagger.tag(texts)
    assert len(results) == len(texts) and results[4] == []
    for text, entities in zip(texts, results):
        for e in entities:
            assert text[e["start"] : e["end"]] == e["text"] and e["entity"] in ("PER", "LOC")
            assert 0 <= e["score"] <= 1
    # whitespace words (the default for token files): "Paris." is one word, as a data token would be
    assert [e["text"] for e in results[0] if e["entity"] == "LOC"] == ["Paris."]
    assert len(results[5]) >= 12  # entities found all along the long text, not only in its first window
    assert max(e["end"] for e in results[5]) > 100
    assert tagger.tag("Anna met Otto in Paris.") == results[0]
    for aggregation in ("average", "max"):
        assert all(text[e["start"] : e["end"]] == e["text"] for text, ents in zip(texts, tagger.tag(texts, aggregation=aggregation)) for e in ents)
    with pytest.raises(ValueError, match="aggregation"):
        tagger.tag(texts, aggregation="mean")


RAW_TEXTS = ["Anna met Otto in Paris.", "otto,anna (berlin)!! anna  met\totto", "Zoë in Zürich 😀", "北京 anna"]


def test_runtime_splits_raw_text_into_the_words_training_labelled(ner_run, ner_bundle, tokenizer):
    tagger = edgeft_runtime.load(ner_bundle, variant="fp32")
    run = json.loads((ner_run / "edgeft_run.json").read_text())
    assert tagger.word_split == run["ner"]["word_split"] == "whitespace"
    examples = [NerExample(text, [], line=1) for text in RAW_TEXTS]
    specials = ner.specials_of(tokenizer)
    encoded = encode_examples(
        tokenizer, specials, examples, LABELS, max_length=16, stride=4, label_all=False, type_ids=True, word_split=run["ner"]["word_split"]
    )
    runtime_tokens, _ = tagger.token_logits(RAW_TEXTS)
    for text, trained, served in zip(RAW_TEXTS, encoded.tokens, runtime_tokens):
        assert served.ids.tolist() == trained.ids.tolist() and served.words.tolist() == trained.words.tolist()
        words = [text[a:b] for a, b in ner.word_offsets(served.offsets, served.words)]
        assert words == text.split()


@pytest.fixture(scope="module")
def tokenizer_words_bundle(tmp_path_factory, tiny_base, ner_files):
    """The same training with word_split=tokenizer, exported (fp32)."""
    from edgeft.tasks.ner import train_ner

    root = tmp_path_factory.mktemp("ner-tokenizer-words")
    config = NerConfig(
        train=str(ner_files["train"]), eval=str(ner_files["dev"]), out=str(root / "run"), base=str(tiny_base), epochs=10, lr=3e-3,
        max_length=16, stride=4, early_stopping_patience=0, logging_steps=1000, word_split="tokenizer",
    )
    config.validate()
    train_ner(config)
    return export_run(root / "run", root / "bundle", ExportOptions()).out


def test_tokenizer_words_bundle_splits_punctuation_off_raw_text(tokenizer_words_bundle, tokenizer):
    manifest = json.loads((tokenizer_words_bundle / "edgeft.json").read_text())
    assert manifest["ner"]["word_split"] == "tokenizer"
    tagger = edgeft_runtime.load(tokenizer_words_bundle)
    tokens, _ = tagger.token_logits(RAW_TEXTS)
    assert [t.words.tolist() for t in tokens] == [t.words.tolist() for t in ner.text_tokens(tokenizer, RAW_TEXTS, "tokenizer")]
    assert [e["text"] for e in tagger.tag(RAW_TEXTS[0]) if e["entity"] == "LOC"] == ["Paris"]
    for text, entities in zip(RAW_TEXTS, tagger.tag(RAW_TEXTS)):
        assert all(text[e["start"] : e["end"]] == e["text"] for e in entities)


def test_windows_do_not_change_short_text_results(ner_bundle):
    tagger = edgeft_runtime.load(ner_bundle, variant="fp32")
    text = "anna met otto in paris"
    tokens, (logits,) = tagger.token_logits([text])
    direct = tagger.run_output([text], "logits")[0]
    np.testing.assert_allclose(logits, direct[1 : 1 + len(tokens[0])], atol=1e-5)


def test_cli_predict_and_eval(tmp_path, ner_bundle, ner_files):
    result = invoke("predict", ner_bundle, "Anna met Otto in Paris.", "Zoë in Zürich 😀")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.strip().splitlines()]
    assert [line["text"] for line in lines] == ["Anna met Otto in Paris.", "Zoë in Zürich 😀"]
    for line in lines:
        assert isinstance(line["prediction"], list)
        for e in line["prediction"]:
            assert line["text"][e["start"] : e["end"]] == e["text"]
    result = invoke("eval", ner_bundle, "--data", ner_files["dev"], "--out", tmp_path / "m.json")
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["examples"] == 30 and 0 <= metrics["entity_f1"] <= 1 and set(metrics["per_type"]) <= {"PER", "LOC"}
    assert metrics["word_split"] == "whitespace"
    manifest = json.loads((ner_bundle / "edgeft.json").read_text())
    # edgeft eval on the parity data agrees with the gate's int8 figure
    assert 100 * metrics["entity_f1"] == pytest.approx(manifest["parity"]["variants"]["int8"]["metric"], abs=0.01)


def test_cli_bad_data_is_one_line(tmp_path, tiny_base):
    bad = tmp_path / "bad.conll"
    bad.write_text("Anna B-PER\nmet O\nParis I-LOC\n", encoding="utf-8")
    result = runner.invoke(app, ["train", "ner", "--train", str(bad), "--out", str(tmp_path / "o"), "--base", str(tiny_base)])
    assert_one_error_line(result, "bad.conll:3:")


def test_cli_bench_with_pytorch_reference(tmp_path, ner_run, ner_bundle):
    report = tmp_path / "report.json"
    result = invoke("bench", ner_bundle, "--reference", ner_run, "--runs", 2, "--cold-passes", 1, "--out", report)
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())
    assert set(data["results"]) == {"fp32", "int8", "pytorch-fp32"} and data["bundle"]["task"] == "ner"


def test_reference_set_holds_entities_with_offsets(ner_run, ner_bundle):
    held_out = [json.loads(line) for line in (ner_run / "eval.jsonl").read_text().splitlines()]
    reference, report = assert_reference_round_trip(ner_bundle, [row["text"] for row in held_out], "entity_f1")
    assert report["variants"]["int8"]["agreement_unit"] == "word"
    assert reference.gold == [[[t, s, e] for s, e, t in row["spans"]] for row in held_out][: len(reference)]
    counts = reference.observed["word_counts"]
    assert counts.tolist() == [len(text.split()) for text in reference.texts]  # tiny sentences: words are split by spaces
    assert reference.observed["word_probabilities"].shape == (counts.sum(), len(LABELS))
    found = edgeft_runtime.load(ner_bundle, variant="fp32").tag(reference.texts)
    assert reference.observed["entities"] == [[[e["entity"], e["start"], e["end"]] for e in text] for text in found]


def test_info_says_what_a_word_is_and_which_runtime_reads_it():
    fixtures = Path(__file__).resolve().parents[1] / "runtime" / "tests" / "fixtures"
    whitespace = runner.invoke(app, ["info", str(fixtures / "entities_ws")])
    legacy = runner.invoke(app, ["info", str(fixtures / "entities")])
    assert whitespace.exit_code == 0 and legacy.exit_code == 0
    assert "words         whitespace (ner.word_split, needs an edgeft-runtime of schema 1.2 or later)" in whitespace.output
    assert "words         tokenizer (no ner.word_split: written before schema 1.2)" in legacy.output


def test_export_prune_vocab_ner_keeps_entities(tmp_path, ner_run, ner_bundle, ner_files):
    """--prune-vocab on a NER run: the gate compares word tags with the unpruned run (same words),
    and the pruned bundle finds the same entity spans."""
    from edgeft.data.ner import read_ner

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(ex.text for ex in read_ner(ner_files["train"]).examples) + "\n", encoding="utf-8")
    out = tmp_path / "pruned"
    result = invoke("export", ner_run, "--prune-vocab", corpus, "--out", out, "--reference-samples", 0)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "edgeft.json").read_text())
    original, fp32 = manifest["parity"]["original"], manifest["parity"]["variants"]["fp32"]
    assert original["vocab_after"] < original["vocab_before"]
    assert fp32["original_drop"] == 0 and fp32["original_label_agreement"] == 1.0
    dev = [ex.text for ex in read_ner(ner_files["dev"]).examples]
    pruned, full = edgeft_runtime.load(out), edgeft_runtime.load(ner_bundle, variant="fp32")
    spans = lambda tagged: [[(e["entity"], e["start"], e["end"]) for e in entities] for entities in tagged]  # noqa: E731
    assert spans(pruned.tag(dev)) == spans(full.tag(dev))
    assert any(spans(full.tag(dev)))
