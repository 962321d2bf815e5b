"""Which weights train and how: freezing, LoRA adapters (peft), layer-wise learning rates,
re-initialised top layers and --seeds, on tiny in-process models."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from edgeft.cli import app
from edgeft.config import ClassifierConfig, MlmConfig, NerConfig, SetFitConfig, parse_freeze
from edgeft.config_loader import build_config
from edgeft.errors import ConfigError
from tests import tiny
from tests.conftest import assert_one_error_line, train_tiny_classifier
from tests.reference_checks import assert_reference_round_trip

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


# --- config -----------------------------------------------------------------------------------


def test_freeze_specs_parse_and_bad_ones_are_named():
    assert parse_freeze("none") == ("none", 0)
    assert parse_freeze("Encoder") == ("encoder", 0)
    assert parse_freeze("layers:3") == ("layers", 3)
    for bad in ("layers", "layers:x", "layers:-1", "top:2", "all"):
        with pytest.raises(ConfigError, match=f"freeze={bad!r} must be none, embeddings, encoder or layers:N"):
            ClassifierConfig(freeze=bad)


def test_options_that_do_not_combine_are_refused():
    with pytest.raises(ConfigError, match="freeze='layers:2' and peft='lora' do not combine"):
        ClassifierConfig(freeze="layers:2", peft="lora")
    with pytest.raises(ConfigError, match="reinit_top_layers=1 with peft='lora'"):
        ClassifierConfig(reinit_top_layers=1, peft="lora")
    with pytest.raises(ConfigError, match="save_merged=false needs peft=lora"):
        ClassifierConfig(save_merged=False)
    with pytest.raises(ConfigError, match="layerwise_lr_decay=1.5 must be in"):
        ClassifierConfig(layerwise_lr_decay=1.5)
    with pytest.raises(ConfigError, match="seeds=\\[1, 1\\] must be distinct"):
        ClassifierConfig(seeds=[1, 1])


def test_seeds_and_modules_from_flags_set_and_files(tmp_path):
    config = build_config(NerConfig, flags={"seeds": "1,2,3", "lora_target_modules": "query,key"})
    assert config.seeds == [1, 2, 3] and config.lora_target_modules == ["query", "key"]
    assert build_config(ClassifierConfig, overrides=["seeds=4, 5"]).seeds == [4, 5]
    (tmp_path / "c.toml").write_text("seeds = [7, 8]\n")
    assert build_config(ClassifierConfig, config_file=tmp_path / "c.toml").seeds == [7, 8]
    with pytest.raises(ConfigError, match="seeds='a' is not a valid int"):
        build_config(ClassifierConfig, overrides=["seeds=1,a"])


def test_tasks_refuse_the_options_they_do_not_use():
    with pytest.raises(ConfigError, match="'peft' is not used by this task"):
        build_config(SetFitConfig, overrides=["peft=lora"])
    with pytest.raises(ConfigError, match="'freeze' is not used by this task"):
        build_config(MlmConfig, overrides=["freeze=encoder"])
    assert build_config(SetFitConfig, overrides=["freeze=layers:1", "seeds=1,2"]).seeds == [1, 2]


# --- freezing: gradients and optimizer state ----------------------------------------------------


def trained_trainer(tiny_base, tmp_path, task="classifier", **overrides):
    """A Trainer built as the tasks build it, after one epoch on toy data; also the model's
    parameters before training (name -> tensor)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding

    from edgeft.devices import select_device
    from edgeft.tasks.common import supervised_trainer
    from edgeft.tasks.tuning import prepare_model

    config = ClassifierConfig(
        base=str(tiny_base), epochs=1, batch_size=8, lr=1e-2, max_length=32, early_stopping_patience=0, logging_steps=1000, **overrides
    )
    model = AutoModelForSequenceClassification.from_pretrained(tiny_base, num_labels=2)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    prepared = prepare_model(model, config, task)
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    rows = [{**tokenizer(t, truncation=True, max_length=32), "labels": int(label == "pos")} for t, label in tiny.sentiment_rows(32, seed=1)]
    trainer = supervised_trainer(
        config, select_device(config), tmp_path, model=prepared.model, train_rows=rows, eval_rows=rows[:8],
        collator=DataCollatorWithPadding(tokenizer), tokenizer=tokenizer, compute_metrics=None, metric="loss",
    )
    trainer.train()
    return trainer, model, before, prepared


def optimizer_of(trainer):
    return getattr(trainer.optimizer, "optimizer", trainer.optimizer)  # accelerate wraps it


@pytest.mark.parametrize(
    "freeze, frozen_prefixes, trained_prefixes",
    [
        ("layers:1", ("bert.embeddings.", "bert.encoder.layer.0."), ("bert.encoder.layer.1.", "bert.pooler.", "classifier.")),
        ("encoder", ("bert.embeddings.", "bert.encoder."), ("bert.pooler.", "classifier.")),
        ("embeddings", ("bert.embeddings.",), ("bert.encoder.layer.0.", "bert.encoder.layer.1.", "classifier.")),
    ],
)
def test_frozen_parameters_get_no_gradient_no_optimizer_state_and_do_not_move(tiny_base, tmp_path, freeze, frozen_prefixes, trained_prefixes):
    trainer, model, before, prepared = trained_trainer(tiny_base, tmp_path, freeze=freeze)
    optimizer = optimizer_of(trainer)
    in_groups = {id(p) for group in optimizer.param_groups for p in group["params"]}
    with_state = {id(p) for p in optimizer.state}
    named = dict(model.named_parameters())
    frozen = {n for n in named if n.startswith(frozen_prefixes)}
    trained = {n for n in named if n.startswith(trained_prefixes)}
    assert frozen and trained
    for name in frozen:
        p = named[name]
        assert not p.requires_grad and p.grad is None, name
        assert id(p) not in in_groups and id(p) not in with_state, name
        assert torch_equal(p, before[name]), name
    for name in trained:
        p = named[name]
        assert p.requires_grad and id(p) in in_groups and id(p) in with_state, name
    assert any(not torch_equal(named[n], before[n]) for n in trained)
    assert {id(p) for p in named.values() if p.requires_grad} == in_groups
    counts = prepared.info["parameters"]
    assert counts["total"] == sum(p.numel() for p in named.values())
    assert counts["trainable"] == sum(named[n].numel() for n in named if named[n].requires_grad) < counts["total"]


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.equal(a.detach(), b))


def test_freezing_more_layers_than_the_model_has_is_refused(tiny_base):
    from transformers import AutoModelForSequenceClassification

    from edgeft.tasks.freezing import apply_freeze

    model = AutoModelForSequenceClassification.from_pretrained(tiny_base, num_labels=2)
    with pytest.raises(ConfigError, match="freeze='layers:3': the model has 2 encoder layers; use layers:0 to layers:2"):
        apply_freeze(model, "layers:3")


def test_freezing_everything_is_refused(tiny_base):
    from transformers import AutoModel

    from edgeft.tasks.freezing import apply_freeze

    encoder = AutoModel.from_pretrained(tiny_base, add_pooling_layer=False)  # no head, no pooler
    with pytest.raises(ConfigError, match="freezes every parameter of BertModel: nothing would train"):
        apply_freeze(encoder, "encoder")


def test_setfit_freezing_every_body_layer_is_refused_in_one_line(tmp_path, tiny_base, sentiment_files):
    result = invoke(
        "train", "setfit", "--train", sentiment_files["train"], "--eval", sentiment_files["dev"], "--out", tmp_path / "x",
        "--base", tiny_base, "--freeze", "layers:2",
    )
    assert_one_error_line(result, "freeze='layers:2' freezes every layer of the SetFit body (2)", "freeze=encoder")


def test_setfit_frozen_encoder_fits_only_the_head(tmp_path, tiny_base, sentiment_files):
    from safetensors.numpy import load_file

    out = tmp_path / "frozen"
    result = invoke(
        "train", "setfit", "--train", sentiment_files["train"], "--eval", sentiment_files["dev"], "--out", out,
        "--base", tiny_base, "--shots", 8, "--freeze", "encoder", "--max-length", 32,
    )
    assert result.exit_code == 0, result.output
    run = json.loads((out / "edgeft_run.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["pairs"] == 0 and run["tuning"]["freeze"] == "encoder"
    assert run["parameters"]["body"]["trainable"] == 0 and run["parameters"]["trainable"] == 32 + 1  # logistic regression on 32 dimensions
    # The body is the base model's weights, unchanged.
    from transformers import AutoModel

    base = AutoModel.from_pretrained(tiny_base).state_dict()
    saved = load_file(str(out / "model.safetensors"))
    assert all(np.array_equal(saved[k], base[k].numpy()) for k in saved if k in base)


def test_frozen_run_records_parameters_in_the_run_file(tmp_path, tiny_base, sentiment_files):
    out = tmp_path / "l1"
    train_tiny_classifier(tiny_base, sentiment_files["train"], sentiment_files["dev"], out, freeze="layers:1")
    run = json.loads((out / "edgeft_run.json").read_text())
    assert run["tuning"]["freeze"] == "layers:1" and run["tuning"]["frozen_layers"] == 1
    assert 0 < run["parameters"]["trainable"] < run["parameters"]["total"]


# --- layer-wise learning rate and re-initialisation ---------------------------------------------


def test_layerwise_decay_gives_each_layer_its_rate(tiny_base, tmp_path):
    trainer, model, _, _ = trained_trainer(tiny_base, tmp_path, layerwise_lr_decay=0.5)
    optimizer = optimizer_of(trainer)
    rate = {id(p): group["initial_lr"] for group in optimizer.param_groups for p in group["params"]}
    named = dict(model.named_parameters())
    lr = 1e-2
    expected = {
        "classifier.weight": lr,
        "bert.pooler.dense.weight": lr,
        "bert.encoder.layer.1.attention.self.query.weight": lr * 0.5,
        "bert.encoder.layer.0.attention.self.query.weight": lr * 0.25,
        "bert.embeddings.word_embeddings.weight": lr * 0.125,
    }
    for name, value in expected.items():
        assert rate[id(named[name])] == pytest.approx(value), name
    decay = {id(p): group["weight_decay"] for group in optimizer.param_groups for p in group["params"]}
    assert decay[id(named["bert.encoder.layer.0.attention.self.query.bias"])] == 0.0
    assert decay[id(named["bert.encoder.layer.0.attention.self.query.weight"])] == 0.01


def test_reinit_top_layers_changes_only_the_top(tiny_base):
    import torch
    from transformers import AutoModelForSequenceClassification

    from edgeft.tasks.freezing import reinit_top_layers

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_base, num_labels=2)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    reinit_top_layers(model, 1)
    after = dict(model.named_parameters())
    changed = {n for n in after if not torch.equal(after[n], before[n])}
    assert any(n.startswith("bert.encoder.layer.1.") for n in changed) and any(n.startswith("bert.pooler.") for n in changed)
    assert not any(n.startswith(("bert.encoder.layer.0.", "bert.embeddings.")) for n in changed)
    with pytest.raises(ConfigError, match="re-initialises layers that freeze keeps frozen"):
        reinit_top_layers(model, 2, frozen_layers=1)


# --- LoRA -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory, tiny_base, sentiment_files):
    out = tmp_path_factory.mktemp("lora") / "run"
    result = invoke(
        "train", "classifier", "--train", sentiment_files["train"], "--eval", sentiment_files["dev"], "--out", out,
        "--base", tiny_base, "--epochs", 6, "--lr", 1e-2, "--max-length", 32, "--peft", "lora", "--lora-r", 4,
        "--set", "early_stopping_patience=0", "--set", "logging_steps=1000",
    )
    assert result.exit_code == 0, result.output
    return out


def logits_of(model, tokenizer, texts):
    import torch

    with torch.inference_mode():
        return model.eval()(**tokenizer(texts, padding=True, return_tensors="pt")).logits.numpy()


def test_lora_run_keeps_the_adapter_and_an_ordinary_merged_model(lora_run, tiny_base):
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    assert {"adapter_model.safetensors", "adapter_config.json"} <= {p.name for p in (lora_run / "adapter").iterdir()}
    assert (lora_run / "model.safetensors").is_file() and not (lora_run / "adapter_config.json").exists()
    run = json.loads((lora_run / "edgeft_run.json").read_text())
    assert run["tuning"]["peft"] == "lora" and run["tuning"]["lora"]["r"] == 4 and run["tuning"]["lora"]["merged"]
    assert 0 < run["parameters"]["trainable"] < run["parameters"]["total"] / 2
    adapter_config = json.loads((lora_run / "adapter" / "adapter_config.json").read_text())
    assert sorted(adapter_config["target_modules"]) == ["query", "value"]
    assert {"classifier", "pooler"} <= set(adapter_config["modules_to_save"])

    tokenizer = AutoTokenizer.from_pretrained(lora_run)
    texts = [t for t, _ in tiny.sentiment_rows(12, seed=9)]
    merged = AutoModelForSequenceClassification.from_pretrained(lora_run)
    base = AutoModelForSequenceClassification.from_pretrained(tiny_base, num_labels=2, id2label=merged.config.id2label, label2id=merged.config.label2id)
    with_adapter = PeftModel.from_pretrained(base, lora_run / "adapter")
    np.testing.assert_allclose(logits_of(merged, tokenizer, texts), logits_of(with_adapter, tokenizer, texts), atol=1e-5)
    plain = AutoModelForSequenceClassification.from_pretrained(tiny_base, num_labels=2)
    assert not np.allclose(logits_of(merged, tokenizer, texts), logits_of(plain, tokenizer, texts), atol=1e-3)
    # The eval metric of the trained (unmerged) model is what the merged model scores.
    metrics = json.loads((lora_run / "metrics.json").read_text())
    rows = [json.loads(line) for line in (lora_run / "eval.jsonl").read_text().splitlines()]
    labels = run["labels"]
    predicted = logits_of(merged, tokenizer, [r["text"] for r in rows]).argmax(-1)
    accuracy = float(np.mean([labels[p] == r["labels"][0] for p, r in zip(predicted, rows)]))
    assert accuracy == pytest.approx(metrics["accuracy"])


def test_adapter_only_run_exports_the_same_graph_as_the_merged_one(lora_run, tmp_path):
    import onnx

    from edgeft_exporters.api import ExportOptions, export_run

    import edgeft_runtime

    adapter_only = tmp_path / lora_run.name
    shutil.copytree(lora_run, adapter_only)
    for name in ("config.json", "model.safetensors"):
        (adapter_only / name).unlink()
    merged = export_run(lora_run, tmp_path / "from-merged", ExportOptions(int8=True, max_drop=100)).manifest
    on_the_fly = export_run(adapter_only, tmp_path / "from-adapter", ExportOptions(int8=True, max_drop=100)).manifest
    assert on_the_fly["source"]["run"] == lora_run.name
    metrics = json.loads((lora_run / "metrics.json").read_text())
    assert on_the_fly["parity"]["variants"]["fp32"]["metric"] == pytest.approx(100 * metrics["accuracy"])
    texts = [t for t, _ in tiny.sentiment_rows(12, seed=5)]
    a = edgeft_runtime.load(tmp_path / "from-merged", variant="fp32").predict_proba(texts)
    b = edgeft_runtime.load(tmp_path / "from-adapter", variant="fp32").predict_proba(texts)
    np.testing.assert_allclose(a, b, atol=1e-6)
    graphs = [onnx.load(str(tmp_path / f / "model.onnx")).graph for f in ("from-merged", "from-adapter")]
    assert [n.op_type for n in graphs[0].node] == [n.op_type for n in graphs[1].node]
    assert {i.name: tuple(i.dims) for i in graphs[0].initializer} == {i.name: tuple(i.dims) for i in graphs[1].initializer}
    assert merged["variants"].keys() == on_the_fly["variants"].keys()
    # The reference set for the check on the device holds the merged model's answers either way.
    rows = [json.loads(line) for line in (lora_run / "eval.jsonl").read_text().splitlines()]
    from_merged, _ = assert_reference_round_trip(tmp_path / "from-merged", [r["text"] for r in rows], "accuracy")
    from_adapter, _ = assert_reference_round_trip(tmp_path / "from-adapter", [r["text"] for r in rows], "accuracy")
    np.testing.assert_allclose(from_adapter.observed["probabilities"], from_merged.observed["probabilities"], atol=1e-6)


def test_adapter_only_run_as_base_is_a_clear_error(lora_run, tmp_path, sentiment_files):
    adapter_only = tmp_path / "adapter-only"
    shutil.copytree(lora_run, adapter_only)
    (adapter_only / "config.json").unlink()
    result = invoke("train", "classifier", "--train", sentiment_files["train"], "--out", tmp_path / "x", "--base", adapter_only)
    assert_one_error_line(result, "keeps only its adapter (save_merged=false)", "save_merged=true")


def test_adapter_only_reference_for_bench_is_merged(lora_run, tmp_path):
    from edgeft.bench.pytorch_reference import load_reference

    adapter_only = tmp_path / lora_run.name
    shutil.copytree(lora_run, adapter_only)
    for name in ("config.json", "model.safetensors"):
        (adapter_only / name).unlink()
    texts = [t for t, _ in tiny.sentiment_rows(6, seed=4)]
    np.testing.assert_allclose(load_reference(adapter_only, 1)[0](texts), load_reference(lora_run, 1)[0](texts), atol=1e-6)


def test_unknown_lora_module_names_the_models_modules(tmp_path, tiny_base, sentiment_files):
    result = invoke(
        "train", "classifier", "--train", sentiment_files["train"], "--out", tmp_path / "x", "--base", tiny_base,
        "--peft", "lora", "--lora-target-modules", "query,q_proj",
    )
    line = assert_one_error_line(result, "lora_target_modules: 'q_proj' is not a linear module of BertForSequenceClassification (bert)")
    assert "its modules are: dense, key, query, value" in line


def test_missing_peft_prints_the_install_command(tmp_path, tiny_base, sentiment_files, monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)  # what an environment without peft imports
    result = invoke("train", "classifier", "--train", sentiment_files["train"], "--out", tmp_path / "x", "--base", tiny_base, "--peft", "lora")
    assert_one_error_line(result, "--peft lora needs peft, which is not installed: pip install 'edgeft[peft]'")


def test_ner_lora_adapter_only_run_exports(tmp_path, tiny_base):
    files = {
        "train": tiny.write_conll(tmp_path / "train.conll", tiny.ner_sentences(80, seed=1)),
        "dev": tiny.write_conll(tmp_path / "dev.conll", tiny.ner_sentences(20, seed=2)),
    }
    run, bundle = tmp_path / "run", tmp_path / "bundle"
    result = invoke(
        "train", "ner", "--train", files["train"], "--eval", files["dev"], "--out", run, "--base", tiny_base,
        "--epochs", 4, "--lr", 1e-2, "--max-length", 16, "--stride", 4, "--peft", "lora", "--set", "save_merged=false",
        "--set", "early_stopping_patience=0", "--set", "logging_steps=1000",
    )
    assert result.exit_code == 0, result.output
    assert not (run / "model.safetensors").exists() and (run / "adapter" / "adapter_model.safetensors").is_file()
    adapter_config = json.loads((run / "adapter" / "adapter_config.json").read_text())
    assert adapter_config["task_type"] == "TOKEN_CLS" and "classifier" in adapter_config["modules_to_save"]
    result = invoke("export", run, "--out", bundle)
    assert result.exit_code == 0, result.output
    manifest = json.loads((bundle / "edgeft.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    assert manifest["parity"]["variants"]["fp32"]["metric"] == pytest.approx(100 * metrics["entity_f1"])


def test_ner_frozen_encoder_trains_only_the_token_head(tmp_path, tiny_base):
    files = {"train": tiny.write_conll(tmp_path / "train.conll", tiny.ner_sentences(40, seed=1))}
    run = tmp_path / "run"
    result = invoke(
        "train", "ner", "--train", files["train"], "--out", run, "--base", tiny_base, "--epochs", 1, "--max-length", 16,
        "--freeze", "encoder", "--set", "logging_steps=1000",
    )
    assert result.exit_code == 0, result.output
    info = json.loads((run / "edgeft_run.json").read_text())
    labels = len(info["labels"])
    assert info["parameters"]["trainable"] == 32 * labels + labels  # the token classifier on hidden size 32


# --- seeds --------------------------------------------------------------------------------------


def test_seeds_train_one_run_each_and_keep_the_best(tmp_path, tiny_base, sentiment_files):
    out = tmp_path / "seeded"
    result = invoke(
        "train", "classifier", "--train", sentiment_files["train"], "--eval", sentiment_files["dev"], "--out", out,
        "--base", tiny_base, "--epochs", 2, "--lr", 3e-3, "--max-length", 32, "--seeds", "1,2,3",
        "--set", "early_stopping_patience=0", "--set", "logging_steps=1000",
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    seeds = metrics["seeds"]
    values = [r["accuracy"] for r in seeds["runs"]]
    assert [r["seed"] for r in seeds["runs"]] == [1, 2, 3] and seeds["metric"] == "accuracy"
    assert seeds["mean"] == pytest.approx(np.mean(values)) and seeds["sd"] == pytest.approx(np.std(values, ddof=1))
    assert seeds["best_seed"] == [1, 2, 3][int(np.argmax(values))]
    assert metrics["accuracy"] == max(values)
    assert f"kept the run of seed {seeds['best_seed']}" in result.output
    assert not (out / "seed-runs").exists() and not list(tmp_path.glob(".*partial"))
    run = json.loads((out / "edgeft_run.json").read_text())
    assert run["seeds"]["best_seed"] == seeds["best_seed"] and "runs" not in run["seeds"]
    assert json.loads((out / "train_config.json").read_text())["seeds"] == [1, 2, 3]
    # The kept model is the best seed's: its predictions score the best seed's accuracy.
    from edgeft.bench.pytorch_reference import load_reference

    rows = [json.loads(line) for line in (out / "eval.jsonl").read_text().splitlines()]
    probs = load_reference(out, 1)[0]([r["text"] for r in rows])
    accuracy = np.mean([run["labels"][p] == r["labels"][0] for p, r in zip(probs.argmax(-1), rows)])
    assert accuracy == pytest.approx(max(values))


# --- --resume ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        ["--freeze", "layers:1", "--layerwise-lr-decay", 0.8],
        ["--peft", "lora", "--set", "save_merged=false"],
    ],
    ids=["frozen-layerwise", "lora"],
)
def test_frozen_and_lora_runs_resume_after_a_kill(tmp_path, tiny_base, sentiment_files, options):
    from tests.test_interrupts import start, train_args, wait_for

    out = tmp_path / "run"
    partial = tmp_path / ".run.partial"
    args = [*train_args(tiny_base, sentiment_files, out), *options]
    proc = start(*args)
    wait_for(lambda: any((partial / "checkpoints").glob("checkpoint-*/trainer_state.json")), proc)
    proc.kill()
    proc.wait()
    from edgeft.tasks.common import last_checkpoint

    checkpoint = last_checkpoint(partial)  # the newest complete one (a kill can cut a later save short)
    # What the Trainer reloads: the adapter (and trained head) for LoRA, the whole model otherwise,
    # and the optimizer state of the trainable parameters only (a mismatch fails loading it).
    weights = "adapter_model.safetensors" if "lora" in options else "model.safetensors"
    assert (checkpoint / weights).is_file() and (checkpoint / "optimizer.pt").is_file()
    proc = start(*args, "--resume")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert f"resuming from {checkpoint}" in err
    run = json.loads((out / "edgeft_run.json").read_text())
    assert run["parameters"]["trainable"] < run["parameters"]["total"] and (out / "metrics.json").is_file()


def test_seeds_resume_keeps_the_finished_seeds(tmp_path, tiny_base, sentiment_files):
    from tests.test_interrupts import start, train_args, wait_for

    out = tmp_path / "run"
    seed_runs = tmp_path / ".run.partial" / "seed-runs"
    args = [*train_args(tiny_base, sentiment_files, out, epochs=4), "--seeds", "1,2"]
    proc = start(*args)
    wait_for(lambda: (seed_runs / "seed-1" / "edgeft_run.json").is_file(), proc, timeout=300)
    proc.kill()
    proc.wait()
    first = (seed_runs / "seed-1" / "model.safetensors").read_bytes()
    proc = start(*args, "--resume")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert "seed 1: kept from the interrupted run" in err
    seeds = json.loads((out / "metrics.json").read_text())["seeds"]
    assert [r["seed"] for r in seeds["runs"]] == [1, 2]
    if seeds["best_seed"] == 1:
        assert (out / "model.safetensors").read_bytes() == first


def test_resume_skips_a_checkpoint_cut_off_mid_save(tmp_path):
    """The Trainer writes trainer_state.json last: a newer folder without it is not resumed from."""
    from edgeft.tasks.common import last_checkpoint

    folder = tmp_path / "checkpoints"
    for step, complete in ((6, True), (12, False)):
        (folder / f"checkpoint-{step}").mkdir(parents=True)
        if complete:
            (folder / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    assert last_checkpoint(tmp_path) == folder / "checkpoint-6"
    (folder / "checkpoint-12" / "trainer_state.json").write_text("{}")
    assert last_checkpoint(tmp_path) == folder / "checkpoint-12"
    assert last_checkpoint(tmp_path / "none") is None
