"""A SetFit run's logistic-regression head as data, and its fold into one linear layer.

Training writes the fitted scikit-learn head as ``setfit_head.safetensors`` (coefficients) plus
``setfit_head.json`` (what they mean) instead of setfit's pickled ``model_head.pkl``. From those
two files the export stage

- folds the head into ``probabilities = activation(embeddings @ weight.T + bias)``
  (:func:`fold_head`), the layer appended to the ONNX graph, and
- rebuilds the scikit-learn estimator and the whole ``SetFitModel`` (:func:`load_setfit_model`),
  the PyTorch reference of the parity gate.

What scikit-learn's ``predict_proba`` computes, and so what the fold reproduces:

- binary ``LogisticRegression``: one coefficient row ``w``; ``[1 - sigmoid(z), sigmoid(z)]`` with
  ``z = x @ w + b``. That equals ``softmax([0, z])``, so the fold is a two-row layer
  ``[0; w]``, ``[0; b]`` followed by softmax.
- multi-class ``LogisticRegression`` (multinomial, the only mode of scikit-learn >= 1.7):
  ``softmax(x @ W.T + b)``.
- multi-label ``OneVsRestClassifier`` of binary logistic regressions (setfit's
  ``multi_target_strategy="one-vs-rest"``): ``sigmoid`` of each estimator's logit, one column
  per label, not normalised.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from edgeft_runtime.ops import sigmoid, softmax

from .constants import SETFIT_HEAD_CONFIG_FILE, SETFIT_HEAD_FORMAT, SETFIT_HEAD_WEIGHTS_FILE
from .errors import ExportError

HEAD_KIND = "logistic_regression"
ONE_VS_REST = "one-vs-rest"
SOFTMAX = "softmax"
SIGMOID = "sigmoid"
# A label present in every (or no) training row gets a constant predictor from scikit-learn's
# one-vs-rest (probability exactly 1 or 0). As a linear layer: zero weights and a bias whose
# sigmoid is 1 or 0 in float64 (sigmoid(40) = 1 - 4e-18).
CONSTANT_LOGIT = 40.0


@dataclass(frozen=True)
class LinearHead:
    """``probabilities = activation(embeddings @ weight.T + bias)``."""

    weight: np.ndarray  # (num_labels, embedding_dim)
    bias: np.ndarray  # (num_labels,)
    activation: str  # "softmax" | "sigmoid"

    def __call__(self, embeddings: np.ndarray) -> np.ndarray:
        """The head in numpy float64 (for checks; the bundle runs it inside the graph)."""
        z = np.asarray(embeddings, dtype=np.float64) @ self.weight.T + self.bias
        return sigmoid(z) if self.activation == SIGMOID else softmax(z)


def head_coefficients(head: Any, num_labels: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(coef, intercept, constant label indices) of a fitted setfit head, as scikit-learn holds them
    (same dtype).

    Accepts a ``LogisticRegression`` trained on class indices ``0..num_labels-1`` or a
    ``OneVsRestClassifier`` of them (multi-label); anything else raises ExportError.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    if isinstance(head, LogisticRegression):
        classes = np.asarray(head.classes_)
        if classes.tolist() != list(range(num_labels)):
            raise ExportError(f"the head was fitted on classes {classes.tolist()}, expected 0..{num_labels - 1}")
        return np.asarray(head.coef_), np.asarray(head.intercept_), []
    if isinstance(head, OneVsRestClassifier):
        if len(head.estimators_) != num_labels:
            raise ExportError(f"the one-vs-rest head has {len(head.estimators_)} estimators, expected {num_labels}")
        rows, biases, constant = [], [], []
        dim = int(head.n_features_in_)
        # scikit-learn keeps the dtype of the embeddings it was fitted on (float32 here): stored as
        # is, the rebuilt head computes exactly what the trained one did.
        dtype = next((e.coef_.dtype for e in head.estimators_ if isinstance(e, LogisticRegression)), np.float64)
        for i, estimator in enumerate(head.estimators_):
            if isinstance(estimator, LogisticRegression):
                rows.append(np.asarray(estimator.coef_)[0])
                biases.append(estimator.intercept_[0])
            elif hasattr(estimator, "y_"):  # sklearn's _ConstantPredictor: the label was always 0 or 1
                constant.append(i)
                rows.append(np.zeros(dim, dtype))
                biases.append(CONSTANT_LOGIT if int(np.ravel(estimator.y_)[0]) == 1 else -CONSTANT_LOGIT)
            else:
                raise ExportError(f"one-vs-rest estimator {i} is a {type(estimator).__name__}; only logistic regression folds into a linear layer")
        return np.stack(rows), np.array(biases, dtype=dtype), constant
    raise ExportError(
        f"a SetFit head of type {type(head).__name__} cannot be folded into the graph; "
        "edgeft exports logistic-regression heads (one-vs-rest for multi-label)"
    )


def fold_head(coef: np.ndarray, intercept: np.ndarray, multi_label: bool) -> LinearHead:
    """The linear layer + activation that reproduces scikit-learn's ``predict_proba`` (module docstring)."""
    coef, intercept = np.asarray(coef, np.float64), np.asarray(intercept, np.float64)
    if multi_label:
        return LinearHead(coef, intercept, SIGMOID)
    if coef.shape[0] == 1:
        return LinearHead(np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept]), SOFTMAX)
    return LinearHead(coef, intercept, SOFTMAX)


def save_head(folder: Path, head: Any, *, labels: list[str], multi_label: bool, params: dict[str, Any]) -> dict[str, Any]:
    """Write ``setfit_head.safetensors`` and ``setfit_head.json`` into ``folder``; return the JSON."""
    from safetensors.numpy import save_file

    coef, intercept, constant = head_coefficients(head, len(labels))
    save_file({"coef": np.ascontiguousarray(coef), "intercept": np.ascontiguousarray(intercept)}, str(folder / SETFIT_HEAD_WEIGHTS_FILE))
    spec = {
        "format": SETFIT_HEAD_FORMAT,
        "kind": HEAD_KIND,
        "multi_target_strategy": ONE_VS_REST if multi_label else None,
        "labels": list(labels),
        "classes": list(range(len(labels))),
        "embedding_dim": int(coef.shape[1]),
        "activation": SIGMOID if multi_label else SOFTMAX,
        "constant_labels": constant,
        "params": params,
    }
    (folder / SETFIT_HEAD_CONFIG_FILE).write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    return spec


def read_head(folder: Path) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(coef, intercept, spec) from a run folder; ExportError naming the file when absent or damaged."""
    from safetensors.numpy import load_file

    weights, config = folder / SETFIT_HEAD_WEIGHTS_FILE, folder / SETFIT_HEAD_CONFIG_FILE
    for path in (weights, config):
        if not path.is_file():
            raise ExportError(f"{path}: missing; the SetFit run is incomplete, re-train it")
    try:
        spec = json.loads(config.read_text(encoding="utf-8"))
        arrays = load_file(str(weights))
    except (UnicodeDecodeError, json.JSONDecodeError, OSError, ValueError) as e:
        raise ExportError(f"{folder}: cannot read the SetFit head ({e}); re-train the run") from None
    if spec.get("format") != SETFIT_HEAD_FORMAT or spec.get("kind") != HEAD_KIND:
        raise ExportError(f"{config}: not an edgeft SetFit head (format {spec.get('format')!r}, kind {spec.get('kind')!r})")
    coef, intercept = arrays.get("coef"), arrays.get("intercept")
    if coef is None or intercept is None or coef.ndim != 2 or intercept.shape != (coef.shape[0],):
        raise ExportError(f"{weights}: expected tensors 'coef' (rows, dim) and 'intercept' (rows,)")
    return coef, intercept, spec


def load_linear_head(folder: Path) -> LinearHead:
    """The folded head of a run folder."""
    coef, intercept, spec = read_head(folder)
    return fold_head(coef, intercept, spec["multi_target_strategy"] == ONE_VS_REST)


def rebuild_sklearn_head(coef: np.ndarray, intercept: np.ndarray, spec: dict[str, Any]):
    """The fitted scikit-learn estimator the coefficients came from (what setfit's ``predict`` calls)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.preprocessing import LabelBinarizer

    params = {k: v for k, v in (spec.get("params") or {}).items() if k in ("C", "max_iter", "class_weight", "random_state")}
    dim = int(coef.shape[1])

    def logistic(rows: np.ndarray, bias: np.ndarray, classes: np.ndarray) -> LogisticRegression:
        lr = LogisticRegression(**params)
        lr.coef_, lr.intercept_, lr.classes_ = rows, bias, classes
        lr.n_features_in_ = dim
        lr.n_iter_ = np.zeros(1, dtype=np.int32)
        return lr

    if spec["multi_target_strategy"] != ONE_VS_REST:
        return logistic(coef, intercept, np.arange(len(spec["labels"])))
    num_labels = coef.shape[0]
    ovr = OneVsRestClassifier(LogisticRegression(**params))
    ovr.estimators_ = [logistic(coef[i : i + 1], intercept[i : i + 1], np.array([0, 1])) for i in range(num_labels)]
    ovr.label_binarizer_ = LabelBinarizer(sparse_output=True).fit(np.eye(num_labels, dtype=np.int64))
    ovr.classes_ = ovr.label_binarizer_.classes_
    ovr.n_features_in_ = dim
    return ovr


def load_setfit_model(folder: str | Path, device: str = "cpu"):
    """The trained ``setfit.SetFitModel`` of a run folder: its sentence-transformers body and the
    head rebuilt from ``setfit_head.*`` (no pickle is read)."""
    from sentence_transformers import SentenceTransformer
    from setfit import SetFitModel

    folder = Path(folder)
    coef, intercept, spec = read_head(folder)
    body = SentenceTransformer(str(folder), device=device, local_files_only=True)
    if body.get_embedding_dimension() not in (None, spec["embedding_dim"]):
        raise ExportError(
            f"{folder}: the body embeds in {body.get_embedding_dimension()} dimensions "
            f"but the head expects {spec['embedding_dim']}; the run folder is inconsistent, re-train it"
        )
    return SetFitModel(
        model_body=body,
        model_head=rebuild_sklearn_head(coef, intercept, spec),
        multi_target_strategy=spec["multi_target_strategy"],
        labels=spec["labels"],
    )
