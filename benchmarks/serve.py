"""The HTTP service under load on loopback: dynamic batching against unbatched serving, the same
bundle called in-process one text at a time, and (for embeddings) infinity-emb on the same model.

    python benchmarks/serve.py [BUNDLE] [--clients 1,8,32,128] [--slice 2] [--rounds 3]
        [--configs batched,wait2,batch8,unbatched,threads1,workers2,unbatched_workers2] [--skip-main]
        [--open-loop --rates 0.1,0.25,0.5,0.75,1.0,1.25,1.5 --open-slice 2 --open-rounds 5 --p99-factor 3]
        [--embed-bundle SETFIT_BUNDLE --infinity-python PY --infinity-model ST_FOLDER]
        [--burst 1280] [--out benchmarks/results/serve.json]

Every server runs in its own process (``python -m edgeft_runtime.serve``), all started at once
and idle between their turns; the load comes from another process, a small asyncio HTTP/1.1
client (keep-alive connections, one request in flight per client, each client sending its next
request as soon as its answer arrives: a closed loop). Requests are single texts, cycled from
examples/demo/test.csv. Per client count the configurations take turns in short slices, in
rotating order, so that each sees the same drift of this shared machine's load; latencies are
pooled over a configuration's slices. Per configuration and client count: answered requests per
second, p50 and p99 latency, every status code seen, and the server's CPU time per answer (from
/proc: it depends far less on the other jobs of the machine than wall-clock figures do). The
in-process baseline (``model.predict(text)``, one text at a time, a persistent process) takes
its turns at one client.

With --open-loop: batched against unbatched serving under Poisson arrivals (an open loop: each
request is sent when it arrives, whatever is in flight), at rates that are fractions (--rates) of
the unbatched server's closed-loop capacity at 32 clients measured in the same run, with the
single-request latency (unbatched p50 at one client) measured there too. A configuration's rated
load is the highest rate at which its p99 stays within --p99-factor x the single-request latency
with every request answered 200: the issue's "p99 <= 3x" criterion as serving benchmarks state it,
for a load that does not wait on its own answers (a closed loop at saturation cannot meet it).
It is given three ways (``rated_loads``): strict, from the scheduled arrival, and robust to the
shared machine's stalls.

Then an overload burst (--burst 0: none): ``--burst`` connections at once (10x the most clients of the table) for
4 s against the batched server with the default queue bound; its peak RSS (VmHWM) before and
after, the status codes (429 with Retry-After beyond --max-queue; no other error), /health after.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TEXTS_FILE = ROOT / "examples" / "demo" / "test.csv"


def demo_texts() -> list[str]:
    with open(TEXTS_FILE, newline="", encoding="utf-8") as f:
        return [row["text"] for row in csv.DictReader(f)]


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# -- the load generator (its own process) ---------------------------------------------------------


async def _exchange(reader, writer, host: str, path: str, body: bytes) -> tuple[int, bool]:
    """One HTTP/1.1 request on an open connection: (status code, whether the server closes it)."""
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    writer.write(head.encode() + body)
    await writer.drain()
    status = await reader.readline()
    if not status:
        raise ConnectionError("closed")
    code, length, close = int(status.split()[1]), 0, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        key, _, value = line.partition(b":")
        key = key.strip().lower()
        if key == b"content-length":
            length = int(value)
        elif key == b"connection" and value.strip().lower() == b"close":
            close = True
    await reader.readexactly(length)
    return code, close


IO_ERRORS = (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError)


async def _one_client(host, port, path, bodies, start_at, stop_at, out, max_requests=None):
    reader = writer = None
    sent = 0
    i = hash(asyncio.current_task()) % len(bodies)
    while time.perf_counter() < stop_at and (max_requests is None or sent < max_requests):
        if writer is None:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError as e:
                out.append((time.perf_counter(), 0.0, f"connect:{e.errno}"))
                await asyncio.sleep(0.05)
                continue
        body = bodies[i % len(bodies)]
        i += 1
        t0 = time.perf_counter()
        try:
            code, close = await _exchange(reader, writer, host, path, body)
        except IO_ERRORS as e:
            out.append((time.perf_counter(), time.perf_counter() - t0, f"io:{type(e).__name__}"))
            writer.close()
            reader = writer = None
            continue
        sent += 1
        now = time.perf_counter()
        if now >= start_at:
            out.append((now, now - t0, code))
        if close:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def open_loop(host: str, port: int, path: str, bodies: list[bytes], rate: float, start_at: float, stop_at: float,
                    seed: int, max_connections: int = 2048) -> tuple[list, list]:
    """Requests arriving at ``rate`` per second, Poisson (exponential gaps, seeded), from now until
    ``stop_at``, each sent when it arrives on an idle keep-alive connection or a new one, whatever
    is still in flight: an open loop, as a service sees independent users. Each answer gets two
    latencies: from its send (as the closed loop and the single-request latency count) and from its
    scheduled arrival (which also counts the generator's own delay in sending, on a shared machine
    often milliseconds). Returns ([(arrival, latency from send, code, latency from arrival)], send
    delays in s); arrivals before ``start_at`` (warm-up) are not recorded. More than
    ``max_connections`` in flight count as "overflow" (the generator's bound, not the server's)."""
    rng, idle, out, delays = random.Random(seed), [], [], []
    busy = 0

    async def one(at: float, body: bytes) -> None:
        nonlocal busy
        if not idle and busy >= max_connections:
            if at >= start_at:
                out.append((at, 0.0, "overflow", 0.0))
            return
        busy += 1
        try:
            reader, writer = idle.pop() if idle else await asyncio.open_connection(host, port)
        except OSError as e:
            busy -= 1
            out.append((at, 0.0, f"connect:{e.errno}", time.perf_counter() - at))
            return
        sent = time.perf_counter()
        try:
            code, close = await _exchange(reader, writer, host, path, body)
        except IO_ERRORS as e:
            code, close = f"io:{type(e).__name__}", True
        now = time.perf_counter()
        if at >= start_at:
            out.append((at, now - sent, code, now - at))
        busy -= 1
        if close:
            writer.close()
        else:
            idle.append((reader, writer))

    tasks, at, i = [], time.perf_counter(), 0
    while True:
        at += rng.expovariate(rate)
        if at >= stop_at:
            break
        wait = at - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        if at >= start_at:
            delays.append(time.perf_counter() - at)
        tasks.append(asyncio.create_task(one(at, bodies[i % len(bodies)])))
        i += 1
    await asyncio.gather(*tasks)
    for _, writer in idle:
        writer.close()
    return out, delays


def load_child(spec: dict) -> None:
    """Run ``spec["clients"]`` clients for warm-up + ``seconds``; print JSON of what was measured."""
    bodies = [json.dumps(b).encode() for b in spec["bodies"]]
    host, port = spec["host"], spec["port"]

    delays: list = []

    async def main():
        begin = time.perf_counter()
        start_at, stop_at = begin + spec["warmup"], begin + spec["warmup"] + spec["seconds"]
        out: list = []
        if spec.get("rate"):
            out, late = await open_loop(host, port, spec["path"], bodies, spec["rate"], start_at, stop_at, spec.get("seed", 0))
            delays.extend(late)
            return out, spec["seconds"]  # arrivals span the slice; answers to its last ones come after it
        await asyncio.gather(*(_one_client(host, port, spec["path"], bodies, start_at, stop_at, out, spec.get("max_requests")) for _ in range(spec["clients"])))
        return out, time.perf_counter() - start_at

    out, elapsed = asyncio.run(main())
    ok = sorted(row[1] for row in out if row[2] == 200)
    codes = Counter(str(row[2]) for row in out)
    result = {"clients": spec["clients"], "seconds": round(elapsed, 3), "answered_per_s": round(len(ok) / elapsed, 2) if elapsed > 0 else 0.0,
              "codes": dict(codes), "p50_ms": _pct(ok, 50), "p99_ms": _pct(ok, 99), "max_ms": round(1000 * ok[-1], 2) if ok else None,
              "latencies_ms": [round(1000 * x, 3) for x in ok]}
    if spec.get("rate"):
        result.update(rate=spec["rate"], sent=len(out), send_delay_p99_ms=_pct(sorted(delays), 99),
                      latencies_from_arrival_ms=sorted(round(1000 * row[3], 3) for row in out if row[2] == 200))
    print(json.dumps(result))


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    k = min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))
    return round(1000 * values[k], 2)


def run_load(url: str, path: str, bodies: list, clients: int, seconds: float, warmup: float = 1.0, max_requests: int | None = None,
             rate: float | None = None, seed: int = 0) -> dict:
    """Closed loop of ``clients``, or with ``rate`` an open loop of that many arrivals per second."""
    host, port = re.match(r"http://([\d.]+):(\d+)", url).groups()
    spec = {"host": host, "port": int(port), "path": path, "bodies": bodies, "clients": clients, "seconds": seconds, "warmup": warmup,
            "max_requests": max_requests, "rate": rate, "seed": seed}
    proc = subprocess.run([sys.executable, __file__, "--load-child", json.dumps(spec)], capture_output=True, text=True, timeout=seconds + warmup + 120)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["load_average"] = loadavg()
    return result


# -- servers ----------------------------------------------------------------------------------------


class Server:
    """A server process; ``url`` once it listens; ``peak_rss_mb`` from /proc (VmHWM)."""

    def __init__(self, cmd: list[str], ready_path: str, pattern: str, env: dict | None = None):
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})})
        self.lines: list[str] = []
        self.url: str | None = None
        found = threading.Event()

        def read():
            for line in self.proc.stdout:
                self.lines.append(line)
                m = re.search(pattern, line)
                if m and not found.is_set():
                    self.url = m.group(1)
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(300):
            self.stop()
            raise RuntimeError("server did not start:\n" + "".join(self.lines[-30:]))
        import urllib.request

        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + ready_path, timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server not ready:\n" + "".join(self.lines[-30:]))

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return round(int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024, 1)

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return round(int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024, 1)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far, all its threads."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.returncode


def edgeft_server(bundle: str, *options: str) -> Server:
    cmd = [sys.executable, "-m", "edgeft_runtime.serve", bundle, "--port", "0", *options]
    return Server(cmd, "/ready", r"listening on (http://[\d.]+:\d+)")


def infinity_server(python: str, model: str, batch: int) -> Server:
    port = _free_port()
    cmd = [str(Path(python).parent / "infinity_emb"), "v2", "--model-id", model, "--port", str(port), "--host", "127.0.0.1",
           "--engine", "torch", "--device", "cpu", "--batch-size", str(batch), "--no-bettertransformer"]
    env = {"HF_HUB_OFFLINE": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0", "DO_NOT_TRACK": "1"}
    return _started(cmd, env, port)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _started(cmd: list[str], env: dict, port: int) -> Server:
    """A server whose port we chose: wait for its /health instead of a log line."""
    server = Server.__new__(Server)
    server.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **env})
    server.lines, server.url = [], f"http://127.0.0.1:{port}"
    threading.Thread(target=lambda: [server.lines.append(l) for l in server.proc.stdout], daemon=True).start()
    import urllib.request

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError("server exited:\n" + "".join(server.lines[-30:]))
        try:
            with urllib.request.urlopen(server.url + "/health", timeout=5) as r:
                if r.status == 200:
                    return server
        except OSError:
            pass
        time.sleep(0.5)
    server.stop()
    raise RuntimeError("server not ready:\n" + "".join(server.lines[-30:]))


# -- in-process, one text at a time (a persistent child: "run N seconds" per line on stdin) ------


def inproc_child(spec: dict) -> None:
    import edgeft_runtime

    model = edgeft_runtime.load(spec["bundle"], threads=spec.get("threads"))
    texts = spec["texts"]
    call = (lambda t: model.embed(t)) if spec.get("embed") else (lambda t: model.predict(t))
    for t in texts[:20]:
        call(t)
    print("ready", flush=True)
    i = 0
    for line in sys.stdin:
        lat, stop = [], time.perf_counter() + float(line)
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            call(texts[i % len(texts)])
            lat.append(time.perf_counter() - t0)
            i += 1
        print(json.dumps({"latencies_ms": [round(1000 * x, 3) for x in lat], "seconds": sum(lat)}), flush=True)


def cpu_child(spec: dict) -> None:
    """CPU time per text of ``predict_proba`` at several batch sizes, and of the server's worker path
    (``run_batch``) for batches of 32 with and without length groups, in this process (one intra-op
    thread: CPU time then counts the model's work, not threads waiting on each other)."""
    import edgeft_runtime

    model = edgeft_runtime.load(spec["bundle"], threads=1, spinning=False)
    texts = spec["texts"]
    for t in texts[:20]:
        model.predict_proba(t)
    out = {}
    for size in spec["sizes"]:
        batches = [texts[i : i + size] for i in range(0, len(texts) - size + 1, size)] or [texts[:size]]
        runs = max(1, 256 // (size * len(batches)))
        t0 = time.process_time()
        for _ in range(runs):
            for batch in batches:
                model.predict_proba(batch, batch_size=size)
        out[str(size)] = round(1000 * (time.process_time() - t0) / (runs * sum(len(b) for b in batches)), 3)
    # The server's worker path for a batch of 32 (answers as JSON): one padded run against length groups.
    from edgeft_runtime.serve.protocol import run_batch, run_texts

    batches = [texts[i : i + 32] for i in range(0, len(texts) - 31, 32)]
    for label, run in (("32, served in one run", run_texts), ("32, served in length groups", run_batch)):
        t0 = time.process_time()
        for _ in range(max(1, 512 // (32 * len(batches)))):
            for batch in batches:
                run(model, ("proba",), batch, 32)
        out[label] = round(1000 * (time.process_time() - t0) / (max(1, 512 // (32 * len(batches))) * 32 * len(batches)), 3)
    tokens = [len(e.ids) for e in model.tokenizer.encode(texts)]
    print(json.dumps({"cpu_ms_per_text": out, "mean_tokens": round(statistics.mean(tokens), 1)}))


class InProcess:
    def __init__(self, bundle: str, texts: list[str], embed: bool = False):
        spec = {"bundle": bundle, "texts": texts, "embed": embed}
        self.proc = subprocess.Popen([sys.executable, __file__, "--inproc-child", json.dumps(spec)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def run(self, seconds: float) -> dict:
        self.proc.stdin.write(f"{seconds}\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


# -- the benchmark --------------------------------------------------------------------------------


def summarise(slices: list[dict]) -> dict:
    """One configuration at one client count, over all its slices."""
    lat = sorted(x for s in slices for x in s["latencies_ms"])
    seconds = sum(s["seconds"] for s in slices)
    codes: Counter = Counter()
    for s in slices:
        codes.update(s.get("codes", {"200": len(s["latencies_ms"])}))
    out = {"answered_per_s": round(len(lat) / seconds, 2) if seconds else 0.0,
           "p50_ms": _pct_ms(lat, 50), "p99_ms": _pct_ms(lat, 99), "answered": len(lat), "codes": dict(codes),
           "load_average": [s["load_average"] for s in slices]}
    cpu = [s["cpu_s"] for s in slices if "cpu_s" in s]
    if cpu:
        out["server_cpu_ms_per_answer"] = round(1000 * sum(cpu) / max(1, len(lat)), 3)
    return out


def _pct_ms(values: list[float], q: float) -> float | None:
    if not values:
        return None
    k = min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))
    return round(values[k], 2)


def measure(servers: dict, paths: dict, bodies: dict, levels: list[int], rounds: int, slice_s: float, inproc=None, only: dict | None = None) -> dict:
    """Every configuration at every client count, in short slices rotating through the
    configurations, so that each sees the same drift of this shared machine's load."""
    table: dict = {}
    names = list(servers)
    for clients in levels:
        runs: dict = {n: [] for n in names}
        if inproc is not None and clients == 1:
            runs["in-process, batch 1"] = []
        for r in range(rounds):
            order = names[r % len(names):] + names[: r % len(names)]
            if inproc is not None and clients == 1:
                order.append("in-process, batch 1")
            for name in order:
                if only and name in only and clients not in only[name]:
                    continue
                time.sleep(0.3)  # let the last slice's threads go idle
                if name == "in-process, batch 1":
                    sl = inproc.run(slice_s)
                    sl["load_average"] = loadavg()
                else:
                    server = servers[name]
                    cpu0 = server.cpu_seconds()
                    sl = run_load(server.url, paths[name], bodies[name], clients, slice_s, warmup=0.5)
                    sl["cpu_s"] = server.cpu_seconds() - cpu0  # includes the warm-up: an upper bound
                runs[name].append(sl)
        for name, slices in runs.items():
            if slices:
                table.setdefault(name, {})[str(clients)] = summarise(slices)
                t = table[name][str(clients)]
                print(f"{clients:4d} clients  {name:26s} {t['answered_per_s']:8.1f}/s  p50 {t['p50_ms']} ms  p99 {t['p99_ms']} ms  "
                      f"cpu/answer {t.get('server_cpu_ms_per_answer')} ms  codes {t['codes']}", flush=True)
    return table


def rated_loads(section: dict, factor: float) -> dict:
    """Each configuration's rated load: the highest rate measured at which, and at every lower rate
    measured, p99 <= ``factor`` x one request's latency and every request was answered 200. Read
    three ways: the p99 pooled over slices against the closed-loop single-request p50 (strict); the
    same with latencies from the scheduled arrival; and the median of the slices' p99 against the p50
    of isolated requests, those of the lowest rate measured, which reach a server whose threads
    sleep (robust: one stall of the shared machine spoils one slice, not the rate). None: not even
    the lowest rate."""
    table = section["table"]
    rates = sorted(table["unbatched"], key=float)
    isolated = table["unbatched"][rates[0]]["p50_ms"]
    single = section["single_request_ms"]
    tests = {"strict": (single, "p99_ms"), "from_arrival": (single, "from_arrival_p99_ms"), "robust": (isolated, "p99_median_of_slices_ms")}
    out: dict = {"single_request_ms": single, "isolated_request_ms": isolated, "factor": factor}
    for reading, (base, field) in tests.items():
        out[reading] = {}
        for name, rows in table.items():
            rated = None
            for rate in rates:
                t = rows[rate]
                if set(t["codes"]) != {"200"} or t.get(field) is None or t[field] > factor * base:
                    break
                rated = t["rate_per_s"]
            out[reading][name] = rated
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", nargs="?", default=str(ROOT / "models" / "demo-int8"))
    parser.add_argument("--clients", default="1,8,32,128")
    parser.add_argument("--slice", type=float, default=2.0, help="seconds per measurement slice")
    parser.add_argument("--rounds", type=int, default=3, help="slices per configuration and client count")
    parser.add_argument("--max-wait-ms", default="0", help="the batched configurations' wait (the server's default: 0)")
    parser.add_argument("--burst", type=int, default=1280)
    parser.add_argument("--embed-bundle", default=None, help="a SetFit bundle: /embed against infinity-emb")
    parser.add_argument("--infinity-python", default=None, help="a Python with infinity-emb[server,torch] installed")
    parser.add_argument("--infinity-model", default=None, help="the sentence-transformers folder of the embed bundle's model")
    parser.add_argument("--skip-main", action="store_true", help="skip the closed-loop table (and the burst)")
    parser.add_argument("--configs", default="batched,wait2,batch8,unbatched,threads1", help="configurations of the closed-loop table")
    parser.add_argument("--open-loop", action="store_true", help="also batched against unbatched under Poisson arrivals")
    parser.add_argument("--rates", default="0.1,0.25,0.5,0.75,1.0,1.25,1.5", help="open-loop rates, as fractions of unbatched capacity")
    parser.add_argument("--open-slice", type=float, default=2.0, help="seconds of arrivals per open-loop slice")
    parser.add_argument("--open-rounds", type=int, default=5, help="open-loop slices per configuration and rate")
    parser.add_argument("--p99-factor", type=float, default=3.0, help="rated load: p99 at most this times one request's latency")
    parser.add_argument("--out", default=str(RESULTS / "serve.json"))
    parser.add_argument("--load-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--inproc-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--cpu-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cpu_child:
        return cpu_child(json.loads(args.cpu_child))
    if args.load_child:
        return load_child(json.loads(args.load_child))
    if args.inproc_child:
        return inproc_child(json.loads(args.inproc_child))

    from edgeft_runtime.device import device_info

    texts = demo_texts()
    levels = [int(c) for c in args.clients.split(",")]
    result: dict = {"benchmark": "serve", "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    "machine": {**device_info(None), "shared_with_other_jobs": True, "load_average_at_start": loadavg()},
                    "texts": f"{len(texts)} texts of examples/demo/test.csv, one per request", "clients": levels,
                    "method": f"closed loop; per client count, {args.rounds} slices of {args.slice} s (+0.5 s warm-up) per configuration, "
                              "configurations rotating; latencies pooled over slices; server CPU time read from /proc"}
    if not args.skip_main:
        result.update(main_table(args, texts, levels))
    if args.open_loop:
        result["open_loop"] = open_loop_table(args, texts)
    if args.embed_bundle:
        result["embeddings"] = embeddings(args, texts, levels)
    result["machine"]["load_average_at_end"] = loadavg()
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


def server_configs(args) -> dict[str, list[str]]:
    """The configurations --configs names (short ids), by the names the results use."""
    every = {
        "batched": ("batched", ["--max-batch", "32", "--max-wait-ms", args.max_wait_ms]),
        "wait2": ("batched, --max-wait-ms 2", ["--max-batch", "32", "--max-wait-ms", "2"]),
        "batch8": ("batched, --max-batch 8", ["--max-batch", "8", "--max-wait-ms", args.max_wait_ms]),
        "unbatched": ("unbatched", ["--max-batch", "1", "--max-wait-ms", "0"]),
        "threads1": ("batched, --threads 1", ["--max-batch", "32", "--max-wait-ms", args.max_wait_ms, "--threads", "1"]),
        "workers2": ("batched, --threads 1 --batch-workers 2", ["--max-batch", "32", "--max-wait-ms", args.max_wait_ms, "--threads", "1", "--batch-workers", "2"]),
        "unbatched_workers2": ("unbatched, --threads 1 --batch-workers 2", ["--max-batch", "1", "--max-wait-ms", "0", "--threads", "1", "--batch-workers", "2"]),
    }
    wanted = args.configs.split(",")
    unknown = [w for w in wanted if w not in every]
    if unknown or "batched" not in wanted or "unbatched" not in wanted:
        sys.exit(f"error: --configs {args.configs}: give batched, unbatched and any of {', '.join(every)}")
    return dict(every[w] for w in every if w in wanted)


def main_table(args, texts: list[str], levels: list[int]) -> dict:
    common = ["--no-check", "--max-queue", str(max(1024, 8 * max(levels)))]
    configs = server_configs(args)
    out: dict = {"bundle": args.bundle, "configs": configs, "common_options": common}
    spec = json.dumps({"bundle": args.bundle, "texts": texts, "sizes": [1, 8, 32]})
    proc = subprocess.run([sys.executable, __file__, "--cpu-child", spec], capture_output=True, text=True, check=True, timeout=600)
    out["model_cpu_per_text"] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"in-process CPU time per text by batch size: {out['model_cpu_per_text']}", flush=True)
    servers = {name: edgeft_server(args.bundle, *opts, *common) for name, opts in configs.items()}
    inproc = InProcess(args.bundle, texts)
    try:
        bodies = {n: [{"inputs": t} for t in texts] for n in servers}
        paths = {n: "/predict" for n in servers}
        out["table"] = measure(servers, paths, bodies, levels, args.rounds, args.slice, inproc)
        out["rss_mb"] = {n: s.rss_mb() for n, s in servers.items()}
    finally:
        inproc.close()
        for s in servers.values():
            s.stop()
    t = out["table"]
    at = "32" if "32" in t["batched"] else str(levels[-1])
    best = max((n for n in configs if n != "unbatched"), key=lambda n: t[n][at]["answered_per_s"])
    out["summary"] = {
        "clients": int(at),
        "single_request_p50_ms_over_http": t["unbatched"]["1"]["p50_ms"],
        "in_process_batch1": t["in-process, batch 1"]["1"],
        **{f"{n}: throughput vs unbatched": round(t[n][at]["answered_per_s"] / t["unbatched"][at]["answered_per_s"], 2) for n in configs if n != "unbatched"},
        **{f"{n}: p99 vs single-request p50": round(t[n][at]["p99_ms"] / t["unbatched"]["1"]["p50_ms"], 2) for n in configs},
        **{f"{n}: server CPU per answer vs unbatched": round(t[n][at]["server_cpu_ms_per_answer"] / t["unbatched"][at]["server_cpu_ms_per_answer"], 2) for n in configs if n != "unbatched"},
        "best_batched_config": best,
    }
    print(json.dumps(out["summary"], indent=1), flush=True)
    if args.burst:
        out["burst"] = burst(args, texts, configs["batched"])
    return out


def burst(args, texts: list[str], options: list[str]) -> dict:
    """The overload burst: 10x the most clients, against the default queue bound (512 texts)."""
    out: dict = {}
    server = edgeft_server(args.bundle, *options, "--no-check")
    try:
        before = {"rss_mb": server.rss_mb(), "peak_rss_mb": server.peak_rss_mb()}
        r = run_load(server.url, "/predict", [{"inputs": t} for t in texts], args.burst, 4.0, warmup=0.0)
        r.pop("latencies_ms")
        import urllib.request

        with urllib.request.urlopen(server.url + "/health", timeout=10) as h:
            healthy = h.status == 200
        out["burst"] = {"connections": args.burst, "server_options": options + ["--max-queue 512 (default)"], **r,
                        "before": before, "peak_rss_mb_after": server.peak_rss_mb(), "healthy_after": healthy}
    finally:
        out["burst"]["exit_code_after_sigterm"] = server.stop()
    print(f"burst: {out['burst']}", flush=True)
    return out["burst"]


def open_loop_table(args, texts: list[str]) -> dict:
    """Batched against unbatched serving under Poisson arrivals (an open loop), at fractions of the
    unbatched server's capacity, both measured first in this run: closed loop at 1 client (the
    single-request latency: unbatched p50) and 32 clients (capacity: unbatched answers/s).

    Latencies count from the send, as the single-request latency is timed, and also from the
    scheduled arrival (adding the load generator's own delays). Rated loads: ``rated_loads``.
    """
    configs = {name: opts for name, opts in server_configs(args).items() if name in ("batched", "unbatched")}
    servers = {name: edgeft_server(args.bundle, *opts, "--no-check", "--max-queue", "1024") for name, opts in configs.items()}
    paths, bodies = {n: "/predict" for n in servers}, {n: [{"inputs": t} for t in texts] for n in servers}
    out: dict = {"configs": configs, "common_options": ["--no-check", "--max-queue", "1024"], "p99_factor": args.p99_factor}
    try:
        out["closed_loop"] = measure(servers, paths, bodies, [1, 32], args.rounds, args.slice)
        single = out["closed_loop"]["unbatched"]["1"]["p50_ms"]
        capacity = out["closed_loop"]["unbatched"]["32"]["answered_per_s"]
        out.update(single_request_ms=single, unbatched_capacity_per_s=capacity)
        out["table"] = {name: {} for name in servers}
        for k, fraction in enumerate(float(f) for f in args.rates.split(",")):
            rate = round(fraction * capacity, 1)
            runs: dict = {n: [] for n in servers}
            for r in range(args.open_rounds):
                for name in list(servers)[r % 2:] + list(servers)[: r % 2]:
                    time.sleep(0.3)
                    cpu0 = servers[name].cpu_seconds()
                    sl = run_load(servers[name].url, "/predict", bodies[name], 0, args.open_slice, warmup=0.5, rate=rate, seed=100 * k + r)
                    sl["cpu_s"] = servers[name].cpu_seconds() - cpu0
                    runs[name].append(sl)
            for name, slices in runs.items():
                arrival = sorted(x for s in slices for x in s["latencies_from_arrival_ms"])
                slice_p99 = [s["p99_ms"] for s in slices if s["p99_ms"] is not None]
                t = {"fraction_of_unbatched_capacity": fraction, "rate_per_s": rate, **summarise(slices),
                     "slice_p99_ms": slice_p99, "p99_median_of_slices_ms": statistics.median(slice_p99) if slice_p99 else None,
                     "from_arrival_p50_ms": _pct_ms(arrival, 50), "from_arrival_p99_ms": _pct_ms(arrival, 99),
                     "send_delay_p99_ms": max(s["send_delay_p99_ms"] or 0 for s in slices)}
                out["table"][name][str(fraction)] = t
                print(f"open loop {rate:7.1f}/s ({fraction:.2f}x)  {name:10s} answered {t['answered_per_s']:7.1f}/s  p50 {t['p50_ms']} ms  "
                      f"p99 {t['p99_ms']} ms (from arrival {t['from_arrival_p99_ms']}, slices {t['slice_p99_ms']})  codes {t['codes']}  "
                      f"send delay p99 {t['send_delay_p99_ms']} ms", flush=True)
    finally:
        for s in servers.values():
            s.stop()
    out["rated"] = rated_loads(out, args.p99_factor)
    print(json.dumps(out["rated"], indent=1), flush=True)
    return out


def embeddings(args, texts: list[str], levels: list[int]) -> dict:
    """/embed of the SetFit bundle (batched) against infinity-emb on the same sentence-transformer."""
    common = ["--max-batch", "32", "--max-wait-ms", args.max_wait_ms, "--no-check", "--max-queue", "1024"]
    servers = {"edgeft serve (int8)": edgeft_server(args.embed_bundle, *common),
               "edgeft serve (fp32)": edgeft_server(args.embed_bundle, *common, "--variant", "fp32")}
    paths = {n: "/embed" for n in servers}
    bodies = {n: [{"inputs": t} for t in texts] for n in servers}
    if args.infinity_python:
        servers["infinity-emb"] = infinity_server(args.infinity_python, args.infinity_model, 32)
        paths["infinity-emb"], bodies["infinity-emb"] = "/embeddings", [{"input": [t]} for t in texts]
    inproc = InProcess(args.embed_bundle, texts, embed=True)
    out: dict = {"bundle": args.embed_bundle, "infinity_model": args.infinity_model}
    try:
        out["rss_mb_idle"] = {n: s.rss_mb() for n, s in servers.items()}
        out["table"] = measure(servers, paths, bodies, levels, args.rounds, args.slice, inproc)
        out["peak_rss_mb"] = {n: s.peak_rss_mb() for n, s in servers.items()}
    finally:
        inproc.close()
        for s in servers.values():
            s.stop()
    return out


def markdown(path: str) -> str:
    """The tables of a results file, as docs/serve.md shows them."""
    r = json.loads(Path(path).read_text())
    lines = []
    for title, section in (("classification (/predict)", r), ("embeddings (/embed)", r.get("embeddings") or {})):
        table = section.get("table")
        if not table:
            continue
        lines += [f"**{title}**, {section.get('bundle')}", "", "| configuration | clients | answered/s | p50 ms | p99 ms | server CPU ms/answer | codes | load avg (1 min) |", "|---|---|---|---|---|---|---|---|"]
        for name, by_clients in table.items():
            for clients, t in by_clients.items():
                loads = [la[0] for la in t["load_average"]]
                lines.append(f"| {name} | {clients} | {t['answered_per_s']:.1f} | {t['p50_ms']} | {t['p99_ms']} | {t.get('server_cpu_ms_per_answer', '-')} | "
                             f"{' '.join(f'{k}:{v}' for k, v in t['codes'].items())} | {min(loads):.1f}-{max(loads):.1f} |")
        lines.append("")
    section = r.get("open_loop")
    if section and section.get("table"):
        rated = rated_loads(section, section.get("p99_factor", 3.0))
        lines += [f"**open loop** (Poisson arrivals; unbatched capacity {section['unbatched_capacity_per_s']}/s at 32 clients, single request "
                  f"{section['single_request_ms']} ms, isolated requests {rated['isolated_request_ms']} ms)", "",
                  "| rate/s (x unbatched capacity) | configuration | p50 ms | p99 ms | median of slice p99 ms | p99 from arrival ms | codes |",
                  "|---|---|---|---|---|---|---|"]
        for fraction in sorted(section["table"]["batched"], key=float):
            for name in section["table"]:
                t = section["table"][name][fraction]
                lines.append(f"| {t['rate_per_s']} ({float(fraction):g}x) | {name} | {t['p50_ms']} | {t['p99_ms']} | {t.get('p99_median_of_slices_ms', '-')} | "
                             f"{t['from_arrival_p99_ms']} | {' '.join(f'{k}:{v}' for k, v in t['codes'].items())} |")
        lines += ["", f"rated load (p99 <= {rated['factor']:g}x, every lower rate too): {json.dumps({k: rated[k] for k in ('strict', 'from_arrival', 'robust')})}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--markdown"]:
        print(markdown(sys.argv[2]))
    else:
        main()
