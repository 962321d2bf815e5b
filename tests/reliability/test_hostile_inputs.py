"""Hostile input against a real int8 bundle (the offline MiniLM fine-tuned on the demo data):
nothing lost, nothing left running, nothing unexpected.

Each case ends either in the right result (a resumed output byte-identical to an uninterrupted
one) or in exactly one `error:` line naming the file, field or option and what to do, a non-zero
exit and no traceback; files outside a bundle are never read; no process outlives its parent.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from edgeft.cli import app
from tests.conftest import assert_one_error_line
from tests.reliability.conftest import DEMO, edit_manifest

pytestmark = pytest.mark.slow  # a real MiniLM bundle, trained and exported once per session

JS = Path(__file__).resolve().parents[2] / "runtime-js"
NEEDS_NODE = pytest.mark.skipif(
    shutil.which("node") is None or not (JS / "node_modules" / "onnxruntime-node").is_dir(),
    reason="needs node and runtime-js/node_modules (make js-deps installs them)",
)
SECRET = "TOP-SECRET-LINE-OUTSIDE-THE-BUNDLE"


def demo_texts() -> list[str]:
    rows = []
    for name in ("dev.csv", "test.csv"):
        with open(DEMO / name, newline="", encoding="utf-8") as f:
            rows += [row["text"] for row in csv.DictReader(f)]
    return rows


def copy(bundle: Path, target: Path) -> Path:
    """A copy to damage: the large graphs hard-linked (never written here), everything else copied."""

    def link_or_copy(src: str, dst: str) -> None:
        try:
            if src.endswith(".onnx"):
                return os.link(src, dst)
        except OSError:
            pass  # another file system
        shutil.copy2(src, dst)

    return Path(shutil.copytree(bundle, target, copy_function=link_or_copy))


def invoke(*args: Any, input: bytes | None = None) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def edgeft(*args: Any, **kw: Any) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen([sys.executable, "-m", "edgeft", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kw)


@pytest.fixture(scope="module")
def texts_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("inputs") / "reviews.txt"
    path.write_text("".join(t + "\n" for t in demo_texts()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reference_output(demo_bundle, texts_file, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "out.jsonl"
    result = invoke("predict", demo_bundle, "--input", texts_file, "--output", out, "--chunk-size", 50)
    assert result.exit_code == 0, result.output
    return out


# --- Nothing lost: --resume proves it has every chunk -----------------------------------------


def interrupt_after(monkeypatch, chunks: int) -> None:
    from edgeft.bulk import resume

    real = resume.PartialOutput.add

    def add(self, chunk, written):
        real(self, chunk, written)
        if len(self.chunks) == chunks:
            raise KeyboardInterrupt

    monkeypatch.setattr(resume.PartialOutput, "add", add)


@pytest.mark.parametrize("damage", ["part missing", "part changed", "part emptied"])
def test_resume_recomputes_a_damaged_part_to_the_same_bytes(demo_bundle, texts_file, reference_output, tmp_path, monkeypatch, damage):
    out = tmp_path / "out.jsonl"
    interrupt_after(monkeypatch, 4)
    assert invoke("predict", demo_bundle, "--input", texts_file, "--output", out, "--chunk-size", 50).exit_code == 130
    monkeypatch.undo()
    part = tmp_path / ".out.jsonl.partial" / "part-000001.jsonl"
    if damage == "part missing":
        part.unlink()
    elif damage == "part changed":
        part.write_bytes(part.read_bytes().replace(b'"pos"', b'"neg"', 1))
    else:
        part.write_bytes(b"")
    result = invoke("predict", demo_bundle, "--input", texts_file, "--output", out, "--chunk-size", 50, "--resume")
    assert result.exit_code == 0, result.output
    assert "part-000001.jsonl" in result.output and "computing chunks 2 to 4 again" in result.output
    assert out.read_bytes() == reference_output.read_bytes()


@pytest.mark.parametrize("damage", ["not json", "count", "order"])
def test_a_damaged_resume_state_is_one_line_naming_it(demo_bundle, texts_file, tmp_path, monkeypatch, damage):
    out = tmp_path / "out.jsonl"
    interrupt_after(monkeypatch, 2)
    invoke("predict", demo_bundle, "--input", texts_file, "--output", out, "--chunk-size", 50)
    monkeypatch.undo()
    state = tmp_path / ".out.jsonl.partial" / "state.json"
    data = json.loads(state.read_text())
    state.write_text({"not json": "{", "count": json.dumps({**data, "count": 9}), "order": json.dumps({**data, "chunks": data["chunks"][::-1]})}[damage])
    result = invoke("predict", demo_bundle, "--input", texts_file, "--output", out, "--chunk-size", 50, "--resume")
    assert_one_error_line(result, str(state), "damaged", "start without --resume", "delete")


def test_a_bad_row_stop_leaves_no_partial_output(demo_bundle, tmp_path):
    source = tmp_path / "in.txt"
    lines = demo_texts()[:120]
    source.write_bytes("".join(t + "\n" for t in lines[:100]).encode() + b"\xff\xfe\n" + "".join(t + "\n" for t in lines[100:]).encode())
    result = invoke("predict", demo_bundle, "--input", source, "--output", tmp_path / "o.jsonl", "--chunk-size", 30)
    assert_one_error_line(result, f"{source}:101", "not valid UTF-8", "--skip-bad")
    assert not list(tmp_path.glob(".o.jsonl.partial*")) and not (tmp_path / "o.jsonl").exists()


# --- Nothing left running: workers die with their parent --------------------------------------


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc (Linux)")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "kill-TERM"])
def test_killing_the_parent_of_two_workers_leaves_nothing_running_and_resume_finishes(demo_bundle, reference_output, tmp_path, sig):
    source = tmp_path / "in.txt"
    source.write_text("".join(t + "\n" for t in demo_texts() * 4), encoding="utf-8")  # 1200 rows
    out = tmp_path / "out.jsonl"
    state = tmp_path / ".out.jsonl.partial" / "state.json"
    args = (demo_bundle, "--input", source, "--output", out, "--chunk-size", 50, "--workers", 2)
    proc = edgeft("predict", *args)
    deadline = time.time() + 240
    while proc.poll() is None and time.time() < deadline and not (state.exists() and json.loads(state.read_text() or "{}").get("count", 0) >= 1):
        time.sleep(0.05)
    family = descendants(proc.pid)
    assert proc.poll() is None and len(family) >= 3, (proc.poll(), family)  # two workers, the resource tracker
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    deadline = time.time() + 10
    while any(running(p) for p in family) and time.time() < deadline:
        time.sleep(0.05)
    assert not [p for p in family if running(p)], f"still running after {sig.name}"
    if sig == signal.SIGTERM:
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert proc.returncode == 143 and len(errors) == 1 and "--resume" in errors[0] and ".out.jsonl.partial" in errors[0], err
    resumed = edgeft("predict", *args, "--resume")
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-2000:]
    # Chunks of 50 fall on the same texts as the reference run's (300 rows, 4 times over).
    assert out.read_bytes() == reference_output.read_bytes() * 4


# --- Files outside the bundle are refused unread (Python and JavaScript) ----------------------


def link_outside(bundle: Path, name: str, tmp_path: Path, secret: bool) -> None:
    """Replace ``name`` by a symlink to a file outside the bundle: the same bytes, or a secret."""
    outside = tmp_path / "outside" / name.replace("/", "_")
    outside.parent.mkdir(exist_ok=True)
    if secret:
        outside.write_text(SECRET)
        (bundle / name).unlink()
    else:
        (bundle / name).rename(outside)
    (bundle / name).symlink_to(outside)


@pytest.mark.parametrize("name", ["model_int8.onnx", "tokenizer.json", "edgeft.json", "reference/texts.json"])
def test_python_refuses_a_bundle_file_linked_from_outside(demo_bundle, tmp_path, name):
    bundle = copy(demo_bundle, tmp_path / "bundle")
    link_outside(bundle, name, tmp_path, secret=False)
    for command in (["info"], ["predict"] if name != "reference/texts.json" else ["check"]):
        extra = ["good"] if command == ["predict"] else []
        line = assert_one_error_line(invoke(*command, bundle, *extra), name, "outside the bundle folder", "copy the real file into the bundle")
        assert SECRET not in line


def js_load(bundle: Path, variant: str = "auto") -> subprocess.CompletedProcess:
    script = (
        "import { load } from './src/node.js';"
        "try { const m = await load(process.argv[1], { variant: process.argv[2] }); console.log(JSON.stringify(await m.predict('great phone'))); }"
        "catch (e) { console.error(`error: ${e.message}`); process.exit(1); }"
    )
    return subprocess.run(["node", "--input-type=module", "-e", script, str(bundle), variant], cwd=JS, capture_output=True, text=True, timeout=120)


@NEEDS_NODE
@pytest.mark.parametrize("name, secret", [("tokenizer.json", True), ("tokenizer.json", False), ("model_int8.onnx", False), ("edgeft.json", False)])
def test_javascript_refuses_a_bundle_file_linked_from_outside(demo_bundle, tmp_path, name, secret):
    bundle = copy(demo_bundle, tmp_path / "bundle")
    link_outside(bundle, name, tmp_path, secret=secret)
    done = js_load(bundle)
    assert done.returncode == 1 and "outside the bundle folder" in done.stderr, done.stderr
    assert SECRET not in done.stderr + done.stdout


@NEEDS_NODE
def test_javascript_loads_the_real_bundle(demo_bundle):
    done = js_load(demo_bundle)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["label"] == "pos"


# --- Manifest and reference-set numbers: finite, in range, the field named ---------------------

MANIFEST_DAMAGE = {
    "static_shape 0x0": (lambda m: m.update(static_shape={"batch": 0, "sequence": 0}), "static_shape.batch"),
    "static_shape sequence -1": (lambda m: m.update(static_shape={"batch": 1, "sequence": -1}), "static_shape.sequence"),
    "max_length 0": (lambda m: m.update(max_length=0), "max_length"),
    "max_length huge": (lambda m: m.update(max_length=10**12), "max_length"),
    "max_length text": (lambda m: m.update(max_length="64"), "max_length"),
    "labels not text": (lambda m: m.update(labels=[0, 1]), "labels"),
    "default_variant unknown": (lambda m: m.update(default_variant="int4"), "default_variant"),
}


@pytest.mark.parametrize("case", list(MANIFEST_DAMAGE))
def test_manifest_numbers_out_of_range_are_one_error_naming_the_field(demo_bundle, tmp_path, case):
    change, field = MANIFEST_DAMAGE[case]
    bundle = copy(demo_bundle, tmp_path / "bundle")
    edit_manifest(bundle, change)
    for command in (["predict", bundle, "good"], ["check", bundle], ["info", bundle]):
        assert_one_error_line(invoke(*command), f"field '{field}'", "re-export the bundle")
    if shutil.which("node") and (JS / "node_modules" / "onnxruntime-node").is_dir():
        done = js_load(bundle)
        assert done.returncode == 1 and f"field '{field}'" in done.stderr, done.stderr


REFERENCE_DAMAGE = ["labels array removed", "probabilities array removed", "gold removed", "texts entry removed", "max_drop nan"]


@pytest.mark.parametrize("case", REFERENCE_DAMAGE)
def test_a_reference_set_with_a_field_removed_is_one_error_line_in_both_checks(demo_bundle, tmp_path, case):
    bundle = copy(demo_bundle, tmp_path / "bundle")
    manifest = json.loads((bundle / "edgeft.json").read_text())
    entry = manifest["reference"]
    if case.endswith("array removed"):
        del entry["arrays"][case.split()[0]]
    elif case == "gold removed":
        document = json.loads((bundle / entry["texts"]).read_text())
        del document["gold"]
        (bundle / entry["texts"]).write_text(json.dumps(document))
        manifest["files"][entry["texts"]]["sha256"] = __import__("hashlib").sha256((bundle / entry["texts"]).read_bytes()).hexdigest()
    elif case == "texts entry removed":
        del entry["texts"]
    else:
        entry["max_drop"] = float("nan")
    (bundle / "edgeft.json").write_text(json.dumps(manifest))
    assert_one_error_line(invoke("check", bundle), "edgeft.json", "re-export the bundle")
    done = subprocess.run([sys.executable, "-m", "edgeft_runtime.check", str(bundle)], capture_output=True, text=True, timeout=300)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 1 and len(errors) == 1 and "Traceback" not in done.stderr, done.stderr


# --- Inputs and settings ----------------------------------------------------------------------


def test_mixed_types_in_one_column_to_parquet_name_the_column_and_rows(demo_bundle, tmp_path):
    source = tmp_path / "in.jsonl"
    rows = [{"text": t, "id": i} for i, t in enumerate(demo_texts()[:60])]
    rows[45]["id"] = "forty-five"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "o.parquet"
    result = invoke("predict", demo_bundle, "--input", source, "--output", out, "--chunk-size", 100)
    assert_one_error_line(result, str(source), "column 'id' holds values of different types", "--keep-columns")
    assert not out.exists() and not list(tmp_path.glob(".o.parquet.partial"))


def test_undecodable_bytes_on_stdin_name_the_line(demo_bundle):
    result = invoke("predict", demo_bundle, input=b"a fine phone\nbad \xff\xfe bytes\n")
    assert_one_error_line(result, "stdin:2", "byte 0xff is not valid UTF-8")


SETTINGS = [
    (["bench", "{b}", "--runs", "0"], "--runs 0"),
    (["bench", "{b}", "--duration", "0"], "--duration 0"),
    (["bench", "{b}", "--duration", "nan"], "--duration nan"),
    (["bench", "{b}", "--cold-passes", "-1"], "--cold-passes -1"),
    (["check", "{b}", "--max-drop", "nan"], "--max-drop nan"),
    (["check", "{b}", "--min-agreement", "150"], "--min-agreement 150"),
    (["check", "{b}", "--max-drop", "-1"], "--max-drop -1"),
    (["predict", "{b}", "--input", "{t}", "--output", "{o}", "--workers", "1000"], "--workers 1000"),
    (["predict", "{b}", "--input", "{t}", "--output", "{o}", "--workers", "-2"], "--workers -2"),
    (["predict", "{b}", "good", "--threads", "-1"], "--threads -1"),
    (["export", "{r}", "--static-shape", "0x0"], "--static-shape"),
    (["export", "{r}", "--per-channel", "bogus"], "--per-channel"),
]


@pytest.mark.parametrize("args, fragment", SETTINGS, ids=[" ".join(a[:1] + a[2:]) for a, _ in SETTINGS])
def test_settings_that_measure_nothing_or_cannot_fail_are_refused(demo_bundle, texts_file, tmp_path, args, fragment):
    filled = [a.format(b=demo_bundle, r=demo_bundle.parent / "run", t=texts_file, o=tmp_path / "o.jsonl") for a in args]
    result = invoke(*filled)
    assert result.exit_code in (1, 2) and "Traceback" not in result.output and "unexpected" not in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.lower().startswith("error:")]
    assert len(errors) == 1 and fragment in errors[0], result.output
    assert not list(tmp_path.glob(".o.jsonl.partial"))


def test_the_reference_bundle_itself_passes_its_check(demo_bundle):
    """The suite's control: the undamaged bundle loads, predicts and passes `edgeft check` here."""
    result = invoke("check", demo_bundle)
    assert result.exit_code == 0, result.output
    assert np.isfinite(json.loads(invoke("check", demo_bundle, "--json").output)["variants"]["int8"]["label_agreement"])
