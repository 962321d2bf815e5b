"""The accuracy check on the device, with the runtime alone.

The committed fixtures predate reference sets, so these tests give a bundle one: the fp32
variant's own answers stand in for PyTorch's (the export stage stores PyTorch's; tests/ check
that), written with the same functions the exporter uses and listed with their sha256.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import edgeft_runtime
from edgeft_runtime import BundleError, check, reference
from edgeft_runtime.classifier import Classifier
from edgeft_runtime.loader import variant_for_cpu
from edgeft_runtime.manifest import sha256_file
from edgeft_runtime.options import OptionError
from edgeft_runtime.parity_record import DIFFERENCE, gate_max_drop, parity_lines

TEXTS = ["good film", "awful plot and poor story", "great acting", "poor", "the film was good", "bad bad bad", "anna met otto in paris", "it"]


def add_reference(bundle: Path, texts=TEXTS, gold="self", max_drop: float | None = 1.0, observed: dict | None = None) -> dict:
    """Store fp32's answers on ``texts`` (or ``observed``) as the bundle's reference set (gold: those
    answers' own labels by default, so they score 100); rewrite the manifest with the files' hashes."""
    model = edgeft_runtime.load(bundle, variant="fp32")
    observed = observed or reference.observe(model, texts)
    if gold == "self":
        gold = observed["labels"].tolist() if "labels" in observed else observed["entities"]
    entry = reference.save_reference(bundle, model.task, texts, gold, observed, {"data": "test texts", "max_drop": max_drop})
    path = bundle / "edgeft.json"
    manifest = json.loads(path.read_text())
    manifest["reference"] = entry
    for name in reference.reference_files(entry):
        manifest["files"][name] = {"sha256": sha256_file(bundle / name), "bytes": (bundle / name).stat().st_size}
    path.write_text(json.dumps(manifest))
    return manifest


def add_contradicted_reference(bundle: Path) -> dict:
    """A reference set that every variant of the bundle contradicts: fp32's answers with the two
    labels' probabilities swapped stand in for PyTorch's. Seen from the check, a device that gets
    every answer wrong (without a test hook, so a child process sees it too)."""
    answers = reference.observe(edgeft_runtime.load(bundle, variant="fp32"), TEXTS)
    swapped = {"probabilities": answers["probabilities"][:, ::-1].copy(), "labels": 1 - answers["labels"]}
    return add_reference(bundle, observed=swapped)


def run_check(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgeft_runtime.check", *map(str, args)], capture_output=True, text=True)


def test_reference_files_are_plain_and_verified(sentiment_bundle):
    manifest = add_reference(sentiment_bundle)
    entry = manifest["reference"]
    assert entry["texts"] == "reference/texts.json" and set(entry["arrays"]) == {"probabilities", "labels"}
    for name in reference.reference_files(entry):
        assert manifest["files"][name]["sha256"] == sha256_file(sentiment_bundle / name)
    np.load(sentiment_bundle / entry["arrays"]["probabilities"], allow_pickle=False)  # no object arrays
    loaded = reference.load_reference(sentiment_bundle, manifest)
    assert loaded.texts == TEXTS and loaded.observed["probabilities"].shape == (len(TEXTS), 2)
    edgeft_runtime.verify_bundle(sentiment_bundle)

    (sentiment_bundle / entry["arrays"]["labels"]).write_bytes(b"\x93NUMPY tampered")
    with pytest.raises(BundleError, match=r"reference/labels.npy: sha256 .* does not match the manifest"):
        reference.load_reference(sentiment_bundle, manifest)


def test_check_passes_and_reports_each_variant(sentiment_bundle):
    add_reference(sentiment_bundle)
    report = check.check_bundle(sentiment_bundle, threads=1)
    assert report["passed"] and set(report["variants"]) == {"fp32", "int8"}
    fp32, int8 = report["variants"]["fp32"], report["variants"]["int8"]
    assert fp32["label_agreement"] == 1.0 and fp32["max_abs_diff"] == 0.0 and fp32["value"] == fp32["reference_value"] == 100.0
    assert 0 < int8["max_abs_diff"] < 0.5 and int8["metric"] == "accuracy" and int8["agreement_unit"] == "text"
    assert int8["drop"] == pytest.approx(100.0 - int8["value"])
    assert report["limits"] == {"max_drop": 1.0, "max_drop_source": "the export gate's --max-drop", "min_agreement_pct": None, "exporter_allowance": True}
    assert int8["drop_limit"] == 1.0 and int8["exporter_drop"] is None  # this bundle records no exporting machine's figures
    assert report["device"]["onnxruntime"] and report["int8_target"] in ("avx2", "avx512_vnni", "arm64")
    text = check.format_report(report)
    assert "fp32" in text and "int8" in text and "load() picks int8" in text and check.failure_line(report) is None


def test_a_variant_whose_outputs_differ_fails_with_one_line(sentiment_bundle, monkeypatch):
    """The test hook: int8's probabilities are swapped between the labels, as a broken kernel might."""
    add_reference(sentiment_bundle)
    real = Classifier.predict_proba

    def perturbed(self, texts, batch_size=32):
        probs = real(self, texts, batch_size)
        return probs[:, ::-1] if self.variant == "int8" else probs

    monkeypatch.setattr(Classifier, "predict_proba", perturbed)
    report = check.check_bundle(sentiment_bundle, threads=1)
    assert not report["passed"] and report["variants"]["fp32"]["passed"]
    int8 = report["variants"]["int8"]
    assert int8["label_agreement"] == 0.0 and int8["value"] == 0.0 and int8["drop"] == 100.0
    line = check.failure_line(report)
    assert "\n" not in line and "int8: accuracy 0.00 is 100.00 points below PyTorch's 100.00" in line and "fp32:" not in line


def record_exporter_drop(bundle: Path, drop: float) -> None:
    """Write into the manifest what the exporting machine measured for int8 on the reference set."""
    path = bundle / "edgeft.json"
    manifest = json.loads(path.read_text())
    manifest["reference"]["exporter"] = {"cpu_model": "exporter", "int8_target": "avx2", "variants": {"fp32": {"drop": 0.0}, "int8": {"drop": drop}}}
    path.write_text(json.dumps(manifest))


def test_a_device_may_lose_what_the_exporting_machine_lost_on_the_same_texts(sentiment_bundle, monkeypatch):
    """The gate passes int8 on the whole held-out set; the reference set is a sample, on which the
    exporting machine itself may lose more than the gate's limit. A device is held to that figure
    (when larger), not to a limit the bundle already missed where it was made."""
    add_reference(sentiment_bundle)
    real = Classifier.predict_proba

    def one_flip(self, texts, batch_size=32):  # int8 decides the first reference text the other way
        probs = real(self, texts, batch_size)
        if self.variant == "int8" and texts and texts[0] == TEXTS[0]:
            probs[0] = probs[0, ::-1]
        return probs

    monkeypatch.setattr(Classifier, "predict_proba", one_flip)
    record_exporter_drop(sentiment_bundle, 12.5)  # one text in 8, as on this device
    report = check.check_bundle(sentiment_bundle, threads=1)
    int8 = report["variants"]["int8"]
    assert int8["drop"] == 12.5 and int8["exporter_drop"] == 12.5 and int8["drop_limit"] == 12.5 and report["passed"]
    assert "exporting machine where larger" in check.format_report(report)

    explicit = check.check_bundle(sentiment_bundle, threads=1, max_drop=1.0)  # an explicit limit is absolute
    assert not explicit["passed"] and explicit["variants"]["int8"]["drop_limit"] == 1.0
    subset = check.check_bundle(sentiment_bundle, threads=1, samples=4)  # the figure covers all 8 texts, not 4
    assert not subset["passed"] and subset["variants"]["int8"]["exporter_drop"] is None
    # A subset's verdict is no verdict: the report and the failure line say so.
    assert subset["reference"]["samples"] == 4 and subset["reference"]["of"] == 8
    assert "first 4 of the 8 reference texts; one text is 25.00 points of accuracy" in check.format_report(subset)
    assert check.failure_line(subset).endswith("(on the first 4 of 8 reference texts only: check them all before judging the bundle)")
    assert "note     checked the first" not in check.format_report(report)

    record_exporter_drop(sentiment_bundle, 0.0)  # the exporting machine lost nothing: the gate's limit holds
    report = check.check_bundle(sentiment_bundle, threads=1)
    assert not report["passed"]
    assert "int8: accuracy 87.50 is 12.50 points below PyTorch's 100.00 (limit 1, the export gate's --max-drop)" in check.failure_line(report)

    record_exporter_drop(sentiment_bundle, 0.5)  # a device worse than both the exporting machine and the gate fails
    report = check.check_bundle(sentiment_bundle, threads=1)
    assert not report["passed"] and report["variants"]["int8"]["drop_limit"] == 1.0


def test_the_command_exits_1_with_one_error_line(sentiment_bundle):
    add_reference(sentiment_bundle)
    ok = run_check(sentiment_bundle, "--threads", "1")
    assert ok.returncode == 0, ok.stderr
    assert "error:" not in ok.stderr and "int8" in ok.stdout
    add_contradicted_reference(sentiment_bundle)
    failed = run_check(sentiment_bundle, "--variant", "int8", "--max-drop", "100", "--min-agreement", "99")
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and re.search(r"int8: agreement with PyTorch [\d.]+% is below --min-agreement 99%", errors[0])
    as_json = run_check(sentiment_bundle, "--json", "--max-drop", "0")
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["passed"] is False


def test_bundles_without_a_reference_set_say_so(sentiment_bundle):
    proc = run_check(sentiment_bundle)
    assert proc.returncode == 1 and proc.stderr.count("error:") == 1
    assert "has no reference set" in proc.stderr and "re-export" in proc.stderr


def test_the_check_imports_no_torch(sentiment_bundle):
    add_reference(sentiment_bundle)
    code = (
        "import sys, json; from edgeft_runtime.check import main; rc = main([sys.argv[1], '--json']);"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'optimum', 'onnx', 'edgeft', 'edgeft_exporters'));"
        "print(json.dumps({'rc': rc, 'heavy': heavy}))"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(sentiment_bundle)], capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"rc": 0, "heavy": []}


def test_importing_the_package_does_not_import_onnxruntime():
    """So the check can report an onnxruntime that crashes at import instead of crashing with it."""
    code = "import sys, edgeft_runtime, edgeft_runtime.check; print('onnxruntime' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_onnxruntime_problems_are_named(monkeypatch):
    assert check.onnxruntime_problem() is None
    monkeypatch.setattr(check, "_import_in_child", lambda: (-11, ""))
    assert "crashes at import on this machine (signal 11)" in check.onnxruntime_problem()
    monkeypatch.setattr(check, "_import_in_child", lambda: (0, "1.16.3"))
    assert "onnxruntime 1.16.3 is older than edgeft-runtime needs" in check.onnxruntime_problem()
    monkeypatch.setattr(check, "_import_in_child", lambda: (1, "ImportError: libfoo.so"))
    assert "cannot import onnxruntime (ImportError: libfoo.so)" in check.onnxruntime_problem()


def test_ner_reference_counts_words_and_keeps_offsets(entities_bundle):
    texts = ["anna met otto in paris", "otto lives in berlin and anna in rome " * 3, "nobody"]
    manifest = add_reference(entities_bundle, texts)
    loaded = reference.load_reference(entities_bundle, manifest)
    assert loaded.observed["word_counts"].tolist() == [5, 24, 1]
    for text, entities in zip(texts, loaded.observed["entities"]):
        assert all(0 <= start < end <= len(text) for _, start, end in entities)
    report = check.check_bundle(entities_bundle, variants=["fp32", "int8"], threads=1)
    assert report["variants"]["fp32"]["label_agreement"] == 1.0 and report["variants"]["fp32"]["agreement_unit"] == "word"
    assert report["variants"]["fp32"]["metric"] == "entity_f1" and report["variants"]["fp32"]["value"] == 100.0


def test_reference_parts_that_do_not_fit_are_refused(fewshot_bundle):
    manifest = add_reference(fewshot_bundle, gold=[0, 1])  # two gold labels for eight texts
    with pytest.raises(BundleError, match="2 gold targets for 8 texts"):
        reference.load_reference(fewshot_bundle, manifest)


def test_bench_report_carries_the_accuracy_measured_here(sentiment_bundle, tmp_path):
    from edgeft_runtime import bench

    add_reference(sentiment_bundle)
    out = tmp_path / "report.json"
    assert bench.main([str(sentiment_bundle), "--runs", "3", "--cold-passes", "0", "--threads", "1", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["schema_version"] == "1.1" and report["check"]["status"] == "passed" and report["check"]["samples"] == len(TEXTS)
    accuracy = report["results"]["int8"]["accuracy"]
    assert accuracy["source"] == "measured on this device" and accuracy["reference_value"] == 100.0 and accuracy["passed"]
    assert 0 <= accuracy["label_agreement"] <= 1 and accuracy["samples"] == len(TEXTS)


def test_variant_for_cpu_follows_the_manifest_rules():
    from edgeft_runtime.device import TARGET_RULES, cpu_target

    variants = {
        "fp32": {"file": "model.onnx"},
        "int8": {"file": "a.onnx", "suits": [{"target": "avx2", **TARGET_RULES["avx2"]}]},
        "int8_arm64": {"file": "b.onnx", "suits": [{"target": t, **TARGET_RULES[t]} for t in ("arm64", "avx512_vnni")]},
    }
    assert variant_for_cpu(variants, {"avx2", "fma"}, "x86_64") == "int8"
    assert variant_for_cpu(variants, {"avx2", "avx512_vnni"}, "x86_64") == "int8_arm64"
    assert variant_for_cpu(variants, set(), "aarch64") == "int8_arm64"
    assert variant_for_cpu(variants, set(), "riscv64") is None  # no rule matches: the default variant serves
    assert variant_for_cpu({"fp32": {}, "int8": variants["int8"]}, set(), "aarch64") is None  # no choice to make
    assert cpu_target({"avx2"}, "x86_64") == "avx2" and cpu_target({"avx_vnni"}, "AMD64") == "avx512_vnni" and cpu_target(set(), "arm64") == "arm64"


def test_emulation_is_reported(monkeypatch):
    from edgeft_runtime import device

    monkeypatch.setattr(device, "_cpuinfo", lambda: {"vendor_id": "AuthenticAMD", "flags": "avx2 fma", "model name": "AMD EPYC"})
    monkeypatch.setattr(device.platform, "machine", lambda: "aarch64")
    info = device.device_info()
    assert info["architecture"] == "aarch64" and info["int8_target"] == "arm64" and "user-mode emulation" in info["emulated"]


def test_samples_checks_the_first_examples_only(sentiment_bundle, entities_bundle):
    add_reference(sentiment_bundle)
    report = check.check_bundle(sentiment_bundle, variants=["fp32"], samples=3, threads=1)
    assert report["reference"]["samples"] == 3 and report["variants"]["fp32"]["samples"] == 3
    texts = ["anna met otto in paris", "otto lives in berlin", "nobody"]
    manifest = add_reference(entities_bundle, texts)
    head = reference.load_reference(entities_bundle, manifest).head(2)
    assert head.texts == texts[:2] and head.observed["word_counts"].tolist() == [5, 4] and len(head.observed["word_probabilities"]) == 9
    assert len(head.gold) == 2 and len(head.observed["entities"]) == 2
    assert check.check_bundle(entities_bundle, variants=["fp32"], samples=2)["variants"]["fp32"]["label_agreement"] == 1.0
    with pytest.raises(OptionError, match="--samples 0: give 1 or more"):
        check.check_bundle(entities_bundle, samples=0)


# --- The parity record: the recorded --max-drop in every layout a release wrote; units ---------


def test_the_recorded_max_drop_is_read_from_every_layout():
    # schema 1.3: written once, as parity.max_drop (also without an int8 variant)
    assert gate_max_drop({"parity": {"max_drop": 0.5}, "reference": {"samples": 3}}) == 0.5
    # schema 1.1-1.2 without --int8: parity.max_drop null, the reference set's copy holds it
    assert gate_max_drop({"parity": {"max_drop": None}, "reference": {"max_drop": 2.0}}) == 2.0
    # a pruned-vocabulary bundle of 1.2 with its reference set stripped
    assert gate_max_drop({"parity": {"max_drop": None, "original": {"max_drop": 3.0}}}) == 3.0
    assert gate_max_drop({"parity": {}}) is None and gate_max_drop({}) is None


def test_a_schema_1_2_bundle_still_loads_and_checks_with_its_stored_limit(sentiment_bundle):
    # The layout edgeft wrote before schema 1.3: the limit under reference.max_drop, parity.max_drop
    # null (an export without --int8), differences of logits only.
    manifest = add_reference(sentiment_bundle, max_drop=2.5)
    manifest["schema_version"] = "1.2"
    manifest["parity"]["max_drop"] = None
    (sentiment_bundle / "edgeft.json").write_text(json.dumps(manifest))
    assert edgeft_runtime.load(sentiment_bundle).predict("good film")["label"] in ("pos", "neg")
    report = check.check_bundle(sentiment_bundle, threads=1)
    assert report["passed"] and report["limits"]["max_drop"] == 2.5
    assert report["limits"]["max_drop_source"] == "the export gate's --max-drop"
    assert DIFFERENCE in check.format_report(report)


def test_output_differences_are_printed_with_their_unit(sentiment_bundle):
    manifest = json.loads((sentiment_bundle / "edgeft.json").read_text())
    old = parity_lines(manifest)
    # An old bundle recorded logits only: shown as logits, never as probabilities.
    assert any("ONNX int8: accuracy" in line and "max |diff| (logits) 2.66e-03" in line for line in old), old
    assert not any("probability" in line for line in old)
    manifest["parity"]["variants"]["int8"]["max_probability_diff"] = 0.00042
    new = parity_lines(manifest)
    assert any("ONNX int8: accuracy" in line and "max |diff| (probability) 4.20e-04" in line for line in new), new


# --- Options: one declared set, every value checked before anything runs ----------------------


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--max-drop", "nan"], "--max-drop nan: give a finite number from 0 to 100 points"),
        (["--max-drop", "-1"], "--max-drop -1: give a number from 0 to 100 points"),
        (["--max-drop", "inf"], "--max-drop inf: give a finite number"),
        (["--min-agreement", "150"], "--min-agreement 150: give a number from 0 to 100%"),
        (["--min-agreement", "nan"], "--min-agreement nan: give a finite number"),
        (["--samples", "0"], "--samples 0: give 1 or more"),
        (["--threads", "-1"], "--threads -1: give a number from 1 to 1024"),
    ],
)
def test_option_values_are_refused_with_one_line_naming_the_option(sentiment_bundle, capsys, args, fragment):
    add_reference(sentiment_bundle)
    assert check.main([str(sentiment_bundle), *args]) == 1
    err = capsys.readouterr()
    errors = [line for line in err.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and fragment in errors[0] and err.out == "", err


def test_unparsable_option_values_are_one_line_too(capsys):
    with pytest.raises(SystemExit) as stop:
        check.main(["bundle", "--max-drop", "lots"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1 and err.startswith("error: argument --max-drop: invalid float value: 'lots'")


def test_check_options_hold_in_python_as_on_the_command_line(sentiment_bundle):
    add_reference(sentiment_bundle)
    with pytest.raises(OptionError, match="--max-drop nan"):
        check.check_bundle(sentiment_bundle, max_drop=float("nan"))
    with pytest.raises(OptionError, match="--min-agreement 101"):
        check.CheckOptions(min_agreement=101)
    with pytest.raises(TypeError):
        check.check_bundle(sentiment_bundle, max_dorp=1.0)  # a misspelt option is not silently ignored


@pytest.mark.parametrize(
    "damage, fragment",
    [
        ("drop labels", "the reference set has no 'labels'"),
        ("drop probabilities", "the reference set has no 'probabilities'"),
        ("drop gold", "field 'reference.gold' says the set has gold targets, its texts file disagrees"),
        ("gold out of range", "gold targets hold 7, not a label index below 2"),
        ("nan probabilities", "'probabilities' holds values outside 0..1 (or nan)"),
        ("max_drop nan", "field 'reference.max_drop' is nan: give a finite number from 0 to 100"),
    ],
)
def test_a_reference_set_with_a_field_removed_or_out_of_range_is_one_error_line(sentiment_bundle, damage, fragment):
    manifest = add_reference(sentiment_bundle)
    texts_file = sentiment_bundle / manifest["reference"]["texts"]
    document = json.loads(texts_file.read_text())
    if damage.startswith("drop ") and damage != "drop gold":
        del manifest["reference"]["arrays"][damage.split()[1]]
    elif damage == "drop gold":
        document.pop("gold")
    elif damage == "gold out of range":
        document["gold"][0] = 7
    elif damage == "nan probabilities":
        array = np.load(sentiment_bundle / "reference/probabilities.npy")
        array[0, 0] = np.nan
        np.save(sentiment_bundle / "reference/probabilities.npy", array)
    else:
        manifest["reference"]["max_drop"] = float("nan")
    texts_file.write_text(json.dumps(document))
    for name in reference.reference_files(manifest["reference"]):
        manifest["files"][name] = {"sha256": sha256_file(sentiment_bundle / name), "bytes": (sentiment_bundle / name).stat().st_size}
    (sentiment_bundle / "edgeft.json").write_text(json.dumps(manifest))
    done = run_check(sentiment_bundle)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.count("error:") == 1 and fragment in done.stderr, done.stderr


def test_a_bug_in_the_check_is_one_line_not_a_traceback(sentiment_bundle, monkeypatch, capsys):
    add_reference(sentiment_bundle)
    monkeypatch.setattr(check, "check_model", lambda *a: {}["boom"])
    assert check.main([str(sentiment_bundle)]) == 70  # EXIT_BUG, not a usage error's 2
    err = capsys.readouterr().err
    assert err.startswith("error: unexpected KeyError: 'boom'") and "Traceback" not in err
