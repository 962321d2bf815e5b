"""Pure pieces of the fill-mask runtime (the bundle itself is tested in tests/test_mlm.py)."""

from __future__ import annotations

import numpy as np

from edgeft_runtime.ops import top_k_ids


def top_k(row, k):
    return top_k_ids(np.asarray(row)[None], k)[0]


def test_top_k_is_sorted_best_first_with_stable_ties():
    probs = np.array([0.1, 0.3, 0.05, 0.3, 0.25])
    assert top_k(probs, 3).tolist() == [1, 3, 4]
    assert top_k(probs, 10).tolist() == [1, 3, 4, 0, 2]


def test_top_k_matches_a_full_sort():
    rng = np.random.default_rng(0)
    probs = rng.random(30522)
    assert top_k(probs, 5).tolist() == np.argsort(-probs, kind="stable")[:5].tolist()


def test_top_k_ids_in_chunks_matches_row_by_row():
    rng = np.random.default_rng(1)
    rows = rng.random((7, 50))
    rows[:, 3] = rows[:, 7] = 2.0  # a tie at the top: the lower index first
    expected = [np.argsort(-row, kind="stable")[:5].tolist() for row in rows]
    assert top_k_ids(rows, 5, chunk=3).tolist() == expected
    assert all(row[:2] == [3, 7] for row in expected)
