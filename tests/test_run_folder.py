"""The run folder as a versioned format (edgeft_exporters.run_folder): what training writes is what
export reads back, and a run folder this edgeft cannot read fails in one line naming the file."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from edgeft.cli import app
from edgeft_exporters.errors import ExportError
from edgeft_exporters.run_folder import (
    RUN_FILE,
    RUN_FORMAT,
    RUN_SCHEMA_VERSION,
    read_run,
    read_run_config,
    read_run_eval,
    read_run_metrics,
    write_run,
)
from tests.conftest import assert_one_error_line


def fake_run(folder, **fields):
    folder.mkdir(parents=True, exist_ok=True)
    run = {"format": RUN_FORMAT, "schema_version": RUN_SCHEMA_VERSION, "task": "classifier", **fields}
    (folder / RUN_FILE).write_text(json.dumps({k: v for k, v in run.items() if v is not None}), encoding="utf-8")
    return folder


def test_what_is_written_reads_back(tmp_path):
    rows = [{"text": "ünïcode", "labels": ["pos"]}]
    write_run(
        tmp_path, task="ner", info={"labels": ["O"], "max_length": 64}, versions={"edgeft": "x"},
        config={"lr": 0.001, "label_separator": ";"}, metrics={"entity_f1": 0.5}, eval_rows=rows,
    )
    run = read_run(tmp_path)
    assert (run["format"], run["schema_version"], run["task"], run["labels"], run["versions"]) == (RUN_FORMAT, RUN_SCHEMA_VERSION, "ner", ["O"], {"edgeft": "x"})
    assert read_run_config(tmp_path) == {"lr": 0.001, "label_separator": ";"}
    assert read_run_metrics(tmp_path) == {"entity_f1": 0.5}
    assert read_run_eval(tmp_path) == rows


def test_info_versions_replace_the_shared_ones(tmp_path):
    write_run(tmp_path, task="setfit", info={"versions": {"setfit": "1"}}, versions={"edgeft": "x"}, config={}, metrics={})
    assert read_run(tmp_path)["versions"] == {"setfit": "1"}
    assert not (tmp_path / "eval.jsonl").exists() and read_run_eval(tmp_path) == []


@pytest.mark.parametrize(
    "fields, fragments",
    [
        ({"schema_version": "2.0"}, ["schema_version 2.0 is newer than this edgeft supports (1.0)", "upgrade edgeft"]),
        ({"schema_version": "0.9"}, ["schema_version 0.9 is older than this edgeft supports (1.0)", "re-train"]),
        ({"schema_version": "new"}, ["schema_version 'new' is not of the form MAJOR.MINOR"]),
        ({"format": "edgeft-bundle"}, ["field 'format' is not 'edgeft-run'", "not an edgeft run file"]),
        ({"task": None}, ["missing field(s) task", "re-train"]),
    ],
)
def test_a_run_this_edgeft_cannot_read_is_one_line(tmp_path, fields, fragments):
    run = fake_run(tmp_path / "run", **fields)
    with pytest.raises(ExportError) as caught:
        read_run(run)
    message = str(caught.value)
    assert "\n" not in message and str(run / RUN_FILE) in message
    for fragment in fragments:
        assert fragment in message
    # Every reader of a run says the same: export, distill (the teacher), bench --reference.
    for args in (["export", run, "--out", tmp_path / "b"], ["distill", run, "--layers", 1, "--out", tmp_path / "s"]):
        assert_one_error_line(CliRunner().invoke(app, [str(a) for a in args]), fragments[0])


def test_damaged_run_file_is_one_line(tmp_path):
    (tmp_path / RUN_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(ExportError, match=r"edgeft_run.json: not valid JSON .*re-train"):
        read_run(tmp_path)
