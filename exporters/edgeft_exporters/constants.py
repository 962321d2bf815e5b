"""The run folder contract: what ``edgeft train`` writes and ``edgeft export`` reads."""

# Beside the save_pretrained files of a run:
RUN_FILE = "edgeft_run.json"        # task, labels, problem type, max length, base model, versions
CONFIG_FILE = "train_config.json"   # the resolved training config
METRICS_FILE = "metrics.json"       # eval metrics of the trained model
EVAL_DATA_FILE = "eval.jsonl"       # the held-out data, normalised: {"text": ..., "labels": [...]}
CHECKPOINT_DIR = "checkpoints"      # trainer checkpoints while training (removed when complete)
# A LoRA run's adapter (peft's adapter_model.safetensors + adapter_config.json), in a folder of its
# own: transformers loads a folder holding adapter_config.json as "that adapter on its base model".
ADAPTER_DIR = "adapter"

RUN_FORMAT = "edgeft-run"
RUN_SCHEMA_VERSION = "1.0"

# A SetFit run's head, beside the sentence-transformers body files (never setfit's pickled
# model_head.pkl): the fitted coefficients as safetensors, what they mean as JSON.
SETFIT_HEAD_WEIGHTS_FILE = "setfit_head.safetensors"
SETFIT_HEAD_CONFIG_FILE = "setfit_head.json"
SETFIT_HEAD_FORMAT = "edgeft-setfit-head"
