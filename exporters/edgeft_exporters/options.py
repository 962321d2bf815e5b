"""How to export: every option of ``edgeft export`` declared once, as a field of ``ExportOptions``.

A field holds the option's flag, help, default and checks (``edgeft_runtime.options.option``);
``edgeft export``'s flags are made from these fields (``edgeft.cli.declared.with_options``), and
constructing ``ExportOptions`` in Python runs the same checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgeft_runtime.check import DEFAULT_MAX_DROP, MAX_DROP_CHECK
from edgeft_runtime.manifest_values import MAX_BATCH, MAX_TOKENS
from edgeft_runtime.options import AtLeast, Between, Check, Finite, OneOf, check_fields, option

from .quantize import PRESETS
from .transformers_js import LAYOUTS

AUTO_ON_OFF = OneOf(("auto", "on", "off"))


@dataclass(frozen=True)
class CpuTargets(Check):
    """A comma-separated list of int8 targets: auto or the presets' names."""

    def problem(self, value: Any) -> str | None:
        unknown = [n.strip() for n in str(value).split(",") if n.strip() not in ("auto", *PRESETS)]
        return f"unknown target {', '.join(unknown)}; {self.describe()}" if unknown else None

    def describe(self) -> str:
        return f"choose auto or a comma-separated list of {', '.join(PRESETS)}"


SHAPE_HINT = f"expected BATCHxSEQUENCE, batch 1 to {MAX_BATCH} and sequence 1 to {MAX_TOKENS}, e.g. 1x128"


def parse_static_shape(text: str) -> tuple[int, int]:
    """``"1x128"`` -> ``(1, 128)``."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(SHAPE_HINT)
    shape = int(parts[0]), int(parts[1])
    if StaticShape().problem(shape):
        raise ValueError(SHAPE_HINT)
    return shape


@dataclass(frozen=True)
class StaticShape(Check):
    """(batch, sequence) within what the runtime accepts from a manifest (manifest_values)."""

    def problem(self, value: Any) -> str | None:
        ok = isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ok = ok and 1 <= value[0] <= MAX_BATCH and 1 <= value[1] <= MAX_TOKENS
        return None if ok else SHAPE_HINT

    def describe(self) -> str:
        return "BATCHxSEQUENCE"


@dataclass
class ExportOptions:
    """How to export; ``edgeft export``'s flags are these fields."""

    int8: bool = option(False, "Add an int8 variant (dynamic or static, see --int8-method; the bundle's default) next to fp32.", flags=("--int8",))
    max_drop: float = option(
        DEFAULT_MAX_DROP,
        "int8 gate: the most points of the task metric int8 may lose against PyTorch (with --prune-vocab, also every "
        "variant against the unpruned run); the device check's default limit.",
        *MAX_DROP_CHECK,
    )
    atol: float = option(
        1e-4,
        "fp32 gate: the largest |difference| of the graph's raw outputs (logits; SetFit: probabilities and embeddings) "
        "allowed against PyTorch.",
        Finite(),
        AtLeast(0),
    )
    target: str = option(
        "auto",
        "The CPU(s) that will run the int8 bundle, comma-separated: arm64, avx2 (x86 without VNNI: 7-bit weights), "
        "avx512_vnni, or auto (this machine). Targets that quantise differently get one int8 variant each; the "
        "runtime's load() picks the one that suits its CPU.",
        CpuTargets(),
        flags=("--target", "--preset"),
    )
    per_channel: str = option("auto", "Per-channel weight scales: auto (quantise both ways, keep the better), on or off.", AUTO_ON_OFF)
    reduce_range: str = option(
        "auto",
        "7-bit int8 weights: auto (the target's preset: 7 bits for avx2; exported on an avx2 machine, 8 bits are tried "
        "too and the better on the held-out data kept), on or off.",
        AUTO_ON_OFF,
    )
    optimize: bool = option(True, "Fuse attention/LayerNorm/GELU before quantising.", flags=("--optimize/--no-optimize",))
    gelu: str = option(
        "erf",
        "GELU in the int8 graph: erf (exact, as trained) or tanh (its tanh approximation, at most 4.7e-4 apart; in "
        "browsers a 128-token run took 9% less with it, see docs/browser.md). fp32 stays exact.",
        OneOf(("erf", "tanh")),
    )
    opset: int | None = option(None, "ONNX opset.", Between(1, 99), default_text="Optimum's choice")
    parity_samples: int = option(5000, "Use at most this many held-out examples for the parity check.", AtLeast(1))
    overwrite: bool = option(False, "Replace the bundle folder if it exists (only once the new one passed).", flags=("--overwrite",))
    archive: str | None = option(None, "Also write the bundle as one file, OUT.zip or OUT.tar.gz: zip or tar.gz.", OneOf(("zip", "tar.gz")))
    static_shape: tuple[int, int] | None = option(
        None,
        "Fixed BATCHxSEQUENCE input shape (e.g. 1x128) for providers that need static shapes (NNAPI, CoreML); the "
        "runtime pads to it.",
        StaticShape(),
        parse=parse_static_shape,
    )
    mobile: bool = option(
        False,
        "Add the ORT-format model (runtime optimisations saved) and required_operators.config for onnxruntime "
        "mobile/minimal builds.",
        flags=("--mobile",),
    )
    reference_samples: int = option(
        256,
        "Store this many held-out examples with PyTorch's answers in the bundle, so `edgeft check` can run on any "
        "device (0: none). The texts then ship with the bundle; `edgeft bundle strip-reference` removes them.",
        AtLeast(0, "0: no reference set"),
    )

    int8_method: str = option(
        "auto",
        "How --int8 quantises: auto (dynamic and static int8, static calibrated on the run's training texts; the gate keeps "
        "those within --max-drop, and the faster of the two on this CPU, static on a tie), dynamic or static.",
        OneOf(("auto", "dynamic", "static")),
    )
    openvino: str = option(
        "off",
        "Also build OpenVINO variants (needs edgeft[openvino]): NNCF static int8, kept where it runs faster than "
        "onnxruntime's int8 here by over 10%, and bf16 for CPUs with AMX/AVX-512 BF16. edgeft-runtime runs them where "
        "openvino is installed; the default variant stays onnxruntime's. auto (when installed), on or off.",
        AUTO_ON_OFF,
    )

    mixed_search_seconds: float = option(
        1800.0,
        "Time the mixed-precision search may take when full int8 misses --max-drop (it keeps the most sensitive layers "
        "in float until the gate holds); 0: no search.",
        Finite(),
        AtLeast(0, "0: no search"),
        Between(0, 7 * 24 * 3600, " seconds"),  # a week: beyond it a number is a slip, not a budget
    )
    mixed_dynamic: bool = option(
        True,
        "In the mixed-precision search, try each sensitive layer in dynamic int8 before float (measured as fast as "
        "static int8 on an AVX-512 VNNI CPU, where a float layer was not; answers then move a little with batch "
        "neighbours); --no-mixed-dynamic: float only.",
        flags=("--mixed-dynamic/--no-mixed-dynamic",),
    )
    report: str | None = option(
        None,
        "Write the mixed-precision search's sensitivity report here (JSON; a Markdown table beside it as .md), when "
        "full int8 misses --max-drop and the search runs.",
    )
    fp16: bool = option(
        False,
        "Add a float16 variant for GPUs (WebGPU in browsers), held to --max-drop like int8; the LayerNorms stay "
        "float32 where that scores better (docs/browser.md).",
        flags=("--fp16",),
    )
    layout: str = option(
        "edgeft",
        "Folder layout: edgeft, or transformers.js (the graphs in onnx/model_quantized.onnx etc. plus config.json and "
        "tokenizer_config.json, so transformers.js pipeline() opens the same folder; docs/browser.md).",
        OneOf(LAYOUTS),
        flags=("--format",),
    )

    def __post_init__(self) -> None:
        # Options built in Python (tests, notebooks, --prune-vocab) are checked like the CLI's.
        check_fields(self)

    def check(self) -> None:
        """Check every option again (after fields were changed in place)."""
        check_fields(self)
