"""runtime-js/test/fixtures/parity.json, the Python outputs the JavaScript runtime is held to, is
what this Python runtime gives today (regenerate with runtime-js/test/make_parity.py when it is not)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest


SCRIPT = Path(__file__).resolve().parents[2] / "runtime-js" / "test" / "make_parity.py"
INT8_FLAGS = ("avx2", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")

pytestmark = pytest.mark.skipif(not SCRIPT.is_file(), reason="runtime-js is not beside this runtime (installed alone)")


def _numbers(value):
    """Every float in a nested result, in order (ints and strings are compared exactly elsewhere)."""
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [x for k in sorted(value) for x in _numbers(value[k])]
    if isinstance(value, list):
        return [x for v in value for x in _numbers(v)]
    return []


def _shape(value):
    """The result with floats blanked: labels, ids, entities, offsets, tokens."""
    if isinstance(value, float):
        return None
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return value


def test_parity_fixture_is_current():
    spec = importlib.util.spec_from_file_location("make_parity", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = json.loads(module.OUT.read_text(encoding="utf-8"))
    fresh = module.build()
    same_int8 = fresh["architecture"] == committed.get("architecture", "x86") and all(
        (f in fresh["cpu_flags"]) == (f in committed["cpu_flags"]) for f in INT8_FLAGS
    )
    assert [(c["bundle"], c["variant"]) for c in fresh["cases"]] == [(c["bundle"], c["variant"]) for c in committed["cases"]]
    for new, old in zip(fresh["cases"], committed["cases"]):
        if new["variant"] == "int8" and not same_int8:
            continue  # int8 numbers depend on the CPU's int8 kernels
        where = f"{new['bundle']} {new['variant']}: regenerate with `python runtime-js/test/make_parity.py`"
        assert _shape(new) == _shape(old), where
        np.testing.assert_allclose(_numbers(new), _numbers(old), atol=1e-5, err_msg=where)
