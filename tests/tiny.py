"""Tiny random BERTs and toy data sets built in-process, for fast tests (never for quality claims)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

POSITIVE = ["good", "great", "fine", "lovely", "superb", "happy"]
NEGATIVE = ["bad", "awful", "poor", "terrible", "sad", "broken"]
TOPICS = ["sport", "music", "science"]
FILLER = ["the", "a", "film", "movie", "was", "is", "very", "really", "and", "plot", "it", "this", "story", "so"]
EXTRA = ["paris", "berlin", "anna", "otto", "met", "in", "visited", "today", ".", ",", "!", "?"]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def vocabulary() -> list[str]:
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    words = sorted(set(POSITIVE + NEGATIVE + TOPICS + FILLER + EXTRA))
    tokens = SPECIALS + words + letters + ["##" + c for c in letters] + [str(d) for d in range(10)]
    return list(dict.fromkeys(tokens))  # "a" is a word and a letter: keep one


def make_tiny_base(folder: Path, *, hidden: int = 32, layers: int = 2, heads: int = 2, seed: int = 0) -> Path:
    """A random BERT (hidden 32, 2 layers) with a WordPiece tokenizer, saved with save_pretrained."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(vocabulary()) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocabulary()),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=hidden * 2,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def sentiment_rows(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """Texts labelled pos/neg by the sentiment word they contain."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = "pos" if i % 2 == 0 else "neg"
        word = rng.choice(POSITIVE if label == "pos" else NEGATIVE)
        words = rng.sample(FILLER, rng.randint(2, 6)) + [word]
        rng.shuffle(words)
        rows.append((" ".join(words), label))
    return rows


def topic_rows(n: int, seed: int = 0) -> list[tuple[str, list[str]]]:
    """Multi-label texts: each mentions one to three topic words and is labelled with them."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        topics = sorted(rng.sample(TOPICS, rng.randint(1, 3)))
        words = rng.sample(FILLER, rng.randint(2, 5)) + topics
        rng.shuffle(words)
        rows.append((" ".join(words), topics))
    return rows


def write_csv(path: Path, rows: list[tuple[str, str]], header=("text", "label")) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


PEOPLE = ["anna", "otto"]
PLACES = ["paris", "berlin"]


def ner_sentences(n: int, seed: int = 0) -> list[list[tuple[str, str]]]:
    """Sentences of (token, IOB2 tag): people (PER) meet or visit places (LOC); some names span two tokens."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        sentence: list[tuple[str, str]] = []
        person = [rng.choice(PEOPLE)] + ([rng.choice(PEOPLE)] if rng.random() < 0.3 else [])
        sentence += [(w, ("B-PER" if i == 0 else "I-PER")) for i, w in enumerate(person)]
        if rng.random() < 0.5:
            sentence += [("met", "O"), (rng.choice(PEOPLE), "B-PER")]
        sentence += [(rng.choice(["in", "visited"]), "O"), (rng.choice(PLACES), "B-LOC")]
        if rng.random() < 0.5:
            sentence += [("today", "O")]
        sentence.append((".", "O"))
        out.append(sentence)
    return out


def write_conll(path: Path, sentences: list[list[tuple[str, str]]], *, docstart: bool = True, pos: bool = True) -> Path:
    """CoNLL-2003 style: `token POS chunk tag` columns (or `token tag`), blank lines between sentences."""
    lines = ["-DOCSTART- -X- -X- O", ""] if docstart and pos else []
    for sentence in sentences:
        lines += [f"{tok} NN B-NP {tag}" if pos else f"{tok} {tag}" for tok, tag in sentence]
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_text(path: Path, lines: list[str]) -> Path:
    """One text per line (a masked-LM corpus, texts for predict)."""
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path
