"""Which variant ``load()`` picks on which CPU, and variants run by another engine (OpenVINO).

The CPU and the installed engines are given to the decision, never read from the machine that runs
the tests: the rules must hold on every CPU.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from edgeft_runtime import BundleError
from edgeft_runtime.device import TARGET_RULES
from edgeft_runtime.loader import engine_of, resolve_variant, variant_for_cpu
from edgeft_runtime.session import create_session

X86 = {"target": "x86", "arch": "x86"}
BF16 = {"target": "bf16", "arch": "x86", "cpu_flags_any": ["amx_bf16", "avx512_bf16"]}

# As the exporter orders them: variants that name CPUs fastest first (bf16 where the CPU has it,
# then OpenVINO int8 where it measured faster than onnxruntime, then onnxruntime's int8 builds).
VARIANTS = {
    "fp32": {"file": "model.onnx"},
    "openvino_bf16": {"file": "model_openvino.xml", "engine": "openvino", "suits": [BF16]},
    "openvino_int8": {"file": "model_openvino_int8.xml", "engine": "openvino", "suits": [X86]},
    "int8": {"file": "model_int8.onnx", "suits": [{"target": "avx2", **TARGET_RULES["avx2"]}]},
    "int8_arm64": {"file": "model_int8_arm64.onnx", "suits": [{"target": t, **TARGET_RULES[t]} for t in ("arm64", "avx512_vnni")]},
}


def installed(*engines):
    return lambda engine: engine == "onnxruntime" or engine in engines


@pytest.mark.parametrize(
    ("flags", "machine", "engines", "picked"),
    [
        ({"avx2", "amx_bf16", "amx_int8", "avx512_vnni"}, "x86_64", ("openvino",), "openvino_bf16"),
        ({"avx2", "avx512_bf16", "avx512_vnni"}, "x86_64", ("openvino",), "openvino_bf16"),
        ({"avx2", "fma"}, "x86_64", ("openvino",), "openvino_int8"),
        ({"avx2", "amx_bf16", "avx512_vnni"}, "x86_64", (), "int8_arm64"),  # no OpenVINO here: onnxruntime's VNNI build
        ({"avx2", "fma"}, "x86_64", (), "int8"),
        ({"asimd", "asimddp"}, "aarch64", ("openvino",), "int8_arm64"),  # the OpenVINO builds name x86 CPUs only
    ],
)
def test_load_picks_the_first_suited_variant_whose_engine_is_installed(flags, machine, engines, picked):
    assert variant_for_cpu(VARIANTS, flags, machine, installed=installed(*engines)) == picked


def test_one_runnable_choice_leaves_the_default_variant():
    only_openvino = {"fp32": VARIANTS["fp32"], "int8": {"file": "a.onnx"}, "openvino_int8": VARIANTS["openvino_int8"]}
    assert variant_for_cpu(only_openvino, {"avx2"}, "x86_64", installed=installed("openvino")) is None
    manifest = {"variants": only_openvino, "default_variant": "int8"}
    assert resolve_variant(manifest, "auto", "bundle")[0] == "int8"


def test_engine_of_defaults_to_onnxruntime():
    assert engine_of(VARIANTS["int8"]) == "onnxruntime" and engine_of(VARIANTS["openvino_int8"]) == "openvino"


def test_unknown_engine_and_missing_openvino_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(BundleError, match="engine 'tvm' is not one this runtime knows"):
        create_session(tmp_path / "m.onnx", engine="tvm")
    from edgeft_runtime import openvino_engine

    monkeypatch.setattr(openvino_engine, "available", lambda: False)
    with pytest.raises(BundleError, match=r"runs on OpenVINO, which is not installed; pip install 'edgeft-runtime\[openvino\]'"):
        create_session(tmp_path / "m.xml", engine="openvino")


def test_importing_and_loading_never_import_openvino():
    code = "import sys, edgeft_runtime, edgeft_runtime.loader, edgeft_runtime.session; print('openvino' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
