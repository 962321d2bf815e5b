"""SetFit on tiny in-process models: shots sampling, pair sampling reaching setfit, the head folded
into the graph (binary, multi-class, multi-label), the run folder without pickles, the CLI from
training to int8 bundle to predict, and the runtime's embed()."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from typer.testing import CliRunner

import edgeft_runtime
from edgeft.cli import app
from tests.reference_checks import assert_reference_round_trip
from tests.conftest import assert_one_error_line
from edgeft.config import SetFitConfig
from edgeft.config_loader import build_config
from edgeft.data.classification import TextExample, sample_shots
from edgeft.errors import ConfigError, DataError
from tests import tiny

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


# --- shots sampling ---------------------------------------------------------------------------


def examples(counts: dict[str, int]) -> list[TextExample]:
    rows = [(label, i) for label, n in counts.items() for i in range(n)]
    random.Random(0).shuffle(rows)
    return [TextExample(f"{label} {i}", [label], line) for line, (label, i) in enumerate(rows, start=2)]


def test_shots_are_stratified_seeded_and_partition_the_file():
    data = examples({"a": 30, "b": 12, "c": 9})
    sampled, rest = sample_shots(data, ["a", "b", "c"], 8, seed=3, path="x.csv")
    assert sorted(ex.labels[0] for ex in sampled) == ["a"] * 8 + ["b"] * 8 + ["c"] * 8
    assert {ex.line for ex in sampled}.isdisjoint(ex.line for ex in rest)
    assert len(sampled) + len(rest) == len(data)
    assert [ex.line for ex in sampled] == sorted(ex.line for ex in sampled)  # file order kept
    again, _ = sample_shots(data, ["a", "b", "c"], 8, seed=3, path="x.csv")
    other, _ = sample_shots(data, ["a", "b", "c"], 8, seed=4, path="x.csv")
    assert [ex.line for ex in again] == [ex.line for ex in sampled]
    assert [ex.line for ex in other] != [ex.line for ex in sampled]


def test_shots_refuse_a_label_with_too_few_examples():
    data = examples({"a": 30, "rare": 5})
    with pytest.raises(DataError, match=r"x.csv: --shots 8: label 'rare' has only 5 example\(s\); lower --shots to 5"):
        sample_shots(data, ["a", "rare"], 8, seed=0, path="x.csv")


def test_multi_label_shots_cover_every_label():
    rows = tiny.topic_rows(80, seed=5)
    data = [TextExample(text, labels, i) for i, (text, labels) in enumerate(rows)]
    sampled, _ = sample_shots(data, tiny.TOPICS, 4, seed=1, path="x.csv")
    for label in tiny.TOPICS:
        assert sum(label in ex.labels for ex in sampled) >= 4
    assert len(sampled) <= 4 * len(tiny.TOPICS)


def test_setfit_config_validates_its_fields():
    cfg = build_config(SetFitConfig, overrides=["shots=8", "num_iterations=0", "sampling_strategy=unique", "head_c=0.5"])
    assert (cfg.shots, cfg.num_iterations, cfg.sampling_strategy, cfg.head_c) == (8, 0, "unique", 0.5)
    for bad, field in [("sampling_strategy=random", "sampling_strategy"), ("shots=0", "shots"), ("head_c=0", "head_c"), ("early_stopping_patience=2", "setfit does not evaluate")]:
        with pytest.raises(ConfigError, match=field):
            build_config(SetFitConfig, overrides=[bad])


# --- pair sampling reaches setfit -------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, expected_pairs",
    [
        (["num_iterations=3"], lambda n, pos, neg: 2 * 3 * n),
        (["num_iterations=0", "sampling_strategy=unique"], lambda n, pos, neg: pos + neg),
        (["num_iterations=0", "sampling_strategy=undersampling"], lambda n, pos, neg: 2 * min(pos, neg)),
        (["num_iterations=0", "sampling_strategy=oversampling"], lambda n, pos, neg: 2 * max(pos, neg)),
    ],
)
def test_pair_sampling_options_reach_setfit(tmp_path, overrides, expected_pairs):
    from setfit.sampler import ContrastiveDataset

    from edgeft.devices import TrainDevice
    from edgeft.tasks.setfit import training_arguments

    cfg = build_config(SetFitConfig, overrides=overrides + ["lr=3e-5", "epochs=2", "batch_size=8", "max_steps=7"])
    args = training_arguments(cfg, TrainDevice("cpu", "fp32", "cpu"), tmp_path)
    assert args.body_embedding_learning_rate == 3e-5 and args.embedding_num_epochs == 2
    assert args.embedding_batch_size == 8 and args.max_steps == 7
    assert args.sampling_strategy == cfg.sampling_strategy
    assert args.num_iterations == (cfg.num_iterations or None)
    texts = [f"text {i}" for i in range(10)]
    y = [i % 3 for i in range(10)]
    same = sum(y[i] == y[j] for i in range(10) for j in range(i, 10))  # setfit pairs each text with itself too
    dataset = ContrastiveDataset(texts, y, multilabel=False, num_iterations=args.num_iterations, sampling_strategy=args.sampling_strategy)
    assert len(dataset) == expected_pairs(10, same, 55 - same)


# --- the head folded into one linear layer ----------------------------------------------------


@pytest.fixture(scope="module")
def st_body(tmp_path_factory, tiny_base):
    """A sentence-transformers body (mean pooling + normalise, as edgeft builds it) saved to a folder."""
    from edgeft.tasks.setfit import build_body

    body, info = build_body(str(tiny_base), 32, "cpu")
    assert info["pooling"] == "mean" and info["normalize"] and info["built_by_edgeft"]
    folder = tmp_path_factory.mktemp("st") / "body"
    body.save(str(folder), create_model_card=False)
    return body, folder


@pytest.fixture(scope="module")
def body_onnx(tmp_path_factory, st_body):
    from edgeft_exporters.onnx_export import export_with_optimum

    return export_with_optimum(st_body[1], tmp_path_factory.mktemp("onnx"), "feature-extraction", library_name="sentence_transformers")


TEXTS = ["good film", "awful plot and poor story", "sport music science", "it", "really " * 40, "the science of sport"]


def fitted_head(kind: str, embeddings: np.ndarray):
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    rng = np.random.default_rng(0)
    n = len(embeddings)
    if kind == "binary":
        return LogisticRegression(C=50).fit(embeddings, np.arange(n) % 2), 2
    if kind == "multiclass":
        return LogisticRegression(C=50).fit(embeddings, np.arange(n) % 3), 3
    y = (rng.random((n, 3)) < 0.5).astype(int)
    y[:, 2] = 1  # a label every example carries: scikit-learn fits a constant predictor for it
    return OneVsRestClassifier(LogisticRegression(C=50)).fit(embeddings, y), 3


@pytest.mark.filterwarnings("ignore:Label 2 is present in all training examples")
@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_folded_graph_equals_the_setfit_pipeline(kind, st_body, body_onnx, tmp_path):
    import onnxruntime as ort
    from setfit import SetFitModel
    from transformers import AutoTokenizer

    from edgeft_exporters.setfit_head import fold_head, head_coefficients, load_setfit_model, save_head
    from edgeft_exporters.tasks.setfit import append_head

    body, folder = st_body
    train = [text for text, _ in tiny.sentiment_rows(24, seed=3)] + [" ".join(t) for _, t in tiny.topic_rows(24, seed=3)]
    head, k = fitted_head(kind, body.encode(train))
    multi = kind == "multilabel"
    model = SetFitModel(model_body=body, model_head=head, multi_target_strategy="one-vs-rest" if multi else None, labels=list("abc"[:k]))
    expected = np.asarray(model.predict_proba(TEXTS, as_numpy=True))

    coef, intercept, constant = head_coefficients(head, k)
    assert constant == ([2] if multi else [])
    linear = fold_head(coef, intercept, multi)
    assert linear.activation == ("sigmoid" if multi else "softmax")
    np.testing.assert_allclose(linear(body.encode(TEXTS)), expected, atol=1e-6)  # scikit-learn computes in float32 here

    graph = tmp_path / "model.onnx"
    append_head(body_onnx, graph, linear)
    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["probabilities", "embeddings"]
    enc = AutoTokenizer.from_pretrained(folder)(TEXTS, padding=True, truncation=True, max_length=32, return_tensors="np")
    probs, emb = session.run(None, {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]})
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    np.testing.assert_allclose(emb, body.encode(TEXTS), atol=1e-5)
    if multi:
        assert not np.allclose(probs.sum(-1), 1.0)  # independent sigmoids, not a distribution
        np.testing.assert_allclose(probs[:, 2], 1.0, atol=1e-6)
    else:
        np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-6)

    # The run folder's head files rebuild a SetFitModel that predicts exactly as the original.
    run = tmp_path / "run"
    body.save(str(run), create_model_card=False)
    save_head(run, head, labels=list("abc"[:k]), multi_label=multi, params={"C": 50})
    rebuilt = load_setfit_model(run)
    np.testing.assert_allclose(np.asarray(rebuilt.predict_proba(TEXTS, as_numpy=True)), expected, atol=1e-12)
    assert np.array_equal(np.asarray(rebuilt.predict(TEXTS, as_numpy=True)), np.asarray(model.predict(TEXTS, as_numpy=True)))


# --- CLI: train -> export --int8 -> predict, and the runtime's embed() -----------------------


@pytest.fixture(scope="module")
def setfit_cli(tmp_path_factory, tiny_base, sentiment_files):
    folder = tmp_path_factory.mktemp("setfit-cli")
    run, bundle = folder / "run", folder / "bundle"
    result = invoke(
        "train", "setfit", "--train", sentiment_files["train"], "--eval", sentiment_files["dev"], "--out", run,
        "--base", tiny_base, "--shots", 8, "--seed", 3, "--num-iterations", 4, "--lr", 1e-3, "--max-length", 32,
        "--set", "logging_steps=1000",
    )
    assert result.exit_code == 0, result.output
    assert f"saved run to {run}" in result.output
    result = invoke("export", run, "--int8", "--out", bundle, "--max-drop", 100)
    assert result.exit_code == 0, result.output
    return run, bundle, result.output


def test_setfit_run_folder_has_no_pickle(setfit_cli):
    run = setfit_cli[0]
    names = {p.name for p in run.rglob("*") if p.is_file()}
    assert {"modules.json", "model.safetensors", "setfit_head.safetensors", "setfit_head.json", "edgeft_run.json", "eval.jsonl"} <= names
    assert not [n for n in names if n.endswith((".pkl", ".bin", ".joblib", ".pt"))]
    info = json.loads((run / "edgeft_run.json").read_text())
    assert info["task"] == "setfit" and info["shots"] == 8 and info["labels"] == ["neg", "pos"]
    assert info["body"]["built_by_edgeft"] and info["body"]["pooling"] == "mean" and info["body"]["normalize"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["train_examples"] == 16 and metrics["pairs"] == 2 * 4 * 16  # 4 iterations x 2 sides x 16 texts
    config = json.loads((run / "train_config.json").read_text())
    assert config["shots"] == 8 and config["seed"] == 3 and config["num_iterations"] == 4


def test_setfit_bundle_is_one_graph_with_probabilities_and_embeddings(setfit_cli):
    run, bundle, output = setfit_cli
    assert "ONNX fp32: accuracy" in output and "agreement 100.0%" in output
    manifest = json.loads((bundle / "edgeft.json").read_text())
    assert manifest["task"] == "setfit" and manifest["outputs"] == {"probabilities": "probabilities", "embeddings": "embeddings"}
    assert manifest["pooling"] == "mean" and manifest["normalize"] is True
    assert sorted(p.name for p in bundle.iterdir()) == ["README.md", "edgeft.json", "model.onnx", "model_int8.onnx", "reference", "tokenizer.json"]
    assert manifest["parity"]["variants"]["fp32"]["label_agreement"] == 1.0
    assert manifest["parity"]["variants"]["fp32"]["max_abs_diff"] <= 1e-4

    result = invoke("predict", bundle, "good film", "awful plot")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.strip().splitlines()]
    assert [line["prediction"]["label"] in ("pos", "neg") for line in lines] == [True, True]


def test_runtime_embed_is_unit_norm_and_equals_pytorch(setfit_cli):
    from edgeft_exporters.setfit_head import load_setfit_model

    run, bundle, _ = setfit_cli
    reference = load_setfit_model(run)
    model = edgeft_runtime.load(bundle, variant="fp32")
    vectors = model.embed(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(vectors, reference.encode(TEXTS), atol=1e-5)
    np.testing.assert_allclose(model.predict_proba(TEXTS), np.asarray(reference.predict_proba(TEXTS, as_numpy=True)), atol=1e-5)
    assert model.embed("good film").shape == (vectors.shape[1],)
    assert np.linalg.norm(edgeft_runtime.load(bundle).embed(["good film"])[0]) == pytest.approx(1.0, abs=1e-6)  # int8


def test_reference_set_holds_setfit_probabilities(setfit_cli):
    from edgeft_exporters.setfit_head import load_setfit_model

    run, bundle, _ = setfit_cli
    held_out = [json.loads(line)["text"] for line in (run / "eval.jsonl").read_text().splitlines()]
    reference, _ = assert_reference_round_trip(bundle, held_out, "accuracy")
    original = load_setfit_model(run)
    expected = np.asarray(original.predict_proba(reference.texts, as_numpy=True))
    np.testing.assert_allclose(reference.observed["probabilities"], expected, atol=1e-5)
    assert reference.observed["labels"].tolist() == expected.argmax(-1).tolist()
    index = {"neg": 0, "pos": 1}
    assert reference.gold == [index[json.loads(line)["labels"][0]] for line in (run / "eval.jsonl").read_text().splitlines()][: len(reference)]


def test_multi_label_setfit_end_to_end(tmp_path, tiny_base):
    from edgeft.tasks.setfit import train_setfit
    from edgeft_exporters.api import ExportOptions, export_run

    rows = [(t, ";".join(labels)) for t, labels in tiny.topic_rows(48, seed=1)]
    train = tiny.write_csv(tmp_path / "topics.csv", rows)
    config = SetFitConfig(
        train=str(train), out=str(tmp_path / "run"), base=str(tiny_base), multi_label=True, shots=6,
        num_iterations=2, lr=1e-3, max_length=32, logging_steps=1000,
    )
    result = train_setfit(config)
    assert set(result.metrics) >= {"micro_f1", "subset_accuracy"}
    assert result.metrics["eval_examples"] == 48 - result.metrics["train_examples"]  # the rows not sampled
    manifest = export_run(tmp_path / "run", tmp_path / "bundle", ExportOptions()).manifest
    assert manifest["problem_type"] == "multi_label" and manifest["threshold"] == 0.5
    assert manifest["parity"]["variants"]["fp32"]["label_agreement"] == 1.0
    model = edgeft_runtime.load(tmp_path / "bundle")
    probs = model.predict_proba(["sport music", "science"])
    assert probs.shape == (2, 3) and ((probs > 0) & (probs < 1)).all()
    predicted = model.predict(["sport music"])[0]
    assert all(p["score"] >= 0.5 for p in predicted) and len(predicted) == int((probs[0] >= 0.5).sum())


def test_shots_error_is_one_line(tmp_path, tiny_base, sentiment_files):
    result = invoke("train", "setfit", "--train", sentiment_files["train"], "--out", tmp_path / "x", "--base", tiny_base, "--shots", 500)
    assert_one_error_line(result, "--shots 500: label", "has only 48 example(s)")
