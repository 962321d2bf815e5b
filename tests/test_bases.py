"""Any run is a base for any task: the head that fits is kept, the one that does not is replaced,
and the chain of bases is recorded (edgeft_run.json, the bundle's manifest and model card)."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from typer.testing import CliRunner

from edgeft.base_models import base_chain, load_task_model
from edgeft.cli import app
from tests import tiny

runner = CliRunner()
QUIET = ["--set", "early_stopping_patience=0", "--set", "logging_steps=1000", "--max-length", 32, "--lr", 3e-3]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def head_options(labels):
    return {"num_labels": len(labels), "id2label": dict(enumerate(labels)), "label2id": {l: i for i, l in enumerate(labels)}}


@pytest.fixture(scope="module")
def two_label_checkpoint(tmp_path_factory):
    """A tiny sequence classifier over neg/pos, saved with save_pretrained (random head)."""
    from transformers import AutoModelForSequenceClassification

    folder = tiny.make_tiny_base(tmp_path_factory.mktemp("heads") / "base")
    torch.manual_seed(1)
    model = AutoModelForSequenceClassification.from_pretrained(folder, **head_options(["neg", "pos"]))
    out = folder.parent / "classifier"
    model.save_pretrained(out)
    return out, model


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_a_head_over_the_same_labels_is_kept(two_label_checkpoint, caplog):
    from transformers import AutoModelForSequenceClassification

    folder, saved = two_label_checkpoint
    with caplog.at_level(logging.INFO, logger="edgeft.base_models"):
        model = load_task_model(AutoModelForSequenceClassification, str(folder), head_options(["neg", "pos"]))
    assert same(model.classifier, saved.classifier) and same(model.bert, saved.bert)
    assert "keeping its SequenceClassification head" in caplog.text


@pytest.mark.parametrize(
    "labels, fresh", [(["a", "b", "c"], False), (["pos", "neg"], False), (["yes", "no"], False), (["neg", "pos"], True)],
    ids=["three-labels", "same-labels-other-order", "same-count-other-labels", "fresh-asked"],
)
def test_a_head_that_does_not_fit_starts_afresh_over_the_same_encoder(two_label_checkpoint, caplog, labels, fresh):
    from transformers import AutoModelForSequenceClassification

    folder, saved = two_label_checkpoint
    with caplog.at_level(logging.INFO, logger="edgeft.base_models"):
        model = load_task_model(AutoModelForSequenceClassification, str(folder), head_options(labels), fresh_head=fresh)
    assert same(model.bert, saved.bert)
    assert model.classifier.weight.shape[0] == len(labels)
    if model.classifier.weight.shape == saved.classifier.weight.shape:
        assert not torch.equal(model.classifier.weight, saved.classifier.weight)
    assert model.config.id2label == dict(enumerate(labels))
    assert "task head started afresh" in caplog.text


def test_a_token_classifier_never_inherits_a_sequence_head_of_the_same_size(two_label_checkpoint):
    from transformers import AutoModelForTokenClassification

    folder, saved = two_label_checkpoint
    model = load_task_model(AutoModelForTokenClassification, str(folder), head_options(["neg", "pos"]))
    assert not torch.equal(model.classifier.weight, saved.classifier.weight)
    assert all(torch.equal(p, saved.bert.state_dict()[k]) for k, p in model.bert.state_dict().items())


# --- the chains a user builds, through the CLI ----------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chain-data")
    three = [(text, topics[0]) for text, topics in tiny.topic_rows(90, seed=2)]
    return {
        "sentiment": tiny.write_csv(folder / "sentiment.csv", tiny.sentiment_rows(64, seed=1)),
        "topics": tiny.write_csv(folder / "topics.csv", three),
        "ner": tiny.write_conll(folder / "ner.conll", tiny.ner_sentences(40, seed=1)),
        "corpus": tiny.write_text(folder / "corpus.txt", [text for text, _ in tiny.sentiment_rows(200, seed=4)]),
    }


def train(task, data_file, base, out, *extra):
    source = ["--corpus", data_file] if task == "mlm" else ["--train", data_file]
    quiet = QUIET[2:] if task == "mlm" else QUIET  # masked-LM has no early stopping
    result = invoke("train", task, *source, "--base", base, "--out", out, "--epochs", 1, *quiet, *extra)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def sentiment_run(tmp_path_factory, tiny_base, data):
    return train("classifier", data["sentiment"], tiny_base, tmp_path_factory.mktemp("runs") / "sentiment")


@pytest.fixture(scope="module")
def ner_run(tmp_path_factory, tiny_base, data):
    return train("ner", data["ner"], tiny_base, tmp_path_factory.mktemp("runs") / "people")


def chain(run):
    return [(b["run"], b["task"]) for b in json.loads((run / "edgeft_run.json").read_text())["bases"]]


def test_classifier_on_a_classifier_of_other_labels(tmp_path, sentiment_run, data):
    """The failing example of issue 31: 2 labels' head under a 3-label task was a size mismatch."""
    run = train("classifier", data["topics"], sentiment_run, tmp_path / "topics")
    info = json.loads((run / "edgeft_run.json").read_text())
    assert len(info["labels"]) == 3 and chain(run) == [("sentiment", "classifier")]
    assert info["bases"][0]["labels"] == ["neg", "pos"]


def test_classifier_on_a_ner_run_and_ner_on_a_classifier(tmp_path, sentiment_run, ner_run, data):
    assert chain(train("classifier", data["sentiment"], ner_run, tmp_path / "c")) == [("people", "ner")]
    assert chain(train("ner", data["ner"], sentiment_run, tmp_path / "n")) == [("sentiment", "classifier")]


def test_ner_on_a_masked_lm_run_records_the_whole_chain(tmp_path, sentiment_run, data):
    mlm = train("mlm", data["corpus"], sentiment_run, tmp_path / "domain", "--set", "documents=line", "--eval-ratio", 0.3)
    ner = train("ner", data["ner"], mlm, tmp_path / "ner")
    assert chain(ner) == [("domain", "mlm"), ("sentiment", "classifier")]
    assert base_chain(str(ner))[0]["task"] == "ner"


def test_the_same_labels_keep_the_head_and_the_bundle_shows_the_chain(tmp_path, sentiment_run, data):
    run = train("classifier", data["sentiment"], sentiment_run, tmp_path / "again")
    result = invoke("export", run, "--out", tmp_path / "bundle", "--max-drop", 100)
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "bundle" / "edgeft.json").read_text())
    assert manifest["source"]["bases"][0]["run"] == "sentiment"
    assert "Trained on top of: `sentiment` (classifier; labels neg, pos)" in (tmp_path / "bundle" / "README.md").read_text()


def test_classifier_on_a_distilled_student(tmp_path, sentiment_run, data):
    result = invoke("distill", sentiment_run, "--layers", 1, "--out", tmp_path / "student", "--epochs", 1, "--lr", 3e-3)
    assert result.exit_code == 0, result.output
    run = train("classifier", data["topics"], tmp_path / "student", tmp_path / "topics")
    assert chain(run)[0] == ("student", "classifier") and chain(run)[1:] == [("sentiment", "classifier")]


def test_classifier_on_a_setfit_run_keeps_its_body(tmp_path, tiny_base, data):
    """A SetFit run's body (a sentence-transformers folder) under a classifier: encoder kept, head new."""
    fewshot = invoke(
        "train", "setfit", "--train", data["sentiment"], "--base", tiny_base, "--out", tmp_path / "fewshot",
        "--max-length", 32, "--num-iterations", 2, "--batch-size", 16,
    )
    assert fewshot.exit_code == 0, fewshot.output
    run = train("classifier", data["topics"], tmp_path / "fewshot", tmp_path / "topics")
    assert chain(run) == [("fewshot", "setfit")]


def test_ner_on_a_merged_lora_run(tmp_path, tiny_base, data):
    """A LoRA run saves the merged model beside its adapter; that merged model is the base."""
    lora = train("classifier", data["sentiment"], tiny_base, tmp_path / "lora", "--peft", "lora", "--lora-r", 4)
    assert (lora / "adapter" / "adapter_config.json").is_file() and (lora / "model.safetensors").is_file()
    run = train("ner", data["ner"], lora, tmp_path / "ner")
    assert chain(run) == [("lora", "classifier")]
