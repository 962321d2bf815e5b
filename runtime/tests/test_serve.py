"""The HTTP service on loopback: a real server process per scenario, the committed tiny bundles,
answers compared with the runtime called in-process. Every request loop is bounded."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

import edgeft_runtime  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
START_TIMEOUT = 60


class Server:
    """``python -m edgeft_runtime.serve`` on a free loopback port; its log is collected."""

    def __init__(self, *args: str):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edgeft_runtime.serve", *args, "--host", "127.0.0.1", "--port", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        )
        self.lines: list[str] = []
        self._listening = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._listening.wait(START_TIMEOUT):
            self.stop()
            raise AssertionError("server did not start:\n" + self.log)
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)
            found = re.search(r"listening on (http://[\d.]+:\d+)", line)
            if found:
                self.url = found.group(1)
                self._listening.set()

    def wait_log(self, *texts: str, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while not all(t in self.log for t in texts) and time.monotonic() < deadline:
            time.sleep(0.05)
        return all(t in self.log for t in texts)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def wait_ready(self, want: int = 200) -> dict:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            r = self.client.get("/ready")
            body = r.json()
            if all(m["state"] != "loading" for m in body["models"].values()):
                assert r.status_code == want, body
                return body
            time.sleep(0.05)
        raise AssertionError("not ready in time:\n" + self.log)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bundles")
    return {name: Path(shutil.copytree(FIXTURES / name, root / name)) for name in ("sentiment", "topics", "entities", "fewshot", "fillmask", "entities_ws")}


@pytest.fixture(scope="module")
def server(bundles):
    # fp32: int8 answers depend a little on which texts share a batch (dynamic quantisation scales
    # activations per batch), so the answers are compared with the runtime on the fp32 variant.
    s = Server(*(str(bundles[n]) for n in ("sentiment", "topics", "entities", "fewshot", "fillmask")), "--no-check", "--max-wait-ms", "20", "--variant", "fp32")
    s.wait_ready()
    yield s
    assert s.stop() == 0


TEXTS = ["a great film", "dull and slow", "the plot was fine I suppose", "awful"]


def test_predict_answers_tei_shapes_equal_to_the_runtime(server, bundles):
    model = edgeft_runtime.load(bundles["sentiment"], variant="fp32")
    probs = model.predict_proba(TEXTS)
    one = server.client.post("/predict", json={"inputs": TEXTS[0]}).json()
    assert [p["label"] for p in one] == [model.labels[i] for i in np.argsort(-probs[0], kind="stable")]
    assert np.allclose(sorted(p["score"] for p in one), sorted(probs[0]), atol=1e-6)
    many = server.client.post("/predict", json={"inputs": TEXTS}).json()
    for row, answer in zip(probs, many):
        assert {p["label"]: p["score"] for p in answer} == pytest.approx(dict(zip(model.labels, row.tolist())), abs=1e-6)
    assert server.client.post("/predict", json={"inputs": [[t] for t in TEXTS]}).json() == many  # TEI's batch form
    assert server.client.post("/sentiment/predict", json={"inputs": TEXTS}).json() == many  # the first bundle is also at the root
    topics = edgeft_runtime.load(bundles["topics"], variant="fp32")  # multi-label: every label with its sigmoid
    answer = server.client.post("/topics/predict", json={"inputs": TEXTS[:1]}).json()[0]
    assert {p["label"]: p["score"] for p in answer} == pytest.approx(dict(zip(topics.labels, topics.predict_proba(TEXTS[:1])[0].tolist())), abs=1e-6)


def test_embed_follows_tei_and_is_refused_where_the_bundle_has_none(server, bundles):
    model = edgeft_runtime.load(bundles["fewshot"], variant="fp32")
    vectors = np.array(server.client.post("/fewshot/embed", json={"inputs": TEXTS}).json())
    assert np.allclose(vectors, model.embed(TEXTS), atol=1e-5)
    single = server.client.post("/fewshot/embed", json={"inputs": TEXTS[0]}).json()
    assert len(single) == 1 and np.allclose(single[0], vectors[0], atol=1e-6)  # TEI: always a list of vectors
    raw = np.array(server.client.post("/fewshot/embed", json={"inputs": TEXTS, "normalize": False}).json())
    assert np.allclose(raw, model.embed(TEXTS, normalize=False), atol=1e-5)
    refused = server.client.post("/embed", json={"inputs": "x"})
    assert refused.status_code == 424 and refused.json()["error_type"] == "validation"


def test_ner_and_fill_mask_answer_with_the_runtime_fields(server, bundles):
    tagger = edgeft_runtime.load(bundles["entities"], variant="fp32")
    texts = ["anna met otto in berlin .", "otto visited paris today ."]
    assert server.client.post("/entities/predict", json={"inputs": texts}).json() == json.loads(json.dumps(tagger.tag(texts)))
    assert server.client.post("/entities/predict", json={"inputs": texts[0], "aggregation": "max"}).json() == json.loads(json.dumps(tagger.tag(texts[0], aggregation="max")))
    filler = edgeft_runtime.load(bundles["fillmask"], variant="fp32")
    masked = [f"the film was {filler.mask_token} .", f"{filler.mask_token} met otto"]
    got = server.client.post("/fillmask/predict", json={"inputs": masked, "top_k": 3}).json()
    want = json.loads(json.dumps(filler.fill_mask(masked, top_k=3)))
    assert [[[c["token"] for c in m] for m in t] for t in got] == [[[c["token"] for c in m] for m in t] for t in want]


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/predict", b"{not json", "body"),
        ("/predict", b'["a list"]', "body"),
        ("/predict", b"{}", "inputs"),
        ("/predict", b'{"inputs": ["ok", 3]}', "inputs[1]"),
        ("/predict", b'{"inputs": ""}', "inputs"),
        ("/predict", b'{"inputs": "ok", "raw_score": true}', "raw_score"),
        ("/predict", b'{"inputs": "ok", "raw_scores": "yes"}', "raw_scores"),
        ("/predict", b'{"inputs": "ok", "truncation_direction": "left"}', "truncation_direction"),
        ("/fillmask/predict", b'{"inputs": ["no mask here"]}', "inputs[0]"),
        ("/fillmask/predict", b'{"inputs": "a [MASK]", "top_k": 0}', "top_k"),
        ("/entities/predict", b'{"inputs": "anna", "aggregation": "mean"}', "aggregation"),
        ("/fewshot/embed", b'{"inputs": "ok", "prompt_name": "query"}', "prompt_name"),
    ],
)
def test_bad_requests_get_400_naming_the_field(server, path, body, field):
    r = server.client.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["field"] == field and r.json()["error_type"] == "validation"
    assert r.json()["error"].startswith(field)


def test_unknown_model_and_route_answer_json_errors(server):
    assert server.client.post("/nope/predict", json={"inputs": "x"}).status_code == 404
    r = server.client.get("/no/such/path")
    assert r.status_code == 404 and "error" in r.json()
    assert server.client.get("/predict").status_code == 405


def test_health_ready_info_openapi(server):
    assert server.client.get("/health").json() == {"status": "ok"}
    ready = server.client.get("/ready").json()
    assert ready["ready"] and set(ready["models"]) == {"sentiment", "topics", "entities", "fewshot", "fillmask"}
    assert all(m["state"] == "ready" and m["checked"] is False for m in ready["models"].values())
    info = server.client.get("/info").json()
    assert info["model_id"] == "sentiment" and info["model_type"]["classifier"]["id2label"]
    spec = server.client.get("/openapi.json").json()
    assert {"/predict", "/sentiment/predict", "/fewshot/embed", "/entities/predict", "/ready", "/metrics"} <= set(spec["paths"])
    assert "/entities/embed" not in spec["paths"]
    assert "ErrorResponse" in spec["components"]["schemas"]


def _metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}} ") or (not labels and line.startswith(f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_concurrent_requests_are_batched_and_answered_in_order(server, bundles):
    model = edgeft_runtime.load(bundles["sentiment"], variant="fp32")
    texts = [f"text number {i} was {'great' if i % 2 else 'awful'}" for i in range(24)]
    want = [[p["label"] for p in sorted(({"label": l, "score": s} for l, s in zip(model.labels, row)), key=lambda p: -p["score"])] for row in model.predict_proba(texts)]
    before = server.client.get("/metrics").text

    async def fire():
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            return await asyncio.gather(*(client.post("/sentiment/predict", json={"inputs": t}) for t in texts))

    answers = asyncio.run(fire())
    assert [r.status_code for r in answers] == [200] * len(texts)
    assert [[p["label"] for p in r.json()] for r in answers] == want
    after = server.client.get("/metrics").text
    batches = _metric(after, "edgeft_batch_size_count", model="sentiment") - _metric(before, "edgeft_batch_size_count", model="sentiment")
    run = _metric(after, "edgeft_texts_total", model="sentiment") - _metric(before, "edgeft_texts_total", model="sentiment")
    assert run == len(texts) and batches < len(texts)  # some requests shared a batch
    assert _metric(after, "edgeft_requests_total", model="sentiment", endpoint="predict", code="200") >= len(texts)
    assert 'edgeft_queue_depth{model="sentiment"} 0' in after
    assert re.search(r'edgeft_request_duration_seconds_bucket\{model="sentiment",endpoint="predict",le="\+Inf"\} \d+', after)
    assert _metric(after, "edgeft_errors_total", model="sentiment", error_type="validation") >= 1  # earlier tests' 400s


def test_batch_workers_answer_as_one_worker_does_and_stop_cleanly(bundles):
    # --batch-workers 2: two batches at once on one session; every caller still gets its own
    # answers, the same as the runtime's, and SIGTERM still drains and exits 0.
    model = edgeft_runtime.load(bundles["sentiment"], variant="fp32")
    texts = [f"review {i}: {'great fun' if i % 3 else 'dull and slow'}" for i in range(40)]
    want = [max(zip(row, model.labels))[1] for row in model.predict_proba(texts)]
    s = Server(str(bundles["sentiment"]), "--no-check", "--variant", "fp32", "--threads", "1", "--batch-workers", "2", "--max-batch", "4")
    try:
        s.wait_ready()

        async def fire():
            async with httpx.AsyncClient(base_url=s.url, timeout=30) as client:
                return await asyncio.gather(*(client.post("/predict", json={"inputs": t}) for t in texts))

        answers = asyncio.run(fire())
        assert [r.status_code for r in answers] == [200] * len(texts)
        assert [r.json()[0]["label"] for r in answers] == want
    finally:
        assert s.stop() == 0


def test_limits_answer_413_with_one_json_error(bundles):
    s = Server(str(bundles["sentiment"]), "--no-check", "--max-texts", "4", "--max-chars", "50", "--max-body-bytes", "2048")
    try:
        s.wait_ready()
        cases = [({"inputs": ["a"] * 5}, "inputs"), ({"inputs": ["a", "b" * 51]}, "inputs[1]"), ({"inputs": "c" * 3000}, "body")]
        for body, field in cases:
            r = s.client.post("/predict", json=body)
            assert r.status_code == 413 and r.json()["field"] == field, r.text
        chunked = s.client.post("/predict", content=iter([b'{"inputs": "', b"d" * 3000, b'"}']))  # no Content-Length
        assert chunked.status_code == 413 and chunked.json()["field"] == "body"
        assert s.client.post("/predict", json={"inputs": ["fine"] * 4}).status_code == 200
    finally:
        assert s.stop() == 0


def test_overload_answers_429_with_retry_after_and_nothing_else_fails(bundles):
    s = Server(str(bundles["sentiment"]), "--no-check", "--max-queue", "2", "--max-texts", "2", "--max-batch", "1", "--max-wait-ms", "0")
    try:
        s.wait_ready()

        async def flood():
            async with httpx.AsyncClient(base_url=s.url, timeout=30, limits=httpx.Limits(max_connections=100)) as client:
                body = {"inputs": ["one text " * 20, "another text " * 20]}
                return await asyncio.gather(*(client.post("/predict", json=body) for _ in range(80)))

        answers = asyncio.run(flood())
        codes = [r.status_code for r in answers]
        assert set(codes) <= {200, 429} and codes.count(200) >= 1 and codes.count(429) >= 1, codes
        refused = next(r for r in answers if r.status_code == 429)
        assert int(refused.headers["retry-after"]) >= 1 and refused.json()["error_type"] == "overloaded"
        assert s.client.get("/health").status_code == 200
    finally:
        assert s.stop() == 0


def test_sigterm_drains_requests_in_flight_and_exits_0(bundles):
    s = Server(str(bundles["sentiment"]), "--no-check", "--max-wait-ms", "5000", "--max-batch", "64")
    s.wait_ready()
    results: list = []

    async def fire():
        async with httpx.AsyncClient(base_url=s.url, timeout=30) as client:
            tasks = [asyncio.ensure_future(client.post("/predict", json={"inputs": f"text {i}"})) for i in range(10)]
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:  # until all ten wait in the queue for their batch
                await asyncio.sleep(0.05)
                if 'edgeft_queue_depth{model="sentiment"} 10' in (await client.get("/metrics")).text:
                    break
            s.proc.send_signal(signal.SIGTERM)
            results.extend(await asyncio.gather(*tasks, return_exceptions=True))

    asyncio.run(fire())
    assert s.proc.wait(30) == 0, s.log
    assert [getattr(r, "status_code", r) for r in results] == [200] * 10
    assert s.wait_log("stopped")


def _tamper_check(bundle: Path) -> None:
    """Make the bundle fail its device check: the stored PyTorch answers and the gold labels swap
    PER and LOC, so PyTorch scores 100 on them while the (unchanged) model misses every entity.
    The manifest's hashes are updated, so only the check can catch it."""
    manifest = json.loads((bundle / "edgeft.json").read_text())
    labels = manifest["labels"]
    swap = {labels.index(f"{p}-PER"): labels.index(f"{p}-LOC") for p in "BI"}
    swap.update({v: k for k, v in swap.items()})
    order = [swap.get(i, i) for i in range(len(labels))]
    probs_file = bundle / manifest["reference"]["arrays"]["word_probabilities"]
    np.save(probs_file, np.load(probs_file)[:, order])
    texts_file = bundle / manifest["reference"]["texts"]
    data = json.loads(texts_file.read_text())
    for key in ("gold", "entities"):  # the annotations, and PyTorch's entities
        data[key] = [[[{"PER": "LOC", "LOC": "PER"}.get(e[0], e[0]), *e[1:]] for e in row] for row in data[key]]
    texts_file.write_text(json.dumps(data))
    manifest["reference"]["max_drop"] = 1.0
    for name in manifest["files"]:
        manifest["files"][name]["sha256"] = hashlib.sha256((bundle / name).read_bytes()).hexdigest()
    (bundle / "edgeft.json").write_text(json.dumps(manifest))


def test_device_check_gates_serving_and_reload_keeps_the_old_model_when_the_new_fails(bundles, tmp_path):
    good = Path(shutil.copytree(bundles["entities_ws"], tmp_path / "good"))
    failing = Path(shutil.copytree(bundles["entities_ws"], tmp_path / "failing"))
    _tamper_check(failing)
    live = Path(shutil.copytree(good, tmp_path / "ner"))
    s = Server(str(live), f"bad={failing}", "--max-wait-ms", "0")
    try:
        ready = s.wait_ready(want=503)
        assert ready["models"]["ner"]["state"] == "ready" and ready["models"]["ner"]["check"]["passed"]
        reason = ready["models"]["bad"]["reason"]
        assert ready["models"]["bad"]["state"] == "failed" and "fails the device check" in reason and "--no-check" in reason
        assert s.wait_log("bad: not served", "fails the device check")
        refused = s.client.post("/bad/predict", json={"inputs": "anna met otto"})
        assert refused.status_code == 503 and refused.json()["error_type"] == "unhealthy"
        text = "anna met otto in berlin ."
        before = s.client.post("/predict", json={"inputs": text}).json()
        assert before

        (live / "model_int8.onnx").write_bytes((live / "model_int8.onnx").read_bytes()[:-10] + b"0123456789")  # corrupted copy
        r = s.client.post("/admin/reload", params={"model": "ner"})
        assert r.status_code == 409 and "sha256" in r.json()["models"]["ner"]["reason"], r.text
        assert s.client.post("/predict", json={"inputs": text}).json() == before  # the old model still serves

        shutil.rmtree(live)
        shutil.copytree(failing, live)  # intact files, but it fails the check
        r = s.client.post("/admin/reload", params={"model": "ner"})
        assert r.status_code == 409 and "fails the device check" in r.json()["models"]["ner"]["reason"]
        assert s.client.post("/predict", json={"inputs": text}).json() == before

        shutil.rmtree(live)
        shutil.copytree(good, live)
        s.proc.send_signal(signal.SIGHUP)  # the same reload, by signal
        assert s.wait_log("ner: reloaded", "bad: reload refused")
        assert s.client.get("/ready").json()["models"]["ner"]["last_reload"]["ok"] is True
        assert s.client.post("/predict", json={"inputs": text}).json() == before
        metrics = s.client.get("/metrics").text
        assert _metric(metrics, "edgeft_reloads_total", model="ner", result="failed") == 2
        assert _metric(metrics, "edgeft_model_ready", model="bad") == 0
    finally:
        assert s.stop() == 0


def test_a_bundle_without_reference_set_is_not_served_unless_no_check(bundles):
    s = Server(str(bundles["sentiment"]))
    try:
        ready = s.wait_ready(want=503)
        assert "no reference set" in ready["models"]["sentiment"]["reason"]
        assert s.client.post("/predict", json={"inputs": "x"}).status_code == 503
    finally:
        assert s.stop() == 0


def test_command_line_errors_are_one_line(tmp_path):
    for args, flag in ((["--max-batch", "0"], "--max-batch"), (["--max-wait-ms", "nan"], "--max-wait-ms"), (["--threads", "x"], "--threads")):
        proc = subprocess.run([sys.executable, "-m", "edgeft_runtime.serve", str(FIXTURES / "sentiment"), *args], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and proc.stderr.startswith(f"error: {flag}") and proc.stderr.count("\n") == 1, proc.stderr
    proc = subprocess.run([sys.executable, "-m", "edgeft_runtime.serve", str(tmp_path / "missing")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stderr.startswith("error:") and "no such bundle" in proc.stderr and proc.stderr.count("\n") == 1


def test_importing_the_runtime_imports_no_server_stack():
    code = "import sys, edgeft_runtime; edgeft_runtime.load; print(sorted(m for m in sys.modules if m.split('.')[0] in ('starlette', 'uvicorn', 'anyio', 'h11')))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert proc.stdout.strip() == "[]"


def test_inference_front_answers_as_the_starlette_routes_do(bundles):
    # POST /predict and /embed skip Starlette (fast_inference); with a root path set the same
    # requests go through Starlette's routes: both must answer alike, errors included.
    from edgeft_runtime.serve.app import build_app
    from edgeft_runtime.serve.options import parse_options
    from edgeft_runtime.serve.registry import Registry

    registry = Registry(parse_options([str(bundles["sentiment"]), str(bundles["fewshot"]), "--no-check", "--variant", "fp32", "--max-body-bytes", "256"]))
    registry.load_all()
    app = build_app(registry)
    requests = [
        ("/predict", {"inputs": "a great film"}), ("/sentiment/predict", {"inputs": ["dull", "a fine plot, I suppose"]}),
        ("/fewshot/embed", {"inputs": "one text"}), ("/predict", {"inputs": 5}), ("/nobody/predict", {"inputs": "x"}),
        ("/sentiment/embed", {"inputs": "x"}), ("/predict", {"inputs": "x" * 300}), ("/predict", b"{not json"),
    ]

    async def answers(root_path: str) -> list[tuple[int, str, bytes]]:
        transport = httpx.ASGITransport(app=app, root_path=root_path)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            out = []
            for path, body in requests:
                sent = {"content": body} if isinstance(body, bytes) else {"json": body}
                r = await client.post(root_path + path, **sent)
                out.append((r.status_code, r.headers["content-type"], r.content))
            return out

    try:
        fast, routed = asyncio.run(answers("")), asyncio.run(answers("/behind-a-proxy"))
    finally:
        registry.close(5)
    assert [code for code, _, _ in fast] == [200, 200, 200, 400, 404, 424, 413, 400]
    assert fast == routed
    assert registry.metrics.requests.value("sentiment", "predict", "200") == 4  # both ways counted


def test_a_mixed_length_batch_runs_in_length_groups_with_the_answers_in_order(bundles):
    from edgeft_runtime.serve.protocol import run_batch

    model = edgeft_runtime.load(bundles["sentiment"], variant="fp32")
    texts = ["ok", "a rather long review that goes on and on about the acting, the plot and the music", "bad", "fine film"]
    runs = []
    original = model.predict_proba
    model.predict_proba = lambda batch, **kw: (runs.append(list(batch)), original(batch, **kw))[1]
    answers = [json.loads(a) for a in run_batch(model, ("proba",), texts, 32)]
    assert len(runs) >= 2 and sorted(t for r in runs for t in r) == sorted(texts)  # the long text ran apart
    for text, answer in zip(texts, answers):
        alone = dict(zip(model.labels, original([text])[0]))
        assert [p["label"] for p in answer] == sorted(alone, key=lambda label: -alone[label])
        assert all(abs(p["score"] - alone[p["label"]]) < 1e-5 for p in answer)
