"""`predict --input`: a resume proves it has every chunk; a stopped run says what its leftovers
are; workers die with their parent (SIGKILL and SIGTERM, real subprocesses); --workers bounds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgeft.bulk import FileJob, predict_file
from edgeft.bulk import resume as resume_module
from tests.conftest import assert_one_error_line
from tests.test_predict_files import _chunks_done, _start, invoke, texts, write_lines


def interrupted_run(tmp_path: Path, bundle: Path, source: Path, out: Path, after: int, monkeypatch, **options) -> Path:
    """Run until ``after`` chunks are done, then stop as a Ctrl-C would; return the partial folder."""
    real_add = resume_module.PartialOutput.add

    def add(self, chunk, written):
        real_add(self, chunk, written)
        if len(self.chunks) == after:
            raise KeyboardInterrupt

    monkeypatch.setattr(resume_module.PartialOutput, "add", add)
    with pytest.raises(KeyboardInterrupt):
        predict_file(FileJob(bundle, source, out, progress=False, **options))
    monkeypatch.undo()
    partial = out.parent / f".{out.name}.partial"
    assert _chunks_done(partial / "state.json") == after
    return partial


@pytest.fixture
def job(tmp_path, tiny_bundle):
    source = write_lines(tmp_path / "in.txt", texts(100, seed=4))
    reference = tmp_path / "reference.jsonl"
    predict_file(FileJob(tiny_bundle, source, reference, chunk_size=10, progress=False))
    return source, reference


@pytest.mark.parametrize("damage", ["missing", "changed", "truncated"])
def test_resume_recomputes_a_missing_or_changed_part(tmp_path, tiny_bundle, job, monkeypatch, caplog, damage):
    source, reference = job
    out = tmp_path / "out.jsonl"
    partial = interrupted_run(tmp_path, tiny_bundle, source, out, 5, monkeypatch, chunk_size=10)
    part = partial / "part-000002.jsonl"
    if damage == "missing":
        part.unlink()
    elif damage == "changed":
        part.write_bytes(part.read_bytes().replace(b'"label"', b'"lab3l"'))
    else:
        part.write_bytes(part.read_bytes()[:-40])
    result = invoke(tiny_bundle, "--input", source, "--output", out, "--chunk-size", 10, "--resume")
    assert result.exit_code == 0, result.output
    assert "part-000002.jsonl " + ("is missing" if damage == "missing" else "was changed") in result.output
    assert "computing chunks 3 to 5 again" in result.output
    assert "wrote 100 rows (20 from the interrupted run)" in result.output
    assert out.read_bytes() == reference.read_bytes()
    assert not partial.exists()


def test_resume_with_every_part_intact_recomputes_nothing(tmp_path, tiny_bundle, job, monkeypatch):
    source, reference = job
    out = tmp_path / "out.jsonl"
    interrupted_run(tmp_path, tiny_bundle, source, out, 4, monkeypatch, chunk_size=10)
    result = invoke(tiny_bundle, "--input", source, "--output", out, "--chunk-size", 10, "--resume")
    assert result.exit_code == 0, result.output
    assert "again" not in result.output and "(40 from the interrupted run)" in result.output
    assert out.read_bytes() == reference.read_bytes()


@pytest.mark.parametrize(
    "damage, fragment",
    [
        (lambda s: "{not json", "is damaged (not valid JSON"),
        (lambda s: b"\xff\xfe".decode("latin-1"), "is damaged (not valid JSON"),
        (lambda s: json.dumps({**s, "count": s["count"] + 1}), "'count' is 4 but 3 chunk(s) are listed"),
        (lambda s: json.dumps({**s, "chunks": s["chunks"][::-1]}), "chunk 0 is out of order"),
        (lambda s: json.dumps({**s, "chunks": [{**s["chunks"][0], "rows": -1}, *s["chunks"][1:]]}), "chunk 0 has no valid"),
        (lambda s: json.dumps({**s, "chunks": [{**s["chunks"][0], "part": "../../etc/passwd"}, *s["chunks"][1:]]}), "chunk 0 names no valid part"),
        (lambda s: json.dumps({**s, "version": 1}), "has state version 1"),
        (lambda s: json.dumps([1, 2]), "is not a state this edgeft writes"),
    ],
)
def test_a_damaged_state_is_one_line_naming_it_and_what_to_do(tmp_path, tiny_bundle, job, monkeypatch, damage, fragment):
    source, _ = job
    out = tmp_path / "out.jsonl"
    partial = interrupted_run(tmp_path, tiny_bundle, source, out, 3, monkeypatch, chunk_size=10)
    state_file = partial / "state.json"
    state_file.write_text(damage(json.loads(state_file.read_text())), encoding="latin-1")
    result = invoke(tiny_bundle, "--input", source, "--output", out, "--chunk-size", 10, "--resume")
    assert_one_error_line(result, str(state_file), fragment, "start without --resume", f"delete {partial}")
    assert partial.exists()  # refusing to resume destroys nothing


def test_bad_input_stop_removes_its_partial_output(tmp_path, tiny_bundle):
    lines = texts(60, seed=5)
    source = tmp_path / "in.txt"
    source.write_bytes(("\n".join(lines[:45]) + "\n").encode() + b"caf\xe9\n" + ("\n".join(lines[45:]) + "\n").encode())
    out = tmp_path / "out.jsonl"
    assert_one_error_line(invoke(tiny_bundle, "--input", source, "--output", out, "--chunk-size", 10), f"{source}:46", "--skip-bad")
    assert not out.exists()
    assert not (tmp_path / ".out.jsonl.partial").exists()  # a fixed input could not resume it: nothing left behind


def test_an_interrupted_run_names_its_partial_output(tmp_path, tiny_bundle, job, monkeypatch):
    source, _ = job
    out = tmp_path / "out.jsonl"
    real_add = resume_module.PartialOutput.add

    def add(self, chunk, written):
        real_add(self, chunk, written)
        if len(self.chunks) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(resume_module.PartialOutput, "add", add)
    result = invoke(tiny_bundle, "--input", source, "--output", out, "--chunk-size", 10)
    line = assert_one_error_line(result, "interrupted", "--resume", "delete", code=130)
    assert str(tmp_path / ".out.jsonl.partial") in line


def test_a_run_that_stops_outside_its_input_keeps_its_chunks_and_says_so(tmp_path, tiny_bundle, job, monkeypatch):
    source, _ = job
    out = tmp_path / "out.jsonl"
    real_add = resume_module.PartialOutput.add

    def add(self, chunk, written):
        if len(self.chunks) == 3:
            raise OSError(28, "No space left on device", str(written))
        real_add(self, chunk, written)

    monkeypatch.setattr(resume_module.PartialOutput, "add", add)
    result = invoke(tiny_bundle, "--input", source, "--output", out, "--chunk-size", 10)
    assert_one_error_line(result, "No space left on device", "3 completed chunk(s) are kept in", "--resume", "delete that folder")
    assert _chunks_done(tmp_path / ".out.jsonl.partial" / "state.json") == 3


@pytest.mark.parametrize("workers, fragment", [(0, "--workers 0: give 1 or more"), (-3, "--workers -3: give 1 or more"), (10**6, "--workers 1000000: this machine has")])
def test_worker_counts_out_of_range_are_refused(tmp_path, tiny_bundle, workers, fragment):
    source = write_lines(tmp_path / "in.txt", texts(5))
    assert_one_error_line(invoke(tiny_bundle, "--input", source, "--output", tmp_path / "o.jsonl", "--workers", workers), fragment)
    assert not (tmp_path / ".o.jsonl.partial").exists()


def test_workers_beyond_the_cores_or_chunks_are_not_started(tmp_path, tiny_bundle, monkeypatch, caplog):
    from edgeft.bulk import pipeline, workers

    started = []
    monkeypatch.setattr(pipeline, "available_cores", lambda: 4)
    monkeypatch.setattr(pipeline, "start_runner", lambda *a: started.append(a[3]) or workers.InProcess(*a[:3]))
    source = tmp_path / "in.parquet"
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": texts(30)}), source)
    predict_file(FileJob(tiny_bundle, source, tmp_path / "a.jsonl", workers=16, chunk_size=20, progress=False))
    predict_file(FileJob(tiny_bundle, source, tmp_path / "b.jsonl", workers=16, chunk_size=5, progress=False))
    assert started == [2, 4]  # 30 rows in chunks of 20 is 2 chunks; 6 chunks on 4 cores is 4


# --- Workers die with their parent ----------------------------------------------------------


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc: children, their children, ...)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc (Linux)")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "kill-TERM"])
def test_workers_and_resource_tracker_die_with_their_parent(tmp_path, tiny_bundle, sig):
    source = write_lines(tmp_path / "in.txt", texts(30000, seed=6))
    out = tmp_path / "out.jsonl"
    state = tmp_path / ".out.jsonl.partial" / "state.json"
    proc = _start(tiny_bundle, "--input", source, "--output", out, "--chunk-size", 200, "--workers", 2)
    deadline = time.time() + 180
    while _chunks_done(state) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    children = descendants(proc.pid)
    assert proc.poll() is None and len(children) >= 3, children  # two workers and the resource tracker
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    deadline = time.time() + 10
    while any(alive(pid) for pid in children) and time.time() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in children if alive(pid)], f"left running after {sig.name}: {children}"
    assert not out.exists()
    if sig == signal.SIGTERM:
        assert proc.returncode == 143
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "terminated (SIGTERM)" in errors[0] and "--resume" in errors[0], err
        assert "Traceback" not in err
    assert _chunks_done(state) >= 2  # the completed chunks stay for --resume


def test_a_parent_killed_before_a_worker_watches_it_still_ends_it(tmp_path):
    # A worker that starts watching after its parent is gone (the race die_with_parent closes).
    code = "import os,sys; from edgeft.bulk.workers import die_with_parent; die_with_parent(os.getppid() + 10**6); sys.exit(0)"
    done = subprocess.run([sys.executable, "-c", code], timeout=60)
    assert done.returncode == 1
