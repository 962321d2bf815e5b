"""Print this CPU's model, int8 target and the flags that pick onnxruntime's kernels, in one line.

    python3 tools/cpu_summary.py      # no dependencies: reads edgeft_runtime/device.py by path

`.ci/run` prints it first: int8 results (which quantisation candidate scores best, saturation on
AVX2) follow the CPU's kernels, and the machines this project runs on change between sessions, so
a failure on another CPU must be recognisable from the log.
"""

from __future__ import annotations

import importlib.util
import platform
from pathlib import Path

DEVICE = Path(__file__).resolve().parents[1] / "runtime" / "edgeft_runtime" / "device.py"


def main() -> None:
    spec = importlib.util.spec_from_file_location("edgeft_runtime_device", DEVICE)
    assert spec and spec.loader
    device = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(device)
    flags = device.cpu_flags()
    print(
        f"CPU: {device.cpu_model()} ({platform.machine()}); int8 target {device.cpu_target(flags)}; "
        f"flags {' '.join(device.relevant_cpu_flags(flags)) or '(none read)'}"
    )


if __name__ == "__main__":
    main()
