"""Ray Data on a local Ray instance (2 CPUs): `edgeft predict --engine ray` gives the one-process
output, and the Python API (`edgeft_runtime.integrations.ray`) ships a bundle archive to actors
and handles bad rows. A few thousand texts; most of the time is Ray starting."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgeft.cli import app
from tests import tiny
from tests.conftest import assert_one_error_line

pytest.importorskip("ray.data", reason='Ray is not installed: pip install -c constraints.txt "edgeft[ray]" (make install does)')
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=256 * 2**20)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray
    ray.shutdown()


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_engine_ray_matches_the_local_engine(tmp_path, tiny_bundle, local_ray):
    rows = [{"id": f"{i:05d}", "text": text} for i, (text, _) in enumerate(tiny.sentiment_rows(3000, seed=7))]
    source = tmp_path / "in.csv"
    with open(source, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "text"])
        writer.writeheader()
        writer.writerows(rows)
    # fp32: int8 quantises activations per batch, and Ray's batches need not fall where the local chunks do.
    common = ["predict", str(tiny_bundle), "--input", str(source), "--variant", "fp32", "--chunk-size", "500"]
    local, distributed = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    assert CliRunner().invoke(app, [*common, "--output", str(local)]).exit_code == 0
    result = CliRunner().invoke(app, [*common, "--output", str(distributed), "--engine", "ray", "--concurrency", "2"])
    assert result.exit_code == 0, result.output
    a, b = read_jsonl(local), read_jsonl(distributed)
    assert [(r["id"], r["text"]) for r in b] == [(r["id"], r["text"]) for r in a]  # order and "00042" kept
    assert [r["prediction"]["label"] for r in b] == [r["prediction"]["label"] for r in a]
    assert max(abs(x["prediction"]["score"] - y["prediction"]["score"]) for x, y in zip(a, b)) < 1e-5
    assert not (tmp_path / ".ray.jsonl.partial").exists()


def test_engine_ray_bad_rows_refused_or_skipped(tmp_path, tiny_bundle, local_ray):
    source = tmp_path / "in.csv"
    source.write_text("id,text\n1,a good film\n2, \n3,a bad film\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = ["predict", str(tiny_bundle), "--input", str(source), "--output", str(out), "--engine", "ray"]
    assert_one_error_line(CliRunner().invoke(app, args), "empty text in column 'text'", "--skip-bad")
    assert not out.exists()
    result = CliRunner().invoke(app, [*args, "--skip-bad"])
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in read_jsonl(out)] == ["1", "3"] and "skipped 1 bad row(s)" in result.output


def test_predict_dataset_with_a_shipped_archive(tmp_path, tiny_bundle, local_ray):
    import edgeft_runtime
    from edgeft_runtime.archive import pack_bundle
    from edgeft_runtime.integrations.ray import predict_dataset, ship_bundle

    items = [text for text, _ in tiny.sentiment_rows(200, seed=9)]
    archive = pack_bundle(tiny_bundle, tmp_path / "bundle.zip")
    ds = local_ray.data.from_items([{"body": t} for t in items] + [{"body": ""}])
    out = predict_dataset(ds, ship_bundle(archive), text_column="body", variant="fp32", concurrency=2, batch_size=64, skip_bad=True)
    got = {r["body"]: r["prediction"] for r in out.take_all()}
    expected = edgeft_runtime.load(tiny_bundle, variant="fp32").predict(items)
    assert got.pop("") is None  # the empty text: no prediction, no failure
    assert [got[t]["label"] for t in items] == [e["label"] for e in expected]
    assert max(abs(got[t]["score"] - e["score"]) for t, e in zip(items, expected)) < 1e-5

    damaged = tmp_path / "damaged"
    import shutil

    shutil.copytree(tiny_bundle, damaged)
    (damaged / "tokenizer.json").write_text((damaged / "tokenizer.json").read_text().replace('"[UNK]"', '"[UNK2]"', 1))
    with pytest.raises(Exception, match="does not match the manifest"):
        predict_dataset(ds, ship_bundle(damaged), text_column="body", concurrency=1).take_all()
