"""A bundle's parity record (the manifest's ``parity``) as people read it: the one reader of the
recorded ``--max-drop``, and the one formatter of the figures ``edgeft export``, ``edgeft info``
and the model card print.

Output differences are in probabilities everywhere (what ``predict_proba``, ``tag`` and
``fill_mask`` return, and what ``edgeft check`` compares on the device), and every printout says
so. Bundles written before schema 1.3 recorded only ``max_abs_diff`` of the graph's raw outputs
(logits for most tasks): those figures are shown with their own unit, never as probabilities.
"""

from __future__ import annotations

from typing import Any

from .constants import TASK_CLASSIFIER, TASK_EMBEDDING, TASK_FILL_MASK, TASK_NER, TASK_SETFIT

PROBABILITY = "probability"
# Embedding bundles return vectors, not probabilities: their difference is 1 - cosine, under its own key.
COSINE_DISTANCE = "cosine distance"
DIFFERENCE_KEYS = {PROBABILITY: "max_probability_diff", COSINE_DISTANCE: "max_cosine_distance"}
DIFFERENCE = f"max |diff| ({PROBABILITY})"  # the column and label of every printout
# What a parity report's ``max_abs_diff`` compares, per task: the graph's raw outputs.
RAW_OUTPUTS = {
    TASK_CLASSIFIER: "logits",
    TASK_SETFIT: "probabilities and embeddings",
    TASK_NER: "token logits",
    TASK_FILL_MASK: "logits at the masks",
    TASK_EMBEDDING: "embeddings",
}


def gate_max_drop(manifest: dict[str, Any]) -> float | None:
    """The export gate's ``--max-drop`` recorded in a bundle, or None when it records none.

    Schema 1.3 writes it once, as ``parity.max_drop``. Bundles of schema 1.1-1.2 also wrote it as
    ``reference.max_drop`` (leaving ``parity.max_drop`` null when the export made no int8 variant)
    and, with a pruned vocabulary, as ``parity.original.max_drop``: read here, and only here, in
    the order those runtimes read them (the values agree in every bundle edgeft wrote).
    """
    parity = manifest.get("parity") or {}
    for value in ((manifest.get("reference") or {}).get("max_drop"), parity.get("max_drop"), (parity.get("original") or {}).get("max_drop")):
        if value is not None:
            return float(value)
    return None


def difference_key(task: str) -> str:
    """The parity report's key of a variant's difference from PyTorch in what the runtime returns."""
    return DIFFERENCE_KEYS[COSINE_DISTANCE if task == TASK_EMBEDDING else PROBABILITY]


def difference_label(task: str) -> str:
    """The printouts' label of a variant's difference from PyTorch: ``DIFFERENCE``, or in cosine
    distance for embedding bundles."""
    return f"max |diff| ({COSINE_DISTANCE})" if task == TASK_EMBEDDING else DIFFERENCE


def output_difference(task: str, report: dict[str, Any]) -> tuple[float | None, str]:
    """(a variant's max |output difference| from PyTorch, its unit), from its parity report."""
    for unit, key in DIFFERENCE_KEYS.items():
        if key in report:
            return report[key], unit
    return report.get("max_abs_diff"), RAW_OUTPUTS.get(task, "raw outputs")


def difference_text(task: str, report: dict[str, Any]) -> str:
    """``max |diff| (probability) 3.10e-03``: the figure with its unit."""
    value, unit = output_difference(task, report)
    return f"max |diff| ({unit}) " + (f"{value:.2e}" if isinstance(value, (int, float)) else "-")


def parity_lines(manifest: dict[str, Any]) -> list[str]:
    """The parity record in a few lines: the data, PyTorch, each variant, the original run if any."""
    parity = manifest.get("parity")
    if not parity:
        return []
    metric = parity["metric"]
    lines = [
        f"on {parity['samples']} held-out examples of {parity['data']}",
        f"PyTorch fp32: {metric} {parity['reference_metric']:.2f}, {parity['reference_latency_ms']:.2f} ms",
    ]
    for name, rep in parity["variants"].items():
        lines.append(
            f"ONNX {name}: {metric} {rep['metric']:.2f}, agreement {100 * rep['label_agreement']:.1f}%, "
            f"{difference_text(manifest['task'], rep)}, {rep['latency_ms']:.2f} ms"
        )
    original = parity.get("original")
    if original:
        limit = gate_max_drop(manifest)
        lines.append(
            f"vocabulary: {original.get('vocab_after', '?')} of {original.get('vocab_before', '?')} tokens kept; before "
            f"pruning PyTorch {metric} {original['metric']:.2f} (every variant held to --max-drop "
            f"{'?' if limit is None else f'{limit:g}'} against it)"
        )
    return lines
