"""Vocabulary pruning on a tiny BERT: ids renumbered consistently in the tokenizer and the
embedding rows, so texts of the corpus give the same outputs as before and others are spelled
in pieces rather than lost."""

from __future__ import annotations

import json

import pytest

from edgeft.errors import ModelError
from edgeft.vocab import kept_ids, prune_embeddings, read_wordpiece, write_pruned_tokenizer


def test_pruned_model_and_tokenizer_reproduce_corpus_texts(tmp_path, tiny_base):
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    corpus = ["the film was good", "a sad story"]
    data = read_wordpiece(tiny_base)
    keep = kept_ids(data, corpus, keep_characters=False)
    vocab = data["model"]["vocab"]
    assert {vocab[t] for t in ("[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]", "film", "sad")} <= set(keep)
    assert vocab["berlin"] not in keep and len(keep) < len(vocab)

    model = AutoModelForSequenceClassification.from_pretrained(tiny_base, num_labels=2).eval()
    out = tmp_path / "pruned"
    out.mkdir()
    pad = keep.index(vocab["[PAD]"])
    pruned = AutoModelForSequenceClassification.from_pretrained(tiny_base, num_labels=2).eval()
    pruned.load_state_dict(model.state_dict())
    prune_embeddings(pruned, keep, pad)
    pruned.save_pretrained(out)
    write_pruned_tokenizer(tiny_base, out, data, keep)

    old_tok, new_tok = AutoTokenizer.from_pretrained(tiny_base), AutoTokenizer.from_pretrained(out)
    reloaded = AutoModelForSequenceClassification.from_pretrained(out).eval()
    assert reloaded.config.vocab_size == len(keep) == len(new_tok)
    with torch.no_grad():
        for text in corpus + ["good film the"]:
            a = model(**old_tok(text, return_tensors="pt")).logits
            b = reloaded(**new_tok(text, return_tensors="pt")).logits
            assert torch.allclose(a, b, atol=1e-6), text
    # A word outside the corpus and without its character pieces becomes [UNK]; with them, pieces.
    fast = Tokenizer.from_file(str(out / "tokenizer.json"))
    assert fast.encode("berlin").tokens[1] == "[UNK]"
    keep_chars = kept_ids(data, corpus, keep_characters=True)
    data_chars = json.loads(json.dumps(data))
    out2 = tmp_path / "chars"
    out2.mkdir()
    write_pruned_tokenizer(tiny_base, out2, data_chars, keep_chars)
    pieces = Tokenizer.from_file(str(out2 / "tokenizer.json")).encode("berlin").tokens[1:-1]
    assert "[UNK]" not in pieces and "".join(p.removeprefix("##") for p in pieces) == "berlin"
    # Padding and the special tokens use the new ids.
    assert json.loads((out / "tokenizer.json").read_text())["post_processor"]["special_tokens"]["[CLS]"]["ids"] == [keep.index(vocab["[CLS]"])]


def test_bpe_vocabulary_is_refused(tmp_path):
    (tmp_path / "tokenizer.json").write_text(json.dumps({"model": {"type": "BPE", "vocab": {}, "merges": []}}))
    with pytest.raises(ModelError, match="BPE vocabulary cannot be pruned"):
        read_wordpiece(tmp_path)
