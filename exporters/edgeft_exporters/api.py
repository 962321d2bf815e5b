"""``export_run``: a training run -> a checked bundle folder, or a ParityError and no bundle.

The steps, in order (each a function below): read the run (merging an adapter-only LoRA run
into a temporary ``save_pretrained`` folder) and its held-out data; write the fp32
graph (Optimum export, then fusion) and the tokenizer into a staging folder; run the PyTorch
reference once and check the fp32 graph against it; quantise to int8 for each target CPU, keep
the candidate that scores best and check it against the int8 gate; optionally add the ORT-format
copy; measure latency; store the reference set (held-out texts with PyTorch's answers, for the
check on the device); write the manifest and model card; move the folder into place.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Sequence

from edgeft_runtime.errors import BundleError
from edgeft_runtime.constants import FP32_MODEL_FILE, VARIANT_FP32
from edgeft_runtime.ops import max_abs_diff

from .adapters import model_folder
from .bundle import bake_tokenizer, write_manifest, write_model_card
from .errors import ExportError, ParityError
from .gate import Original, ParityGate
from .first_token import trim_file
from .gelu import tanh_gelu_record
from .fp16 import CANDIDATES as FP16_CANDIDATES
from .fp16 import FP16_MODEL_FILE, VARIANT_FP16, convert_fp16
from .optimize import fuse_transformer
from .int8_candidates import METHOD_DYNAMIC, METHOD_STATIC, TIMED_TEXTS, Candidate, choose, score_key, within_budget
from .options import ExportOptions
from .parity import in_chunks, interleaved_latency
from .quantize import Int8Build, int8_methods, plan_int8_builds, quantisation_candidates, quantize_int8, static_settings
from .static_quant import Calibration, calibration_feeds, quantize_static_int8
from .requirements import require_export_extra
from .run_folder import METRICS_FILE, read_run, read_run_eval
from .staging import StagedDir
from .tasks import TaskExporter, exporter_for
from .transformers_js import LAYOUT as TRANSFORMERS_JS
from .transformers_js import check_layout, write_transformers_js_layout

log = logging.getLogger(__name__)


@dataclass
class DerivedFrom:
    """A run folder this export's run was derived from, and how (recorded in the manifest's parity)."""

    folder: Path
    about: dict[str, Any]


@dataclass
class ExportResult:
    out: Path
    manifest: dict[str, Any]
    archive: Path | None = None


def export_run(
    run_dir: str | Path,
    out_dir: str | Path,
    options: ExportOptions | None = None,
    *,
    eval_rows: Sequence[dict[str, Any]] | None = None,
    eval_source: str | None = None,
    original: DerivedFrom | None = None,
    calibration_texts: Sequence[str] | None = None,
    calibration_source: str | None = None,
    options_checked: bool = False,
) -> ExportResult:
    """Export a run to a bundle and check it against the PyTorch original on held-out data.

    eval_rows: held-out examples ({"text", "labels"} for classifiers); default: the run's own
    eval.jsonl. original: the run this one was derived from (``edgeft.export.prune_vocab.export_pruned``): the
    gate also holds every variant to ``max_drop`` against it. calibration_texts: texts static int8
    measures activation ranges on (the run's training texts; ``edgeft export`` reads them from the
    run's training file); default: the held-out texts, recorded as such. Raises ParityError (and
    writes nothing) when a gate fails.
    """
    options = options or ExportOptions()
    if not options_checked:  # export_pruned checks them before it prunes, once
        options.check()
    require_export_extra()
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    run = read_run(run_dir)
    with model_folder(run_dir, run) as model_dir:  # an adapter-only LoRA run is merged first
        calibration = (list(calibration_texts), calibration_source or "calibration texts") if calibration_texts else None
        manifest = export_model_folder(model_dir, run, out_dir, options, eval_rows, eval_source, original, calibration)
    archive = None
    if options.archive:
        from edgeft_runtime.archive import pack_bundle

        archive = pack_bundle(out_dir, out_dir.with_name(f"{out_dir.name}.{options.archive}"))
    return ExportResult(out_dir, manifest, archive)


def export_model_folder(
    run_dir: Path,
    run: dict[str, Any],
    out_dir: Path,
    options: ExportOptions,
    eval_rows: Sequence[dict[str, Any]] | None,
    eval_source: str | None,
    original: DerivedFrom | None = None,
    calibration_texts: tuple[list[str], str] | None = None,
) -> dict[str, Any]:
    """The steps of ``export_run`` on a run folder that holds a ``save_pretrained`` model; returns the manifest."""
    task = exporter_for(run, run_dir)
    check_layout(options.layout, task.bundle_task)
    texts, gold, source = held_out_data(task, run_dir, options.parity_samples, eval_rows, eval_source)
    builds = plan_int8_builds(options.target) if options.int8 else []

    stage = StagedDir(out_dir, overwrite=options.overwrite)
    stage.check()  # an existing --out fails before the original's PyTorch pass, not after it
    scored_original = score_original(original, run, options, eval_rows, eval_source) if original else None
    with stage as work, tempfile.TemporaryDirectory(prefix="edgeft-graph-") as scratch:
        raw_graph = Path(scratch) / "unfused.onnx" if builds else None
        fields = write_fp32_graph(task, run, run_dir, work, options, keep_raw=raw_graph)
        log.info("checking parity on %d held-out examples", len(texts))
        gate = ParityGate(task, texts, gold, source, scored_original)
        models = {VARIANT_FP32: load_variant(work, VARIANT_FP32, fields)}
        reports = {VARIANT_FP32: gate.check(models[VARIANT_FP32])}
        gate.require_fp32(reports[VARIANT_FP32], options.atol, options.max_drop)
        calibration = calibrate(models[VARIANT_FP32], calibration_texts, texts, source) if builds and options.int8_method != "dynamic" else None
        for build in builds:
            reports[build.variant], models[build.variant] = add_int8_variant(
                gate, work, fields, build, options.per_channel, options.reduce_range,
                max_drop=options.max_drop, calibration=calibration, method=options.int8_method, static_source=raw_graph,
                mixed_limit=options.mixed_search_seconds, mixed_dynamic=options.mixed_dynamic,
                gelu=options.gelu,
            )
            write_search_report(options.report, reports[build.variant], gate.metric)
            enforce_int8_gate(gate, reports[build.variant], build, options.max_drop)
        notes: dict[str, Any] = {}
        if builds and raw_graph is not None and wants_openvino(options.openvino):
            from .openvino_variant import build_openvino_variants

            feeds = calibration.feeds if calibration else calibrate(models[VARIANT_FP32], calibration_texts, texts, source).feeds
            for name, (report, model) in build_openvino_variants(gate, work, fields, raw_graph, feeds, options.max_drop, load_variant, notes).items():
                reports[name], models[name] = report, model
        if options.fp16:
            reports[VARIANT_FP16], models[VARIANT_FP16] = add_fp16_variant(gate, work, fields)
            gate.require_int8(reports[VARIANT_FP16], options.max_drop, VARIANT_FP16)
            reports[VARIANT_FP16]["gate"] = "applied on this machine (onnxruntime's CPU float16 kernels; GPUs round differently)"
        if options.mobile:
            add_ort_format(gate, work, fields, reports, options.atol)
        fields["parity"] = gate.record(reports, gate.latency(models), atol=options.atol, max_drop=options.max_drop)
        if notes:
            fields["parity"]["openvino"] = notes
        if options.reference_samples:
            fields["reference"] = gate.write_reference_set(work, options.reference_samples)
            # Figures only of the variants whose kernels this machine runs (where the gate applied):
            # a build for another CPU measured here must not loosen that CPU's check.
            native = {name: model for name, model in models.items() if name == VARIANT_FP32 or reports[name].get("gate", "").startswith("applied")}
            fields["reference"]["exporter"] = reference_figures_here(work, fields, native)
        if options.layout == TRANSFORMERS_JS:
            fields["transformers_js"] = write_transformers_js_layout(work, run_dir, fields)
        write_model_card(work, fields)
        manifest = write_manifest(work, fields)
        stage.commit()
    return manifest


def write_search_report(path: str | None, report: dict[str, Any], metric: str) -> None:
    """``--report PATH``: the mixed-precision search's record as JSON, and its table as PATH.md."""
    record = report.get("mixed_precision")
    if not path or not record:
        return
    from .mixed_precision import SearchResult, sensitivity_table

    Path(path).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    table = sensitivity_table(SearchResult(full_int8_metric=record["full_int8_metric"], sensitivity=record["sensitivity"]), metric)
    Path(path).with_suffix(".md").write_text(table + "\n", encoding="utf-8")


def wants_openvino(option: str) -> bool:
    """Whether to build the OpenVINO variants: ``on`` (an ExportError when openvino is missing),
    ``auto`` where openvino and nncf are installed, never for ``off``."""
    from .openvino_variant import openvino_available

    if option == "off":
        return False
    if openvino_available():
        return True
    if option == "on":
        raise ExportError("--openvino on needs openvino and nncf: pip install 'edgeft[openvino]'")
    return False


def calibrate(fp32_model: Any, given: tuple[list[str], str] | None, held_out: list[str], held_out_source: str) -> Calibration:
    """Static int8's calibration inputs: the given (training) texts, else the held-out texts, whose
    use the manifest records (ranges measured on the gate's own data flatter the gate a little)."""
    texts, source = given if given else (held_out, f"{held_out_source} (no training texts given)")
    if not given:
        log.warning("static int8 calibrated on the held-out texts: no training texts were given")
    feeds = calibration_feeds(fp32_model, texts)
    return Calibration(feeds, f"{source}, first {len(feeds)} texts")


def score_original(
    original: DerivedFrom, run: dict[str, Any], options: ExportOptions, rows: Sequence[dict[str, Any]] | None, source: str | None
) -> Original:
    """The original run's PyTorch model on the same held-out data as the gate's; the gate holds
    every variant to ``options.max_drop`` against it."""
    task = exporter_for(run, original.folder)
    texts, gold, _ = held_out_data(task, original.folder, options.parity_samples, rows, source)
    forward, _ = task.reference()
    derivation = original.about.get("derivation", "derivation")
    out = in_chunks(forward, texts, f"PyTorch before {derivation}")
    return Original(task.score(out, gold), task.predictions(out), {**original.about, "derivation": derivation})


def held_out_data(
    task: TaskExporter, run_dir: Path, limit: int, rows: Sequence[dict[str, Any]] | None, source: str | None
) -> tuple[list[str], Any, str]:
    """(texts, gold, where they came from): ``rows`` when given, else the run's own eval.jsonl; at most ``limit``."""
    if rows is None:
        rows, source = read_run_eval(run_dir), f"{run_dir.name}/eval.jsonl (held out at training)"
    if not rows:
        raise ExportError(f"{run_dir}: no held-out data to check parity on; pass --eval FILE")
    source = source or "eval data"
    texts, gold = task.parse_examples(list(rows)[:limit], source)
    return texts, gold, source


def write_fp32_graph(
    task: TaskExporter, run: dict[str, Any], run_dir: Path, work: Path, options: ExportOptions, keep_raw: Path | None = None
) -> dict[str, Any]:
    """Export and fuse the fp32 graph and bake the tokenizer into ``work``; return the manifest
    fields so far. ``keep_raw``: where to keep Optimum's unfused graph (static int8 and OpenVINO
    start from it: its MatMuls are all quantisable, the fused Attention op's are not in QDQ)."""
    scratch = work / ".optimum"
    log.info("exporting %s to ONNX with Optimum (%s)", run_dir, task.optimum_task)
    raw = task.export_onnx(scratch, opset=options.opset, static_shape=options.static_shape)
    fp32_path = work / FP32_MODEL_FILE
    fusion: dict[str, int] = {}
    if options.optimize:
        log.info("fusing the transformer graph (onnxruntime optimizer)")
        heads, hidden = attention_size(run_dir)
        fusion = fuse_transformer(raw, fp32_path, num_heads=heads, hidden_size=hidden)
    else:
        shutil.copyfile(raw, fp32_path)
    if keep_raw is not None:
        shutil.move(raw, keep_raw)
    shutil.rmtree(scratch)
    # Same outputs, less work: the head reads the first token only (first_token.py); the unfused
    # graph that static int8 and OpenVINO start from too.
    first_token = trim_file(fp32_path) if options.optimize and not options.static_shape else 0
    if first_token and keep_raw is not None:
        trim_file(keep_raw)
    fixed_length = options.static_shape[1] if options.static_shape else None
    if fixed_length:
        task.max_length = min(task.max_length, fixed_length)  # the reference truncates like the bundle
    bake_tokenizer(run_dir, work, max_length=task.max_length, fixed_length=fixed_length)

    import onnx

    graph = onnx.load(str(fp32_path), load_external_data=False).graph
    fields: dict[str, Any] = {
        "edgeft_version": edgeft_version(),
        "task": task.bundle_task,
        "max_length": fixed_length or task.max_length,
        "inputs": [i.name for i in graph.input],
        **task.manifest_fields(),
        "variants": {VARIANT_FP32: {"file": FP32_MODEL_FILE, "precision": "fp32", "fused_ops": fusion, **({"first_token_only": first_token} if first_token else {})}},
        "default_variant": VARIANT_FP32,
        "source": {
            "run": run_dir.name,
            "base_model": run.get("base_model"),
            **({"bases": run["bases"]} if run.get("bases") else {}),  # the runs it was trained on top of
            "model_type": run.get("model_type"),
            "train_metrics_file": METRICS_FILE,
        },
    }
    if options.static_shape:
        fields["static_shape"] = {"batch": options.static_shape[0], "sequence": options.static_shape[1]}
    return fields


def add_int8_variant(
    gate: ParityGate,
    work: Path,
    fields: dict[str, Any],
    build: Int8Build,
    per_channel: str,
    reduce_range: str = "auto",
    *,
    max_drop: float = 1.0,
    calibration: Calibration | None = None,
    method: str = "auto",
    static_source: Path | None = None,
    mixed_limit: float = 0.0,
    mixed_dynamic: bool = True,
    gelu: str = "erf",
):
    """Quantise the fp32 graph for ``build`` with each candidate setting (dynamic: per-tensor or
    per-channel scales, 7- or 8-bit weights, see ``quantisation_candidates``; static: calibrated
    on ``calibration``'s texts, from ``static_source``, the unfused graph, where given), keep the
    one ``int8_candidates.choose`` picks as ``build.file``;
    the first build becomes the default variant. Return (its report, the loaded model)."""
    from edgeft_runtime.device import cpu_target

    here = cpu_target()
    settings = quantisation_candidates(build, per_channel, reduce_range, here)
    plan = [(m, pc, rr) for m in int8_methods(method, calibration) for pc, rr in (settings if m == METHOD_DYNAMIC else static_settings(settings))]
    candidates = []
    for m, channelwise, reduced in plan:
        path = work / (build.file if len(plan) == 1 else f"candidate_{build.variant}_{m}_pc{int(channelwise)}_rr{int(reduced)}.onnx")
        log.info("quantising to %s int8 (preset %s, per-channel %s, %d-bit weights)", m, build.preset.name, channelwise, 7 if reduced else 8)
        if m == METHOD_STATIC:
            assert calibration is not None
            try:
                quant = quantize_static_int8(static_source or work / FP32_MODEL_FILE, path, build.preset, calibration.feeds, per_channel=channelwise, reduce_range=reduced, calibration_source=calibration.source)
            except Exception as e:  # the static quantiser raises assorted errors on graphs it does not handle
                if method == METHOD_STATIC:
                    raise ExportError(f"static int8 failed on this graph ({str(e).splitlines()[0] if str(e) else type(e).__name__}); use --int8-method dynamic") from e
                log.warning("static int8 skipped: the quantiser failed on this graph (%s); dynamic int8 only", str(e).splitlines()[0] if str(e) else e)
                path.unlink(missing_ok=True)
                continue
        else:
            quant = quantize_int8(work / FP32_MODEL_FILE, path, build.preset, per_channel=channelwise, reduce_range=reduced)
        if gelu == "tanh":
            quant = {**quant, **tanh_gelu_record(path)}  # gelu.py: erf is slow in onnxruntime-web
        spec: dict[str, Any] = {"file": path.name, "precision": "int8", "quantization": quant, "suits": build.suits()}
        candidate = Candidate(m, channelwise, reduced, path, spec)
        candidate.report = gate.check(load_variant(work, build.variant, with_variant(fields, build.variant, spec)))
        candidates.append(candidate)
    timer = partial(time_candidates, gate, work, fields, build.variant) if here in build.targets else None
    chosen, why = choose(candidates, gate.reference_scores[gate.metric], max_drop, timer)
    if not within_budget(chosen, gate.reference_scores[gate.metric], max_drop) and mixed_limit > 0:
        mixed, record = search_mixed(gate, work, fields, build, calibration, static_source, max_drop, candidates, mixed_limit, per_channel, mixed_dynamic,
                                     timed_here=timer is not None)
        chosen.report.setdefault("mixed_precision", record)
        if mixed is not None:
            candidates.append(mixed)
            chosen, why = mixed, mixed_choice(mixed.spec["quantization"], record, max_drop)
    report, spec = chosen.report, chosen.spec
    report["choice"] = why
    if len(candidates) > 1:
        report["candidates"] = [c.summary(kept=c is chosen) for c in candidates]
        for other in candidates:
            if other is not chosen:
                other.path.unlink()
        chosen.path.rename(work / build.file)
        spec["file"] = build.file
    fields["variants"][build.variant] = spec
    if fields["default_variant"] == VARIANT_FP32:
        fields["default_variant"] = build.variant
    return report, load_variant(work, build.variant, fields)


def search_mixed(
    gate: ParityGate, work: Path, fields: dict[str, Any], build: Int8Build, calibration: Calibration | None, static_source: Path | None,
    max_drop: float, candidates: list[Candidate], time_limit: float, per_channel: str = "auto", dynamic: bool = True, timed_here: bool = False,
) -> tuple[Candidate | None, dict[str, Any]]:
    """The mixed-precision search (``mixed_precision.search``) from the best-scoring full-int8
    candidate, dynamic or static: (the candidate it found or None, the search's record); the gate
    refuses a None with the record. Starting from the best score needs the fewest groups taken
    out of int8: on an NCBI-disease tagger static int8 lost 6.6 F1 and dynamic 1.8 (RESULTS,
    issue 29). From static, ``dynamic``: each group is tried in dynamic int8 (per
    ``per_channel``: the dynamic candidates' settings) before float; from dynamic, float only.
    ``timed_here``: this machine runs the build's kernels, so a mix measured no faster than fp32
    is refused (it would be int8 in name only)."""
    import onnx

    from .mixed_precision import DYNAMIC, DYNAMIC_PER_CHANNEL, FLOAT, as_record, node_groups, plan_nodes, search, speed_record

    usable = [c for c in candidates if c.method == METHOD_DYNAMIC or (calibration is not None and static_source is not None)]
    if not usable:
        return None, {"found": False, "stopped": "no int8 candidate to start from"}
    best = min(usable, key=score_key)
    reference = gate.reference_scores[gate.metric]
    path = work / f"candidate_{build.variant}_mixed.onnx"
    source = static_source if best.method == METHOD_STATIC and static_source is not None else work / FP32_MODEL_FILE  # usable: static has one
    groups = node_groups(onnx.load(str(source), load_external_data=False).graph)

    def trial(modes: dict[str, str]) -> Candidate:
        nodes = plan_nodes(groups, modes)
        if best.method == METHOD_STATIC:
            assert calibration is not None
            quant = quantize_static_int8(source, path, build.preset, calibration.feeds, per_channel=best.per_channel, reduce_range=best.reduce_range,
                                         nodes_to_exclude=nodes.get(FLOAT, []), dynamic=[(False, nodes.get(DYNAMIC, [])), (True, nodes.get(DYNAMIC_PER_CHANNEL, []))],
                                         calibration_source=calibration.source)
        else:
            quant = quantize_int8(source, path, build.preset, per_channel=best.per_channel, reduce_range=best.reduce_range, nodes_to_exclude=nodes.get(FLOAT, []))
        spec: dict[str, Any] = {"file": path.name, "precision": "int8", "quantization": quant, "suits": build.suits()}
        candidate = Candidate(f"{best.method}-mixed", best.per_channel, best.reduce_range, path, spec)
        candidate.report = gate.check(load_variant(work, build.variant, with_variant(fields, build.variant, spec)))
        return candidate

    dynamic_modes = {"auto": [DYNAMIC, DYNAMIC_PER_CHANNEL], "on": [DYNAMIC_PER_CHANNEL], "off": [DYNAMIC]}[per_channel] if dynamic and best.method == METHOD_STATIC else []
    log.info("full int8 misses --max-drop %g: searching %d node groups for the ones to take out of %s int8 (%s)", max_drop, len(groups), best.method, ", then ".join([*dynamic_modes, FLOAT]))
    result = search(groups, best.report["metric"], lambda modes: trial(modes).report["metric"], lambda m: reference - m <= max_drop,
                    time_limit=time_limit, modes=[*dynamic_modes, FLOAT])
    record = {**as_record(result), "base": {"method": best.method, "per_channel": best.per_channel, "reduce_range": best.reduce_range}}
    if not result.found:
        return None, record
    mixed = trial(result.modes)  # the search's last file may be a later ranking trial: quantise the chosen mix again
    output = gate.task.output_name
    models = {"fp32": load_variant(work, VARIANT_FP32, fields), "full_int8": load_variant(work, build.variant, with_variant(fields, build.variant, best.spec)),
              "mixed": load_variant(work, build.variant, with_variant(fields, build.variant, mixed.spec))}
    log.info("timing fp32, full int8 and the mix (batch 1, interleaved passes)")
    record.update(speed_record({k: partial(lambda m, t: m.run_output([t], output), m) for k, m in models.items()}, gate.texts[:TIMED_TEXTS]))
    record["full_int8_drop"] = round(reference - best.report["metric"], 4)
    if timed_here and record.get("speedup_retained", 1.0) <= 0:
        record["found"] = False
        record["stopped"] = (f"the mix that met the budget ({_mix_summary(record)}) ran no faster than fp32 here "
                             f"({record['latency_ms']['mixed']:.2f} vs {record['latency_ms']['fp32']:.2f} ms at batch 1)")
        return None, record
    mixed.report["mixed_precision"] = record
    return mixed, record


def _mix_summary(record: dict[str, Any]) -> str:
    return "; ".join(f"{', '.join(record[key])} {kind}" for key, kind in (("float_groups", "in float"), ("dynamic_groups", "in dynamic int8")) if record.get(key))


def mixed_choice(quant: dict[str, Any], record: dict[str, Any], max_drop: float) -> str:
    """The manifest's ``choice`` for a mix: what left full int8 (its base, static or dynamic), and
    the speed-up it kept."""
    base = (record.get("base") or {}).get("method", METHOD_STATIC)
    parts = [f"{len(quant[key])} nodes in {kind}" for key, kind in (("dynamic_nodes", "dynamic int8"), ("float_nodes", "float")) if quant.get(key)]
    kept = f"; keeps {100 * record['speedup_retained']:.0f}% of full {base} int8's speed-up over fp32 here (batch 1)" if "speedup_retained" in record else ""
    return f"{base} with {' and '.join(parts)} (mixed precision): full int8 missed --max-drop {max_drop:g}{kept}"


def with_variant(fields: dict[str, Any], name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with ``variants[name]`` set to ``spec`` (a copy: the candidate is not kept yet)."""
    return {**fields, "variants": {**fields["variants"], name: spec}}


def time_candidates(gate: ParityGate, work: Path, fields: dict[str, Any], variant: str, finalists: list[Candidate]) -> dict[str, float]:
    """Batch-1 median ms of each finalist (by method), interleaved, on the gate's first texts."""
    models = {c.method: load_variant(work, variant, with_variant(fields, variant, c.spec)) for c in finalists}
    output = gate.task.output_name
    return interleaved_latency({m: partial(lambda model, text: model.run_output([text], output), model) for m, model in models.items()}, gate.texts[:TIMED_TEXTS])
def add_fp16_variant(gate: ParityGate, work: Path, fields: dict[str, Any]):
    """Convert the fp32 graph to float16 with each candidate set of ops kept in float32 and keep the
    one that scores best on the held-out data (as ``add_int8_variant`` does); return (its report,
    the loaded model). The manifest lists the candidates in the order tried."""
    tried, failed = [], []
    for i, keep in enumerate(FP16_CANDIDATES):
        path = work / f"candidate_fp16_{i}.onnx"
        try:
            spec: dict[str, Any] = {"file": path.name, "precision": "fp16", "float16": convert_fp16(work / FP32_MODEL_FILE, path, keep)}
            model = load_variant(work, VARIANT_FP16, {**fields, "variants": {**fields["variants"], VARIANT_FP16: spec}})
        except (ExportError, BundleError) as e:
            # onnxruntime's converter leaves some graphs with mixed float types (a LayerNormalization kept in
            # float32 over float16 weights, in sentence-transformers' unfused graphs): that candidate is out.
            failed.append({"kept_fp32": sorted(keep), "failed": str(e).splitlines()[0][:300]})
            path.unlink(missing_ok=True)
            continue
        tried.append((gate.check(model), spec, path))
    if not tried:
        raise ExportError(f"--fp16: no float16 conversion of this graph loads in onnxruntime ({failed[-1]['failed']}); export without --fp16")
    report, spec, path = min(tried, key=lambda c: (-c[0]["metric"], -c[0]["label_agreement"], c[0]["max_abs_diff"]))
    report["candidates"] = [
        {"kept_fp32": s["float16"]["kept_fp32"]} | {k: r[k] for k in ("metric", "label_agreement", "max_abs_diff", "max_probability_diff", "max_cosine_distance") if k in r} | {"kept": r is report}
        for r, s, _ in tried
    ] + failed
    for _, _, other in tried:
        if other != path:
            other.unlink()
    path.rename(work / FP16_MODEL_FILE)
    spec["file"] = FP16_MODEL_FILE
    fields["variants"][VARIANT_FP16] = spec
    return report, load_variant(work, VARIANT_FP16, fields)


def enforce_int8_gate(gate: ParityGate, report: dict[str, Any], build: Int8Build, max_drop: float) -> None:
    """The int8 gate, where this machine runs the kernels the variant is built for.

    Elsewhere (e.g. a full-range arm64 build checked on an x86 CPU without VNNI, whose kernels
    saturate on it) this machine's figures say little about the target: they are recorded, the
    gate is not applied, and the reference set lets the target device run the check itself.
    """
    from edgeft_runtime.device import cpu_target

    here = cpu_target()
    if here in build.targets:
        gate.require_int8(report, max_drop, build.variant)
        report["gate"] = f"applied on this machine ({here} kernels)"
        return
    report["gate"] = f"not applied: measured with {here} kernels, built for {', '.join(build.targets)}; run edgeft_runtime.check on the target"
    log.warning(
        "%s is built for %s but this machine runs %s kernels: its parity figures are recorded, not gated "
        "(%s %.2f vs PyTorch %.2f here); run `python -m edgeft_runtime.check` on the target device",
        build.variant, "/".join(build.targets), here, gate.metric, report["metric"], gate.reference_scores[gate.metric],
    )


def add_ort_format(gate: ParityGate, work: Path, fields: dict[str, Any], reports: dict[str, Any], atol: float) -> None:
    """Convert the default variant to ORT format and check it gives the .onnx results."""
    from .mobile import REQUIRED_OPERATORS_FILE, convert_to_ort

    name = fields["default_variant"]
    spec = fields["variants"][name]
    log.info("converting %s to ORT format for mobile builds", spec["file"])
    ort_path, _ = convert_to_ort(work / spec["file"], work)
    spec["ort_file"] = ort_path.name
    onnx_out = gate.task.bundle_outputs(load_variant(work, name, fields), gate.texts)
    ort_out = gate.task.bundle_outputs(load_variant(work, ort_path.name, fields), gate.texts)
    diff = max_abs_diff(onnx_out, ort_out)
    if diff > atol:
        raise ParityError(f"{ort_path.name} differs from {spec['file']} by {diff:.2e} (> --atol {atol:g}); the ORT conversion is wrong")
    reports[name]["ort_max_abs_diff"] = diff
    fields["mobile"] = {"variant": name, "ort_file": ort_path.name, "required_operators": REQUIRED_OPERATORS_FILE, "optimization_style": "runtime"}


def reference_figures_here(folder: Path, fields: dict[str, Any], models: dict[str, Any]) -> dict[str, Any]:
    """Each variant on the bundle's reference set on this machine, through the device check's own
    code: the manifest's ``reference.exporter``. The gate passed int8 on the whole held-out set, of
    which the reference set is a sample; ``edgeft check`` on a device fails a variant only where it
    does worse there than both the gate's limit and these figures on the same texts."""
    from edgeft_runtime.check import check_model, limits_of
    from edgeft_runtime.device import cpu_target, device_info
    from edgeft_runtime.reference import load_reference

    manifest = write_manifest(folder, fields)
    reference = load_reference(folder, manifest)
    limits = limits_of(manifest)
    variants = {}
    for name, model in models.items():
        report = check_model(model, reference, limits)
        variants[name] = {key: report[key] for key in ("label_agreement", "max_abs_diff", "value", "drop") if key in report}
        if "batch_effect" in report:  # the device check's bound for same text, same answer (edgeft_runtime.batch_effect)
            variants[name]["batch_effect"] = report["batch_effect"]["max_prob_diff"]
    return {"cpu_model": device_info().get("cpu_model"), "int8_target": cpu_target(), "variants": variants}


def load_variant(folder: Path, variant: str, fields: dict[str, Any]):
    """Open a variant through the real runtime: the parity check sees what an app will see."""
    import edgeft_runtime

    write_manifest(folder, fields)
    return edgeft_runtime.load(folder, variant=variant)


def attention_size(run_dir: Path) -> tuple[int, int]:
    """(attention heads, hidden size) from the run's config.json, for the graph fusion."""
    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    heads = config.get("num_attention_heads") or config.get("n_heads") or config.get("num_heads")
    hidden = config.get("hidden_size") or config.get("dim") or config.get("d_model")
    if not heads or not hidden:
        raise ExportError(f"{run_dir}/config.json: cannot find the number of attention heads and hidden size")
    return int(heads), int(hidden)


def edgeft_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("edgeft")
    except PackageNotFoundError:
        return "unknown"
