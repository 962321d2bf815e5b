"""The run folder contract: what ``edgeft train`` writes and ``edgeft export`` reads."""

# Beside the save_pretrained files of a run:
RUN_FILE = "edgeft_run.json"        # task, labels, problem type, max length, base model, versions
CONFIG_FILE = "train_config.json"   # the resolved training config
METRICS_FILE = "metrics.json"       # eval metrics of the trained model
EVAL_DATA_FILE = "eval.jsonl"       # the held-out data, normalised: {"text": ..., "labels": [...]}
CHECKPOINT_DIR = "checkpoints"      # trainer checkpoints while training (removed when complete)

RUN_FORMAT = "edgeft-run"
RUN_SCHEMA_VERSION = "1.0"
