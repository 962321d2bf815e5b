"""The runtime under odd input and concurrent load: never crashes, one result per input, and
shared use from threads gives exactly the serial results."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edgeft_runtime

FIXTURE = Path(__file__).parent / "fixtures" / "sentiment"
MODEL = edgeft_runtime.load(FIXTURE)  # loaded once: hypothesis runs many examples

odd_text = st.one_of(
    st.just(""),
    st.text(alphabet=" \t\n\r\u00a0\u2003", max_size=20),  # whitespace only
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=31), max_size=20),  # control characters
    st.text(max_size=300),  # anything unicode: mixed scripts, surrogates excluded by hypothesis
    st.text(alphabet="😀🎉👍🏽🇩🇪你好世界éèçñüß ", max_size=60),  # emoji, CJK, accents
    st.builds(lambda n: "good " * n, st.integers(0, 3000)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(odd_text, min_size=0, max_size=12))
def test_any_text_gives_one_result_per_input(texts):
    results = MODEL.predict(texts)
    assert len(results) == len(texts)
    probs = MODEL.predict_proba(texts)
    assert probs.shape == (len(texts), 2) and np.all(np.isfinite(probs))
    assert all(r["label"] in ("neg", "pos") for r in results)


def test_a_hundred_thousand_characters():
    text = "".join(random.Random(0).choice("abc def 你 é 😀 ") for _ in range(100_000))
    result = MODEL.predict([text, "good"])
    assert len(result) == 2


def _rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def test_eight_threads_match_serial_results():
    model = edgeft_runtime.load(FIXTURE, threads=1)
    rng = random.Random(1)
    words = ["good", "bad", "film", "the", "plot", "awful", "lovely", "😀", "é", "你"]
    requests = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 40))) for _ in range(2000)]
    serial = [model.predict_proba([t])[0] for t in requests]
    before = _rss_mb()
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda t: model.predict_proba([t])[0], requests))
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda t: model.predict([t]), requests))
    grown = _rss_mb() - before
    assert all(np.array_equal(a, b) for a, b in zip(serial, parallel))
    assert grown < 50, f"RSS grew by {grown:.0f} MB over 4000 threaded requests"
