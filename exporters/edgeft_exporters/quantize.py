"""Step 3: dynamic int8 quantisation with a preset chosen for the CPU.

Dynamic quantisation stores weights as int8 and quantises activations on the fly: no calibration
data needed, and it is what onnxruntime's CPU kernels are fastest at for transformer MatMuls.
"""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import ExportError


@dataclass(frozen=True)
class QuantPreset:
    name: str
    # 7-bit weights avoid the int16 overflow of the pmaddubsw path on CPUs without VNNI
    # (onnxruntime issue #6004); VNNI and ARM dot-product kernels do not need it.
    reduce_range: bool
    description: str


PRESETS = {
    "avx512_vnni": QuantPreset("avx512_vnni", False, "x86 with AVX-512 VNNI (Ice Lake+, Zen 4+): full 8-bit range"),
    "avx2": QuantPreset("avx2", True, "x86 with AVX2 but no VNNI: 7-bit weights (reduce_range) to avoid saturation"),
    "arm64": QuantPreset("arm64", False, "ARM64 (phones, Raspberry Pi 4/5, Apple silicon): full 8-bit range"),
}


def detect_preset(flags: set[str] | None = None, machine: str | None = None) -> str:
    """Pick the preset for this machine: arm64 on ARM, avx512_vnni when VNNI is present, else avx2."""
    machine = (machine or platform.machine()).lower()
    if machine in ("arm64", "aarch64") or machine.startswith("armv8"):
        return "arm64"
    if flags is None:
        from edgeft_runtime.device import cpu_flags

        flags = cpu_flags()
    if {"avx512_vnni", "avx_vnni", "amx_int8"} & flags:
        return "avx512_vnni"
    return "avx2"


def resolve_preset(name: str) -> QuantPreset:
    if name == "auto":
        name = detect_preset()
    if name not in PRESETS:
        raise ExportError(f"--preset {name}: unknown; choose auto, {', '.join(PRESETS)}")
    return PRESETS[name]


def quantize_int8(src: Path, dst: Path, preset: QuantPreset, *, per_channel: bool) -> dict:
    """Quantise ``src`` to ``dst``; return the settings for the manifest."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(src),
        str(dst),
        weight_type=QuantType.QInt8,
        per_channel=per_channel,
        reduce_range=preset.reduce_range,
        # Needed on graphs fused by the transformer optimiser: the quantiser cannot infer the type
        # of some fused-op outputs otherwise ("Unable to find data type for weight_name").
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT, "MatMulConstBOnly": True},
    )
    return {
        "method": "dynamic",
        "weight_type": "int8",
        "activation_type": "uint8",
        "per_channel": per_channel,
        "reduce_range": preset.reduce_range,
        "preset": preset.name,
        "tool": "onnxruntime.quantization.quantize_dynamic",
    }


def preset_table() -> list[dict]:
    return [asdict(p) for p in PRESETS.values()]
