"""Step 3b (``--fp16``): a float16 variant for GPUs (WebGPU in browsers, via edgeft-runtime-js).

Weights and activations in float16 halve the download and use the GPU's half-precision units.
The normalisation ops are the overflow-prone ones (a LayerNorm squares and sums hundreds of
values): the export converts twice, with them in float16 and kept in float32, and keeps the one
that scores best against PyTorch on the held-out data (the parity gate), as it does for int8.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ExportError

VARIANT_FP16 = "fp16"
FP16_MODEL_FILE = "model_fp16.onnx"
# The normalisation ops of fused and unfused BERT-family graphs. Not EmbedLayerNormalization: its
# inputs are the embedding tables, most of a small model's bytes (MiniLM-L6: 47 of 91 MB), which
# would then stay float32.
NORM_OPS = ("SkipLayerNormalization", "LayerNormalization", "SkipSimplifiedLayerNormalization", "SimplifiedLayerNormalization")
CANDIDATES: tuple[tuple[str, ...], ...] = ((), NORM_OPS)


def convert_fp16(src: Path, dst: Path, keep_fp32: tuple[str, ...]) -> dict:
    """Write the float16 graph of ``src`` to ``dst`` (inputs and outputs stay as they are; the ops
    in ``keep_fp32`` run in float32 behind casts); return its manifest settings."""
    import onnx
    from onnxruntime.transformers.onnx_model import OnnxModel

    try:
        model = OnnxModel(onnx.load(str(src)))
        model.convert_float_to_float16(keep_io_types=True, op_block_list=list(keep_fp32))
        model.save_model_to_file(str(dst))
    except Exception as e:  # the converter raises assorted errors on graphs it does not handle
        raise ExportError(f"{src.name}: float16 conversion failed ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from e
    kept = sorted({n.op_type for n in model.model.graph.node} & set(keep_fp32))
    return {"method": "float16", "kept_fp32": kept, "io": "float32 (casts inside the graph)", "tool": "onnxruntime.transformers float16"}
