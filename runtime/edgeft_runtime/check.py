"""The accuracy check on the device: a bundle's variants against the PyTorch original's answers
stored in its reference set, without torch.

    python -m edgeft_runtime.check models/sst2-int8 [--variant int8] [--max-drop 1] [--min-agreement 99] [--json]

Per variant: label agreement with PyTorch (per text; per word for NER; top-1 per mask for
fill-mask), the max |output difference| (each task's ``compared``, ``reference_tasks``), the task metric against the
gold labels next to PyTorch's own metric on the same examples, and the device. Exit 0 when every
variant is within the limits (default: the export gate's ``--max-drop``, stored in the manifest),
else 1 with one ``error:`` line naming the variant and by how much it missed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .constants import ARCHIVE_SUFFIXES, MANIFEST_FILE
from .errors import EXIT_BUG, BundleError
from .options import THREADS, AtLeast, Between, OneLineParser, OptionError, add_arguments, check_fields, from_arguments, option
from .parity_record import difference_label, gate_max_drop

# The oldest onnxruntime edgeft-runtime declares (runtime/pyproject.toml).
MIN_ONNXRUNTIME = (1, 17)
# The export gate's default --max-drop (edgeft_exporters.options.ExportOptions), and the check's
# limit for bundles that record none.
DEFAULT_MAX_DROP = 1.0
# What a --max-drop may be (the export gate's and the check's): points of a metric in points.
MAX_DROP_CHECK = (Between(0, 100, " points"),)


@dataclass
class CheckOptions:
    """The device check's options, declared once: ``python -m edgeft_runtime.check`` and
    ``edgeft check`` make their flags from these fields, and ``check_bundle`` takes them."""

    variants: list[str] | None = option(None, "Variant(s) to check.", flags=("--variant",), repeat=True, default_text="every variant in the bundle")
    max_drop: float | None = option(
        None, "Most points of the task metric a variant may lose against PyTorch.", *MAX_DROP_CHECK, default_text="the export gate's"
    )
    min_agreement: float | None = option(
        None, "Least label agreement with PyTorch, in percent.", Between(0, 100, "%"), default_text="not checked"
    )
    threads: int | None = option(None, "onnxruntime intra-op threads.", *THREADS, default_text="one per core")
    device_name: str | None = option(None, "A name for this device in the report.", default_text="the host name")
    samples: int | None = option(None, "Check only the first N reference examples (slow devices).", AtLeast(1), default_text="all")
    as_json: bool = option(False, "Print the report as JSON.", flags=("--json",))

    def __post_init__(self) -> None:
        check_fields(self)


def bundle_folder(bundle: str | Path, cache_dir: str | Path | None = None) -> Path:
    """The bundle folder (an archive is unpacked once into the cache, as ``load`` does)."""
    path = Path(bundle)
    if str(path).lower().endswith(ARCHIVE_SUFFIXES) and path.is_file():
        from .archive import cached_extract

        return cached_extract(path, cache_dir)
    return path


def limits_of(manifest: dict[str, Any], max_drop: float | None = None, min_agreement: float | None = None) -> dict[str, Any]:
    """The limits in force: the given ones, else the export gate's ``--max-drop`` from the manifest.

    Without an explicit ``max_drop`` the limit is the gate's (``exporter_allowance``): a variant
    may also lose as much as it lost on the same texts on the exporting machine, where the gate
    passed it on the whole held-out set (see ``drop_limit``).
    """
    if max_drop is None:
        stored = gate_max_drop(manifest)
        max_drop = stored if stored is not None else DEFAULT_MAX_DROP
        source = "the export gate's --max-drop" if stored is not None else "the default --max-drop"
        allowance = True
    else:
        source, allowance = "--max-drop", False
    return {"max_drop": float(max_drop), "max_drop_source": source, "min_agreement_pct": min_agreement, "exporter_allowance": allowance}


def exporter_drop(reference: Any, variant: str | None) -> float | None:
    """The points ``variant`` lost against PyTorch on this very reference set on the exporting
    machine (the manifest's ``reference.exporter``); None when not recorded, or when only part of
    the set is checked (``--samples``: ``ReferenceSet.head`` drops the figures, made on the whole set)."""
    measured = ((reference.info.get("exporter") or {}).get("variants") or {}).get(variant or "") or {}
    drop = measured.get("drop")
    return None if drop is None else float(drop)


def drop_limit(limits: dict[str, Any], exporter_figure: float | None) -> tuple[float, str]:
    """(the most points a variant may lose here, why), given its ``exporter_drop``.

    The gate passes int8 on the whole held-out set (e.g. 872 texts), the reference set is a
    sample of it (256: one flipped text is 0.39 points), so the same bundle can lose more than
    the gate's limit on the sample on the machine that exported it. The device then fails only
    when it does worse than both the gate's limit and the exporting machine on the same texts.
    """
    limit, why = limits["max_drop"], limits["max_drop_source"]
    if limits.get("exporter_allowance") and exporter_figure is not None and exporter_figure > limit:
        return exporter_figure, f"its drop on these texts on the exporting machine; {why} is {limit:g}"
    return limit, why


def check_model(model: Any, reference: Any, limits: dict[str, Any]) -> dict[str, Any]:
    """One loaded variant on the reference set: agreement, output difference, metrics, verdict."""
    from .reference_tasks import task_of

    task = task_of(reference.task, getattr(model, "bundle_dir", None))
    observed = task.observe(model, reference.texts, reference)
    agreement, diff = task.agreement_and_difference(reference.observed, observed)
    multi = bool(getattr(model, "multi_label", False))
    result: dict[str, Any] = {
        "samples": len(reference),
        "label_agreement": round(agreement, 6),
        "agreement_unit": task.agreement_unit,
        "max_abs_diff": diff,
        "compared": task.compared,
    }
    failures = []
    gold = task.gold_of(reference)  # embeddings: PyTorch's vectors themselves
    if gold is not None:
        metric = task.headline(multi)
        mine = task.scores(observed, gold, len(model.labels), multi)
        theirs = task.scores(reference.observed, gold, len(model.labels), multi)
        drop = round(theirs[metric] - mine[metric], 4)
        figure = exporter_drop(reference, getattr(model, "variant", None))
        limit, why = drop_limit(limits, figure)
        result.update(metric=metric, value=mine[metric], reference_value=theirs[metric], drop=drop, drop_limit=limit, exporter_drop=figure, scores=mine)
        if drop > limit + 1e-9:
            failures.append(f"{metric} {mine[metric]:.2f} is {drop:.2f} points below PyTorch's {theirs[metric]:.2f} (limit {limit:g}, {why})")
    failures += batch_effect_check(model, reference, result)
    minimum = limits.get("min_agreement_pct")
    if minimum is not None and 100 * agreement < minimum:
        failures.append(f"agreement with PyTorch {100 * agreement:.2f}% is below --min-agreement {minimum:g}%")
    result["passed"] = not failures
    result["failures"] = failures
    return result


def batch_effect_check(model: Any, reference: Any, result: dict[str, Any]) -> list[str]:
    """Same text, same answer (``batch_effect``): measure how far a text moves with its batch
    neighbours on the reference texts into ``result``; a failure where it moves more than the
    bound from the exporting machine's figure on the same texts (no bound: reported only)."""
    from .batch_effect import BATCH, batch_effect, bound

    effect = batch_effect(model, reference.texts)
    if effect is None:
        return []
    recorded = ((reference.info.get("exporter") or {}).get("variants") or {}).get(getattr(model, "variant", "") or "", {}).get("batch_effect")
    limit = bound(recorded)
    result["batch_effect"] = {"max_prob_diff": effect, "batch_size": BATCH, "bound": limit, "exporter": recorded}
    if limit is not None and effect > limit:
        return [f"a text's probabilities move by up to {effect:.1e} with its batch neighbours (batches of {BATCH} vs alone; bound {limit:.1e} from the exporting machine's {recorded:.1e})"]
    return []


def check_bundle(bundle: str | Path, options: CheckOptions | None = None, **given: Any) -> dict[str, Any]:
    """Run every variant whose engine is installed (or those named) on the bundle's reference set (its first ``samples``
    examples when given); return the report.

    options: a ``CheckOptions``, or its fields as keyword arguments (``variants=["int8"]``,
    ``max_drop=0.5``, ...), checked alike (OptionError). Raises BundleError when the bundle has no
    reference set. The report's ``passed`` says whether every variant is within the limits;
    ``failure_line(report)`` says which is not.
    """
    opts = options or CheckOptions(**given)
    from .device import cpu_target, device_info
    from .loader import load, resolve_variant, runnable_variants
    from .manifest import read_manifest
    from .reference import load_reference

    folder = bundle_folder(bundle)
    manifest = read_manifest(folder)
    reference = load_reference(folder, manifest)
    if reference is None:
        raise BundleError(
            f"{folder / MANIFEST_FILE}: this bundle has no reference set (exported before edgeft stored one, with "
            "--reference-samples 0, or stripped); re-export it to check it on a device"
        )
    whole = len(reference)
    if opts.samples is not None:
        reference = reference.head(opts.samples)
    limits = limits_of(manifest, opts.max_drop, opts.min_agreement)
    names = list(opts.variants or runnable_variants(manifest))
    results = {}
    for name in names:
        model = load(folder, variant=name, threads=opts.threads)
        results[name] = check_model(model, reference, limits)
    info = reference.info
    return {
        "bundle": str(bundle),
        "task": manifest["task"],
        "device": device_info(opts.threads, opts.device_name),
        "auto_variant": resolve_variant(manifest, "auto", folder)[0],
        "int8_target": cpu_target(),
        "reference": {
            "samples": len(reference),
            "of": whole,
            "data": info.get("data"),
            "metric": next((r.get("metric") for r in results.values() if r.get("metric")), None),
            "gold": reference.gold is not None,
        },
        "limits": limits,
        "variants": results,
        "passed": all(r["passed"] for r in results.values()),
    }


def failure_line(report: dict[str, Any]) -> str | None:
    """One line naming every variant outside the limits and by how much; None when all passed."""
    failed = [f"{name}: {'; '.join(r['failures'])}" for name, r in report["variants"].items() if not r["passed"]]
    if not failed:
        return None
    line = f"{report['bundle']} fails the accuracy check on this device ({report['device'].get('cpu_model')}): " + " | ".join(failed)
    ref = report["reference"]
    if subset_note(ref):
        line += f" (on the first {ref['samples']} of {ref['of']} reference texts only: check them all before judging the bundle)"
    return line


def subset_note(ref: dict[str, Any]) -> str | None:
    """Why a check on the first N of the reference texts (``--samples``) is no verdict; None for the whole set.

    A subset's metric moves with which texts it holds: on 200 of a tagger's 500 reference
    sentences both the int8 graph and PyTorch can sit more than the gate's limit apart while the
    whole set passes (benchmarks/RESULTS.md, the NCBI-disease case), and the exporting machine's
    own figures, which excuse such a drop, cover only the whole set.
    """
    n, whole = ref.get("samples"), ref.get("of")
    if not n or not whole or n >= whole:
        return None
    weight = f"; one text is {100 / n:.2f} points of accuracy" if ref.get("metric") == "accuracy" else ""
    return (
        f"checked the first {n} of the {whole} reference texts{weight}: a subset can fail a bundle that passes "
        f"on all {whole} (or pass one that fails); drop --samples for a verdict"
    )


def format_report(report: dict[str, Any]) -> str:
    """The check as a few lines of text: the device, then one row per variant."""
    dev, ref, limits = report["device"], report["reference"], report["limits"]
    metric = ref.get("metric") or "metric"
    first: dict[str, Any] = next(iter(report["variants"].values()), {})
    unit = first.get("agreement_unit", "text")
    lines = [
        f"bundle   {report['bundle']} ({report['task']}; {ref['samples']} reference texts from {ref.get('data') or '?'})",
        f"device   {dev.get('cpu_model')} ({dev.get('architecture')}; int8 target {report['int8_target']}; "
        f"flags {' '.join(dev.get('cpu_flags') or []) or '-'}); onnxruntime {dev.get('onnxruntime')}; "
        f"load() picks {report['auto_variant']}",
        *([f"note     {dev['emulated']}"] if dev.get("emulated") else []),
        *([f"note     {note}"] if (note := subset_note(ref)) else []),
    ]
    head = ["variant", f"agreement/{unit}", difference_label(report["task"]), metric, "PyTorch", "drop", "limit", "batch dp/bound", "result"]
    rows = [head]
    for name, r in report["variants"].items():
        rows.append(
            [
                name,
                f"{100 * r['label_agreement']:.2f}%",
                f"{r['max_abs_diff']:.2e}",
                f"{r['value']:.2f}" if "value" in r else "-",
                f"{r['reference_value']:.2f}" if "reference_value" in r else "-",
                f"{r['drop']:.2f}" if "drop" in r else "-",
                f"{r['drop_limit']:.2f}" if "drop_limit" in r else "-",
                batch_cell(r.get("batch_effect")),
                "ok" if r["passed"] else "FAILED",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    minimum = limits.get("min_agreement_pct")
    lines.append(
        f"limits   drop <= {limits['max_drop']:g} points ({limits['max_drop_source']})"
        + (", or a variant's own drop on these texts on the exporting machine where larger" if limits.get("exporter_allowance") else "")
        + (f", agreement >= {minimum:g}%" if minimum is not None else "")
        + (f"; max |diff| compares {next(iter(report['variants'].values()))['compared']}" if report["variants"] else "")
    )
    return "\n".join(lines)


def batch_cell(effect: dict[str, Any] | None) -> str:
    """The report's "batch dp/bound" cell: how far a text moved with its batch neighbours, and the bound."""
    if not effect:
        return "-"
    limit = effect.get("bound")
    return f"{effect['max_prob_diff']:.1e}/" + (f"{limit:.1e}" if limit is not None else "-")


def onnxruntime_problem() -> str | None:
    """Why onnxruntime cannot serve on this machine (missing, too old, crashing at import), or None.

    The import is tried in a child process first: some onnxruntime wheels crash the interpreter at
    import on some machines (1.32.0's aarch64 wheel under qemu-user 7.2), and a crash cannot be
    caught in-process. The child is forked where the OS can (under user-mode emulation without
    binfmt_misc a new interpreter cannot be started, but a fork can), else started anew.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("onnxruntime")
    except PackageNotFoundError:
        installed = None
    wanted = f"onnxruntime>={MIN_ONNXRUNTIME[0]}.{MIN_ONNXRUNTIME[1]}"
    status, found = _import_in_child()
    if status < 0:
        return (
            f"onnxruntime {installed or '?'} crashes at import on this machine (signal {-status}); install a release that "
            f"runs here, e.g. pip install 'onnxruntime==1.20.1' (edgeft-runtime works with any {wanted})"
        )
    if status != 0:
        return f"cannot import onnxruntime ({found or 'no message'}); pip install '{wanted}'"
    try:
        got = tuple(int(p) for p in found.split(".")[:2])
    except ValueError:
        return None  # a development build: let it try
    if got < MIN_ONNXRUNTIME:
        return f"onnxruntime {found} is older than edgeft-runtime needs; pip install -U '{wanted}'"
    return None


_PROBE = "import onnxruntime, sys; sys.stdout.write(onnxruntime.__version__)"


def _import_in_child() -> tuple[int, str]:
    """(exit status, or minus the signal that killed it; onnxruntime's version or the import error)
    of importing onnxruntime in a child process."""
    if not hasattr(os, "fork"):
        try:
            probe = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as e:
            return 1, str(e)
        last = probe.stderr.strip().splitlines()[-1:] or [""]
        return probe.returncode, probe.stdout.strip() if probe.returncode == 0 else last[0]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: import, report, and leave without running the parent's clean-up
        os.close(read_end)
        code = 0
        try:
            import onnxruntime

            message = onnxruntime.__version__
        except BaseException as e:  # noqa: BLE001 - anything the import raises is the answer
            message, code = f"{type(e).__name__}: {e}", 1
        os.write(write_end, message.encode("utf-8", "replace"))
        os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode("utf-8", "replace").strip()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status), ""
    return os.WEXITSTATUS(status), message


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m edgeft_runtime.check", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("bundle", help="a bundle folder (or .zip / .tar.gz) with a reference set")
    add_arguments(parser, CheckOptions)
    args = parser.parse_args(argv)
    try:
        options = from_arguments(CheckOptions, args)
    except OptionError as e:
        sys.stderr.write(f"error: {e}\n")
        return 1
    problem = onnxruntime_problem()
    if problem:
        sys.stderr.write(f"error: {problem}\n")
        return 1
    try:
        report = check_bundle(args.bundle, options)
    except (BundleError, OptionError) as e:
        sys.stderr.write(f"error: {' '.join(str(e).split())}\n")
        return 1
    except Exception as e:  # noqa: BLE001 - a bug: one line, as `edgeft` says it, not a traceback
        if os.environ.get("EDGEFT_DEBUG", "") not in ("", "0"):
            raise
        sys.stderr.write(f"error: unexpected {type(e).__name__}: {' '.join(str(e).split())} (EDGEFT_DEBUG=1 shows the traceback; please report it)\n")
        return EXIT_BUG
    sys.stdout.write((json.dumps(report, indent=2) if options.as_json else format_report(report)) + "\n")
    line = failure_line(report)
    if line:
        sys.stderr.write(f"error: {line}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
