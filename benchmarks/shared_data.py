"""Readers that turn the real data sets in ../shared/data into edgeft's input formats.

The data stays in ../shared/data (never in the repository); converted copies go to a work folder.
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def require(name: str) -> Path:
    """The data set folder/file, or exit with the reason (benchmarks need real data)."""
    path = SHARED_DATA / name
    if not path.exists():
        sys.exit(f"skipped: {path} is absent (real data lives in ../shared/data beside the project)")
    return path


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


SST2_LABELS = {"0": "negative", "1": "positive"}


def read_label_text(path: Path, names: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """`LABEL TEXT` lines (SST-2, TREC) -> (text, label) rows."""
    rows = []
    for line in path.read_text(encoding="utf-8", errors="strict").splitlines():
        if line.strip():
            label, _, text = line.partition(" ")
            rows.append((text.strip(), (names or {}).get(label, label)))
    return rows


def sst2_csvs(work: Path) -> dict[str, Path]:
    """SST-2 train/dev/test as CSV files with labels negative/positive."""
    folder = require("sst2")
    return {split: write_csv(work / f"sst2_{split}.csv", read_label_text(folder / f"{split}.txt", SST2_LABELS)) for split in ("train", "dev", "test")}


def agnews_rows() -> list[tuple[str, str]]:
    """AG News test.csv (7600 rows) -> (title. description, class name)."""
    folder = require("agnews")
    names = [n.strip() for n in (folder / "classes.txt").read_text().splitlines() if n.strip()]
    rows = []
    with open(folder / "test.csv", newline="", encoding="utf-8") as f:
        for cls, title, description in csv.reader(f):
            text = f"{title.strip()}. {description.strip()}".replace("\\", " ")
            rows.append((text, names[int(cls) - 1]))
    return rows


def sample_per_class(rows: list[tuple[str, str]], shots: int, seed: int) -> tuple[list, list]:
    """``shots`` rows per label (seeded) and the rest."""
    rng = random.Random(seed)
    order = list(range(len(rows)))
    rng.shuffle(order)
    taken: dict[str, int] = {}
    chosen = set()
    for i in order:
        label = rows[i][1]
        if taken.get(label, 0) < shots:
            taken[label] = taken.get(label, 0) + 1
            chosen.add(i)
    return [rows[i] for i in sorted(chosen)], [rows[i] for i in range(len(rows)) if i not in chosen]


def token_feed(tok, texts):
    """A BERT graph's inputs for ``texts`` (a tokenizers.Tokenizer without padding), right-padded."""
    import numpy as np

    encs = tok.encode_batch(texts)
    width = max(len(e.ids) for e in encs)
    ids = np.zeros((len(encs), width), np.int64)
    mask = np.zeros_like(ids)
    for i, e in enumerate(encs):
        ids[i, : len(e.ids)] = e.ids
        mask[i, : len(e.ids)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
