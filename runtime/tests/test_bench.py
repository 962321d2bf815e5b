"""The on-device benchmark: exact-length texts, a versioned report, ratios."""

from __future__ import annotations

import json

from edgeft_runtime import bench
from edgeft_runtime.loader import load


def test_texts_hit_exact_token_lengths(sentiment_bundle):
    tok = load(sentiment_bundle).tokenizer
    count = lambda t: len(tok.encode([t])[0].ids)  # noqa: E731
    for n in (3, 8, 16, 24):
        assert count(bench.text_of_length(count, n, seed=n)) == n


def test_length_mix_is_seeded_and_bounded():
    a, b = bench.length_mix(200, 64, seed=1), bench.length_mix(200, 64, seed=1)
    assert a == b and min(a) >= 6 and max(a) <= 64 and len(set(a)) > 10


def test_report_from_the_command_line(sentiment_bundle, tmp_path):
    out = tmp_path / "report.json"
    assert bench.main([str(sentiment_bundle), "--runs", "5", "--threads", "1", "--device-name", "ci", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["format"] == "edgeft-bench-report" and report["schema_version"] == "1.1"
    assert report["device"]["name"] == "ci" and report["device"]["threads"] == 1
    assert report["device"]["onnxruntime"] and report["device"]["cpu_model"]
    assert set(report["results"]) == {"fp32", "int8"}
    int8 = report["results"]["int8"]
    assert set(int8["latency_ms"]) <= {"16", "64", "128"} and int8["latency_ms"]["16"]["runs"] == 5
    assert int8["latency_ms"]["16"]["p50"] <= int8["latency_ms"]["16"]["p90"]
    assert int8["throughput"]["texts_per_s"] > 0
    assert 0 < int8["cold_start_s"] < 60 and int8["peak_rss_mb"] > 10
    assert int8["accuracy"]["metric"] == "accuracy"


def test_a_missing_bundle_is_one_error_line(tmp_path, capsys):
    assert bench.main([str(tmp_path / "nowhere"), "--runs", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no such bundle folder" in err and err.count("\n") == 1


def test_ratios_compare_against_the_reference():
    results = {
        "ref": {"latency_ms": {"16": {"p50": 10.0}}, "throughput": {"texts_per_s": 50.0}, "size_mb": 90.0, "peak_rss_mb": 400.0, "cold_start_s": 4.0},
        "int8": {"latency_ms": {"16": {"p50": 2.0}}, "throughput": {"texts_per_s": 200.0}, "size_mb": 22.5, "peak_rss_mb": 100.0, "cold_start_s": 0.5},
    }
    r = bench.ratios(results, "ref")["int8"]
    assert r["latency_speedup_p50"] == {"16": 5.0} and r["throughput_speedup"] == 4.0
    assert r["size_ratio"] == 0.25 and r["peak_rss_ratio"] == 0.25 and r["cold_start_speedup"] == 8.0


def test_timed_blocks_alternate_engines_after_a_pause(monkeypatch):
    from edgeft_runtime import timing

    events: list[str] = []
    monkeypatch.setattr(timing.time, "sleep", lambda s: events.append(f"pause {s}"))
    fns = {name: (lambda x, name=name: events.append(f"{name} {x}")) for name in ("a", "b")}
    times = timing.timed_blocks(fns, ["x", "y"], runs=5, block=3, warmup=1, pause=0.05)
    assert {name: len(t) for name, t in times.items()} == {"a": 5, "b": 5}
    # Each block: pause (the other engine's threads go idle), one warm-up call, then the timed calls.
    assert events[:10] == ["pause 0.05", "a x", "a x", "a y", "a x", "pause 0.05", "b x", "b x", "b y", "b x"]
    assert events.count("pause 0.05") == 4  # 2 blocks (3 + 2 runs) per engine


def test_timed_blocks_do_not_pause_for_a_single_engine(monkeypatch):
    from edgeft_runtime import timing

    monkeypatch.setattr(timing.time, "sleep", lambda s: (_ for _ in ()).throw(AssertionError("paused")))
    assert len(timing.timed_blocks({"only": lambda x: None}, [1], runs=4, block=2)["only"]) == 4
