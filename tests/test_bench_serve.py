"""benchmarks/serve.py's open-loop load generator against a tiny loopback server: arrivals keep
their schedule whatever is in flight, and latencies count queueing."""

from __future__ import annotations

import asyncio
import importlib.util
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_serve", ROOT / "benchmarks" / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _serve_serially(service_s: float):
    """An HTTP/1.1 keep-alive server that answers one request at a time, each after ``service_s``."""
    lock = asyncio.Lock()

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
                await reader.readexactly(length)
                async with lock:
                    await asyncio.sleep(service_s)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def _run(rate: float, seconds: float, service_s: float):
    bench = _bench()

    async def main():
        server = await _serve_serially(service_s)
        port = server.sockets[0].getsockname()[1]
        now = time.perf_counter()
        try:
            return await bench.open_loop("127.0.0.1", port, "/predict", [b'{"inputs": "x"}'], rate, now, now + seconds, seed=1)
        finally:
            server.close()

    return asyncio.run(main())


def test_open_loop_sends_on_schedule_and_times_each_answer():
    out, delays = _run(rate=50, seconds=1.0, service_s=0.002)
    assert 25 <= len(out) <= 80  # Poisson arrivals at 50/s for 1 s
    assert {code for _, _, code, _ in out} == {200}
    assert all(0.002 <= sent <= arrival for _, sent, _, arrival in out)
    assert len(delays) == len(out)


def test_open_loop_keeps_arriving_while_the_server_queues():
    # 200/s against a server that answers 50/s: a closed loop would slow down to the server's pace;
    # an open loop keeps sending, and the answers' latencies show the queue.
    out, _ = _run(rate=200, seconds=0.5, service_s=0.02)
    assert len(out) >= 60
    assert {code for _, _, code, _ in out} == {200}
    assert max(arrival for _, _, _, arrival in out) >= 0.5
