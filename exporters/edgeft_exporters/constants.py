"""Names of the parts some runs add to the run folder (whose own files, format and version are
in ``run_folder``)."""

# A LoRA run's adapter (peft's adapter_model.safetensors + adapter_config.json), in a folder of its
# own: transformers loads a folder holding adapter_config.json as "that adapter on its base model".
ADAPTER_DIR = "adapter"

# A SetFit run's head, beside the sentence-transformers body files (never setfit's pickled
# model_head.pkl): the fitted coefficients as safetensors, what they mean as JSON.
SETFIT_HEAD_WEIGHTS_FILE = "setfit_head.safetensors"
SETFIT_HEAD_CONFIG_FILE = "setfit_head.json"
SETFIT_HEAD_FORMAT = "edgeft-setfit-head"
