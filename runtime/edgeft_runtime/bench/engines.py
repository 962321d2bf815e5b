"""A bundle variant as a benchmark engine, and the child process that measures its cold start."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .measure import THROUGHPUT_BATCH, Engine, child_report
from .workload import text_of_length


def bundle_engine(bundle: str | Path, variant: str, threads: int | None, inter_op_threads: int | None = None) -> Engine:
    """A bundle variant as a benchmark engine (predict = the task's full prediction path, ``run_task``)."""
    from ..loader import load

    model = load(bundle, variant=variant, threads=threads, inter_op_threads=inter_op_threads)
    spec = model.manifest["variants"][model.variant]
    file = spec["file"] if variant in ("auto", model.variant) else variant  # a file name, e.g. the .ort copy
    argv = [sys.executable, "-m", "edgeft_runtime.bench", "--child", str(bundle), "--variant", variant]
    if threads is not None:
        argv += ["--threads", str(threads)]
    if inter_op_threads is not None:
        argv += ["--inter-op", str(inter_op_threads)]
    batch_size = min(THROUGHPUT_BATCH, model.default_batch_size)
    return Engine(
        name=model.variant if file == spec["file"] else file,
        kind="edgeft-runtime",
        predict=lambda texts: model.run_task(texts, batch_size=batch_size),
        child_argv=argv,
        size_bytes=(Path(model.bundle_dir) / file).stat().st_size,
        file=file,
        batch_size=batch_size,
        extra={"model": model},
    )


def child(bundle: str, variant: str, threads: int | None, inter_op_threads: int | None) -> None:
    """Cold start: import, load, first prediction; then a full batch of the longest texts for peak memory."""
    from ..loader import load

    model = load(bundle, variant=variant, threads=threads, inter_op_threads=inter_op_threads)
    first = " ".join([*model.required_tokens, "warm up the model with the first prediction"])
    model.run_task([first])
    ready = time.time()
    count = lambda t: len(model.tokenizer.encode([t])[0].ids)  # noqa: E731
    text = text_of_length(count, min(128, model.tokenizer.max_length), required=model.required_tokens)
    batch_size = min(THROUGHPUT_BATCH, model.default_batch_size)
    model.run_task([text] * batch_size, batch_size=batch_size)
    sys.stdout.write(child_report(ready) + "\n")
