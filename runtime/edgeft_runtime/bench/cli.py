"""``python -m edgeft_runtime.bench``: the benchmark from the command line, runtime only."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from . import benchmark_bundle, format_table
from . import __doc__ as _DOC
from ..errors import BundleError
from ..options import OptionError
from .engines import child


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgeft_runtime.bench", description=(_DOC or "").split("\n\n")[0])
    parser.add_argument("bundle")
    parser.add_argument("--variant", action="append", help="variant(s) to run (default: every variant in the bundle)")
    parser.add_argument("--threads", "--intra-op", type=int, default=None, help="intra-op threads (default: one per core)")
    parser.add_argument("--inter-op", type=int, default=None, help="inter-op threads (parallel execution of independent nodes)")
    parser.add_argument("--runs", type=int, default=50, help="timed batch-1 calls per length and engine")
    parser.add_argument("--duration", type=float, default=None, help="seconds per length for all engines, instead of --runs")
    parser.add_argument("--cold-passes", type=int, default=3, help="fresh processes per engine for cold start and peak RSS (0: skip)")
    parser.add_argument("--device-name", default=None, help="a name for this device in reports")
    parser.add_argument("--out", default=None, help="write the JSON report here")
    parser.add_argument("--no-check", dest="check", action="store_false", help="skip the accuracy check on the bundle's reference set")
    parser.add_argument("--max-drop", type=float, default=None, help="accuracy check: most points a variant may lose (default: the export gate's)")
    parser.add_argument("--min-agreement", type=float, default=None, help="accuracy check: least label agreement with PyTorch, in percent")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.bundle, (args.variant or ["auto"])[0], args.threads, args.inter_op)
        return 0
    try:
        report = run(args)
    except (BundleError, OptionError) as e:
        # A bad setting or a damaged or missing bundle is the user's to fix: one line, as `python -m edgeft_runtime.check` does.
        sys.stderr.write(f"error: {' '.join(str(e).split())}\n")
        return 1
    print(format_table(report))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


def run(args: argparse.Namespace) -> dict:
    return benchmark_bundle(
        args.bundle,
        variants=args.variant,
        threads=args.threads,
        inter_op=args.inter_op,
        runs=args.runs,
        duration=args.duration,
        cold_passes=args.cold_passes,
        device_name=args.device_name,
        check=args.check,
        max_drop=args.max_drop,
        min_agreement=args.min_agreement,
    )
