"""Sentence embeddings (issue 31 point 3): `edgeft train embedding` (unsupervised SimCSE through
sentence-transformers) on tiny in-process BERTs: the run folder, seeds, the collapse check, bad
input in one line; the run as a base for the classifier and SetFit (and a masked-LM run as a
SetFit base); export to an `embedding` bundle whose runtime model embeds like sentence-transformers."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from typer.testing import CliRunner

from edgeft.cli import app
from edgeft.tasks.embedding import spread
from tests import tiny
from tests.conftest import assert_one_error_line

runner = CliRunner()
FAST = ["--max-length", 32, "--batch-size", 16, "--lr", 1e-3, "--set", "logging_steps=1000"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("embedding-data")
    return {
        "csv": tiny.write_csv(folder / "texts.csv", tiny.sentiment_rows(96, seed=3)),
        "sentiment": tiny.write_csv(folder / "labelled.csv", tiny.sentiment_rows(48, seed=1)),
        "corpus": tiny.write_text(folder / "corpus.txt", [text for text, _ in tiny.sentiment_rows(120, seed=4)]),
    }


def train_embedding(texts, base, out, *extra):
    result = invoke("train", "embedding", "--corpus", texts["csv"], "--base", base, "--out", out, *FAST, *extra)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def emb_run(tmp_path_factory, tiny_base, texts):
    return train_embedding(texts, tiny_base, tmp_path_factory.mktemp("emb-runs") / "emb")


def test_the_run_is_a_sentence_transformers_folder_recorded_as_an_embedding_run(emb_run):
    from sentence_transformers import SentenceTransformer

    info = json.loads((emb_run / "edgeft_run.json").read_text())
    assert info["task"] == "embedding" and info["method"] == "simcse-unsupervised"
    assert info["body"]["pooling"] == "mean" and info["body"]["normalize"] is True
    assert info["loss"] == {"name": "MultipleNegativesRankingLoss", "scale": 20.0, "negatives": "in-batch"}
    modules = [m["type"] for m in json.loads((emb_run / "modules.json").read_text())]
    assert [m.rsplit(".", 1)[-1] for m in modules] == ["Transformer", "Pooling", "Normalize"]
    config = json.loads((emb_run / "train_config.json").read_text())
    assert config["corpus"] and "train" not in config and "seeds" not in config
    metrics = json.loads((emb_run / "metrics.json").read_text())
    assert {"uniformity_before", "uniformity_after", "mean_cosine_before", "mean_cosine_after", "train_loss"} <= set(metrics)
    assert metrics["train_texts"] + metrics["eval_texts"] == 96
    assert not list(emb_run.rglob("*.pkl")) and not (emb_run / "checkpoints").exists()
    vectors = SentenceTransformer(str(emb_run), device="cpu", local_files_only=True).encode(["a good film", "a bad plot"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_contrastive_training_spreads_the_texts_apart(emb_run):
    """SimCSE's in-batch negatives push different texts apart: a random tiny BERT starts with
    nearly parallel mean-pooled vectors (anisotropy); after training they are less so."""
    metrics = json.loads((emb_run / "metrics.json").read_text())
    assert metrics["mean_cosine_after"] < metrics["mean_cosine_before"] - 0.05
    assert metrics["uniformity_after"] < metrics["uniformity_before"]


def test_the_same_seed_trains_the_same_weights(tmp_path, tiny_base, texts, emb_run):
    from safetensors.numpy import load_file

    again = train_embedding(texts, tiny_base, tmp_path / "again")
    other = train_embedding(texts, tiny_base, tmp_path / "other", "--seed", 7)
    first, second, third = (load_file(str(run / "model.safetensors")) for run in (emb_run, again, other))
    assert all(np.array_equal(first[k], second[k]) for k in first)
    assert not all(np.array_equal(first[k], third[k]) for k in first)


def test_spread_of_a_collapsed_and_of_an_orthogonal_set():
    assert spread(np.ones((4, 3))) == {"uniformity": 0.0, "mean_cosine": 1.0}
    orthogonal = spread(np.eye(3))
    assert orthogonal["mean_cosine"] == 0.0 and orthogonal["uniformity"] == pytest.approx(-4.0)


@pytest.mark.parametrize(
    "case, fragments",
    [
        ("missing", ("nope.csv", "not found")),
        ("empty", ("empty.txt", "no text")),
        ("column", ("texts.csv", "no field or column 'body'", "--text-field")),
        ("one-text", ("one.txt", "distinct training text", "at least two")),
        ("no-out", ("no output folder",)),
    ],
)
def test_bad_input_is_one_error_line(tmp_path, tiny_base, texts, case, fragments):
    (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
    (tmp_path / "one.txt").write_text("same text\nsame text\nsame text\n", encoding="utf-8")
    corpus = {"missing": tmp_path / "nope.csv", "empty": tmp_path / "empty.txt", "column": texts["csv"], "one-text": tmp_path / "one.txt", "no-out": texts["csv"]}[case]
    extra = ["--text-field", "body"] if case == "column" else []
    out = [] if case == "no-out" else ["--out", tmp_path / "run"]
    args = ["train", "embedding", "--corpus", corpus, "--base", tiny_base, *out, *FAST, *extra]
    if case == "one-text":
        args += ["--eval-ratio", 0.3]
    assert_one_error_line(invoke(*args), *fragments)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("key, value", [("scale", "0"), ("scale", "nan"), ("max_steps", "-1"), ("batch_size", "0"), ("lr", "2")])
def test_options_are_checked_where_declared(tmp_path, texts, key, value):
    result = invoke("train", "embedding", "--corpus", texts["csv"], "--out", tmp_path / "r", "--set", f"{key}={value}")
    assert_one_error_line(result, f"{key}=")


def test_options_of_other_tasks_are_refused(tmp_path, texts):
    result = invoke("train", "embedding", "--corpus", texts["csv"], "--out", tmp_path / "r", "--set", "freeze=encoder")
    assert_one_error_line(result, "freeze")


# --- chains: the run as a base, and a masked-LM run under SetFit -------------------------------


def chain(run):
    return [(b["run"], b["task"]) for b in json.loads((run / "edgeft_run.json").read_text())["bases"]]


def test_a_classifier_on_an_embedding_run_keeps_its_encoder(tmp_path, emb_run, texts, caplog):
    from safetensors.numpy import load_file

    with caplog.at_level(logging.INFO, logger="edgeft.base_models"):
        result = invoke(
            "train", "classifier", "--train", texts["sentiment"], "--base", emb_run, "--out", tmp_path / "clf",
            "--epochs", 1, "--set", "early_stopping_patience=0", *FAST,
        )
    assert result.exit_code == 0, result.output
    assert chain(tmp_path / "clf") == [("emb", "embedding")]
    assert "encoder kept, task head started afresh" in caplog.text
    # One epoch moves the encoder; before it the weights were the embedding run's (see load_task_model).
    from edgeft.base_models import load_task_model
    from transformers import AutoModelForSequenceClassification

    model = load_task_model(AutoModelForSequenceClassification, str(emb_run), {"num_labels": 2, "id2label": {0: "neg", 1: "pos"}, "label2id": {"neg": 0, "pos": 1}})
    saved = load_file(str(emb_run / "model.safetensors"))
    mine = {k.removeprefix("bert."): v.detach().numpy() for k, v in model.state_dict().items() if k.startswith("bert.")}
    assert all(np.array_equal(mine[k.removeprefix("bert.")], v) for k, v in saved.items() if k.removeprefix("bert.") in mine)


def test_setfit_on_an_embedding_run_uses_it_as_its_body(tmp_path, emb_run, texts):
    result = invoke(
        "train", "setfit", "--train", texts["sentiment"], "--base", emb_run, "--out", tmp_path / "fewshot",
        "--max-length", 32, "--num-iterations", 2, "--batch-size", 16,
    )
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "fewshot" / "edgeft_run.json").read_text())
    assert chain(tmp_path / "fewshot") == [("emb", "embedding")]
    assert info["body"]["built_by_edgeft"] is False  # loaded as the sentence-transformers model it is
    assert info["body"]["pooling"] == "mean" and info["body"]["normalize"] is True


def test_setfit_on_a_task_adaptive_masked_lm_run(tmp_path, tiny_base, texts):
    """Task-adaptive pretraining: masked-LM on the task's own training file, then SetFit on top."""
    mlm = invoke(
        "train", "mlm", "--corpus", texts["sentiment"], "--text-field", "text", "--base", tiny_base, "--out", tmp_path / "tapt",
        "--epochs", 1, "--max-length", 16, "--eval-ratio", 0.3, "--set", "logging_steps=1000",
    )
    assert mlm.exit_code == 0, mlm.output
    result = invoke(
        "train", "setfit", "--train", texts["sentiment"], "--base", tmp_path / "tapt", "--out", tmp_path / "fewshot",
        "--max-length", 32, "--num-iterations", 2, "--batch-size", 16,
    )
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "fewshot" / "edgeft_run.json").read_text())
    assert chain(tmp_path / "fewshot") == [("tapt", "mlm")]
    assert info["body"]["built_by_edgeft"] is True  # a plain encoder: mean pooling + normalisation added


# --- export: train -> export -> load -> embed ---------------------------------------------------


def test_export_writes_an_embedding_bundle_that_embeds_like_sentence_transformers(tmp_path, emb_run):
    from sentence_transformers import SentenceTransformer

    import edgeft_runtime

    result = invoke("export", emb_run, "--int8", "--out", tmp_path / "bundle")
    assert result.exit_code == 0, result.output
    assert "cosine 100.00" in result.output and "max |diff| (cosine distance)" in result.output
    manifest = json.loads((tmp_path / "bundle" / "edgeft.json").read_text())
    assert manifest["task"] == "embedding" and manifest["schema_version"] == "1.4"
    assert manifest["outputs"] == {"embeddings": "embeddings"} and manifest["pooling"] == "mean" and manifest["normalize"] is True
    assert manifest["embedding_dim"] == 32 and "labels" not in manifest
    parity = manifest["parity"]
    assert parity["metric"] == "cosine" and parity["reference_metric"] == 100.0
    for name, report in parity["variants"].items():
        assert set(report["scores"]) == {"cosine", "min_cosine", "median_cosine", "neighbour_agreement"}
        assert "max_cosine_distance" in report and "max_probability_diff" not in report
        assert report["metric"] > 99.0, name
    assert manifest["reference"]["metric"] == "cosine" and manifest["reference"]["gold"] is False
    card = (tmp_path / "bundle" / "README.md").read_text()
    assert "model.embed(" in card and "- task: embedding (32-dimensional sentence vectors, mean pooling, unit length)" in card
    assert "| nearest-neighbour agreement % |" in card

    texts = ["a good film", "the plot was sad and bad", "really lovely story", "this movie is broken"]
    expected = SentenceTransformer(str(emb_run), device="cpu", local_files_only=True).encode(texts, normalize_embeddings=True)
    for variant, floor in (("fp32", 0.99999), ("int8", 0.99)):
        vectors = edgeft_runtime.load(tmp_path / "bundle", variant=variant).embed(texts)
        assert vectors.shape == expected.shape
        assert np.min(np.sum(vectors * expected, axis=1)) > floor, variant

    check = invoke("check", tmp_path / "bundle")
    assert check.exit_code == 0, check.output
    assert "cosine" in check.output and "nearest neighbour" in check.output
    predicted = invoke("predict", tmp_path / "bundle", "a good film")
    assert predicted.exit_code == 0 and len(json.loads(predicted.output.splitlines()[0])["prediction"]) == 32


def test_export_refuses_int8_that_moves_the_vectors_beyond_max_drop(tmp_path, emb_run, break_variants):
    """The int8 gate on embeddings: the mean cosine to PyTorch may fall by at most --max-drop points."""
    break_variants("int8")
    result = invoke("export", emb_run, "--int8", "--out", tmp_path / "bundle", "--int8-method", "dynamic")
    assert_one_error_line(result, "int8 cosine", "points below PyTorch")
    assert not (tmp_path / "bundle").exists()
