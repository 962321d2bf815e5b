"""SetFit bundles: one graph with probabilities and sentence embeddings; embed() and its contract."""

from __future__ import annotations

import numpy as np
import pytest

import edgeft_runtime

TEXTS = ["good film", "the plot was awful and poor", "", "really " * 60, "great story, lovely", "sad"]


def test_setfit_bundle_is_a_classifier_with_embeddings(fewshot_bundle):
    model = edgeft_runtime.load(fewshot_bundle, variant="fp32")
    assert model.task == "setfit" and model.has_embeddings and model.labels == ["neg", "pos"]
    probs = model.predict_proba(TEXTS)
    # The graph ends in softmax: the runtime applies nothing more.
    np.testing.assert_allclose(probs, model.run_output(TEXTS, "probabilities"), rtol=0, atol=0)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)
    assert model.predict("good film")["label"] in ("neg", "pos")


def test_embed_is_unit_norm_in_input_order_and_batch_independent(fewshot_bundle):
    model = edgeft_runtime.load(fewshot_bundle, variant="fp32")
    vectors = model.embed(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape[0] == len(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    one_by_one = np.stack([model.embed(t) for t in TEXTS])
    np.testing.assert_allclose(vectors, one_by_one, atol=1e-5)
    np.testing.assert_allclose(model.embed(TEXTS[::-1], batch_size=2)[::-1], vectors, atol=1e-5)
    # The bundle's model normalises inside the graph: the raw output is already unit length.
    np.testing.assert_allclose(model.embed(TEXTS, normalize=False), vectors, atol=1e-6)
    assert model.embed([]).shape == (0, vectors.shape[1])


def test_int8_embeddings_stay_close_to_fp32(fewshot_bundle):
    fp32 = edgeft_runtime.load(fewshot_bundle, variant="fp32").embed(TEXTS)
    int8 = edgeft_runtime.load(fewshot_bundle, variant="int8").embed(TEXTS)
    assert np.min(np.sum(fp32 * int8, axis=1)) > 0.95  # cosine similarity


def test_classifier_bundles_have_no_embed(sentiment_bundle):
    model = edgeft_runtime.load(sentiment_bundle)
    assert not model.has_embeddings
    with pytest.raises(edgeft_runtime.BundleError, match="exports no sentence embeddings"):
        model.embed("good film")
