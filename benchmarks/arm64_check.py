"""The accuracy check on arm64, under user-mode emulation, next to the same check on this x86 machine.

    sudo .venv/bin/python benchmarks/arm64_check.py BUNDLE [BUNDLE ...] [--work /var/tmp/edgeft-arm64]
        [--variant V ...] [--samples N] [--onnxruntime 1.20.1] [--also-onnxruntime 1.32.0]

(any Python with edgeft-runtime's dependencies runs the x86 side; the arm64 side gets its own).

Builds from scratch, on a Debian host as root: Debian's qemu-user-static and debootstrap (apt); an
arm64 Debian 12 userland holding Debian's arm64 Python 3.11 (debootstrap's first stage, which only
downloads and unpacks, so nothing arm64 has to run to build it); onnxruntime, tokenizers and
numpy from PyPI's manylinux aarch64 wheels, fetched by the host's pip for the arm64 platform into
a folder. Then runs ``python -m edgeft_runtime.check BUNDLE --json`` with the arm64 Python under
qemu-aarch64 (``-L`` points it at the userland, so binfmt_misc is not needed) and with this
machine's Python, and writes benchmarks/results/arm64_check.json plus a Markdown table.

Only the numerics mean something here: emulated arm64 runs the real aarch64 kernels of
onnxruntime (NEON; the dot-product paths where qemu's default CPU offers them), so labels and
output differences are those of an ARM device; its timings are qemu's and are not reported.
``--also-onnxruntime`` runs the check once more with another onnxruntime release (default
1.32.0, whose aarch64 wheel crashes at import under qemu-user 7.2) to show the check's own
message instead of a crash.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ROOT / "runtime"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# manylinux tags a glibc-2.36 arm64 userland accepts, newest first (onnxruntime's aarch64 wheels
# are tagged manylinux_2_27/2_28; older pips look only at the first tag given).
PLATFORMS = [f"manylinux_2_{n}_aarch64" for n in (36, 34, 31, 28, 27, 17)] + ["manylinux2014_aarch64"]


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    print("+", " ".join(map(str, cmd)), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def ensure_tools() -> None:
    """qemu-user-static and debootstrap from Debian's packages."""
    if shutil.which("qemu-aarch64-static") and shutil.which("debootstrap"):
        return
    if os.geteuid() != 0:
        sys.exit("error: needs qemu-user-static and debootstrap: run as root, or apt-get install qemu-user-static debootstrap")
    run(["apt-get", "update", "-q"])
    run(["apt-get", "install", "-y", "-q", "qemu-user-static", "debootstrap"], env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def userland(work: Path, mirror: str) -> Path:
    """An arm64 Debian root with python3 unpacked (first stage of debootstrap, then every
    downloaded package unpacked: the second stage would need to run arm64 binaries)."""
    root = work / "root"
    if (root / "usr/bin/python3").exists():
        return root
    run(["debootstrap", "--foreign", "--arch=arm64", "--variant=minbase", "--include=python3", SUITE, root, mirror])
    for deb in sorted((root / "var/cache/apt/archives").glob("*.deb")):
        run(["dpkg-deb", "-x", deb, root], stdout=subprocess.DEVNULL)
    return root


def site_packages(work: Path, version: str, python_version: str) -> Path:
    """onnxruntime==version, tokenizers and numpy for arm64 Linux, from PyPI's aarch64 wheels."""
    site = work / f"site-onnxruntime-{version}"
    if (site / "onnxruntime").is_dir():
        return site
    platforms = [arg for tag in PLATFORMS for arg in ("--platform", tag)]
    run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--target", site, *platforms, "--python-version", python_version,
         "--implementation", "cp", "--only-binary=:all:", f"onnxruntime=={version}", "tokenizers>=0.15", "numpy>=1.24"]
    )
    return site


def check(cmd: list[str], env: dict[str, str]) -> dict:
    """Run the check; its JSON report, or its exit status and error line."""
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    out = {"exit_status": proc.returncode, "error": errors[-1] if errors else None}
    if proc.returncode in (0, 1) and proc.stdout.strip().startswith("{"):
        out["report"] = json.loads(proc.stdout)
    elif not errors:
        out["stderr_tail"] = proc.stderr.strip().splitlines()[-3:]
    return out


def arm64_command(root: Path, bundle: Path, extra: list[str]) -> list:
    return ["qemu-aarch64-static", "-L", root, root / "usr/bin/python3", "-m", "edgeft_runtime.check", bundle, "--json", "--device-name", "arm64-qemu", *extra]


def table(results: dict) -> str:
    lines = [
        "| bundle | variant (preset) | x86 (this host): agreement / metric / max diff | arm64 (emulated): agreement / metric / max diff | PyTorch metric |",
        "|---|---|---|---|---|",
    ]
    for name, entry in results["bundles"].items():
        x86, arm = (entry[k].get("report") for k in ("x86", "arm64"))
        if not x86 or not arm:
            lines.append(f"| {name} | - | {entry['x86'].get('error')} | {entry['arm64'].get('error')} | - |")
            continue
        for variant, a in x86["variants"].items():
            b = arm["variants"].get(variant, {})
            preset = entry["presets"].get(variant) or "fp32"

            def cell(r: dict) -> str:
                if not r:
                    return "-"
                return f"{100 * r['label_agreement']:.2f}% / {r.get('value', float('nan')):.2f} / {r['max_abs_diff']:.1e}"

            lines.append(f"| {name} | {variant} ({preset}) | {cell(a)} | {cell(b)} | {a.get('reference_value', float('nan')):.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundles", nargs="+", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/var/tmp/edgeft-arm64"))
    parser.add_argument("--mirror", default=MIRROR)
    parser.add_argument("--onnxruntime", default="1.20.1", help="the onnxruntime release to run under emulation (1.20.1 runs under qemu-user 7.2)")
    parser.add_argument("--also-onnxruntime", default="1.32.0", help="another release to try once, to record what the check says ('' to skip)")
    parser.add_argument("--variant", action="append", default=[], help="variant(s) to check (default: all)")
    parser.add_argument("--samples", type=int, default=None, help="check only the first N reference examples (emulation is slow)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "arm64_check.json")
    args = parser.parse_args()
    if platform.machine().lower() not in ("x86_64", "amd64"):
        sys.exit("error: this script emulates arm64 on an x86-64 Debian host")
    ensure_tools()
    args.work.mkdir(parents=True, exist_ok=True)
    root = userland(args.work, args.mirror)
    py = subprocess.run(["qemu-aarch64-static", "-L", root, root / "usr/bin/python3", "-c", "import platform; print(platform.python_version())"],
                        capture_output=True, text=True, check=True).stdout.strip()
    site = site_packages(args.work, args.onnxruntime, ".".join(py.split(".")[:2]))
    qemu = subprocess.run(["qemu-aarch64-static", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    results: dict = {
        "benchmark": "arm64_check",
        "emulator": qemu,
        "arm64_python": py,
        "arm64_onnxruntime": args.onnxruntime,
        "note": "user-mode emulation: numerics are the aarch64 kernels'; timings are the emulator's and are not reported",
        "bundles": {},
    }
    extra = [a for v in args.variant for a in ("--variant", v)] + (["--samples", str(args.samples)] if args.samples else [])
    results["check_options"] = extra
    for bundle in args.bundles:
        bundle = bundle.resolve()
        manifest = json.loads((bundle / "edgeft.json").read_text())
        presets = {n: (s.get("quantization") or {}).get("preset") for n, s in manifest["variants"].items()}
        env_x86 = {**os.environ, "PYTHONPATH": str(RUNTIME)}
        env_arm = {**os.environ, "PYTHONPATH": f"{site}:{RUNTIME}", "PYTHONNOUSERSITE": "1"}
        print(f"[{bundle.name}] x86 check", flush=True)
        x86 = check([sys.executable, "-m", "edgeft_runtime.check", bundle, "--json", "--device-name", "x86-host", *extra], env_x86)
        print(f"[{bundle.name}] arm64 check under qemu (slow)", flush=True)
        arm = check(arm64_command(root, bundle, extra), env_arm)
        results["bundles"][bundle.name] = {"presets": presets, "x86": x86, "arm64": arm}
    if args.also_onnxruntime:
        other = site_packages(args.work, args.also_onnxruntime, ".".join(py.split(".")[:2]))
        env = {**os.environ, "PYTHONPATH": f"{other}:{RUNTIME}", "PYTHONNOUSERSITE": "1"}
        attempt = check(arm64_command(root, args.bundles[0].resolve(), extra), env)
        results["other_onnxruntime"] = {"version": args.also_onnxruntime, "exit_status": attempt["exit_status"], "error": attempt.get("error")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(table(results))
    if "other_onnxruntime" in results:
        o = results["other_onnxruntime"]
        print(f"\nonnxruntime {o['version']} under emulation: exit {o['exit_status']}: {o['error']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
