"""OpenVINO variants of a bundle: NNCF static int8, and the fp32 IR run in bf16 where the CPU has it.

Measured on a 2-core AVX-512/AMX machine (issue 28): OpenVINO's NNCF int8 ran MiniLM at 128
tokens in 0.67x the time of onnxruntime's dynamic int8, and its fp32 IR with the bf16 hint (AMX)
in 0.71x. So where ``openvino`` and ``nncf`` are installed, the export builds:

- ``openvino_int8``: NNCF static int8 (SmoothQuant on, the transformer preset) calibrated on the
  same texts as onnxruntime's static int8, checked by the same gate on the same held-out data,
  and kept only where it beats the bundle's onnxruntime int8 by more than ``KEEP_IF_FASTER`` on
  the exporting machine (otherwise it adds files without making anything faster);
- ``openvino_bf16``: the fp32 IR with OpenVINO's bf16 inference precision, for CPUs with AMX or
  AVX-512 BF16 only (its ``suits``); the gate applies where the exporting CPU has them, elsewhere
  its figures are recorded and the device checks it on the bundle's reference set.

Both name ``"engine": "openvino"``: edgeft-runtime runs them when openvino is installed
(``edgeft-runtime[openvino]``) and otherwise picks among the onnxruntime variants as before; the
default variant always stays an onnxruntime one, so the JavaScript runtime and hosts without
OpenVINO are unaffected.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

log = logging.getLogger(__name__)

VARIANT_OV_INT8 = "openvino_int8"
VARIANT_OV_BF16 = "openvino_bf16"
OV_INT8_FILE = "model_openvino_int8.xml"
OV_FP32_FILE = "model_openvino.xml"
# onnxruntime must be this much slower than OpenVINO int8 (batch 1, interleaved) before the bundle
# carries the OpenVINO build: within it, the one engine every host has serves.
KEEP_IF_FASTER = 0.10
# CPU rules (the manifest's ``suits``, matched by edgeft_runtime.device.rule_matches).
X86_RULE = {"target": "x86", "arch": "x86"}
BF16_RULE = {"target": "bf16", "arch": "x86", "cpu_flags_any": ["amx_bf16", "avx512_bf16"]}
# Where the exporting CPU has AVX-512 BF16 but bf16 did not beat onnxruntime there (measured on an
# EPYC with avx512_bf16 and no AMX: OpenVINO bf16 took 1.45x onnxruntime static int8's time at
# batch 1), the variant is left to the CPUs where it was measured faster: those with AMX.
AMX_RULE = {"target": "bf16", "arch": "x86", "cpu_flags_any": ["amx_bf16"]}


def openvino_available() -> bool:
    """Whether this machine can build OpenVINO variants (openvino and nncf, found without importing them)."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("openvino", "nncf"))


def weights_of(xml: str) -> str:
    """The ``.bin`` file that holds an IR's weights, beside its ``.xml``."""
    return xml[: -len(".xml")] + ".bin"


def convert(onnx_path: Path, xml_path: Path) -> Any:
    """The ONNX graph as an OpenVINO model, saved as IR (fp32 weights: no fp16 compression, which
    would be a precision change of its own); returns the model."""
    import openvino as ov

    model = ov.convert_model(str(onnx_path))
    ov.save_model(model, str(xml_path), compress_to_fp16=False)
    return model


def quantize_nncf(model: Any, feeds: Sequence[dict[str, np.ndarray]], xml_path: Path) -> dict[str, Any]:
    """NNCF static int8 of ``model`` calibrated on ``feeds``, saved as IR; returns the manifest's settings."""
    import nncf
    import openvino as ov

    quantized = nncf.quantize(
        model,
        nncf.Dataset(list(feeds)),
        model_type=nncf.ModelType.TRANSFORMER,  # SmoothQuant and the attention patterns of transformers
        subset_size=len(feeds),
    )
    ov.save_model(quantized, str(xml_path), compress_to_fp16=False)
    return {
        "method": "static",
        "format": "openvino-ir",
        "tool": f"nncf {nncf.__version__} (ModelType.TRANSFORMER: SmoothQuant)",
        "calibration": {"texts": len(feeds)},
    }


def ov_version() -> str:
    import openvino as ov

    return ov.get_version()


def build_openvino_variants(
    gate: Any, work: Path, fields: dict[str, Any], raw_graph: Path, feeds: Sequence[dict[str, np.ndarray]], max_drop: float, load_variant: Any,
    notes: dict[str, Any],
) -> dict[str, tuple[dict[str, Any], Any]]:
    """Add ``openvino_int8`` (kept where faster, see the module doc) and ``openvino_bf16`` to
    ``fields["variants"]``, fastest first; return {name: (parity report, loaded model)} of those
    kept. A dropped build's figures and the reason go into ``notes`` (the manifest's ``parity.openvino``)."""
    from edgeft_runtime.device import cpu_flags, rule_matches

    model = convert(raw_graph, work / OV_FP32_FILE)
    notes["openvino"] = ov_version()
    kept: dict[str, tuple[dict[str, Any], Any]] = {}
    spec: dict[str, Any] = {"file": OV_INT8_FILE, "weights": weights_of(OV_INT8_FILE), "precision": "int8", "engine": "openvino", "suits": [X86_RULE]}
    spec["quantization"] = quantize_nncf(model, feeds, work / OV_INT8_FILE)
    fields["variants"][VARIANT_OV_INT8] = spec
    ov_int8 = load_variant(work, VARIANT_OV_INT8, fields)
    report = gate.check(ov_int8)
    ratio = speed_ratio(gate, fields["default_variant"], load_variant(work, fields["default_variant"], fields), ov_int8)
    report["choice"] = f"onnxruntime {fields['default_variant']} took {ratio:.2f}x its time here (batch 1); kept where above {1 + KEEP_IF_FASTER:.2f}x"
    if ratio > 1 + KEEP_IF_FASTER and gate.reference_scores[gate.metric] - report["metric"] <= max_drop:
        gate.require_int8(report, max_drop, VARIANT_OV_INT8)
        report["gate"] = "applied on this machine (OpenVINO CPU kernels)"
        kept[VARIANT_OV_INT8] = (report, ov_int8)
    else:
        del fields["variants"][VARIANT_OV_INT8]
        for name in (OV_INT8_FILE, weights_of(OV_INT8_FILE)):
            (work / name).unlink()
        kept_name = fields["default_variant"]
        log.info("OpenVINO int8 not kept: %s", report["choice"])
        report["kept"] = False
        gate_note = {k: report[k] for k in ("metric", "label_agreement", "max_abs_diff", "choice", "kept")}
        notes[VARIANT_OV_INT8] = {**gate_note, "against": kept_name}
    bf16_spec = {"file": OV_FP32_FILE, "weights": weights_of(OV_FP32_FILE), "precision": "bf16", "engine": "openvino", "engine_options": {"precision": "bf16"}, "suits": [BF16_RULE]}
    fields["variants"][VARIANT_OV_BF16] = bf16_spec
    bf16_model = load_variant(work, VARIANT_OV_BF16, fields)
    bf16 = gate.check(bf16_model)
    if rule_matches(BF16_RULE, "x86", cpu_flags()):
        gate.require_int8(bf16, max_drop, VARIANT_OV_BF16)
        bf16["gate"] = "applied on this machine (bf16 kernels)"
        ratio = speed_ratio(gate, fields["default_variant"], load_variant(work, fields["default_variant"], fields), bf16_model)
        bf16_spec["suits"], bf16["choice"] = bf16_suits(ratio, fields["default_variant"], "amx_bf16" in cpu_flags())
    else:
        bf16["gate"] = "not applied: this CPU has no AMX/AVX-512 BF16, so OpenVINO ran it in fp32 here; run edgeft_runtime.check on the target"
    kept[VARIANT_OV_BF16] = (bf16, bf16_model)
    # bf16 suits only CPUs with bf16 arithmetic, where OpenVINO bf16 beat onnxruntime int8 (issue 28's table): first.
    fields["variants"] = order_fastest_first(fields["variants"], [VARIANT_OV_BF16, VARIANT_OV_INT8])
    return kept


def bf16_suits(ratio: float, ort_name: str, has_amx: bool) -> tuple[list[dict[str, Any]], str]:
    """(the bf16 variant's ``suits``, why) given onnxruntime's time over OpenVINO bf16's, measured
    here on bf16 kernels: every bf16 CPU where bf16 won by more than ``KEEP_IF_FASTER``, else only
    AMX CPUs (where this machine has AMX too and bf16 still lost, none would be right, but the
    variant is already gated: AMX stays, and the reason says so)."""
    measured = f"onnxruntime {ort_name} took {ratio:.2f}x its time here (batch 1)"
    if ratio > 1 + KEEP_IF_FASTER:
        return [BF16_RULE], f"{measured}: suits CPUs with AMX or AVX-512 BF16"
    where = "this CPU has AMX, yet bf16 was not faster" if has_amx else "not faster on AVX-512 BF16 without AMX"
    return [AMX_RULE], f"{measured}; {where}: suits AMX CPUs only"


def speed_ratio(gate: Any, ort_name: str, ort_model: Any, ov_model: Any) -> float:
    """onnxruntime's batch-1 median time over OpenVINO's, interleaved, on the gate's first texts."""
    from .parity import interleaved_latency

    output = gate.task.output_name
    times = interleaved_latency({ort_name: lambda t: ort_model.run_output([t], output), "openvino": lambda t: ov_model.run_output([t], output)}, gate.texts[:16])
    return times[ort_name] / times["openvino"]


def order_fastest_first(variants: dict[str, Any], first: Sequence[str]) -> dict[str, Any]:
    """``variants`` with ``first`` moved ahead of every other variant that names CPUs: the runtime
    takes the first variant whose ``suits`` match (edgeft_runtime.loader.variant_for_cpu)."""
    plain = {n: s for n, s in variants.items() if not s.get("suits")}
    suited = {n: variants[n] for n in first if n in variants}
    suited.update({n: s for n, s in variants.items() if s.get("suits") and n not in suited})
    return {**plain, **suited}
