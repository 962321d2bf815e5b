"""Where edgeft's ``predict`` spends time beyond the bare onnxruntime session, at batch 1.

    python benchmarks/predict_overhead.py [BUNDLE] [--runs 600]

All calls go to ONE session (the model's own), alternating in blocks in one process
(edgeft_runtime.timing), on texts of exactly 16, 64 and 128 tokens:

  bare            session.run on inputs tokenised ahead of time
  tokenise        tokenizers' encode alone
  tokenise+run    encode, build the input arrays, session.run: the least any wrapper does
  predict_proba   edgeft: the above plus batching bookkeeping and softmax
  predict         edgeft: the above plus the label lookup

Then the same Python work with the session replaced by a stub that returns fixed logits: the
CPU time of the wrapper itself, without the inference. Needs an int8 classifier bundle (default:
the one benchmarks/sst2_classifier.py writes).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LENGTHS = (16, 64, 128)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", nargs="?", default=str(ROOT / "models" / "bench-sst2" / "bundle-int8"))
    parser.add_argument("--runs", type=int, default=600)
    args = parser.parse_args()
    manifest = Path(args.bundle) / "edgeft.json"
    if not manifest.is_file():
        sys.exit(f"missing {manifest}: run benchmarks/sst2_classifier.py first, or name an int8 classifier bundle")
    if "logits" not in json.loads(manifest.read_text()).get("outputs", {}):
        sys.exit(f"{args.bundle}: this script needs a supervised classifier bundle (an output named 'logits')")

    import edgeft_runtime
    from edgeft_runtime.bench import text_of_length
    from edgeft_runtime.timing import timed_blocks

    model = edgeft_runtime.load(args.bundle, variant="int8")
    session, tok = model.session, model.tokenizer
    count = lambda t: len(tok.encode([t])[0].ids)  # noqa: E731
    output = model.manifest["outputs"]["logits"]
    print(f"{args.bundle} (int8), medians of {args.runs} calls, ms")
    print("| tokens | bare | tokenise | tokenise+run | predict_proba | predict | predict / bare |")
    print("|---|---|---|---|---|---|---|")
    texts_by_length = {}
    for n in LENGTHS:
        texts = [text_of_length(count, n, seed=s) for s in range(8)]
        texts_by_length[n] = texts
        feeds = [model._feed(tok.encode([t])) for t in texts]
        fns = {
            "bare": lambda i: session.run([output], feeds[i]),
            "tokenise": lambda i: tok.encode([texts[i]]),
            "tokenise+run": lambda i: session.run([output], model._feed(tok.encode([texts[i]]))),
            "predict_proba": lambda i: model.predict_proba([texts[i]]),
            "predict": lambda i: model.predict(texts[i]),
        }
        times = timed_blocks(fns, list(range(len(texts))), args.runs)
        ms = {k: 1000 * statistics.median(v) for k, v in times.items()}
        cells = " | ".join(f"{ms[k]:.3f}" for k in fns)
        print(f"| {n} | {cells} | {ms['predict'] / ms['bare']:.3f}x |")

    logits = session.run([output], feeds[0])

    class StubSession:
        def run(self, names, feed):
            return logits

        def get_outputs(self):
            return session.get_outputs()

    model.session = StubSession()
    texts = texts_by_length[16]

    def per_call_us(fn, calls: int = 20000) -> float:
        samples = []
        for i in range(calls):
            start = time.perf_counter()
            fn(texts[i % len(texts)])
            samples.append(time.perf_counter() - start)
        return 1e6 * statistics.median(samples)

    print("\nwith the session stubbed out, 16 tokens, µs per call:")
    print(f"  tokenise {per_call_us(lambda t: tok.encode([t])):.1f}, predict {per_call_us(model.predict):.1f}")


if __name__ == "__main__":
    main()
