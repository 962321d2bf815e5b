"""NER decoding as pure functions (edgeft_runtime.ner) on a BERT-style tokenizer built in-process:
windows, sub-word aggregation, and entity spans whose offsets are exact on accents, emoji and Chinese."""

from __future__ import annotations

import numpy as np
import pytest
from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece

from edgeft_runtime import ner

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "angela", "merkel", "met", "in", "paris", ".", "zoe", "un", "##al", "zur", "##ich", "北", "京", "大", "学"]
LABELS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    """An uncased BERT tokenizer (lower-cases and strips accents, one word per CJK character)."""
    tok = Tokenizer(WordPiece({t: i for i, t in enumerate(VOCAB)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True, handle_chinese_chars=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return tok


def logits_for(tags: list[str]) -> np.ndarray:
    """Confident logits that pick ``tags`` token by token."""
    out = np.full((len(tags), len(LABELS)), -5.0, dtype=np.float32)
    out[np.arange(len(tags)), [LABELS.index(t) for t in tags]] = 5.0
    return out


def test_specials_and_windows(tokenizer):
    specials = ner.specials_of(tokenizer)
    assert specials.prefix_ids == (2,) and specials.suffix_ids == (3,) and specials.count == 2
    assert ner.window_bounds(5, 8, 2) == [(0, 5)]
    assert ner.window_bounds(0, 8, 2) == [(0, 0)]
    assert ner.window_bounds(20, 8, 2) == [(0, 8), (6, 14), (12, 20)]
    with pytest.raises(ValueError):
        ner.window_bounds(20, 8, 8)
    tokens = ner.text_tokens(tokenizer, ["angela met " * 10])
    wins = ner.windows(tokens, specials, max_length=10, stride=3)
    assert all(len(w.ids) <= 10 and w.ids[0] == 2 and w.ids[-1] == 3 for w in wins)
    covered = sorted({i for w in wins for i in range(w.start, w.end)})
    assert covered == list(range(len(tokens[0])))  # nothing cut


def test_each_token_comes_from_its_most_central_window():
    bounds = ner.window_bounds(20, 8, 4)  # (0,8) (4,12) (8,16) (12,20)
    owner = ner.central_owner(bounds, 20)
    assert owner[0] == 0 and owner[5] == 0 and owner[6] == 1 and owner[19] == 3
    # window w reports the value 100*w + position: the merge must pick the owner's row
    outputs = [np.array([[100 * w + p] for p in range(-1, e - s + 1)], dtype=np.float32) for w, (s, e) in enumerate(bounds)]
    merged = ner.merge_windows(outputs, bounds, 20, prefix=1)
    expected = [100 * owner[i] + (i - bounds[owner[i]][0]) for i in range(20)]
    assert merged[:, 0].tolist() == expected


@pytest.mark.parametrize(
    "aggregation, expected",
    [("first", "B-PER"), ("average", "O"), ("max", "O")],
)
def test_sub_word_aggregation(aggregation, expected):
    # one word of three sub-tokens: first says B-PER (weakly), the others say O (strongly)
    logits = np.array([[0.0, 0, 0, 1.0, 0], [4.0, 0, 0, 0, 0], [4.0, 0, 0, 0, 0]], dtype=np.float32)
    probs = ner.word_scores(logits, np.array([0, 0, 0]), aggregation)
    assert probs.shape == (1, 5) and LABELS[int(probs[0].argmax())] == expected
    assert np.allclose(probs.sum(-1), 1.0)


def test_spans_are_exact_on_accents_emoji_and_chinese(tokenizer):
    texts = ["Angela Merkel met Zoë Ünal in Zürich.", "😀 Angela  Merkel 😀 in Paris", "北京大学 Angela"]
    tokens = ner.text_tokens(tokenizer, texts)
    # tag by word: names PER, places LOC
    word_tags = {
        0: ["B-PER", "I-PER", "O", "B-PER", "I-PER", "O", "B-LOC", "O"],
        1: ["O", "B-PER", "I-PER", "O", "O", "B-LOC"],
        2: ["B-LOC", "I-LOC", "I-LOC", "I-LOC", "B-PER"],
    }
    expected = {
        0: [("PER", "Angela Merkel"), ("PER", "Zoë Ünal"), ("LOC", "Zürich")],
        1: [("PER", "Angela  Merkel"), ("LOC", "Paris")],
        2: [("LOC", "北京大学"), ("PER", "Angela")],
    }
    for i, (text, tok) in enumerate(zip(texts, tokens)):
        per_token = [word_tags[i][w] if first else "O" for w, first in zip(tok.words, np.r_[True, tok.words[1:] != tok.words[:-1]])]
        entities = ner.tag_text(text, tok, logits_for(per_token), LABELS)
        assert [(e["entity"], e["text"]) for e in entities] == expected[i]
        for e in entities:
            assert text[e["start"] : e["end"]] == e["text"]
            assert 0.9 < e["score"] <= 1.0


def test_decode_follows_seqeval_chunking():
    offsets = np.array([[0, 1], [2, 3], [4, 5], [6, 7]])
    entities = ner.decode_entities("a b c d", ["I-PER", "I-PER", "B-LOC", "I-PER"], offsets)
    assert [(e["entity"], e["start"], e["end"]) for e in entities] == [("PER", 0, 3), ("LOC", 4, 5), ("PER", 6, 7)]
    assert ner.decode_entities("", [], np.zeros((0, 2), dtype=np.int64)) == []


def word_texts(text: str, tok: ner.TextTokens) -> list[str]:
    return [text[s:e] for s, e in ner.word_offsets(tok.offsets, tok.words)]


@pytest.mark.parametrize(
    "text, whitespace, tokenizer_words",
    [
        ("in paris.", ["in", "paris."], ["in", "paris", "."]),
        ("angela  met\tzoe\nin   paris .", ["angela", "met", "zoe", "in", "paris", "."], ["angela", "met", "zoe", "in", "paris", "."]),
        ("  (paris)  ", ["(paris)"], ["(", "paris", ")"]),
        ("un.al\u00a0zurich", ["un.al", "zurich"], ["un", ".", "al", "zurich"]),  # NBSP is whitespace
        ("北京大学 angela", ["北京大学", "angela"], ["北", "京", "大", "学", "angela"]),
        ("", [], []),
        (" \t\n ", [], []),
    ],
)
def test_whitespace_words_are_runs_of_non_space_characters(tokenizer, text, whitespace, tokenizer_words):
    (by_space,) = ner.text_tokens(tokenizer, [text], "whitespace")
    (by_tokenizer,) = ner.text_tokens(tokenizer, [text], "tokenizer")
    assert word_texts(text, by_space) == whitespace
    assert word_texts(text, by_tokenizer) == tokenizer_words
    assert by_space.ids.tolist() == by_tokenizer.ids.tolist()  # the split changes words, never tokens
    for tok in (by_space, by_tokenizer):
        assert tok.words.tolist() == sorted(tok.words.tolist()) and (len(tok) == 0 or tok.words[0] == 0)
        assert len(tok) == 0 or set(np.diff(tok.words).tolist()) <= {0, 1}


def test_whitespace_words_from_offsets_that_include_a_leading_space():
    # byte-level BPE offsets may start at the space before a word; a token of spaces only goes with the next word
    text = "in  paris."
    offsets = np.array([[0, 2], [2, 4], [4, 9], [9, 10]])  # "in", "  ", "paris", "."
    assert ner.whitespace_words(text, offsets).tolist() == [0, 1, 1, 1]
    offsets = np.array([[0, 2], [2, 9], [9, 10]])  # "in", "  paris", "."
    assert ner.whitespace_words(text, offsets).tolist() == [0, 1, 1]
    assert ner.whitespace_words("a ", np.array([[0, 1], [1, 2]])).tolist() == [0, 0]  # trailing space: last word


def test_unknown_word_split_is_refused(tokenizer):
    with pytest.raises(ValueError, match="word_split"):
        ner.text_tokens(tokenizer, ["a"], "spaces")


def test_entity_spans_follow_the_word_split(tokenizer):
    text = "angela met zoe in zurich."
    for split, expected in (("whitespace", "zurich."), ("tokenizer", "zurich")):
        (tok,) = ner.text_tokens(tokenizer, [text], split)
        first = np.r_[True, tok.words[1:] != tok.words[:-1]]
        tags = {2: "B-PER", 4: "B-LOC"}  # tokens: angela met zoe in zur ##ich .
        per_token = [tags.get(i, "O") if first[i] else "O" for i in range(len(tok))]
        entities = ner.tag_text(text, tok, logits_for(per_token), LABELS)
        assert [(e["entity"], e["text"]) for e in entities] == [("PER", "zoe"), ("LOC", expected)]
