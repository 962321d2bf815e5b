"""`edgeft distill` on tiny random BERTs: the student cut from the teacher (layer map, copied
weights), the distillation losses, students of classifier, NER and SetFit runs that export through
the unchanged parity gate, the teacher folder left byte for byte as it was, and one-line errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edgeft.cli import app
from edgeft.config import DistillConfig
from edgeft.errors import ConfigError
from edgeft.distill.students import hidden_state_pairs, layer_map, shrink, student_state_dict
from tests import tiny
from tests.conftest import assert_one_error_line, train_tiny_classifier

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def folder_digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the sha256 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- the student's layers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "teacher, student, expected",
    [(6, 3, [0, 2, 4]), (6, 4, [0, 1, 3, 4]), (6, 2, [0, 3]), (6, 1, [0]), (12, 6, [0, 2, 4, 6, 8, 10]), (4, 3, [0, 1, 2])],
)
def test_layers_are_evenly_spaced_from_the_bottom(teacher, student, expected):
    assert layer_map(teacher, student) == expected


def test_hidden_states_meet_at_the_top():
    assert hidden_state_pairs(6, 3) == [(1, 2), (2, 4), (3, 6)]
    assert hidden_state_pairs(6, 4) == [(1, 1), (2, 3), (3, 4), (4, 6)]
    assert hidden_state_pairs(6, 2)[-1] == (2, 6)


def test_student_copies_mapped_layers_embeddings_and_head(tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification

    base = tiny.make_tiny_base(tmp_path / "base4", layers=4)
    teacher = AutoModelForSequenceClassification.from_pretrained(base, num_labels=3).eval()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student, mapping = shrink(teacher, 2)
    assert mapping == [0, 2]
    assert student.config.num_hidden_layers == 2 and len(student.bert.encoder.layer) == 2
    s, t = student.state_dict(), teacher.state_dict()
    for j, i in enumerate(mapping):
        for name, value in student.bert.encoder.layer[j].state_dict().items():
            assert torch.equal(value, teacher.bert.encoder.layer[i].state_dict()[name]), (j, name)
    for key in ("bert.embeddings.word_embeddings.weight", "bert.pooler.dense.weight", "classifier.weight", "classifier.bias"):
        assert torch.equal(s[key], t[key])
    # The teacher is untouched, and the student owns its weights (training it cannot move the teacher's).
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    with torch.no_grad():
        student.classifier.weight.add_(1.0)
    assert torch.equal(teacher.classifier.weight, before["classifier.weight"])
    # Saved and reloaded, it is an ordinary 2-layer model.
    student.save_pretrained(tmp_path / "student")
    again = AutoModelForSequenceClassification.from_pretrained(tmp_path / "student")
    assert again.config.num_hidden_layers == 2
    assert torch.equal(again.classifier.weight, student.classifier.weight)


def test_state_dict_mapping_renames_only_layer_weights():
    import torch

    state = {"enc.layer.0.w": torch.zeros(1), "enc.layer.2.w": torch.ones(1), "enc.layer.1.w": torch.full((1,), 5.0), "head.w": torch.full((1,), 7.0)}
    out = student_state_dict(state, "enc.layer", [0, 2])
    assert sorted(out) == ["enc.layer.0.w", "enc.layer.1.w", "head.w"]
    assert out["enc.layer.1.w"].item() == 1.0 and out["head.w"].item() == 7.0


# --- the losses ------------------------------------------------------------------------------


def test_soft_loss_is_zero_for_identical_outputs_and_scales_with_t_squared():
    import torch

    from edgeft.distill.loss import soft_loss

    teacher = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])
    assert soft_loss(teacher.clone(), teacher, 2.0, multi_label=False).item() == pytest.approx(0.0, abs=1e-6)
    student = torch.zeros_like(teacher)
    import torch.nn.functional as F

    for t in (1.0, 4.0):
        kl = F.kl_div(F.log_softmax(student / t, -1), F.softmax(teacher / t, -1), reduction="batchmean").item()
        assert soft_loss(student, teacher, t, multi_label=False).item() == pytest.approx(kl * t * t, rel=1e-5)
    # Multi-label: the student is pulled towards the teacher's sigmoids.
    logits = torch.zeros(1, 2, requires_grad=True)
    soft_loss(logits, torch.tensor([[5.0, -5.0]]), 1.0, multi_label=True).backward()
    assert logits.grad[0, 0] < 0 < logits.grad[0, 1]


def test_per_token_soft_loss_ignores_padding():
    import torch

    from edgeft.distill.loss import soft_loss

    teacher = torch.randn(2, 4, 5)
    student = torch.randn(2, 4, 5)
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    changed = student.clone()
    changed[0, 3] += 10
    changed[1, 2:] -= 10
    a = soft_loss(student, teacher, 2.0, multi_label=False, mask=mask)
    b = soft_loss(changed, teacher, 2.0, multi_label=False, mask=mask)
    assert a.item() == pytest.approx(b.item())


def test_gold_loss_skips_unlabelled_rows():
    import torch

    from edgeft.distill.loss import IGNORE, gold_loss

    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    only_first = gold_loss(logits[:1], torch.tensor([0]), multi_label=False)
    assert gold_loss(logits, torch.tensor([0, IGNORE]), multi_label=False).item() == pytest.approx(only_first.item())
    assert gold_loss(logits, torch.tensor([IGNORE, IGNORE]), multi_label=False).item() == 0.0
    multi = gold_loss(logits, torch.tensor([[1.0, 0.0], [IGNORE, IGNORE]]), multi_label=True)
    assert multi.item() == pytest.approx(gold_loss(logits[:1], torch.tensor([[1.0, 0.0]]), multi_label=True).item())


def test_distill_config_validates_its_fields():
    with pytest.raises(ConfigError, match="kd_alpha"):
        DistillConfig(kd_alpha=1.5)
    with pytest.raises(ConfigError, match="kd_temperature"):
        DistillConfig(kd_temperature=0)
    with pytest.raises(ConfigError, match="layers"):
        DistillConfig(layers=0)
    assert DistillConfig(epochs=2, seed=3).overrides() == {"epochs": 2, "seed": 3}


# --- classifier: distil -> export -> the teacher untouched ------------------------------------


@pytest.fixture(scope="module")
def teacher4(tmp_path_factory, sentiment_files):
    """A 4-layer tiny classifier run (the teacher)."""
    folder = tmp_path_factory.mktemp("distill")
    base = tiny.make_tiny_base(folder / "base4", layers=4)
    train_tiny_classifier(base, sentiment_files["train"], sentiment_files["dev"], folder / "teacher")
    return folder / "teacher"


@pytest.fixture(scope="module")
def student2(tmp_path_factory, teacher4):
    """`edgeft distill TEACHER --layers 2` with unlabelled texts and the hidden-state loss, through the CLI."""
    folder = tmp_path_factory.mktemp("student")
    unlabelled = folder / "unlabelled.txt"
    unlabelled.write_text("\n".join(text for text, _ in tiny.sentiment_rows(20, seed=9)) + "\n", encoding="utf-8")
    before = folder_digest(teacher4)
    out = folder / "student"
    result = invoke(
        "distill", teacher4, "--layers", 2, "--out", out, "--unlabelled", unlabelled, "--kd-hidden", 1.0,
        "--kd-temperature", 3, "--kd-alpha", 0.7, "--epochs", 4, "--lr", 3e-3, "--seed", 5,
    )
    assert result.exit_code == 0, result.output
    assert f"saved run to {out}" in result.output and f"edgeft export {out} --int8" in result.output
    assert folder_digest(teacher4) == before, "distill changed the teacher's folder"
    return out


def test_student_is_an_ordinary_run_with_the_teacher_metric(student2, teacher4):
    run = json.loads((student2 / "edgeft_run.json").read_text())
    assert run["task"] == "classifier" and run["labels"] == ["neg", "pos"]
    assert json.loads((student2 / "config.json").read_text())["num_hidden_layers"] == 2
    d = run["distillation"]
    assert d["teacher_layers"] == 4 and d["student_layers"] == 2 and d["layer_map"] == [0, 2]
    assert (d["kd_temperature"], d["kd_alpha"], d["kd_hidden"], d["unlabelled_texts"]) == (3.0, 0.7, 1.0, 20)
    metrics = json.loads((student2 / "metrics.json").read_text())
    teacher_metrics = json.loads((teacher4 / "metrics.json").read_text())
    # The teacher's score is measured again on the same eval data: it matches its own run's.
    assert metrics["teacher"]["accuracy"] == pytest.approx(teacher_metrics["accuracy"])
    assert metrics["difference_vs_teacher"]["accuracy"] == pytest.approx(metrics["accuracy"] - metrics["teacher"]["accuracy"])
    assert metrics["unlabelled_examples"] == 20 and metrics["train_examples"] == 96
    config = json.loads((student2 / "train_config.json").read_text())
    assert config["seed"] == 5 and config["epochs"] == 4 and config["train"] == run["train_file"]
    assert (student2 / "eval.jsonl").read_text() == (teacher4 / "eval.jsonl").read_text()
    assert not list(student2.glob("checkpoints")) and not (student2 / "training_args.bin").exists()


def test_student_exports_through_the_parity_gate(tmp_path, student2):
    import edgeft_runtime

    result = invoke("export", student2, "--int8", "--out", tmp_path / "bundle", "--max-drop", 100)
    assert result.exit_code == 0, result.output
    assert "ONNX fp32: accuracy" in result.output and "agreement 100.0%" in result.output
    manifest = json.loads((tmp_path / "bundle" / "edgeft.json").read_text())
    assert manifest["parity"]["variants"]["fp32"]["max_abs_diff"] < 1e-4
    # The accuracy distill reports is the one the gate measures for the same model and data.
    assert manifest["parity"]["reference_metric"] == pytest.approx(100 * json.loads((student2 / "metrics.json").read_text())["accuracy"])
    model = edgeft_runtime.load(tmp_path / "bundle")
    assert model.predict(["the film was great"])[0]["label"] in ("neg", "pos")
    # Like any run's bundle, the student's carries the reference set, and the device check passes on it.
    reference = manifest["reference"]
    assert reference["samples"] == 40 and reference["reference_metric"] == pytest.approx(manifest["parity"]["reference_metric"])
    assert (tmp_path / "bundle" / "reference").is_dir()
    result = invoke("check", tmp_path / "bundle", "--max-drop", 100, "--json")
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.output)["variants"]) == {"fp32", "int8"}


def test_soft_targets_reach_the_loss(tmp_path, teacher4, sentiment_files):
    """Trained on a copy of the training file with every label flipped: with kd_alpha=1 the student
    learns the teacher's answers, not the file's; with kd_alpha=0, the flipped labels."""
    import csv

    from edgeft.distill.train import distill

    rows = list(csv.reader(open(sentiment_files["train"], encoding="utf-8")))
    flipped = tiny.write_csv(tmp_path / "flipped.csv", [(t, {"pos": "neg", "neg": "pos"}[y]) for t, y in rows[1:]])
    common = dict(teacher=str(teacher4), layers=1, train=str(flipped), epochs=6, lr=3e-3, early_stopping_patience=0)
    soft = distill(DistillConfig(**common, out=str(tmp_path / "soft"), kd_alpha=1.0)).metrics
    gold = distill(DistillConfig(**common, out=str(tmp_path / "gold"), kd_alpha=0.0)).metrics
    assert soft["teacher"]["accuracy"] > 0.8
    # Both keep their best epoch on the (unflipped) eval data, so the flipped student is not at 0.
    assert soft["accuracy"] > 0.9 and gold["accuracy"] < soft["accuracy"] - 0.1


# --- NER and SetFit teachers --------------------------------------------------------------


def test_ner_student_exports_and_reports_entity_f1(tmp_path, tiny_base):
    files = {
        "train": tiny.write_conll(tmp_path / "train.conll", tiny.ner_sentences(80, seed=1)),
        "dev": tiny.write_conll(tmp_path / "dev.conll", tiny.ner_sentences(20, seed=2)),
    }
    teacher = tmp_path / "ner"
    result = invoke(
        "train", "ner", "--train", files["train"], "--eval", files["dev"], "--out", teacher, "--base", tiny_base,
        "--epochs", 6, "--lr", 3e-3, "--max-length", 16, "--stride", 4, "--set", "early_stopping_patience=0", "--set", "logging_steps=1000",
    )
    assert result.exit_code == 0, result.output
    before = folder_digest(teacher)
    unlabelled = tmp_path / "more.jsonl"
    unlabelled.write_text("".join(json.dumps({"text": "anna met otto in paris ."}) + "\n" for _ in range(3)), encoding="utf-8")
    student = tmp_path / "ner-l1"
    result = invoke("distill", teacher, "--layers", 1, "--out", student, "--unlabelled", unlabelled, "--epochs", 4, "--lr", 3e-3)
    assert result.exit_code == 0, result.output
    assert folder_digest(teacher) == before
    run = json.loads((student / "edgeft_run.json").read_text())
    assert run["task"] == "ner" and run["ner"] == json.loads((teacher / "edgeft_run.json").read_text())["ner"]
    metrics = json.loads((student / "metrics.json").read_text())
    assert {"entity_f1", "per_type", "teacher", "difference_vs_teacher"} <= set(metrics)
    assert metrics["teacher"]["entity_f1"] == pytest.approx(json.loads((teacher / "metrics.json").read_text())["entity_f1"])
    result = invoke("export", student, "--int8", "--out", tmp_path / "bundle", "--max-drop", 100)
    assert result.exit_code == 0, result.output
    assert "ONNX fp32: entity_f1" in result.output
    # The F1 distill reports is the F1 the export gate measures for the same PyTorch model on the
    # same sentences (windows decoded in their order: batches grouped by length must not reorder them).
    parity = json.loads((tmp_path / "bundle" / "edgeft.json").read_text())["parity"]
    assert parity["reference_metric"] == pytest.approx(100 * metrics["entity_f1"], abs=1e-6)


def test_setfit_student_uses_setfits_distillation_trainer(tmp_path, tiny_base, sentiment_files):
    pytest.importorskip("setfit")
    teacher = tmp_path / "setfit"
    result = invoke(
        "train", "setfit", "--train", sentiment_files["train"], "--eval", sentiment_files["dev"], "--out", teacher,
        "--base", tiny_base, "--shots", 8, "--num-iterations", 4, "--lr", 1e-3, "--max-length", 32, "--set", "logging_steps=1000",
    )
    assert result.exit_code == 0, result.output
    before = folder_digest(teacher)
    unlabelled = tmp_path / "more.txt"
    unlabelled.write_text("\n".join(text for text, _ in tiny.sentiment_rows(24, seed=4)) + "\n", encoding="utf-8")
    student = tmp_path / "setfit-l1"
    result = invoke("distill", teacher, "--layers", 1, "--out", student, "--unlabelled", unlabelled)
    assert result.exit_code == 0, result.output
    assert folder_digest(teacher) == before
    run = json.loads((student / "edgeft_run.json").read_text())
    assert run["task"] == "setfit" and run["distillation"]["method"] == "setfit.DistillationTrainer"
    assert json.loads((student / "config.json").read_text())["num_hidden_layers"] == 1
    assert not [p for p in student.rglob("*") if p.suffix in (".pkl", ".joblib", ".bin")]
    metrics = json.loads((student / "metrics.json").read_text())
    assert "accuracy" in metrics["teacher"] and metrics["train_examples"] == 16 and metrics["unlabelled_examples"] == 24
    result = invoke("export", student, "--int8", "--out", tmp_path / "bundle", "--max-drop", 100)
    assert result.exit_code == 0, result.output


# --- errors: one line each, nothing written ---------------------------------------------------


def test_layers_not_below_the_teachers_is_one_line(tmp_path, tiny_run):
    for k in (2, 3):
        result = invoke("distill", tiny_run, "--layers", k, "--out", tmp_path / "s")
        assert_one_error_line(result, f"--layers {k}", "fewer layers than the teacher's 2")
    assert not (tmp_path / "s").exists()


def test_teacher_that_is_not_a_run_is_one_line(tmp_path, tiny_base):
    result = invoke("distill", tiny_base, "--layers", 1, "--out", tmp_path / "s")
    assert_one_error_line(result, str(tiny_base), "not an edgeft run")
    result = invoke("distill", tmp_path / "nowhere", "--layers", 1, "--out", tmp_path / "s")
    assert_one_error_line(result, "no such run folder")


def test_missing_data_files_are_one_line(tmp_path, tiny_run, sentiment_files):
    import shutil

    result = invoke("distill", tiny_run, "--layers", 1, "--out", tmp_path / "s", "--unlabelled", tmp_path / "absent.txt")
    assert_one_error_line(result, "absent.txt", "--unlabelled file not found")
    # A teacher whose training file has moved: the message names it and the flag that replaces it.
    moved = tmp_path / "teacher"
    shutil.copytree(tiny_run, moved)
    run = json.loads((moved / "edgeft_run.json").read_text())
    run["train_file"] = str(tmp_path / "gone.csv")
    (moved / "edgeft_run.json").write_text(json.dumps(run))
    result = invoke("distill", moved, "--layers", 1, "--out", tmp_path / "s")
    assert_one_error_line(result, "gone.csv", "file not found", "--train FILE")
    assert not (tmp_path / "s").exists()


def test_out_must_not_be_the_teacher(tiny_run):
    before = folder_digest(tiny_run)
    result = invoke("distill", tiny_run, "--layers", 1, "--out", tiny_run, "--overwrite")
    assert_one_error_line(result, "teacher", "never modified")
    assert folder_digest(tiny_run) == before


def test_kd_options_are_checked_before_work(tmp_path, tiny_run):
    result = invoke("distill", tiny_run, "--layers", 1, "--out", tmp_path / "s", "--kd-alpha", 2)
    assert_one_error_line(result, "kd_alpha")
    result = invoke("distill", tiny_run, "--out", tmp_path / "s")
    assert_one_error_line(result, "--layers")


def test_hidden_loss_moves_the_student_towards_the_teachers_states():
    import torch

    from edgeft.distill.loss import hidden_loss

    t = [torch.zeros(1, 3, 4), torch.ones(1, 3, 4)]
    s = [torch.zeros(1, 3, 4), torch.zeros(1, 3, 4, requires_grad=True)]
    mask = torch.tensor([[1, 1, 0]])
    loss = hidden_loss(s, t, [(1, 1)], mask)
    assert loss.item() == pytest.approx(1.0)
    loss.backward()
    assert (s[1].grad[0, :2] < 0).all() and (s[1].grad[0, 2] == 0).all()
    assert np.isfinite(loss.item())


def test_the_teachers_fine_tuning_techniques_do_not_carry_over(tmp_path):
    """A student trains every weight once, whatever freezing, adapters, decay or seeds its teacher used."""
    from edgeft.config import ClassifierConfig
    from edgeft.distill.train import Teacher, student_config

    taught = ClassifierConfig(freeze="layers:1", layerwise_lr_decay=0.8, reinit_top_layers=1, seeds=[1, 2, 3], lr=1e-4)
    teacher = Teacher(tmp_path, {}, "classifier", taught, 4)
    student = student_config(teacher, DistillConfig(teacher=str(tmp_path), out=str(tmp_path / "s"), layers=2, epochs=2))
    assert (student.freeze, student.peft, student.layerwise_lr_decay, student.reinit_top_layers, student.seeds) == ("none", "none", 1.0, 0, [])
    assert (student.lr, student.epochs) == (1e-4, 2)  # other options still default to the teacher's


def test_adapter_only_teacher_is_one_line(tmp_path, tiny_run):
    import shutil

    from edgeft_exporters.constants import ADAPTER_DIR

    teacher = tmp_path / "lora-teacher"
    shutil.copytree(tiny_run, teacher)
    (teacher / "config.json").unlink()
    (teacher / ADAPTER_DIR).mkdir()
    (teacher / ADAPTER_DIR / "adapter_config.json").write_text("{}")
    result = invoke("distill", teacher, "--layers", 1, "--out", tmp_path / "s")
    assert_one_error_line(result, "keeps only its adapter (save_merged=false)", "save_merged=true")
    assert not (tmp_path / "s").exists()
