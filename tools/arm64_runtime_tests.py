"""Run edgeft-runtime's tests on emulated arm64 (aarch64 int8 kernels), from an x86-64 Debian host.

    sudo .venv/bin/python tools/arm64_runtime_tests.py [pytest args...]   # default: runtime/tests

The int8 results the tests see follow the CPU's kernels; CI runs on x86 (AVX2 or AVX-512 VNNI),
so this is how the runtime's tests are shown to hold on ARM too. It reuses
benchmarks/arm64_check.py's arm64 userland (Debian's arm64 Python under qemu-user-static,
onnxruntime 1.20.1's aarch64 wheel: 1.32.0's crashes at import under qemu-user 7.2) and adds
pytest and hypothesis. Tests that start ``sys.executable`` need the kernel to run arm64 programs
through qemu: the script registers Debian's binfmt_misc entry for qemu-aarch64 when it is missing
(root only). Slow: about 9 minutes for the suite on a busy 2-core machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import arm64_check  # noqa: E402

BINFMT = Path("/proc/sys/fs/binfmt_misc")
QEMU_ENTRY = Path("/usr/lib/binfmt.d/qemu-aarch64.conf")


def register_binfmt() -> None:
    """Let the kernel start arm64 programs (the tests' subprocesses) through qemu."""
    if (BINFMT / "qemu-aarch64").exists():
        return
    if not (BINFMT / "register").exists():
        subprocess.run(["mount", "binfmt_misc", "-t", "binfmt_misc", str(BINFMT)], check=True)
    (BINFMT / "register").write_text(QEMU_ENTRY.read_text())


def main() -> int:
    if os.geteuid() != 0:
        sys.exit("error: needs root (apt-get for qemu-user-static and debootstrap, binfmt_misc for subprocesses)")
    arm64_check.ensure_tools()
    work = Path("/var/tmp/edgeft-arm64")
    work.mkdir(parents=True, exist_ok=True)
    root = arm64_check.userland(work, arm64_check.MIRROR)
    site = arm64_check.site_packages(work, "1.20.1", "3.11")
    tools = work / "site-test"
    if not (tools / "pytest").is_dir():
        arm64_check.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", tools, "--python-version", "3.11",
                         "--implementation", "cp", "--only-binary=:all:", "--platform", "manylinux_2_28_aarch64",
                         "--platform", "any", "pytest>=8", "hypothesis>=6"])
    register_binfmt()
    env = {**os.environ, "QEMU_LD_PREFIX": str(root), "PYTHONNOUSERSITE": "1",
           "PYTHONPATH": os.pathsep.join(map(str, (site, tools, ROOT / "runtime")))}
    args = sys.argv[1:] or ["tests"]
    cmd = [str(root / "usr/bin/python3"), "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    return subprocess.run(cmd, cwd=ROOT / "runtime", env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
