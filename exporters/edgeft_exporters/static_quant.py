"""Static int8: weights and activations quantised with scales fixed at export (QDQ format).

Dynamic int8 measures each activation tensor's range on every call, over the whole batch, so a
text's answer moves with the texts that share its batch (up to 5.9e-3 in probability, measured on
255 SMS texts) and every MatMul pays for a range pass. Static int8 measures the ranges once, on
calibration texts (the run's training texts), and stores them in the graph as QuantizeLinear /
DequantizeLinear pairs; onnxruntime fuses each pair around a MatMul into an integer kernel when it
opens the session. Each row is then quantised on its own with the same scale: the same text gets
the same answer in any batch.

Weights: int8, symmetric, per output channel where asked (each column its own scale).
Activations: uint8 with a zero point (after GELU and softmax they are far from symmetric).
The attention's own products of two activations (Q.K and the weighted sum of V) are quantised as
well: onnxruntime's QDQ quantiser ignores ``MatMulConstBOnly`` (its QDQMatMul has no such check;
1.32 put 49 QLinearMatMul in the AG News MiniLM graph, 12 of them these products). Keeping them in
float did not help there (accuracy 80.00 instead of 80.33 on 300 held-out texts, 2026-12-07).
The graph quantised is Optimum's unfused export: the fused Attention op of the fused graph has no
QDQ form, so its projections would stay in fp32 (measured on MiniLM at 64-128 tokens, AVX2: the
fused graph's static int8 took 1.17-1.27x the time of dynamic int8, the unfused one 1.02-1.12x).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from .quantize import QuantPreset, dynamic_int8

log = logging.getLogger(__name__)

# Texts the activation ranges are measured on: ranges settle after a few dozen texts (MinMax over
# 64 vs 256 SST-2 texts changed no dev label of MiniLM), and each costs one fp32 pass.
CALIBRATION_TEXTS = 128
# Gather: the word-embedding table in int8 too (MiniLM: 23 MB instead of 59 MB, as small as dynamic
# int8, at the same speed on an AVX2 CPU).
QUANTISED_OPS = ("MatMul", "Gemm", "Gather")


@dataclass
class Calibration:
    """The inputs static int8 measures activation ranges on, and where their texts came from."""

    feeds: list[dict[str, np.ndarray]]
    source: str


class FeedReader:
    """onnxruntime's CalibrationDataReader protocol over prepared input feeds, one text each."""

    def __init__(self, feeds: Iterable[dict[str, np.ndarray]]):
        self._feeds: Iterator[dict[str, np.ndarray]] = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)

    def rewind(self) -> None:  # part of the protocol; one pass is all the MinMax calibrator needs
        pass


def calibration_feeds(model: Any, texts: Sequence[str], limit: int = CALIBRATION_TEXTS) -> list[dict[str, np.ndarray]]:
    """The graph inputs of up to ``limit`` texts, each alone (batch 1, its own length), tokenised by
    the bundle's own tokenizer through a loaded runtime model: what the runtime will feed."""
    chosen = [t for t in texts if t and t.strip()][:limit]
    return [model._feed(model.tokenizer.encode([text])) for text in chosen]


def with_value_types(src: Path, dst: Path) -> None:
    """``src`` with the type and shape of every tensor recorded (symbolic shape inference, which
    knows onnxruntime's fused ops): the static quantiser skips tensors whose type it cannot infer,
    and then cannot quantise what follows them."""
    import onnx
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    model = onnx.load(str(src))
    try:
        model = SymbolicShapeInference.infer_shapes(model, auto_merge=True)
    except Exception as e:  # the inference raises assorted errors on graphs it does not know; plain inference then
        log.warning("symbolic shape inference failed (%s); using ONNX shape inference", str(e).splitlines()[0] if str(e) else e)
        model = onnx.shape_inference.infer_shapes(model)
    onnx.save(model, str(dst))


def quantize_static_int8(
    src: Path,
    dst: Path,
    preset: QuantPreset,
    feeds: Sequence[dict[str, np.ndarray]],
    *,
    per_channel: bool = True,
    reduce_range: bool | None = None,
    nodes_to_exclude: Sequence[str] = (),
    dynamic: Sequence[tuple[bool, Sequence[str]]] = (),
    calibration_source: str = "",
) -> dict[str, Any]:
    """Quantise ``src`` to ``dst`` with ranges measured on ``feeds``; return the manifest's settings.

    ``nodes_to_exclude``: node names kept in float (the mixed-precision search's choice).
    ``dynamic``: (per_channel, node names) to quantise with dynamic int8 instead of static (the
    search's hybrid: those nodes take their activation scale from each call).
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if not feeds:
        raise ValueError("static int8 needs calibration texts")
    reduced = preset.reduce_range if reduce_range is None else reduce_range
    typed = dst.with_name(dst.stem + ".typed.onnx")
    with_value_types(src, typed)
    quantize_static(
        str(typed),
        str(dst),
        FeedReader(feeds),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=list(QUANTISED_OPS),
        per_channel=per_channel,
        reduce_range=reduced,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=[*nodes_to_exclude, *(n for _, names in dynamic for n in names)],
        calibrate_method=CalibrationMethod.MinMax,
        extra_options={
            "WeightSymmetric": True,
            "ActivationSymmetric": False,
            "MatMulConstBOnly": True,
            # Fused graphs: the quantiser cannot infer some fused-op output types without it.
            "DefaultTensorType": onnx.TensorProto.FLOAT,
            # Biases stay float: the fused kernels add them after dequantising, and an int32 bias
            # needs its input's scale, which a Gather feeding the pooler does not carry.
            "QuantizeBias": False,
        },
    )
    typed.unlink()
    dynamic_float = add_dynamic_nodes(dst, dynamic, reduced) if any(names for _, names in dynamic) else []
    settings: dict[str, Any] = {
        "method": "static",
        "format": "qdq",
        "weight_type": "int8",
        "activation_type": "uint8",
        "per_channel": per_channel,
        "reduce_range": reduced,
        "preset": preset.name,
        "calibration": {"method": "minmax", "texts": len(feeds), "source": calibration_source},
        "tool": "onnxruntime.quantization.quantize_static",
    }
    floats = [*nodes_to_exclude, *dynamic_float]
    if floats:
        settings["float_nodes"] = floats
    passes = [(pc, [n for n in names if n not in dynamic_float]) for pc, names in dynamic]
    passes = [(pc, names) for pc, names in passes if names]
    if passes:
        settings["dynamic_nodes"] = [n for _, names in passes for n in names]
        settings["dynamic"] = [{"per_channel": pc, "reduce_range": reduced, "nodes": names, "tool": "onnxruntime.quantization.quantize_dynamic"} for pc, names in passes]
    return settings


# What quantize_dynamic quantises (its IntegerOps registry): a Gemm among the nodes stays float.
DYNAMIC_OPS = ("MatMul", "Gather")
HIDDEN_GEMM = "EdgeftHiddenGemm"


def add_dynamic_nodes(path: Path, dynamic: Sequence[tuple[bool, Sequence[str]]], reduce_range: bool) -> list[str]:
    """Quantise the named float nodes of the static graph at ``path`` with dynamic int8, in place,
    one pass per per-channel setting; return the named nodes that stayed float (ops dynamic int8
    does not cover). The static nodes' QDQ pairs are left as they are: the dynamic quantiser only
    touches ``nodes_to_quantize``."""
    import onnx

    model = onnx.load(str(path))
    ops = {node.name: node.op_type for node in model.graph.node}
    stays_float = [n for _, names in dynamic for n in names if ops.get(n) not in DYNAMIC_OPS]
    # quantize_dynamic rewrites every Gemm as Transpose + MatMul + Add, the static ones too: a static
    # Gemm then reads its weight's DequantizeLinear through a Transpose, which onnxruntime-node 1.30
    # aborts on when it opens the graph (measured on a tiny BERT's pooler). Hidden under another op
    # name while the dynamic quantiser runs, the Gemms stay as the static quantiser left them.
    gemms = [node for node in model.graph.node if node.op_type == "Gemm"]
    for node in gemms:
        node.op_type = HIDDEN_GEMM
    onnx.save(model, str(path))
    for per_channel, names in dynamic:
        chosen = [n for n in names if n not in stays_float]
        if not chosen:
            continue
        step = path.with_name(path.stem + ".dynamic.onnx")
        dynamic_int8(path, step, per_channel=per_channel, reduce_range=reduce_range, nodes_to_quantize=chosen, op_types_to_quantize=list(DYNAMIC_OPS))
        step.replace(path)
    model = onnx.load(str(path))
    for node in model.graph.node:
        if node.op_type == HIDDEN_GEMM:
            node.op_type = "Gemm"
    onnx.save(model, str(path))
    return stays_float
