"""`edgeft predict --input FILE --output FILE`: formats, columns, order, bad rows, workers, resume
(with a real subprocess killed midway), and the errors a user can meet."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgeft.bulk import FileJob, predict_file
from edgeft.cli import app
from tests import tiny
from tests.conftest import assert_one_error_line


def texts(n: int, seed: int = 0) -> list[str]:
    return [text for text, _ in tiny.sentiment_rows(n, seed=seed)]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_table(path: Path, rows: list[dict], delimiter: str = ",") -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def invoke(*args) -> object:
    return CliRunner().invoke(app, ["predict", *map(str, args)])


@pytest.fixture(scope="module")
def model(tiny_bundle):
    import edgeft_runtime

    return edgeft_runtime.load(tiny_bundle)


def test_txt_to_jsonl_keeps_order_and_matches_predict(tmp_path, tiny_bundle, model):
    items = texts(50)
    source = write_lines(tmp_path / "in.txt", items[:20] + ["", "   "] + items[20:])  # blank lines are not rows
    out = tmp_path / "out.jsonl"
    result = invoke(tiny_bundle, "--input", source, "--output", out, "--chunk-size", 7)
    assert result.exit_code == 0, result.output
    rows = read_jsonl(out)
    assert [r["text"] for r in rows] == items
    # Same chunks as one call here: int8 scores depend on the batch, so compare with one chunk's run.
    expected = [p for start in range(0, 50, 7) for p in model.run_task(items[start : start + 7])]
    assert [r["prediction"] for r in rows] == expected
    assert not (tmp_path / ".out.jsonl.partial").exists()


def test_csv_columns_carried_or_kept(tmp_path, tiny_bundle):
    rows = [{"id": f"{i:03d}", "body": t, "source": "web"} for i, t in enumerate(texts(30))]
    source = write_table(tmp_path / "in.csv", rows)
    out = tmp_path / "out.csv"
    assert invoke(tiny_bundle, "--input", source, "--output", out, "--text-column", "body").exit_code == 0
    with open(out, newline="", encoding="utf-8") as f:
        got = list(csv.DictReader(f))
    assert list(got[0]) == ["id", "body", "source", "prediction"]
    assert [g["id"] for g in got] == [r["id"] for r in rows]  # "000" stays text
    assert json.loads(got[0]["prediction"])["label"] in ("pos", "neg")

    kept = tmp_path / "kept.jsonl"
    result = invoke(tiny_bundle, "--input", source, "--output", kept, "--text-column", "body", "--keep-columns", "id")
    assert result.exit_code == 0, result.output
    assert list(read_jsonl(kept)[0]) == ["id", "prediction"]


def test_tsv_and_jsonl_inputs_give_the_same_predictions(tmp_path, tiny_bundle):
    rows = [{"text": t, "n": str(i)} for i, t in enumerate(texts(25))]
    tsv = write_table(tmp_path / "in.tsv", rows, delimiter="\t")
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text("".join(json.dumps({"text": r["text"], "n": int(r["n"])}) + "\n" for r in rows), encoding="utf-8")
    for source, name in ((tsv, "a.jsonl"), (jsonl, "b.jsonl")):
        assert invoke(tiny_bundle, "--input", source, "--output", tmp_path / name).exit_code == 0
    a, b = read_jsonl(tmp_path / "a.jsonl"), read_jsonl(tmp_path / "b.jsonl")
    assert [r["prediction"] for r in a] == [r["prediction"] for r in b]
    assert a[3]["n"] == "3" and b[3]["n"] == 3  # CSV cells are text, JSON keeps its types


def test_parquet_in_and_out_keeps_types_and_types_the_prediction(tmp_path, tiny_bundle):
    import pyarrow as pa
    import pyarrow.parquet as pq

    items = texts(40)
    table = pa.table({"id": pa.array(range(40), pa.int64()), "text": items, "score_in": [i / 2 for i in range(40)]})
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=9)
    out = tmp_path / "out.parquet"
    result = invoke(tiny_bundle, "--input", tmp_path / "in.parquet", "--output", out, "--chunk-size", 16)
    assert result.exit_code == 0, result.output
    got = pq.read_table(out)
    assert got.schema.field("id").type == pa.int64() and got.column("id").to_pylist() == list(range(40))
    assert got.schema.field("prediction").type == pa.struct([("label", pa.string()), ("score", pa.float64())])
    jsonl = tmp_path / "out.jsonl"
    assert invoke(tiny_bundle, "--input", tmp_path / "in.parquet", "--output", jsonl, "--chunk-size", 16).exit_code == 0
    assert got.column("prediction").to_pylist() == [r["prediction"] for r in read_jsonl(jsonl)]


def test_fill_mask_to_parquet_types_the_candidates_with_the_runtime_s_field_names(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    bundle = Path(__file__).resolve().parents[1] / "runtime" / "tests" / "fixtures" / "fillmask"
    source = write_lines(tmp_path / "in.txt", ["the [MASK] was good", "[MASK] [MASK] film"])
    out = tmp_path / "out.parquet"
    result = invoke(bundle, "--input", source, "--output", out)
    assert result.exit_code == 0, result.output
    got = pq.read_table(out)
    candidate = got.schema.field("prediction").type.value_type.value_type
    assert [(f.name, f.type) for f in candidate] == [
        ("score", pa.float64()), ("token", pa.int64()), ("token_str", pa.string()), ("sequence", pa.string())]
    assert got.column("prediction").to_pylist()[1][1][0]["token"] >= 0


def test_empty_text_is_one_error_line_or_skipped_and_counted(tmp_path, tiny_bundle):
    rows = [{"id": str(i), "text": t} for i, t in enumerate(texts(10))]
    rows[4]["text"] = "  "
    source = write_table(tmp_path / "in.csv", rows)
    out = tmp_path / "out.jsonl"
    assert_one_error_line(invoke(tiny_bundle, "--input", source, "--output", out), f"{source}:6: empty text in column 'text'", "--skip-bad")
    assert not out.exists()
    result = invoke(tiny_bundle, "--input", source, "--output", out, "--skip-bad")
    assert result.exit_code == 0, result.output
    assert len(read_jsonl(out)) == 9
    assert "skipped 1 bad row(s) (first at line 6)" in result.output


def test_bad_utf8_names_its_line_or_is_skipped(tmp_path, tiny_bundle):
    items = texts(6)
    for suffix in (".txt", ".csv", ".jsonl"):
        lines = [items[0], items[1], items[2], items[3]]
        if suffix == ".csv":
            lines = ["text"] + lines
        elif suffix == ".jsonl":
            lines = [json.dumps({"text": t}) for t in lines]
        raw = b"".join(line.encode() + b"\n" for line in lines)
        bad_at = 3  # the third line gets a byte that is not UTF-8
        parts = raw.split(b"\n")
        parts[bad_at - 1] = parts[bad_at - 1][:5] + b"\xff" + parts[bad_at - 1][5:]
        source = tmp_path / f"bad{suffix}"
        source.write_bytes(b"\n".join(parts))
        out = tmp_path / f"out{suffix}.jsonl"
        assert_one_error_line(invoke(tiny_bundle, "--input", source, "--output", out), f"{source}:{bad_at}: byte 0xff is not valid UTF-8")
        result = invoke(tiny_bundle, "--input", source, "--output", out, "--skip-bad")
        assert result.exit_code == 0, result.output
        assert len(read_jsonl(out)) == 3 and "skipped 1 bad row(s)" in result.output


def test_two_workers_give_the_same_bytes_as_one_process(tmp_path, tiny_bundle):
    source = write_lines(tmp_path / "in.txt", texts(300))
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    predict_file(FileJob(tiny_bundle, source, one, chunk_size=16, progress=False))
    result = predict_file(FileJob(tiny_bundle, source, two, chunk_size=16, workers=2, progress=False))
    assert result.rows == 300
    assert one.read_bytes() == two.read_bytes()


def test_archive_bundle_and_output_refusals(tmp_path, tiny_bundle):
    from edgeft_runtime.archive import pack_bundle

    archive = pack_bundle(tiny_bundle, tmp_path / "b.zip")
    source = write_lines(tmp_path / "in.txt", texts(5))
    out = tmp_path / "out.jsonl"
    assert invoke(archive, "--input", source, "--output", out).exit_code == 0
    assert len(read_jsonl(out)) == 5
    assert_one_error_line(invoke(archive, "--input", source, "--output", out), "already exists; pass --overwrite")
    assert invoke(archive, "--input", source, "--output", out, "--overwrite").exit_code == 0
    assert_one_error_line(invoke(archive, "--input", source, "--output", tmp_path / "o.xlsx"), "unknown output type .xlsx")
    assert_one_error_line(invoke(archive, "--input", source), "--input and --output go together")
    assert_one_error_line(invoke(archive, "--input", tmp_path / "in.doc", "--output", tmp_path / "x.jsonl"), "file not found")
    assert_one_error_line(
        invoke(archive, "--input", source, "--output", tmp_path / "x.jsonl", "--keep-columns", "id"), "--keep-columns id: no such column"
    )
    rows = write_table(tmp_path / "in.csv", [{"body": "good film"}])
    assert_one_error_line(invoke(archive, "--input", rows, "--output", tmp_path / "y.jsonl"), "no column 'text' (columns: body); pass --text-column")
    assert_one_error_line(invoke(archive, "--input", source, "--output", tmp_path / "z.jsonl", "--resume"), "--resume: no interrupted run")


def test_progress_bar_only_on_a_terminal(tmp_path, tiny_bundle, monkeypatch, capsys):
    source = write_lines(tmp_path / "in.txt", texts(40))
    predict_file(FileJob(tiny_bundle, source, tmp_path / "a.jsonl", chunk_size=8))
    assert "texts/s" not in capsys.readouterr().err  # stderr is not a terminal here
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    predict_file(FileJob(tiny_bundle, source, tmp_path / "b.jsonl", chunk_size=8))
    assert "texts/s" in capsys.readouterr().err
    predict_file(FileJob(tiny_bundle, source, tmp_path / "c.jsonl", chunk_size=8, progress=False))
    assert "texts/s" not in capsys.readouterr().err


def _start(*args) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen([sys.executable, "-m", "edgeft", "predict", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _chunks_done(state: Path) -> int:
    try:
        return len(json.loads(state.read_text())["chunks"])
    except (OSError, ValueError, KeyError):
        return 0


def test_killed_run_resumes_to_the_same_bytes(tmp_path, tiny_bundle):
    source = write_lines(tmp_path / "in.txt", texts(30000, seed=3))
    reference = tmp_path / "reference.jsonl"
    predict_file(FileJob(tiny_bundle, source, reference, chunk_size=200, progress=False))

    out = tmp_path / "out.jsonl"
    state = tmp_path / ".out.jsonl.partial" / "state.json"
    args = (tiny_bundle, "--input", source, "--output", out, "--chunk-size", 200)
    proc = _start(*args)
    deadline = time.time() + 180
    while _chunks_done(state) < 3 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _chunks_done(state)
    assert 3 <= done < 150, f"killed after {done} of 150 chunks"  # midway, not before or after
    assert not out.exists()

    assert_one_error_line(invoke(tiny_bundle, "--input", source, "--output", out, "--chunk-size", 100, "--resume"), "had other chunk size")
    proc = _start(*args, "--resume")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert f"resuming after {done} completed chunk(s)" in err or "resuming after" in err
    assert "from the interrupted run" in err
    assert out.read_bytes() == reference.read_bytes()
    assert not state.parent.exists()
