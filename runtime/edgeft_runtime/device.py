"""Describe the device at hand: CPU model and flags, cores, memory, library versions.

The one place edgeft reads the CPU: the benchmark's reports, the exporter's choice of int8 preset,
the loader's choice among a bundle's int8 builds and the bundle's parity record all ask here.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

# Flags that decide which int8/fp32 kernels onnxruntime can use.
RELEVANT_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx512_bf16",
    "avx_vnni",
    "amx_int8",
    "amx_bf16",
    "neon",
    "asimd",
    "asimddp",
    "i8mm",
    "sve",
)


# Flags whose integer dot-product instructions let onnxruntime take full 8-bit weights on x86.
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")

# The int8 targets of the export stage, as rules on the CPU (the manifest copies them into each
# int8 variant's ``suits``, so the bundle itself says which build suits which CPU). Without VNNI,
# x86 kernels multiply u8 x s8 pairs into int16 with saturation, so their build needs 7-bit
# weights (onnxruntime issue #6004); VNNI and ARM dot-product kernels take the full range.
TARGET_RULES: dict[str, dict[str, Any]] = {
    "arm64": {"arch": "arm64"},
    "avx512_vnni": {"arch": "x86", "cpu_flags_any": list(VNNI_FLAGS)},
    "avx2": {"arch": "x86", "cpu_flags_none": list(VNNI_FLAGS)},
}


def arch_family(machine: str | None = None) -> str:
    """``"arm64"`` for 64-bit ARM, ``"x86"`` for x86, else the machine name as the platform tells it (lower case)."""
    machine = (machine or platform.machine()).lower()
    if machine in ("aarch64", "arm64") or machine.startswith("armv8"):
        return "arm64"
    if machine in ("x86_64", "amd64", "x64", "i386", "i686", "x86"):
        return "x86"
    return machine


def rule_matches(rule: dict[str, Any], arch: str, flags: set[str]) -> bool:
    """Whether a CPU (its ``arch_family`` and flags) meets one rule of ``TARGET_RULES`` (or a manifest's ``suits``)."""
    if rule.get("arch") not in (None, arch):
        return False
    if rule.get("cpu_flags_any") and not set(rule["cpu_flags_any"]) & flags:
        return False
    return not set(rule.get("cpu_flags_none") or ()) & flags


def cpu_target(flags: set[str] | None = None, machine: str | None = None) -> str:
    """This CPU's int8 target: arm64 on 64-bit ARM, avx512_vnni on x86 with VNNI, else avx2
    (the 7-bit build, which is also the safe choice where the flags cannot be read)."""
    arch = arch_family(machine)
    if arch == "arm64":
        return "arm64"
    flags = cpu_flags() if flags is None else flags
    return "avx512_vnni" if rule_matches(TARGET_RULES["avx512_vnni"], "x86", flags) else "avx2"


def _cpuinfo() -> dict[str, str]:
    """First value of each key in /proc/cpuinfo (Linux, Android); empty elsewhere."""
    info: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return info
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in info:
            info[key.strip()] = value.strip()
    return info


def cpu_flags() -> set[str]:
    """Every CPU feature flag the OS reports (x86 ``flags``, ARM ``Features``); empty when unknown."""
    info = _cpuinfo()
    return set((info.get("flags") or info.get("Features") or "").split())


def relevant_cpu_flags(flags: set[str] | None = None) -> list[str]:
    """The flags of ``RELEVANT_FLAGS`` this CPU has (default: this machine's), sorted."""
    flags = cpu_flags() if flags is None else flags
    return sorted(f for f in RELEVANT_FLAGS if f in flags)


def cpu_model() -> str:
    """The CPU's model name (e.g. "AMD EPYC 7B13"), or the best the platform tells."""
    return _cpu_model(_cpuinfo())


def _cpu_model(info: dict[str, str]) -> str:
    for key in ("model name", "Hardware", "Processor", "cpu model"):
        if info.get(key):
            return info[key]
    if sys.platform == "darwin":
        try:
            import subprocess

            return subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=5
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine()


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _physical_cores(info_text: str | None = None) -> int | None:
    """Distinct (physical id, core id) pairs on Linux; None when unknown."""
    try:
        text = info_text if info_text is not None else Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return None
    cores, physical = set(), "0"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "physical id":
            physical = value.strip()
        elif key.strip() == "core id":
            cores.add((physical, value.strip()))
    return len(cores) or None


def cpuinfo_family(info: dict[str, str]) -> str | None:
    """Which kind of CPU /proc/cpuinfo describes: "x86" (it has ``flags``), "arm64" (``Features``
    with ``CPU implementer``), or None when it says too little."""
    if "flags" in info and "vendor_id" in info:
        return "x86"
    if "Features" in info and "CPU implementer" in info:
        return "arm64"
    return None


def device_info(threads: int | None = None, name: str | None = None, inter_op_threads: int | None = None) -> dict[str, Any]:
    """CPU model, architecture, relevant flags, cores, memory, OS and library versions."""
    import numpy
    import onnxruntime

    from . import __version__

    info = _cpuinfo()
    flags = set((info.get("flags") or info.get("Features") or "").split())
    available: int | None
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:
        available = os.cpu_count()
    memory = _memory_bytes()
    report: dict[str, Any] = {
        "name": name or platform.node() or "unknown",
        "cpu_model": _cpu_model(info),
        "architecture": platform.machine(),
        "cpu_flags": relevant_cpu_flags(flags),
        "int8_target": cpu_target(flags),
        "logical_cores": os.cpu_count(),
        "physical_cores": _physical_cores(),
        "cores_available": available,
        "threads": threads,
        "inter_op_threads": inter_op_threads,
        "memory_gb": round(memory / 2**30, 1) if memory else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "numpy": numpy.__version__,
        "edgeft_runtime": __version__,
    }
    described = cpuinfo_family(info)
    if described and described != arch_family():
        # qemu-user shows the host's /proc/cpuinfo to the emulated program.
        report["emulated"] = f"/proc/cpuinfo describes an {described} CPU but Python runs as {platform.machine()}: user-mode emulation; CPU model and flags are the host's, timings are the emulator's"
    return report
