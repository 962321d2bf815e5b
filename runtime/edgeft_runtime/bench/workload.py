"""What the benchmark runs: texts of an exact token length, and a realistic mix of lengths."""

from __future__ import annotations

import random
from typing import Callable, Sequence

DEFAULT_LENGTHS = (16, 64, 128)

# Common English words that are one token in BERT-style vocabularies: texts built from them hit an
# exact token count and read like (odd) prose rather than random ids.
_WORDS = (
    "the film was good and the story kept me interested until the very end but some scenes felt "
    "long while the music and the acting were strong enough to carry it through a slow middle part "
    "where nothing much happened so i would still recommend it to anyone who likes quiet drama with "
    "real people in it and a little humour here and there which made the whole thing feel warm"
).split()


def text_of_length(count_tokens: Callable[[str], int], n: int, seed: int = 0, required: Sequence[str] = ()) -> str:
    """A text that tokenises to exactly ``n`` tokens (special tokens included).

    required: words every text must contain, placed first (a fill-mask model needs its mask token).
    """
    rng = random.Random(seed)
    words: list[str] = list(required)
    current = count_tokens(" ".join(words))
    if current > n:
        raise ValueError(f"length {n} is shorter than the tokenizer's special tokens and required words ({current})")
    attempts = 0
    while current < n:
        attempts += 1
        if attempts > 50 * n:
            raise ValueError(f"could not build a text of exactly {n} tokens")
        word = rng.choice(_WORDS)
        trial = count_tokens(" ".join(words + [word]))
        if trial <= n:
            words.append(word)
            current = trial
    return " ".join(words)


def length_mix(count: int, max_length: int, seed: int = 0) -> list[int]:
    """Token lengths of a realistic short-text workload: log-normal around 30 tokens, clipped."""
    rng = random.Random(seed)
    return [int(min(max_length, max(6, round(rng.lognormvariate(3.4, 0.6))))) for _ in range(count)]


def workload(
    count_tokens: Callable[[str], int],
    max_length: int,
    *,
    lengths: Sequence[int] = DEFAULT_LENGTHS,
    throughput_texts: int = 256,
    required: Sequence[str] = (),
) -> tuple[dict[int, list[str]], list[str]]:
    """(five texts per batch-1 length that fits ``max_length``, the mixed-length throughput texts)."""
    usable = [n for n in lengths if n <= max_length]
    by_length = {n: [text_of_length(count_tokens, n, seed=s, required=required) for s in range(5)] for n in usable}
    floor = count_tokens(" ".join(required))
    mix = [
        text_of_length(count_tokens, max(n, floor), seed=i, required=required)
        for i, n in enumerate(length_mix(throughput_texts, max_length))
    ]
    return by_length, mix
