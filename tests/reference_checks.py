"""What every task's reference set must satisfy, checked by each task's tests on its own tiny bundle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from edgeft_runtime import check
from edgeft_runtime.manifest import sha256_file, verify_bundle
from edgeft_runtime.reference import ReferenceSet, load_reference, reference_files


def assert_reference_round_trip(bundle: Path, held_out_texts: list[str], metric: str) -> tuple[ReferenceSet, dict[str, Any]]:
    """The reference set is plain files listed with their sha256, holds the first held-out texts,
    and the device check on it reproduces the export: fp32 agrees with PyTorch everywhere, and
    PyTorch's metric on the stored answers is the one the manifest recorded. Returns (set, check report)."""
    manifest = json.loads((bundle / "edgeft.json").read_text())
    entry = manifest["reference"]
    assert manifest["schema_version"] == "1.4" and entry["metric"] == metric and entry["gold"] is True
    assert "max_drop" not in entry and manifest["parity"]["max_drop"] is not None  # the check's default limit, once
    names = reference_files(entry)
    assert names[0] == "reference/texts.json" and all(n.startswith("reference/") for n in names)
    for name in names:
        assert manifest["files"][name]["sha256"] == sha256_file(bundle / name)
        if name.endswith(".npy"):
            assert np.load(bundle / name, allow_pickle=False).dtype != object
    assert sum(manifest["files"][n]["bytes"] for n in names) < 300_000
    verify_bundle(bundle)
    reference = load_reference(bundle, manifest)
    assert reference is not None and reference.texts == held_out_texts[: len(reference)] and len(reference) == entry["samples"]
    report = check.check_bundle(bundle, threads=1)
    fp32 = report["variants"]["fp32"]
    assert fp32["label_agreement"] == 1.0 and fp32["max_abs_diff"] < 1e-3, fp32
    # The export recorded the same unit for every variant: probabilities, as the check compares them.
    assert all(0 <= r["max_probability_diff"] <= 1 for r in manifest["parity"]["variants"].values())
    assert fp32["reference_value"] == entry["reference_metric"] and fp32["metric"] == metric
    assert report["passed"] and "int8" in report["variants"]
    # The exporting machine's own figures on these texts, which a device's check may fall back to,
    # are what the check measures here (this machine exported the bundle).
    here = entry["exporter"]
    assert here["int8_target"] == report["int8_target"] and set(here["variants"]) == set(report["variants"])
    for name, measured in here["variants"].items():
        assert measured["drop"] == report["variants"][name]["drop"] == report["variants"][name]["exporter_drop"], name
        assert measured["label_agreement"] == report["variants"][name]["label_agreement"], name
    return reference, report
