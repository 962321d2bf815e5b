"""edgeft's NER training against the plain Hugging Face token-classification recipe, on the same
sentences, base model, hyperparameters and budget, over several seeds, scored on the same test
split with the same metric.

    python benchmarks/ner_vs_plain_recipe.py                       # every data set, recipe and seed
    python benchmarks/ner_vs_plain_recipe.py --data ncbi_disease --recipes plain edgeft --seeds 1
    python benchmarks/ner_vs_plain_recipe.py --table               # the table from finished jobs only

Recipes (one difference at a time):
- ``plain``: AutoModelForTokenClassification on the data's own tokens (``is_split_into_words``),
  the first sub-token of each token labelled and the others -100, DataCollatorForTokenClassification,
  the Trainer: the recipe of the transformers token-classification guide.
- ``plain-tokenizer-words``: the same recipe fed the same sentences re-expressed in the
  tokenizer's pre-tokenizer words of the space-joined text (tags from the character spans):
  edgeft's word units before ``word_split`` existed.
- ``edgeft``: ``edgeft train ner`` with its defaults (``word_split`` auto: whitespace words for
  these space-joined token files), exported to int8 with the entity-F1 gate; the test split is
  scored with the PyTorch model, the fp32 bundle and the int8 bundle through the runtime's decoding.
- ``edgeft-tokenizer-words``: ``edgeft train ner --set word_split=tokenizer`` (the old behaviour).

Data (subsets sampled with a fixed seed from ../shared/data, written as token<TAB>tag files to
--work; both recipes read the same files): ``conll2003`` (4000 training sentences, 500 validation
sentences for per-epoch evaluation, the whole test split), ``ncbi_disease`` (3000 / 500 / whole
test split) and ``conll2003_noisy``, the same CoNLL sentences with social-media noise: @mentions,
URLs, emoticons, ``!!!`` and hashtags inserted as O tokens, and a quarter of the one-token
entities written as hashtags (``#Paris``, still the entity). Budget: 1 epoch, batch 16, lr 1e-4,
warm-up 0.1, weight decay 0.01, max length 128, base all-MiniLM-L6-v2, CPU.

Metric: entity-level micro-F1 on exact character spans of the space-joined test sentences
(seqeval's conventions, edgeft_runtime.metrics); for the plain recipe seqeval's own F1 on its
tags is recorded beside it. Every job runs in its own process with ``--threads`` torch threads,
``--parallel`` jobs side by side; each writes benchmarks/results/ner_vs_plain/<data>_<recipe>_s<seed>.json
(finished jobs are not run again) and the summary goes to benchmarks/results/ner_vs_plain_recipe.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from shared_data import ROOT, require  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
JOBS_DIR = RESULTS / "ner_vs_plain"
DATASETS = ("conll2003", "ncbi_disease", "conll2003_noisy")
RECIPES = ("plain", "plain-tokenizer-words", "edgeft", "edgeft-tokenizer-words")
# Data sets whose tokens are already the tokenizer's words (checked in prepare): the word-unit
# variants would repeat the same runs there.
SAME_UNITS_NOTE = "tokens equal the tokenizer's words; the word-unit variants are identical runs"
SOURCES = {
    "conll2003": ("conll2003", "train.txt", "valid.txt", "test.txt", 4000),
    "ncbi_disease": ("ncbi_disease", "train.tsv", "devel.tsv", "test.tsv", 3000),
}
EVAL_SENTENCES = 500
HYPER = {"epochs": 1.0, "batch_size": 16, "lr": 1e-4, "warmup_ratio": 0.1, "weight_decay": 0.01, "max_length": 128}
BASE = "all-MiniLM-L6-v2"


# ------------------------------------------------------------------------------------------
# data


def read_columns(path: Path) -> list[tuple[list[str], list[str]]]:
    """CoNLL columns or token<TAB>tag lines -> (tokens, tags) per sentence (token first, tag last)."""
    sentences, tokens, tags = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if not parts or parts[0] == "-DOCSTART-":
            if tokens:
                sentences.append((tokens, tags))
            tokens, tags = [], []
            continue
        tokens.append(parts[0])
        tags.append(parts[-1])
    if tokens:
        sentences.append((tokens, tags))
    return sentences


def write_tsv(path: Path, sentences) -> Path:
    """token<TAB>tag lines; an identical existing file is left alone (jobs may be reading it),
    anything else is replaced whole (written beside, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for tokens, tags in sentences:
        lines.extend(f"{t}\t{g}" for t, g in zip(tokens, tags))
        lines.append("")
    content = "\n".join(lines) + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != content:
        partial = path.with_suffix(".partial")
        partial.write_text(content, encoding="utf-8")
        partial.replace(path)
    return path


def sample(sentences, k: int, seed: int):
    """k sentences drawn with a fixed seed, kept in file order."""
    if k >= len(sentences):
        return sentences
    chosen = sorted(random.Random(seed).sample(range(len(sentences)), k))
    return [sentences[i] for i in chosen]


_WORDS = "good news today love this wow omg lol game music life fail win".split()


def noise_token(rng: random.Random) -> str:
    kind = rng.random()
    handle = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789_") for _ in range(rng.randint(4, 10)))
    if kind < 0.3:
        return "@" + handle
    if kind < 0.5:
        return f"http://t.co/{handle}"
    if kind < 0.7:
        return rng.choice([":)", ":-(", ":D", "<3", ";)", ":P", "^_^", "xD"])
    if kind < 0.85:
        return rng.choice(["!!!", "!!", "...", "?!", "!!!!"])
    return "#" + rng.choice(_WORDS)


def make_noisy(sentences, seed: int):
    """Social-media noise: O tokens inserted (about 1.5 per sentence), a quarter of the one-token
    entities written as #hashtags (the tag stays: the hashtag is the entity)."""
    rng = random.Random(seed)
    out = []
    for tokens, tags in sentences:
        tokens, tags = list(tokens), list(tags)
        for i, tag in enumerate(tags):
            one_token = tag.startswith("B-") and (i + 1 == len(tags) or not tags[i + 1].startswith("I-"))
            if one_token and tokens[i][:1].isalnum() and rng.random() < 0.25:
                tokens[i] = "#" + tokens[i]
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
            # never inside an entity: before a B- or an O tag
            slots = [i for i in range(len(tags) + 1) if i == len(tags) or not tags[i].startswith("I-")]
            at = rng.choice(slots)
            tokens.insert(at, noise_token(rng))
            tags.insert(at, "O")
        out.append((tokens, tags))
    return out


def data_files(work: Path) -> dict[str, dict[str, Path]]:
    return {name: {s: work / "data" / name / f"{s}.tsv" for s in ("train", "eval", "test")} for name in DATASETS}


def prepare(work: Path, limit: int | None = None) -> dict[str, dict[str, Path]]:
    """Write every data set's train/eval/test files to work/data (deterministic)."""
    for name, (folder, train, evaluation, test, k) in SOURCES.items():
        src = require(folder)
        out = work / "data" / name
        splits = {
            "train": sample(read_columns(src / train), limit or k, 0),
            "eval": sample(read_columns(src / evaluation), limit // 4 if limit else EVAL_SENTENCES, 0),
            "test": read_columns(src / test)[: limit // 2 if limit else None],
        }
        for s, rows in splits.items():
            write_tsv(out / f"{s}.tsv", rows)
        if name == "conll2003":
            for i, (s, rows) in enumerate(splits.items()):
                write_tsv(work / "data" / "conll2003_noisy" / f"{s}.tsv", make_noisy(rows, 1 + i))
    return data_files(work)


def base_path() -> str:
    from edgeft.base_models import load_base_config

    return load_base_config(BASE)[0]


def content_tokenizer():
    from transformers import AutoTokenizer

    from edgeft.tasks.ner import content_tokenizer as make

    return make(AutoTokenizer.from_pretrained(base_path(), use_fast=True))


def span_examples(path: Path):
    """The file as edgeft reads it: space-joined text + character spans."""
    from edgeft.data.ner import read_ner

    return read_ner(path).examples


def unit_stats(path: Path) -> dict:
    """Words of the data vs the tokenizer's words, and the share of O among them."""
    from edgeft.tasks.ner import word_tags
    from edgeft_runtime import ner

    examples = span_examples(path)
    tok = content_tokenizer()
    out = {}
    for split in ner.WORD_SPLITS:
        tokens = ner.text_tokens(tok, [ex.text for ex in examples], split)
        tags = [word_tags(t, ex.spans)[0] for t, ex in zip(tokens, examples)]
        words = sum(len(t) for t in tags)
        out[split] = {"words": words, "o_share": round(sum(g == "O" for t in tags for g in t) / max(words, 1), 4)}
    out["tokens"] = sum(len(t) for t in (ner.text_tokens(tok, [ex.text for ex in examples])))
    out["sentences"] = len(examples)
    out["entities"] = sum(len(ex.spans) for ex in examples)
    out["sentences_over_max_length"] = sum(len(t) > HYPER["max_length"] - 2 for t in ner.text_tokens(tok, [ex.text for ex in examples]))
    return out


# ------------------------------------------------------------------------------------------
# the plain recipe (transformers' own classes, as the token-classification guide writes it)


def tokenizer_word_sentences(path: Path):
    """The file's sentences in the tokenizer's words of the space-joined text, tags from the
    character spans, with each word's character range (for scoring on the same spans)."""
    from edgeft.tasks.ner import word_tags
    from edgeft_runtime import ner

    examples = span_examples(path)
    tok = content_tokenizer()
    out = []
    for ex, t in zip(examples, ner.text_tokens(tok, [ex.text for ex in examples], "tokenizer")):
        offsets = ner.word_offsets(t.offsets, t.words)
        tags, _ = word_tags(t, ex.spans)
        out.append(([ex.text[s:e] for s, e in offsets], tags, [(int(s), int(e)) for s, e in offsets]))
    return out


def data_token_sentences(path: Path):
    """The file's own tokens and tags, with each token's character range in the space-joined text."""
    out = []
    for tokens, tags in read_columns(path):
        offsets, pos = [], 0
        for t in tokens:
            offsets.append((pos, pos + len(t)))
            pos += len(t) + 1
        out.append((tokens, tags, offsets))
    return out


def run_plain(files: dict[str, Path], seed: int, units: str, work: Path) -> dict:
    import numpy as np
    from datasets import Dataset
    from edgeft_runtime.metrics import entity_scores, tag_entities
    from seqeval.metrics import f1_score
    from transformers import (
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    read = data_token_sentences if units == "data" else tokenizer_word_sentences
    splits = {name: read(path) for name, path in files.items()}
    label_list = ["O"] + sorted({g for _, tags, _ in splits["train"] for g in tags if g != "O"}, key=lambda g: (g[2:], g[0]))
    label2id = {label: i for i, label in enumerate(label_list)}
    base = base_path()
    tokenizer = AutoTokenizer.from_pretrained(base)

    def tokenize_and_align_labels(examples):
        tokenized = tokenizer(examples["tokens"], truncation=True, max_length=HYPER["max_length"], is_split_into_words=True)
        labels = []
        for i, tags in enumerate(examples["ner_tags"]):
            previous, ids = None, []
            for word in tokenized.word_ids(batch_index=i):
                ids.append(-100 if word is None or word == previous else tags[word])
                previous = word
            labels.append(ids)
        tokenized["labels"] = labels
        # kept to read predictions back per word (the Trainer drops the column before the model)
        tokenized["word_ids"] = [[-1 if w is None else w for w in tokenized.word_ids(batch_index=i)] for i in range(len(labels))]
        return tokenized

    def dataset(rows):
        raw = Dataset.from_dict({"tokens": [t for t, _, _ in rows], "ner_tags": [[label2id.get(g, 0) for g in tags] for _, tags, _ in rows]})
        return raw.map(tokenize_and_align_labels, batched=True, remove_columns=raw.column_names)

    train_ds, eval_ds, test_ds = dataset(splits["train"]), dataset(splits["eval"]), dataset(splits["test"])

    def word_predictions(logits, ds, rows) -> list[list[str]]:
        """Each word's tag from its first sub-token; O for a word without sub-tokens or cut off by truncation."""
        out = []
        for row, word_ids, (_, tags, _) in zip(np.argmax(logits, axis=-1), ds["word_ids"], rows):
            words = ["O"] * len(tags)
            previous = None
            for position, word in enumerate(word_ids):
                if word != -1 and word != previous:
                    words[word] = label_list[row[position]]
                previous = word
            out.append(words)
        return out

    def compute_metrics(prediction):
        predicted = word_predictions(prediction.predictions, eval_ds, splits["eval"])
        return {"f1": f1_score([tags for _, tags, _ in splits["eval"]], predicted)}

    set_seed(seed)
    model = AutoModelForTokenClassification.from_pretrained(
        base, num_labels=len(label_list), id2label=dict(enumerate(label_list)), label2id=label2id
    )
    args = TrainingArguments(
        output_dir=str(work / "checkpoints"),
        learning_rate=HYPER["lr"],
        per_device_train_batch_size=HYPER["batch_size"],
        per_device_eval_batch_size=32,
        num_train_epochs=HYPER["epochs"],
        weight_decay=HYPER["weight_decay"],
        warmup_ratio=HYPER["warmup_ratio"],
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=1,
        load_best_model_at_end=True,
        metric_for_best_model="f1",
        seed=seed,
        report_to="none",
        logging_steps=50,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        processing_class=tokenizer,
        data_collator=DataCollatorForTokenClassification(tokenizer),
        compute_metrics=compute_metrics,
    )
    started = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - started
    test_rows = splits["test"]
    trainer.compute_metrics = None  # it scores the eval split; the test split is scored below
    predicted = word_predictions(trainer.predict(test_ds).predictions, test_ds, test_rows)
    gold_tags = [tags for _, tags, _ in test_rows]
    spans = lambda tags, offsets: [(t, offsets[a][0], offsets[b][1]) for t, a, b in tag_entities(tags)]  # noqa: E731
    gold = [spans(tags, offsets) for _, tags, offsets in test_rows]
    # gold spans of the data, whatever the units: the same reference for every recipe
    gold_data = [[(t, s, e) for s, e, t in ex.spans] for ex in span_examples(files["test"])]
    assert [sorted(g) for g in gold] == [sorted(g) for g in gold_data], "units changed the gold entities"
    report = entity_scores(gold_data, [spans(p, offsets) for p, (_, _, offsets) in zip(predicted, test_rows)])
    return {
        "test": {"entity_f1": round(100 * report["f1"], 2), "entity_precision": round(100 * report["precision"], 2), "entity_recall": round(100 * report["recall"], 2)},
        "test_seqeval_f1": round(100 * f1_score(gold_tags, predicted), 2),
        "eval_f1": round(100 * trainer.state.best_metric, 2),
        "train_seconds": round(train_seconds, 1),
        "steps": trainer.state.global_step,
    }


# ------------------------------------------------------------------------------------------
# edgeft


def run_edgeft(files: dict[str, Path], seed: int, word_split: str, work: Path, export: bool, parity_samples: int, threads: int) -> dict:
    import edgeft_runtime
    from edgeft_exporters.api import ExportOptions, export_run
    from edgeft_exporters.run_folder import read_run
    from edgeft_exporters.tasks.ner import NerExport

    from edgeft.config import NerConfig
    from edgeft.tasks.ner import train_ner

    run_dir = work / "run"
    if (run_dir / "edgeft_run.json").is_file():  # trained by an earlier attempt of this job (export failed)
        train_seconds = json.loads((run_dir / "edgeft_run.json").read_text(encoding="utf-8"))["train_seconds"]
    else:
        config = NerConfig(
            train=str(files["train"]), eval=str(files["eval"]), out=str(run_dir), base=BASE, seed=seed, word_split=word_split,
            logging_steps=50, **HYPER,
        )
        config.validate()
        train_seconds = train_ner(config, overwrite=True).seconds
    run = read_run(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    task = NerExport(run, run_dir)
    test = span_examples(files["test"])
    texts, gold = task.parse_examples([ex.to_json() for ex in test], "test")
    reference, _ = task.reference()
    scores = {"pytorch-fp32": task.score(reference(texts), gold)}
    out = {
        "word_split": run["ner"]["word_split"],
        "eval_f1": round(100 * metrics["entity_f1"], 2),
        "train_seconds": train_seconds,
        "misaligned_train_entities": metrics["misaligned_train_entities"],
    }
    if export:
        bundle = work / "bundle-int8"
        # The gate's verdict is recorded, not enforced here, so that the int8 test score exists either way.
        options = ExportOptions(int8=True, overwrite=True, parity_samples=parity_samples, max_drop=100.0)
        manifest = export_run(run_dir, bundle, options).manifest
        for variant in ("fp32", "int8"):
            model = edgeft_runtime.load(bundle, variant=variant, threads=threads)
            scores[f"onnx-{variant}"] = task.score(task.bundle_outputs(model, texts), gold)
        parity = manifest["parity"]
        out["parity"] = {v: parity["variants"][v]["metric"] for v in ("fp32", "int8")} | {"reference": parity["reference_metric"]}
        out["parity"]["int8_gate_passed"] = parity["reference_metric"] - parity["variants"]["int8"]["metric"] <= 1.0
        out["quantization"] = manifest["variants"]["int8"]["quantization"]
    out["test"] = {k: {m: round(v[m], 2) for m in ("entity_f1", "entity_precision", "entity_recall")} for k, v in scores.items()}
    return out


# ------------------------------------------------------------------------------------------
# the same test sentences as raw text


_ATTACH_LEFT = set(".,;:!?%)]}") | {"...", "''"}
_ATTACH_RIGHT = set("([{$") | {"``"}


def detokenize(tokens: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Tokens -> text as a person would type it ("Paris ." -> "Paris.", "( AP )" -> "(AP)",
    "Obama 's" -> "Obama's"), with each token's character range in that text."""
    text, offsets, glue, quotes = "", [], True, 0
    for token in tokens:
        left = token in _ATTACH_LEFT or (token.startswith("'") and 1 < len(token) <= 3) or token.lower() == "n't"
        if token == '"':
            left, quotes = quotes % 2 == 1, quotes + 1
        if text and not glue and not left:
            text += " "
        offsets.append((len(text), len(text) + len(token)))
        text += token
        glue = token in _ATTACH_RIGHT or (token == '"' and quotes % 2 == 1)
    return text, offsets


def raw_text_rows(path: Path) -> list[dict]:
    """The test file's sentences detokenized, with the gold entities as character spans of that text."""
    from edgeft_runtime.metrics import tag_entities

    rows = []
    for tokens, tags in read_columns(path):
        text, offsets = detokenize(tokens)
        rows.append({"text": text, "spans": [[offsets[a][0], offsets[b][1], t] for t, a, b in tag_entities(tags)]})
    return rows


def cross_decoding_scores(args) -> dict:
    """Test F1 of the finished edgeft runs decoded with either word split, on the test sentences as
    given (tokens joined with spaces) and as raw text (detokenized): which part of a difference is
    training and which is decoding, and what raw text costs. Cached beside the job results."""
    from edgeft_exporters.run_folder import read_run
    from edgeft_exporters.tasks.ner import NerExport

    out = {}
    for data in ("conll2003", "conll2003_noisy"):
        if data not in args.data:
            continue
        test = data_files(args.work)[data]["test"]
        forms = {"tokens": [ex.to_json() for ex in span_examples(test)], "raw_text": raw_text_rows(test)}
        for recipe in ("edgeft", "edgeft-tokenizer-words"):
            for seed in args.seeds:
                cache = JOBS_DIR / f"{data}_{recipe}_s{seed}_decoding.json"
                run_dir = args.work / "jobs" / f"{data}_{recipe}_s{seed}" / "run"
                if not cache.is_file():
                    if not job_path(data, recipe, seed).is_file() or not (run_dir / "edgeft_run.json").is_file():
                        continue
                    run = read_run(run_dir)
                    result = {"trained_with": run["ner"]["word_split"]}
                    for form, rows in forms.items():
                        logits = None
                        for split in ("whitespace", "tokenizer"):
                            task = NerExport(run | {"ner": run["ner"] | {"word_split": split}}, run_dir)
                            texts, gold = task.parse_examples(rows, f"{data} test ({form})")
                            if logits is None:  # the split changes words, not tokens: one forward pass
                                logits = task.reference()[0](texts)
                            result[f"{form}/{split}"] = round(task.score(logits, gold)["entity_f1"], 2)
                    cache.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
                out[f"{data}/{recipe}/s{seed}"] = json.loads(cache.read_text())
    return out


# ------------------------------------------------------------------------------------------
# jobs and the table


def job_path(data: str, recipe: str, seed: int) -> Path:
    return JOBS_DIR / f"{data}_{recipe}_s{seed}.json"


def use_results_dir(folder: Path) -> None:
    """Smoke runs (--limit) keep their results in the work folder, away from the real ones."""
    global RESULTS, JOBS_DIR
    RESULTS, JOBS_DIR = folder, folder / "ner_vs_plain"


def run_job(args) -> None:
    import shutil

    import torch

    torch.set_num_threads(args.threads)
    data, recipe, seed = args.one[0], args.one[1], int(args.one[2])
    files = data_files(args.work)[data]
    work = args.work / "jobs" / f"{data}_{recipe}_s{seed}"
    if not (work / "run" / "edgeft_run.json").is_file():
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if recipe.startswith("plain"):
        result = run_plain(files, seed, "data" if recipe == "plain" else "tokenizer", work)
    else:
        split = "auto" if recipe == "edgeft" else "tokenizer"
        result = run_edgeft(files, seed, split, work, export=recipe == "edgeft", parity_samples=args.parity_samples, threads=args.threads)
    result |= {
        "data": data, "recipe": recipe, "seed": seed, "hyperparameters": HYPER, "base": BASE, "threads": args.threads,
        "job_seconds": round(time.perf_counter() - started, 1),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "python": platform.python_version()},
    }
    JOBS_DIR.mkdir(parents=True, exist_ok=True)
    job_path(data, recipe, seed).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if not args.keep:
        shutil.rmtree(work / "run" / "checkpoints", ignore_errors=True)
        shutil.rmtree(work / "checkpoints", ignore_errors=True)
    print(f"[{data} {recipe} seed {seed}] test F1 {headline(result):.2f} in {result['job_seconds']:.0f} s", flush=True)


def headline(result: dict) -> float:
    test = result["test"]
    return (test["pytorch-fp32"] if "pytorch-fp32" in test else test)["entity_f1"]


def wanted_jobs(args, same_units: set[str]) -> list[tuple[str, str, int]]:
    # seed by seed, so that a partial run already compares every recipe
    return [
        (data, recipe, seed)
        for seed in args.seeds
        for data in args.data
        for recipe in args.recipes
        if not (data in same_units and recipe in ("plain-tokenizer-words", "edgeft-tokenizer-words"))
    ]


def run_all(args, jobs) -> None:
    """Run the missing jobs, ``--parallel`` processes at a time, each with ``--threads`` threads."""
    pending = [j for j in jobs if not job_path(*j).is_file()]
    running: list[tuple[subprocess.Popen, tuple]] = []
    env = os.environ | {"OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    logs = args.work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    while pending or running:
        while pending and len(running) < args.parallel:
            job = pending.pop(0)
            cmd = [sys.executable, __file__, "--one", *map(str, job), "--threads", str(args.threads), "--work", str(args.work), "--parity-samples", str(args.parity_samples)]
            cmd += ["--limit", str(args.limit)] if args.limit else []
            log = open(logs / f"{job[0]}_{job[1]}_s{job[2]}.log", "w")
            running.append((subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT), job))
            print(f"started {job}", flush=True)
        time.sleep(5)
        for proc, job in list(running):
            if proc.poll() is not None:
                running.remove((proc, job))
                status = "done" if proc.returncode == 0 else f"FAILED (exit {proc.returncode}, see {logs})"
                print(f"{status}: {job}", flush=True)


def summary(args, same_units: set[str], stats: dict) -> dict:
    rows = {}
    for data in args.data:
        for recipe in RECIPES:
            results = [json.loads(job_path(data, recipe, s).read_text()) for s in args.seeds if job_path(data, recipe, s).is_file()]
            if not results:
                continue
            entry = {"seeds": [r["seed"] for r in results]}
            engines = ["pytorch-fp32", "onnx-fp32", "onnx-int8"] if recipe.startswith("edgeft") else [None]
            for engine in engines:
                f1 = [(r["test"][engine] if engine else r["test"])["entity_f1"] for r in results if engine is None or engine in r["test"]]
                if f1:
                    entry[engine or "test"] = {"f1": f1, "mean": round(statistics.mean(f1), 2), "sd": round(statistics.stdev(f1), 2) if len(f1) > 1 else 0.0}
            entry["eval_f1_mean"] = round(statistics.mean(r["eval_f1"] for r in results), 2)
            entry["train_seconds_mean"] = round(statistics.mean(r["train_seconds"] for r in results), 1)
            rows[f"{data}/{recipe}"] = entry
    return {"hyperparameters": HYPER, "base": BASE, "eval_sentences": EVAL_SENTENCES, "units": stats, "same_units": sorted(same_units), "results": rows}


def table(summary_: dict) -> str:
    lines = [
        "| data (test) | plain recipe | plain, tokenizer words | edgeft, tokenizer words (old) | edgeft (PyTorch) | edgeft int8 bundle |",
        "|---|---|---|---|---|---|",
    ]
    res = summary_["results"]

    def cell(key: str, engine: str) -> str:
        entry = res.get(key, {}).get(engine)
        return f"{entry['mean']:.2f} ± {entry['sd']:.2f}" if entry else "–"

    for data in DATASETS:
        if not any(k.startswith(data + "/") for k in res):
            continue
        same = data in summary_["same_units"]
        lines.append(
            f"| {data} | {cell(data + '/plain', 'test')} | {'= plain' if same else cell(data + '/plain-tokenizer-words', 'test')} | "
            f"{'= edgeft' if same else cell(data + '/edgeft-tokenizer-words', 'pytorch-fp32')} | {cell(data + '/edgeft', 'pytorch-fp32')} | "
            f"{cell(data + '/edgeft', 'onnx-int8')} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=RECIPES)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--parallel", type=int, default=2, help="jobs side by side")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per job")
    parser.add_argument("--parity-samples", type=int, default=EVAL_SENTENCES)
    parser.add_argument("--table", action="store_true", help="only summarise finished jobs")
    parser.add_argument("--decoding", action="store_true", help="also score the edgeft runs with either word split, on the test tokens and on raw (detokenized) test text")
    parser.add_argument("--keep", action="store_true", help="keep checkpoints")
    parser.add_argument("--limit", type=int, default=None, help="smoke run: N training sentences; results stay in --work")
    parser.add_argument("--one", nargs=3, metavar=("DATA", "RECIPE", "SEED"), help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, default=ROOT / "models" / "bench-ner-vs-plain")
    args = parser.parse_args()
    if args.limit:
        use_results_dir(args.work / "results")
    if args.one:
        run_job(args)
        return
    files = prepare(args.work, args.limit)
    stats = {data: {split: unit_stats(path) for split, path in files[data].items() if split in ("train", "test")} for data in args.data}
    same_units = {d for d, s in stats.items() if all(v["whitespace"]["words"] == v["tokenizer"]["words"] for v in s.values())}
    if not args.table:
        run_all(args, wanted_jobs(args, same_units))
    result = summary(args, same_units, stats)
    if args.decoding:
        result["decoding"] = cross_decoding_scores(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ner_vs_plain_recipe.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table(result))


if __name__ == "__main__":
    main()
