"""``export_run``: a training run -> a checked bundle folder, or a ParityError and no bundle."""

from __future__ import annotations

import json
import logging
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from edgeft_runtime.constants import FP32_MODEL_FILE, INT8_MODEL_FILE, VARIANT_FP32, VARIANT_INT8

from .bundle import bake_tokenizer, write_manifest, write_model_card
from .errors import ExportError, ParityError
from .onnx_export import export_with_optimum
from .optimize import fuse_transformer
from .parity import interleaved_latency, label_agreement, max_abs_diff
from .quantize import cpu_flags, quantize_int8, resolve_preset
from .requirements import require_export_extra
from .run_folder import read_run, read_run_eval
from .staging import StagedDir
from .tasks import exporter_for

log = logging.getLogger(__name__)

LATENCY_SAMPLES = 32


@dataclass
class ExportOptions:
    """How to export; the CLI's flags map one to one onto these fields."""

    int8: bool = False
    max_drop: float = 1.0  # int8 gate: points of the task metric it may lose against PyTorch
    atol: float = 1e-4  # fp32 gate: max |output difference| against PyTorch
    preset: str = "auto"  # quantisation preset: auto | avx512_vnni | avx2 | arm64
    per_channel: str = "auto"  # auto (try both, keep the better) | on | off
    optimize: bool = True  # fuse the transformer graph before quantising
    opset: int | None = None
    parity_samples: int = 5000  # cap on held-out examples run through both models
    overwrite: bool = False
    archive: str | None = None  # also write OUT.zip or OUT.tar.gz: "zip" | "tar.gz"
    static_shape: tuple[int, int] | None = None  # (batch, sequence) fixed axes for NNAPI/CoreML-style providers
    mobile: bool = False  # add the ORT-format model and the required-operators config


@dataclass
class ExportResult:
    out: Path
    manifest: dict[str, Any]
    archive: Path | None = None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _edgeft_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("edgeft")
    except PackageNotFoundError:
        return "unknown"


def _model_size(run_dir: Path) -> tuple[int, int]:
    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    heads = config.get("num_attention_heads") or config.get("n_heads") or config.get("num_heads")
    hidden = config.get("hidden_size") or config.get("dim") or config.get("d_model")
    if not heads or not hidden:
        raise ExportError(f"{run_dir}/config.json: cannot find the number of attention heads and hidden size")
    return int(heads), int(hidden)


def _load_variant(folder: Path, variant: str, fields: dict[str, Any]):
    """Open a variant through the real runtime: the parity check sees what an app will see."""
    import edgeft_runtime

    write_manifest(folder, fields)
    return edgeft_runtime.load(folder, variant=variant)


def _add_ort_format(work: Path, fields: dict[str, Any], reports: dict[str, Any], texts, task, atol: float) -> None:
    """Convert the default variant to ORT format and check it gives the .onnx results."""
    from .mobile import REQUIRED_OPERATORS_FILE, convert_to_ort

    name = fields["default_variant"]
    spec = fields["variants"][name]
    log.info("converting %s to ORT format for mobile builds", spec["file"])
    ort_path, _ = convert_to_ort(work / spec["file"], work)
    spec["ort_file"] = ort_path.name
    onnx_out = task.bundle_outputs(_load_variant(work, name, fields), texts)
    ort_out = task.bundle_outputs(_load_variant(work, ort_path.name, fields), texts)
    diff = max_abs_diff(onnx_out, ort_out)
    if diff > atol:
        raise ParityError(f"{ort_path.name} differs from {spec['file']} by {diff:.2e} (> --atol {atol:g}); the ORT conversion is wrong")
    reports[name]["ort_max_abs_diff"] = diff
    fields["mobile"] = {"variant": name, "ort_file": ort_path.name, "required_operators": REQUIRED_OPERATORS_FILE, "optimization_style": "runtime"}


def export_run(
    run_dir: str | Path,
    out_dir: str | Path,
    options: ExportOptions | None = None,
    *,
    eval_rows: Sequence[dict[str, Any]] | None = None,
    eval_source: str | None = None,
) -> ExportResult:
    """Export a run to a bundle and check it against the PyTorch original on held-out data.

    eval_rows: held-out examples ({"text", "labels"} for classifiers); default: the run's own
    eval.jsonl. Raises ParityError (and writes nothing) when a gate fails.
    """
    options = options or ExportOptions()
    if options.archive not in (None, "zip", "tar.gz"):
        raise ExportError(f"--archive {options.archive}: choose zip or tar.gz")
    require_export_extra()
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    run = read_run(run_dir)
    task = exporter_for(run, run_dir)
    if eval_rows is None:
        eval_rows, eval_source = read_run_eval(run_dir), f"{run_dir.name}/eval.jsonl (held out at training)"
    if not eval_rows:
        raise ExportError(f"{run_dir}: no held-out data to check parity on; pass --eval FILE")
    eval_rows = list(eval_rows)[: options.parity_samples]
    texts, gold = task.parse_examples(eval_rows, eval_source or "eval data")
    preset = resolve_preset(options.preset) if options.int8 else None
    heads, hidden = _model_size(run_dir)

    stage = StagedDir(out_dir, overwrite=options.overwrite)
    with stage as work:
        scratch = work / ".optimum"
        log.info("exporting %s to ONNX with Optimum (%s)", run_dir, task.optimum_task)
        task_export = getattr(task, "export_onnx", None)  # tasks that build their graph around Optimum's
        if task_export is not None:
            raw = task_export(scratch, opset=options.opset, static_shape=options.static_shape)
        else:
            raw = export_with_optimum(run_dir, scratch, task.optimum_task, opset=options.opset, static_shape=options.static_shape)
        fp32_path = work / FP32_MODEL_FILE
        fusion: dict[str, int] = {}
        if options.optimize:
            log.info("fusing the transformer graph (onnxruntime optimizer)")
            fusion = fuse_transformer(raw, fp32_path, num_heads=heads, hidden_size=hidden)
        else:
            shutil.copyfile(raw, fp32_path)
        shutil.rmtree(scratch)
        fixed_length = options.static_shape[1] if options.static_shape else None
        if fixed_length:
            task.max_length = min(task.max_length, fixed_length)  # the reference truncates like the bundle
        bake_tokenizer(run_dir, work, max_length=task.max_length, fixed_length=fixed_length)

        import onnx

        graph = onnx.load(str(fp32_path), load_external_data=False).graph
        fields: dict[str, Any] = {
            "edgeft_version": _edgeft_version(),
            "task": getattr(task, "bundle_task", run["task"]),
            "max_length": fixed_length or task.max_length,
            "inputs": [i.name for i in graph.input],
            **task.manifest_fields(),
            "variants": {VARIANT_FP32: {"file": FP32_MODEL_FILE, "precision": "fp32", "fused_ops": fusion}},
            "default_variant": VARIANT_FP32,
            "source": {
                "run": run_dir.name,
                "base_model": run.get("base_model"),
                "model_type": run.get("model_type"),
                "train_metrics_file": "metrics.json",
            },
        }

        if options.static_shape:
            fields["static_shape"] = {"batch": options.static_shape[0], "sequence": options.static_shape[1]}

        log.info("checking parity on %d held-out examples", len(texts))
        reference_fn, reference_one = task.reference()
        reference_out = reference_fn(texts)
        reference_pred = task.predictions(reference_out)
        reference_scores = task.score(reference_out, gold)
        metric = task.metric_name

        def check(model) -> dict[str, Any]:
            out = task.bundle_outputs(model, texts)
            return {
                "metric": task.score(out, gold)[metric],
                "scores": task.score(out, gold),
                "label_agreement": label_agreement(reference_pred, task.predictions(out)),
                "max_abs_diff": max_abs_diff(reference_out, out),
                **(task.compare(reference_out, out) if hasattr(task, "compare") else {}),
            }

        fp32_model = _load_variant(work, VARIANT_FP32, fields)
        reports = {VARIANT_FP32: check(fp32_model)}
        if reports[VARIANT_FP32]["max_abs_diff"] > options.atol:
            raise ParityError(
                f"fp32 ONNX output differs from PyTorch by {reports[VARIANT_FP32]['max_abs_diff']:.2e} "
                f"(> --atol {options.atol:g}) on {eval_source}; the export is wrong, not just imprecise "
                "(retry with --no-optimize to rule out graph fusion)"
            )
        if getattr(task, "require_label_agreement", False) and reports[VARIANT_FP32]["label_agreement"] < 1.0:
            raise ParityError(
                f"fp32 ONNX predicts a different label than PyTorch on "
                f"{100 * (1 - reports[VARIANT_FP32]['label_agreement']):.2f}% of {len(texts)} examples of {eval_source}; "
                "no bundle written (retry with --no-optimize to rule out graph fusion)"
            )
        timers = {"pytorch": reference_one, VARIANT_FP32: lambda t, m=fp32_model: m.run_output([t], task.output_name)}

        if options.int8:
            assert preset is not None
            choices = {"auto": [False, True], "on": [True], "off": [False]}[options.per_channel]
            candidates = []
            for per_channel in choices:
                path = work / (INT8_MODEL_FILE if len(choices) == 1 else f"candidate_pc{int(per_channel)}.onnx")
                log.info("quantising to int8 (preset %s, per-channel %s)", preset.name, per_channel)
                quant = quantize_int8(fp32_path, path, preset, per_channel=per_channel)
                spec = {"file": path.name, "precision": "int8", "quantization": quant}
                candidate_fields = {**fields, "variants": {**fields["variants"], VARIANT_INT8: spec}}
                model = _load_variant(work, VARIANT_INT8, candidate_fields)
                candidates.append((check(model), spec, model, path))
            # Best metric first, then agreement with PyTorch, then the smaller output difference.
            candidates.sort(key=lambda c: (-c[0]["metric"], -c[0]["label_agreement"], c[0]["max_abs_diff"]))
            report, spec, int8_model, path = candidates[0]
            if len(candidates) > 1:
                report["candidates"] = [
                    {"per_channel": c[1]["quantization"]["per_channel"], **{k: c[0][k] for k in ("metric", "label_agreement", "max_abs_diff")}}
                    for c in candidates
                ]
                for _, _, _, other in candidates[1:]:
                    other.unlink()
                path.rename(work / INT8_MODEL_FILE)
                spec["file"] = INT8_MODEL_FILE
            fields["variants"][VARIANT_INT8] = spec
            fields["default_variant"] = VARIANT_INT8
            reports[VARIANT_INT8] = report
            int8_model = _load_variant(work, VARIANT_INT8, fields)
            timers[VARIANT_INT8] = lambda t, m=int8_model: m.run_output([t], task.output_name)

        if options.mobile:
            _add_ort_format(work, fields, reports, texts, task, options.atol)

        latency = interleaved_latency(timers, texts[:LATENCY_SAMPLES])
        for name, rep in reports.items():
            rep["latency_ms"] = latency[name]
        fields["parity"] = {
            "reference": "pytorch-fp32",
            "data": eval_source,
            "samples": len(texts),
            "metric": metric,
            "reference_metric": reference_scores[metric],
            "reference_scores": reference_scores,
            "reference_latency_ms": latency["pytorch"],
            "atol": options.atol,
            "max_drop": options.max_drop if options.int8 else None,
            "cpu": _cpu_name(),
            "cpu_flags": sorted(f for f in cpu_flags() if f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "neon")),
            "variants": reports,
        }
        if options.int8:
            drop = reference_scores[metric] - reports[VARIANT_INT8]["metric"]
            if drop > options.max_drop:
                raise ParityError(
                    f"int8 {metric} {reports[VARIANT_INT8]['metric']:.2f} is {drop:.2f} points below PyTorch "
                    f"({reference_scores[metric]:.2f}) on {len(texts)} examples of {eval_source} "
                    f"(--max-drop {options.max_drop:g}); no bundle written. Try --per-channel on, another "
                    "--preset, or export fp32 only (omit --int8)"
                )
        write_model_card(work, fields)
        manifest = write_manifest(work, fields)
        stage.commit()
    archive = None
    if options.archive:
        from edgeft_runtime.archive import pack_bundle

        archive = pack_bundle(out_dir, out_dir.with_name(f"{out_dir.name}.{options.archive}"))
    return ExportResult(out_dir, manifest, archive)
