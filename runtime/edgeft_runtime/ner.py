"""Token classification as small pure functions: raw text -> windows of token ids -> entity spans.

Shared by the runtime's ``Tagger``, the exporter's PyTorch reference and training, so that all
three cut texts into the same windows and decode the same way:

1. ``text_tokens``: tokenise raw text without special tokens, keeping character offsets into the
   input string and the word of each token. Words are the unit that carries a label (the word's
   first sub-token) and that entity spans are made of; ``word_split`` says what a word is:
   ``"whitespace"``, a maximal run of non-whitespace characters (what a pre-tokenised data set's
   tokens are once joined with spaces), or ``"tokenizer"``, the tokenizer's pre-tokenizer words
   (whitespace, every punctuation character, and one word per CJK character for BERT tokenizers).
2. ``windows``: texts longer than the model's window are cut into overlapping windows (``stride``
   tokens of overlap); ``merge_windows`` takes each token's scores from the window where it is
   most central, so no token is silently dropped and each sees the most context available.
3. ``word_scores``: sub-word scores -> one score vector per word (first / average / max).
4. ``decode_entities``: IOB2 word tags -> entities with exact character offsets into the input
   (chunked the way seqeval's default mode chunks, see metrics.tag_entities).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .metrics import tag_entities
from .ops import softmax

AGGREGATIONS = ("first", "average", "max")
WORD_SPLITS = ("whitespace", "tokenizer")
# Bundles whose manifest names no ner.word_split were trained on the tokenizer's words.
LEGACY_WORD_SPLIT = "tokenizer"
IGNORE_INDEX = -100  # label of tokens left out of the loss (PyTorch's cross-entropy default)


@dataclass(frozen=True)
class TextTokens:
    """The content tokens of one text (no special tokens)."""

    ids: np.ndarray  # (n,) token ids
    type_ids: np.ndarray  # (n,)
    offsets: np.ndarray  # (n, 2) character offsets [start, end) into the text
    words: np.ndarray  # (n,) index of each token's word (0-based, non-decreasing)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Specials:
    """The special tokens a tokenizer puts around one sequence (e.g. [CLS] ... [SEP])."""

    prefix_ids: tuple[int, ...]
    prefix_types: tuple[int, ...]
    suffix_ids: tuple[int, ...]
    suffix_types: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.prefix_ids) + len(self.suffix_ids)


@dataclass(frozen=True)
class Window:
    """Model input for tokens ``start:end`` of one text: ``ids``/``type_ids`` include the specials.

    Has the ``ids``/``type_ids`` attributes that ``BundleTokenizer.to_arrays`` reads.
    """

    text: int  # index of the text in the batch of texts
    start: int
    end: int
    ids: np.ndarray
    type_ids: np.ndarray


def specials_of(tokenizer) -> Specials:
    """Find the special tokens around a single sequence by encoding a probe word."""
    enc = tokenizer.encode("a", add_special_tokens=True)
    mask = list(enc.special_tokens_mask)
    content = [i for i, m in enumerate(mask) if not m]
    first, last = (content[0], content[-1]) if content else (len(mask), len(mask) - 1)
    ids, types = list(enc.ids), list(enc.type_ids)
    return Specials(tuple(ids[:first]), tuple(types[:first]), tuple(ids[last + 1 :]), tuple(types[last + 1 :]))


def text_tokens(tokenizer, texts: Sequence[str], word_split: str = LEGACY_WORD_SPLIT) -> list[TextTokens]:
    """Tokenise raw texts (no truncation, no specials) with offsets and word indices.

    ``tokenizer`` is a ``tokenizers.Tokenizer`` whose truncation and padding are off.
    ``word_split``: ``"whitespace"`` or ``"tokenizer"`` (see ``whitespace_words``/the module doc).
    """
    if word_split not in WORD_SPLITS:
        raise ValueError(f"word_split must be one of {', '.join(WORD_SPLITS)}, got {word_split!r}")
    encodings = tokenizer.encode_batch(list(texts), add_special_tokens=False) if len(texts) > 1 else [
        tokenizer.encode(t, add_special_tokens=False) for t in texts
    ]
    out = []
    for text, enc in zip(texts, encodings):
        n = len(enc.ids)
        offsets = np.asarray(enc.offsets, dtype=np.int64).reshape(n, 2)
        words = whitespace_words(text, offsets) if word_split == "whitespace" else tokenizer_words(enc.word_ids)
        out.append(
            TextTokens(
                ids=np.asarray(enc.ids, dtype=np.int64),
                type_ids=np.asarray(enc.type_ids, dtype=np.int64),
                offsets=offsets,
                words=words,
            )
        )
    return out


def tokenizer_words(word_ids: Sequence[int | None]) -> np.ndarray:
    """Word index of each token from the tokenizer's own word ids (its pre-tokenizer words),
    renumbered 0, 1, 2, ...; a token without a word (rare: added tokens) is a word of its own."""
    words: np.ndarray = np.empty(len(word_ids), dtype=np.int64)
    last_word, index = None, -1
    for i, w in enumerate(word_ids):
        if w is None or w != last_word:
            index += 1
        words[i] = index
        last_word = w
    return words


def whitespace_words(text: str, offsets: np.ndarray) -> np.ndarray:
    """Word index of each token when words are maximal runs of non-whitespace characters
    (``str.isspace``), renumbered 0, 1, 2, ...

    A token belongs to the run of the first non-whitespace character at or after its start (a
    token's offsets may include a leading space, as byte-level BPE tokens do; a token of
    whitespace only goes with the run that follows it, or with the last run at the end of the
    text). Tokens of one run are one word, so "U.S." or "@user" is one word however the
    tokenizer splits it.
    """
    n = len(offsets)
    if n == 0 or not text:
        return np.zeros(n, dtype=np.int64)
    size = len(text)
    space = np.fromiter((c.isspace() for c in text), dtype=bool, count=size)
    run_of_char = np.cumsum(~space & np.r_[True, space[:-1]]) - 1
    # the first non-whitespace character at or after each position (the last one after the end)
    solid = np.flatnonzero(~space)
    if len(solid) == 0:
        return np.zeros(n, dtype=np.int64)
    starts = np.clip(offsets[:, 0], 0, size - 1)
    nearest = np.minimum(np.searchsorted(solid, starts, "left"), len(solid) - 1)
    runs = run_of_char[solid[nearest]]
    runs = np.maximum.accumulate(runs)  # offsets come in text order; keep words non-decreasing
    return np.r_[0, np.cumsum(runs[1:] != runs[:-1])].astype(np.int64)


def default_stride(length: int) -> int:
    """The overlap of consecutive windows (tokens) when a run or manifest sets none: a quarter of
    the window's ``length``."""
    return length // 4


def stride_fits(stride: int, max_length: int) -> bool:
    """Whether training and export accept ``stride`` for windows of ``max_length`` tokens: at least
    0 and under half of it, so that every window moves on by more than it repeats."""
    return 0 <= stride < max_length // 2


def window_bounds(n: int, size: int, stride: int) -> list[tuple[int, int]]:
    """Token ranges ``[start, end)`` covering ``n`` tokens with windows of ``size`` tokens that
    overlap by ``stride`` tokens. One window when ``n <= size`` (also for ``n == 0``)."""
    if size < 1:
        raise ValueError(f"window size must be >= 1, got {size}")
    if not 0 <= stride < size:
        raise ValueError(f"stride must be in [0, {size}) for windows of {size} tokens, got {stride}")
    if n <= size:
        return [(0, n)]
    step = size - stride
    bounds = []
    start = 0
    while True:
        end = min(start + size, n)
        bounds.append((start, end))
        if end == n:
            return bounds
        start += step


def windows(
    tokens: Sequence[TextTokens], specials: Specials, max_length: int, stride: int
) -> list[Window]:
    """Model inputs for every text: one window each, or several overlapping ones for long texts."""
    size = max_length - specials.count
    out = []
    for t, tok in enumerate(tokens):
        for start, end in window_bounds(len(tok), size, stride):
            ids = np.concatenate([specials.prefix_ids, tok.ids[start:end], specials.suffix_ids]).astype(np.int64)
            types = np.concatenate([specials.prefix_types, tok.type_ids[start:end], specials.suffix_types]).astype(np.int64)
            out.append(Window(t, start, end, ids, types))
    return out


def central_owner(bounds: Sequence[tuple[int, int]], n: int) -> np.ndarray:
    """For each of ``n`` tokens, the index of the window in which it is most central (the window
    where its distance to the nearer window edge is largest; the earlier window on ties)."""
    owner: np.ndarray = np.zeros(n, dtype=np.int64)
    best: np.ndarray = np.full(n, -1, dtype=np.int64)
    positions = np.arange(n)
    for w, (start, end) in enumerate(bounds):
        inside = positions[start:end]
        margin = np.minimum(inside - start, end - 1 - inside)
        better = margin > best[start:end]
        owner[start:end][better] = w
        best[start:end][better] = margin[better]
    return owner


def merge_windows(
    window_scores: Sequence[np.ndarray], bounds: Sequence[tuple[int, int]], n: int, prefix: int
) -> np.ndarray:
    """Per-token scores of one text from its windows' outputs.

    window_scores[w]: the graph output of window w, shape (tokens incl. specials and padding, L);
    its content starts after ``prefix`` special tokens. Each token takes the row of the window
    where it is most central.
    """
    if n == 0:
        width = window_scores[0].shape[-1] if len(window_scores) else 0
        return np.zeros((0, width), dtype=np.float32)
    owner = central_owner(bounds, n)
    out = np.empty((n, window_scores[0].shape[-1]), dtype=window_scores[0].dtype)
    for w, (start, end) in enumerate(bounds):
        rows = np.flatnonzero(owner[start:end] == w)
        out[start + rows] = window_scores[w][prefix + rows]
    return out


def merge_text_windows(
    wins: Sequence[Window], outputs: Sequence[np.ndarray], tokens: Sequence[TextTokens], prefix: int
) -> list[np.ndarray]:
    """Per-token scores of every text from the outputs of all windows (``outputs[i]`` for ``wins[i]``)."""
    by_text: list[list[int]] = [[] for _ in tokens]
    for i, w in enumerate(wins):
        by_text[w.text].append(i)
    return [
        merge_windows([outputs[i] for i in ws], [(wins[i].start, wins[i].end) for i in ws], len(tok), prefix)
        for tok, ws in zip(tokens, by_text)
    ]


def word_starts(words: np.ndarray) -> np.ndarray:
    """Index of the first token of each word."""
    if len(words) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, words[1:] != words[:-1]])


def word_scores(token_logits: np.ndarray, words: np.ndarray, aggregation: str = "first") -> np.ndarray:
    """Per-word label probabilities from per-token logits, shape (words, L).

    first: the word's first sub-token (how the model was trained by default); average: the mean
    of its sub-tokens' probabilities; max: the probabilities of its most confident sub-token.
    """
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {', '.join(AGGREGATIONS)}, got {aggregation!r}")
    starts = word_starts(words)
    if len(starts) == 0:
        return np.zeros((0, token_logits.shape[-1]), dtype=np.float32)
    if aggregation == "first":
        return softmax(token_logits[starts].astype(np.float32))
    probs = softmax(token_logits.astype(np.float32))
    if aggregation == "average":
        sums = np.add.reduceat(probs, starts, axis=0)
        counts = np.diff(np.r_[starts, len(words)])[:, None]
        return sums / counts
    best = probs.max(-1)
    ends = np.r_[starts[1:], len(words)]
    picks = [start + int(np.argmax(best[start:end])) for start, end in zip(starts, ends)]
    return probs[picks]


def word_offsets(offsets: np.ndarray, words: np.ndarray) -> np.ndarray:
    """Character range of each word: first token's start to last token's end, shape (words, 2)."""
    starts = word_starts(words)
    if len(starts) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    ends = np.r_[starts[1:], len(words)] - 1
    return np.stack([offsets[starts, 0], offsets[ends, 1]], axis=1)


def decode_entities(
    text: str, tags: Sequence[str], offsets: np.ndarray, scores: np.ndarray | None = None
) -> list[dict]:
    """IOB2 tags of words -> entities ``{"entity", "text", "start", "end", "score"}``.

    offsets: each word's character range in ``text``; ``text[start:end]`` of an entity runs from
    its first word's start to its last word's end. score: the mean of its words' scores.
    """
    out = []
    for type_, first, last in tag_entities(list(tags)):
        start, end = int(offsets[first, 0]), int(offsets[last, 1])
        entity = {"entity": type_, "text": text[start:end], "start": start, "end": end}
        if scores is not None:
            entity["score"] = float(np.mean(scores[first : last + 1]))
        out.append(entity)
    return out


def tag_text(
    text: str, tokens: TextTokens, token_logits: np.ndarray, labels: Sequence[str], aggregation: str = "first"
) -> list[dict]:
    """One text's entities from its merged per-token logits."""
    probs = word_scores(token_logits, tokens.words, aggregation)
    best = probs.argmax(-1) if len(probs) else np.zeros(0, dtype=np.int64)
    tags = [labels[i] for i in best]
    return decode_entities(text, tags, word_offsets(tokens.offsets, tokens.words), probs.max(-1) if len(probs) else None)


def entity_tuples(entities: Sequence[dict]) -> list[tuple[str, int, int]]:
    """``(type, start, end)`` of each entity dict (what metrics.entity_scores compares)."""
    return [(e["entity"], e["start"], e["end"]) for e in entities]
