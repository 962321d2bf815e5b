"""Step 3: dynamic int8 quantisation with a preset chosen for the CPU that will run the bundle.

Dynamic quantisation stores weights as int8 and quantises activations on the fly: no calibration
data needed, and it is what onnxruntime's CPU kernels are fastest at for transformer MatMuls.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

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
    """The preset for this machine (edgeft_runtime.device.cpu_target): arm64 on ARM, avx512_vnni when VNNI is present, else avx2."""
    from edgeft_runtime.device import cpu_target

    return cpu_target(flags, machine)


def resolve_preset(name: str) -> QuantPreset:
    if name == "auto":
        name = detect_preset()
    if name not in PRESETS:
        raise ExportError(f"--target {name}: unknown; choose auto, {', '.join(PRESETS)}")
    return PRESETS[name]


@dataclass(frozen=True)
class Int8Build:
    """One int8 variant of a bundle: the preset it is quantised with and every target it suits
    (the named targets plus the presets whose settings are identical, e.g. arm64 and avx512_vnni)."""

    variant: str
    file: str
    preset: QuantPreset
    targets: tuple[str, ...]

    def suits(self) -> list[dict]:
        """The manifest's ``suits``: the CPU rule of each target (edgeft_runtime.device.TARGET_RULES)."""
        from edgeft_runtime.device import TARGET_RULES

        return [{"target": t, **TARGET_RULES[t]} for t in self.targets]


def plan_int8_builds(targets: str) -> list[Int8Build]:
    """``"arm64,avx2"`` -> the int8 variants to build: one per distinct quantisation setting, in
    the order the targets are named. The first is ``int8`` (``model_int8.onnx``), the bundle's
    default; others are ``int8_<preset>``. ``auto`` is this machine's target."""
    from edgeft_runtime.constants import INT8_MODEL_FILE, VARIANT_INT8

    names = [n.strip() for n in targets.split(",") if n.strip()] or ["auto"]
    presets: list[QuantPreset] = []
    for name in names:
        preset = resolve_preset(name)
        if all(p.reduce_range != preset.reduce_range for p in presets):
            presets.append(preset)
    builds = []
    for i, preset in enumerate(presets):
        same = tuple(dict.fromkeys([preset.name] + [p.name for p in PRESETS.values() if p.reduce_range == preset.reduce_range]))
        variant = VARIANT_INT8 if i == 0 else f"{VARIANT_INT8}_{preset.name}"
        file = INT8_MODEL_FILE if i == 0 else INT8_MODEL_FILE.replace(".onnx", f"_{preset.name}.onnx")
        builds.append(Int8Build(variant, file, preset, same))
    return builds


def quantisation_candidates(build: Int8Build, per_channel: str, reduce_range: str, here: str) -> list[tuple[bool, bool]]:
    """The (per_channel, reduce_range) settings to quantise ``build`` with; the export keeps the one
    that scores best on the held-out data.

    ``reduce_range`` auto: the preset's. For a 7-bit preset (avx2) quantised on a machine that runs
    the avx2 kernels themselves (``here``), full-range weights are tried too: 7 bits cost every
    weight half its precision, while the saturation they guard against (the int16 sums of
    ``vpmaddubsw``) is rare in practice and shows in the score measured here, on the same kernels
    (three NCBI-disease NER models: 7 bits lost 1.24-2.10 F1 on the gate's data, 8 bits -1.10 to
    +0.58; see the README). Elsewhere saturation cannot be observed, so 7 bits stay.
    """
    channels = {"auto": [False, True], "on": [True], "off": [False]}[per_channel]
    if reduce_range == "auto":
        ranges = [build.preset.reduce_range]
        if build.preset.reduce_range and here in build.targets:
            ranges.append(False)
    else:
        ranges = [reduce_range == "on"]
    return [(channelwise, reduced) for reduced in ranges for channelwise in channels]


INT8_METHODS = ("auto", "dynamic", "static")


def int8_methods(method: str, calibration: object | None) -> list[str]:
    """The quantisation methods to try: ``auto`` tries static int8 beside dynamic where calibration
    texts exist; ``static`` without calibration texts is an ExportError."""
    if method not in INT8_METHODS:
        raise ExportError(f"--int8-method {method}: choose {', '.join(INT8_METHODS)}")
    if method == "static" and calibration is None:
        raise ExportError("--int8-method static needs calibration texts: the run's training file (train_config.json 'train') was not found; pass --calibration FILE")
    if method == "auto":
        return ["dynamic", "static"] if calibration is not None else ["dynamic"]
    return [method]


def static_settings(dynamic: list[tuple[bool, bool]]) -> list[tuple[bool, bool]]:
    """The (per_channel, reduce_range) settings of the static candidates, given the dynamic ones:
    per-channel weights wherever the dynamic candidates allow them (static scales are fixed, so
    each output channel's own weight scale matters more), each weight range tried there."""
    channels = {pc for pc, _ in dynamic}
    channelwise = True if True in channels else False
    ranges = list(dict.fromkeys(rr for _, rr in dynamic))
    return [(channelwise, rr) for rr in ranges]


def quantize_int8(
    src: Path, dst: Path, preset: QuantPreset, *, per_channel: bool, reduce_range: bool | None = None, nodes_to_exclude: Sequence[str] = ()
) -> dict:
    """Quantise ``src`` to ``dst`` (7-bit weights when ``reduce_range``, default: the preset's);
    return the settings for the manifest. ``nodes_to_exclude``: node names kept in float (the
    mixed-precision search's choice)."""
    reduced = preset.reduce_range if reduce_range is None else reduce_range
    dynamic_int8(src, dst, per_channel=per_channel, reduce_range=reduced, nodes_to_exclude=list(nodes_to_exclude))
    return {
        "method": "dynamic",
        "weight_type": "int8",
        "activation_type": "uint8",
        "per_channel": per_channel,
        "reduce_range": reduced,
        "preset": preset.name,
        "tool": "onnxruntime.quantization.quantize_dynamic",
        **({"float_nodes": list(nodes_to_exclude)} if nodes_to_exclude else {}),
    }


def dynamic_int8(src: Path, dst: Path, *, per_channel: bool, reduce_range: bool, **selection: list[str]) -> None:
    """onnxruntime's ``quantize_dynamic`` with the settings every dynamic int8 graph here uses
    (int8 weights, uint8 activations); ``selection``: its ``nodes_to_exclude``,
    ``nodes_to_quantize`` or ``op_types_to_quantize``."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(src),
        str(dst),
        weight_type=QuantType.QInt8,
        per_channel=per_channel,
        reduce_range=reduce_range,
        # Needed on graphs fused by the transformer optimiser: the quantiser cannot infer the type
        # of some fused-op outputs otherwise ("Unable to find data type for weight_name").
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT, "MatMulConstBOnly": True},
        **selection,  # type: ignore[arg-type]
    )


def preset_table() -> list[dict]:
    return [asdict(p) for p in PRESETS.values()]
