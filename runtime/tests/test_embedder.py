"""Embedding bundles (task ``embedding``, schema 1.4): ``embed()`` on the committed tiny SimCSE
bundle, its reference set and the device check's cosine metric, the refusal by older runtimes,
and POST /embed with text-embeddings-inference's shapes."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import edgeft_runtime
from edgeft_runtime.check import check_bundle, format_report
from edgeft_runtime.errors import BundleError
from edgeft_runtime.metrics import embedding_metrics, nearest_neighbours
from edgeft_runtime.reference import load_reference
from edgeft_runtime.manifest import read_manifest

TEXTS = ["good film", "the plot was awful and poor", "", "really " * 60, "great story, lovely", "sad"]


def test_an_embedding_bundle_loads_as_an_embedder(embedder_bundle):
    model = edgeft_runtime.load(embedder_bundle, variant="fp32")
    assert type(model).__name__ == "Embedder" and model.task == "embedding" and model.has_embeddings
    assert model.labels == [] and model.dimension == 16
    vectors = model.embed(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), 16)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(model.embed(TEXTS[1]), vectors[1], atol=1e-6)
    np.testing.assert_allclose(np.stack([model.embed(t) for t in TEXTS]), vectors, atol=1e-5)
    assert model.embed([]).shape == (0, 16)
    assert np.allclose(model.run_task(["good film"]), vectors[:1], atol=1e-6)  # JSON lists of floats
    assert not hasattr(model, "predict")


def test_the_runtime_reproduces_pytorchs_vectors_of_the_reference_texts(embedder_bundle):
    """The reference set stores sentence-transformers' encode() of held-out texts at export."""
    reference = load_reference(embedder_bundle, read_manifest(embedder_bundle))
    assert reference.gold is None and set(reference.observed) == {"embeddings"}
    pytorch = reference.observed["embeddings"]
    for variant, floor in (("fp32", 0.99999), ("int8", 0.99)):
        mine = edgeft_runtime.load(embedder_bundle, variant=variant).embed(reference.texts)
        cosines = np.sum(mine * pytorch, axis=1)
        assert cosines.min() > floor, (variant, cosines.min())


def test_the_device_check_scores_the_cosine_to_pytorch(embedder_bundle):
    report = check_bundle(embedder_bundle)
    assert report["passed"] and report["reference"]["metric"] == "cosine"
    for result in report["variants"].values():
        assert result["reference_value"] == 100.0 and result["value"] > 99.0
        assert result["agreement_unit"] == "text (nearest neighbour)"
        assert set(result["scores"]) == {"cosine", "min_cosine", "median_cosine", "neighbour_agreement"}
    assert "max |diff| (cosine distance)" in format_report(report)


def test_the_device_check_fails_vectors_that_moved(embedder_bundle, monkeypatch):
    from edgeft_runtime.embedder import Embedder

    real = Embedder.embed

    def noisy(self, texts, batch_size=32, normalize=True):
        v = real(self, texts, batch_size, normalize)
        return v + np.random.default_rng(0).normal(0, 0.3, v.shape).astype(np.float32)

    monkeypatch.setattr(Embedder, "embed", noisy)
    report = check_bundle(embedder_bundle, variants=["fp32"], max_drop=1.0)  # the fixture was exported with --max-drop 100
    assert not report["passed"] and "cosine" in report["variants"]["fp32"]["failures"][0]


def test_embedding_metrics_and_neighbours():
    x = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=np.float32)
    assert nearest_neighbours(x).tolist() == [1, 0, 3, 2]
    same = embedding_metrics(x, x)
    assert same == pytest.approx({"cosine": 1.0, "min_cosine": 1.0, "median_cosine": 1.0, "neighbour_agreement": 1.0})
    moved = embedding_metrics(x[[0, 2, 1, 3]], x)  # two vectors trade places: every neighbour changes
    assert moved["min_cosine"] < 0.2 and moved["cosine"] == pytest.approx(0.5 + moved["min_cosine"] / 2)
    assert moved["neighbour_agreement"] == 0.0


def test_a_runtime_of_schema_1_3_refuses_the_task_by_name(embedder_bundle, monkeypatch):
    """An older runtime has no class for the task: it must say so, not load it as something else."""
    from edgeft_runtime import loader

    monkeypatch.delitem(loader.TASK_CLASSES, "embedding")
    with pytest.raises(BundleError, match=r"task 'embedding' is not supported by this runtime .*upgrade edgeft-runtime"):
        edgeft_runtime.load(embedder_bundle)


def test_a_manifest_without_the_embeddings_output_is_refused(embedder_bundle):
    from edgeft_runtime.manifest import sha256_file  # noqa: F401 (the manifest is edited, not its files)

    path = embedder_bundle / "edgeft.json"
    manifest = json.loads(path.read_text())
    manifest["outputs"] = {"vectors": "embeddings"}
    path.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="names no 'embeddings'"):
        edgeft_runtime.load(embedder_bundle)


def test_serve_embeds_with_tei_shapes_and_refuses_predict(embedder_bundle):
    pytest.importorskip("httpx")
    pytest.importorskip("starlette")
    from test_serve import Server

    server = Server(str(embedder_bundle), "--variant", "fp32", "--max-wait-ms", "5")
    try:
        server.wait_ready()
        model = edgeft_runtime.load(embedder_bundle, variant="fp32")
        texts = [t for t in TEXTS if t]  # the service refuses empty texts (400), as for every task
        vectors = np.array(server.client.post("/embed", json={"inputs": texts}).json())
        np.testing.assert_allclose(vectors, model.embed(texts), atol=1e-5)
        single = server.client.post("/embed", json={"inputs": TEXTS[0]}).json()
        assert np.array(single).shape == (1, 16)  # TEI: a list of vectors for a single string too
        refused = server.client.post("/predict", json={"inputs": "x"})
        assert refused.status_code == 424 and "/embed" in refused.json()["error"]
        info = server.client.get("/info").json()
        assert info["endpoints"] == ["embed"] and info["model_type"] == {"embedding": {"pooling": "mean"}}
        paths = server.client.get("/openapi.json").json()["paths"]
        assert "/embed" in paths and "/predict" not in paths
    finally:
        assert server.stop() == 0


def test_bulk_predictions_of_an_embedding_bundle_are_fixed_size_float32_lists(embedder_bundle):
    pa = pytest.importorskip("pyarrow")
    from edgeft_runtime.integrations.arrow import prediction_array

    model = edgeft_runtime.load(embedder_bundle, variant="fp32")
    column = prediction_array(model.run_task(["good film", "sad"]) + [None], model.manifest)
    assert column.type == pa.list_(pa.float32(), 16) and column.null_count == 1
    np.testing.assert_allclose(np.array(column[0].as_py()), model.embed("good film"), atol=1e-6)
