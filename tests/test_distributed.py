"""Distributed training actually run: `torchrun --nproc-per-node 2 -m edgeft train classifier` and
`accelerate launch --multi_gpu --num_processes 2 -m edgeft ...` on CPU (gloo). Both processes train (each on half of every epoch, so the run takes half the steps),
only the main one writes the run folder, and the run exports and loads like any other."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

EPOCHS, BATCH = 2, 8


def launch(launcher: list[str], tiny_base, sentiment_files, out) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    args = [
        "train", "classifier", "--train", str(sentiment_files["train"]), "--eval", str(sentiment_files["dev"]),
        "--out", str(out), "--base", str(tiny_base), "--epochs", str(EPOCHS), "--batch-size", str(BATCH),
        "--max-length", "32", "--set", "early_stopping_patience=0", "--set", "device=cpu",
    ]
    return subprocess.run([*launcher, "-m", "edgeft", *args], capture_output=True, text=True, env=env, timeout=600)


def check_run(proc, out, sentiment_files, tmp_path) -> None:
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("saved run to") == 1  # the main process reports; the other stays quiet
    run = json.loads((out / "edgeft_run.json").read_text())
    train_rows = sum(1 for _ in open(sentiment_files["train"])) - 1
    assert run["world_size"] == 2
    # Each process took half of every epoch: the steps of one process with the batch doubled.
    assert run["train_steps"] == EPOCHS * math.ceil(train_rows / (2 * BATCH))
    assert json.loads((out / "metrics.json").read_text())["eval_examples"] == 40
    assert not any(p.name.startswith(".") for p in out.parent.iterdir())  # no partial folder left behind

    from edgeft_exporters.api import ExportOptions, export_run
    import edgeft_runtime

    bundle = tmp_path / "bundle"
    export_run(out, bundle, ExportOptions(int8=True, max_drop=100.0))
    assert edgeft_runtime.load(bundle).predict("a good film")["label"] in ("pos", "neg")


def test_torchrun_two_processes_on_cpu(tmp_path, tiny_base, sentiment_files):
    out = tmp_path / "runs" / "ddp"
    proc = launch([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"], tiny_base, sentiment_files, out)
    check_run(proc, out, sentiment_files, tmp_path)


def test_accelerate_launch_two_processes_on_cpu(tmp_path, tiny_base, sentiment_files):
    # --multi_gpu is accelerate's torchrun path; without GPUs the Trainer (use_cpu) joins it over
    # gloo. (accelerate's --cpu multi-process mode needs mpirun instead.)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    launcher = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(port),
    ]
    out = tmp_path / "runs" / "accelerate"
    check_run(launch(launcher, tiny_base, sentiment_files, out), out, sentiment_files, tmp_path)


def test_torchrun_seeds_with_lora(tmp_path, tiny_base, sentiment_files):
    """--seeds under torchrun: both processes train every seed, the main one keeps the best."""
    out = tmp_path / "runs" / "seeds"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    args = [
        "train", "classifier", "--train", str(sentiment_files["train"]), "--eval", str(sentiment_files["dev"]),
        "--out", str(out), "--base", str(tiny_base), "--epochs", "1", "--batch-size", str(BATCH), "--max-length", "32",
        "--seeds", "1,2", "--peft", "lora", "--set", "early_stopping_patience=0", "--set", "device=cpu",
    ]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    proc = subprocess.run([*launcher, "-m", "edgeft", *args], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("saved run to") == 1 and proc.stdout.count("kept the run of seed") == 1
    seeds = json.loads((out / "metrics.json").read_text())["seeds"]
    assert [r["seed"] for r in seeds["runs"]] == [1, 2]
    assert json.loads((out / "edgeft_run.json").read_text())["world_size"] == 2
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    assert not any(p.name.startswith(".") for p in out.parent.iterdir())
