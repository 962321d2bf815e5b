"""The generator of runtime/tests/fixtures still makes bundles the runtime accepts."""

from __future__ import annotations

import edgeft_runtime
from tests.make_runtime_fixtures import build


def test_fixture_generator_builds_loadable_bundles(tmp_path):
    made = build(tmp_path, epochs=1)  # the committed fixtures train longer; this checks the recipe runs
    assert set(made) == {"sentiment", "topics", "entities", "entities_ws", "fewshot", "fillmask", "embedder"}
    assert edgeft_runtime.load(made["sentiment"]).predict("good film")["label"] in ("pos", "neg")
    assert edgeft_runtime.load(made["topics"]).multi_label
    assert isinstance(edgeft_runtime.load(made["entities"]).tag("anna met otto in paris"), list)
    assert edgeft_runtime.load(made["entities_ws"]).word_split == "whitespace"
    assert edgeft_runtime.load(made["fewshot"]).embed("good film").ndim == 1
    assert edgeft_runtime.load(made["embedder"]).embed("good film").shape == (16,)
    assert len(edgeft_runtime.load(made["fillmask"]).fill_mask("the [MASK] was good", top_k=3)[0]) == 3
