"""The service's parts without HTTP: the batcher, the option table, request parsing."""

from __future__ import annotations

import asyncio
import itertools
import random
import threading

import pytest

from edgeft_runtime.serve.batcher import Batcher, Closed, Overloaded
from edgeft_runtime.serve.options import OptionError, numeric_options, parse_options
from edgeft_runtime.serve.protocol import ApiError, Limits, length_groups, parse_inputs


def _batcher(run, **kw) -> Batcher:
    settings = {"max_batch": 8, "max_wait": 0.05, "max_queue": 100}
    settings.update(kw)
    return Batcher("t", run, **settings)


def test_concurrent_requests_share_batches_and_get_their_own_answers_in_order():
    batches = []

    def run(key, texts):
        batches.append(list(texts))
        return [f"{key}:{t}" for t in texts]

    batcher = _batcher(run, max_batch=8, max_wait=0.2)

    async def main():
        jobs = [batcher.submit("k", [f"r{i}a", f"r{i}b"]) for i in range(4)] + [batcher.submit("k", ["r4"])]
        return await asyncio.gather(*jobs)

    results = asyncio.run(main())
    batcher.close(5)
    assert results == [[f"k:r{i}a", f"k:r{i}b"] for i in range(4)] + [["k:r4"]]
    assert max(len(b) for b in batches) == 8  # four 2-text requests filled one batch
    assert sum(len(b) for b in batches) == 9


def test_requests_of_one_loop_turn_share_one_batch_and_one_handoff_back():
    # No waiting (--max-wait-ms 0): requests that reach the queue in the same turn of the event
    # loop still share a batch, and its answers come back in one call_soon_threadsafe.
    batches = []

    def run(key, texts):
        batches.append(list(texts))
        return [t.upper() for t in texts]

    batcher = _batcher(run, max_batch=32, max_wait=0)
    posted = []

    async def main():
        loop = asyncio.get_running_loop()
        original = loop.call_soon_threadsafe
        loop.call_soon_threadsafe = lambda *args, **kw: (posted.append(args[0]), original(*args, **kw))[1]
        try:
            return await asyncio.gather(*(batcher.submit("k", [f"a{i}", f"b{i}"]) for i in range(10)))
        finally:
            del loop.call_soon_threadsafe

    results = asyncio.run(main())
    batcher.close(5)
    assert results == [[f"A{i}", f"B{i}"] for i in range(10)]
    assert batches == [[t for i in range(10) for t in (f"a{i}", f"b{i}")]]
    assert len(posted) == 1


def test_length_groups_minimise_padding_plus_run_cost():
    def cost(lengths, groups, run_cost):
        return sum(run_cost + len(g) * max(lengths[i] for i in g) for g in groups)

    rng = random.Random(0)
    for _ in range(200):
        lengths = [rng.randint(3, 40) for _ in range(rng.randint(1, 9))]
        run_cost = rng.choice([0, 4, 16, 64])
        groups = length_groups(lengths, run_cost)
        assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
        assert [lengths[i] for g in groups for i in g] == sorted(lengths)  # shortest first, in runs
        ordered = sorted(range(len(lengths)), key=lengths.__getitem__)
        best = min(
            cost(lengths, [ordered[a:b] for a, b in zip((0,) + cuts, cuts + (len(lengths),))], run_cost)
            for k in range(len(lengths))
            for cuts in itertools.combinations(range(1, len(lengths)), k)
        )
        assert cost(lengths, groups, run_cost) == best, (lengths, run_cost)
    assert length_groups([7] * 20 + [60], 16) == [list(range(20)), [20]]  # a long text runs alone
    assert length_groups([9, 10, 9, 10], 16) == [[0, 2, 1, 3]]  # one token of padding: one run


def test_only_requests_with_the_same_key_share_a_batch():
    batches = []

    def run(key, texts):
        batches.append((key, list(texts)))
        return [key] * len(texts)

    batcher = _batcher(run, max_wait=0.1)

    async def main():
        return await asyncio.gather(batcher.submit("a", ["1"]), batcher.submit("b", ["2"]), batcher.submit("a", ["3"]))

    assert asyncio.run(main()) == [["a"], ["b"], ["a"]]
    batcher.close(5)
    assert all(len({k}) == 1 for k, _ in batches)
    assert ("a", ["1", "3"]) in batches and ("b", ["2"]) in batches


def test_a_failing_request_fails_alone():
    def run(key, texts):
        if "bad" in texts:
            raise ValueError("bad text")
        return [t.upper() for t in texts]

    batcher = _batcher(run, max_wait=0.1)

    async def main():
        return await asyncio.gather(batcher.submit("k", ["x"]), batcher.submit("k", ["bad"]), batcher.submit("k", ["y"]), return_exceptions=True)

    good1, bad, good2 = asyncio.run(main())
    batcher.close(5)
    assert good1 == ["X"] and good2 == ["Y"]
    assert isinstance(bad, ValueError)


def test_full_queue_refuses_with_retry_after_and_close_drains():
    release = threading.Event()
    started = threading.Event()

    def run(key, texts):
        started.set()
        release.wait(10)
        return texts

    batcher = _batcher(run, max_batch=1, max_wait=0, max_queue=2)

    async def main():
        first = asyncio.ensure_future(batcher.submit("k", ["1"]))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)  # "1" is running
        queued = asyncio.ensure_future(batcher.submit("k", ["2", "3"]))  # fills the queue
        await asyncio.sleep(0.01)
        with pytest.raises(Overloaded) as refused:
            await batcher.submit("k", ["4"])
        assert refused.value.retry_after >= 1
        release.set()
        return await first, await queued

    assert asyncio.run(main()) == (["1"], ["2", "3"])
    batcher.close(5)

    async def after_close():
        await batcher.submit("k", ["5"])

    with pytest.raises(Closed):
        asyncio.run(after_close())


def test_batch_workers_run_batches_at_once_and_count_what_runs():
    # --batch-workers 2: a second batch starts while the first still runs (each would time out
    # waiting for the other if they ran one after another), and both are counted as running.
    both_running = threading.Barrier(2, timeout=10)

    def run(key, texts):
        both_running.wait()
        return [t.upper() for t in texts]

    batcher = _batcher(run, max_batch=1, max_wait=0, workers=2)

    async def main():
        return await asyncio.gather(batcher.submit("k", ["a"]), batcher.submit("k", ["b"]))

    assert asyncio.run(main()) == [["A"], ["B"]]
    batcher.close(5)
    assert batcher._running == 0 and batcher.queued == 0 and not any(t.is_alive() for t in batcher._threads)


def test_batch_workers_waiting_for_company_never_run_a_request_twice_or_lose_one():
    # With --max-wait-ms, two workers can wait on the same first request; the one that does not
    # get it starts over with what is left.
    seen: list[str] = []
    lock = threading.Lock()

    def run(key, texts):
        with lock:
            seen.extend(texts)
        return list(texts)

    batcher = _batcher(run, max_batch=4, max_wait=0.02, workers=2)

    async def main():
        jobs = []
        for i in range(30):
            jobs.append(asyncio.ensure_future(batcher.submit("k", [f"t{i}"])))
            await asyncio.sleep(random.uniform(0, 0.004))
        return await asyncio.gather(*jobs)

    assert asyncio.run(main()) == [[f"t{i}"] for i in range(30)]
    batcher.close(5)
    assert sorted(seen) == sorted(f"t{i}" for i in range(30))


@pytest.mark.parametrize("flag, bounds", numeric_options(), ids=[flag for flag, _ in numeric_options()])
@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "abc", "below", "above", "1.5"])
def test_every_number_option_is_checked(flag, bounds, bad):
    value = {"below": str(bounds.low - 1), "above": str(bounds.high + 1)}.get(bad, bad)
    if bad == "1.5" and flag in ("--max-wait-ms", "--graceful-timeout"):
        value = "-1.5"  # a fraction is fine there
    with pytest.raises(OptionError) as error:
        parse_options(["bundle", f"{flag}={value}"])
    assert str(error.value).startswith(flag), error.value


def test_options_accept_bounds_and_name_bundles():
    options = parse_options(["models/sst2-int8", "ner=models/conll.tar.gz", "--max-wait-ms", "0", "--port", "0"])
    assert [b.name for b in options.bundles] == ["sst2-int8", "ner"]
    assert options.max_wait_ms == 0 and options.port == 0 and options.max_batch == 32
    with pytest.raises(OptionError, match="two bundles are named"):
        parse_options(["a/x", "b/x"])
    with pytest.raises(OptionError, match="taken by a built-in path"):
        parse_options(["health=a/x"])


def test_inputs_forms_and_errors_name_the_field():
    limits = Limits(max_texts=3, max_chars=10)
    assert parse_inputs("hi", limits) == (["hi"], True)
    assert parse_inputs(["a", "b"], limits) == (["a", "b"], False)
    assert parse_inputs([["a"], ["b"]], limits) == (["a", "b"], False)  # TEI's batch form
    cases = {
        "inputs": [None, [], 5],
        "inputs[1]": [["a", 3], ["a", ["x", "y"]], ["a", " "]],
    }
    for field, values in cases.items():
        for value in values:
            with pytest.raises(ApiError) as error:
                parse_inputs(value, limits)
            assert (error.value.status, error.value.field) == (400, field), value
    for value, field in ((["a"] * 4, "inputs"), (["a", "x" * 11], "inputs[1]")):
        with pytest.raises(ApiError) as error:
            parse_inputs(value, limits)
        assert (error.value.status, error.value.field) == (413, field)
    with pytest.raises(ApiError) as error:
        parse_inputs(["a [MASK]", "b"], limits, ("[MASK]",))
    assert error.value.field == "inputs[1]"
