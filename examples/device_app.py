"""A minimal app on a device: only edgeft-runtime installed (pip install edgeft-runtime, or ./runtime).

    python examples/device_app.py path/to/bundle "some text" ["more text" ...]

Loads the bundle once (sha256-verified), predicts, and prints the labels; on a phone (Termux) or a
Raspberry Pi this is all the Python there is. tests/test_device_example.py runs it.
"""

from __future__ import annotations

import os
import sys
import time

import edgeft_runtime


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    bundle, texts = argv[0], argv[1:]
    started = time.perf_counter()
    # One thread per core by default; on a phone, 2 threads usually beat "all cores" (big.LITTLE).
    model = edgeft_runtime.load(bundle, threads=int(os.environ.get("EDGEFT_THREADS", "0")) or None)
    loaded = time.perf_counter()
    results = model.predict(texts)
    done = time.perf_counter()
    for text, result in zip(texts, results):
        print(f"{result['label']}\t{result['score']:.3f}\t{text}")
    print(f"load {1000 * (loaded - started):.0f} ms, predict {1000 * (done - loaded):.1f} ms ({model.variant})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
