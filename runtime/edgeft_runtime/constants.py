"""File names, format identifiers and task names shared by the exporter and the runtime.

They are the bundle contract: the exporter writes them, the runtime reads them, and neither
spells them out anywhere else.
"""

MANIFEST_FILE = "edgeft.json"
TOKENIZER_FILE = "tokenizer.json"
MODEL_CARD_FILE = "README.md"
FP32_MODEL_FILE = "model.onnx"
INT8_MODEL_FILE = "model_int8.onnx"
# The reference set (edgeft_runtime.reference): held-out texts and the PyTorch original's answers.
REFERENCE_DIR = "reference"
REFERENCE_TEXTS_FILE = f"{REFERENCE_DIR}/texts.json"

BUNDLE_FORMAT = "edgeft-bundle"
# major.minor: a newer minor only adds keys (ignored with a warning); a newer major is refused.
# 1.1: the reference set (manifest key "reference"); 1.2: ner.word_split (absent: tokenizer words);
# 1.3: parity.variants.*.max_probability_diff (output differences in probabilities, the device
# check's unit), and the gate's --max-drop written once, as parity.max_drop (1.1-1.2 also wrote it
# as reference.max_drop and parity.original.max_drop; edgeft_runtime.parity_record.gate_max_drop
# reads every layout); 1.4: the task "embedding" (outputs["embeddings"] only, embedding_dim; its
# parity reports max_cosine_distance instead of max_probability_diff). A runtime of 1.3 or before
# loads no embedding bundle: it refuses the task by name ("not supported by this runtime").
SCHEMA_VERSION = "1.4"

# Tasks a bundle can carry; each maps to one runtime class.
TASK_CLASSIFIER = "classifier"
TASK_SETFIT = "setfit"
TASK_NER = "ner"
TASK_FILL_MASK = "fill-mask"
# Sentence embeddings (schema 1.4): a sentence-transformers run; outputs["embeddings"] only.
TASK_EMBEDDING = "embedding"

SINGLE_LABEL = "single_label"
MULTI_LABEL = "multi_label"

VARIANT_FP32 = "fp32"
VARIANT_INT8 = "int8"

# Engines a variant may name (``"engine"``; absent: onnxruntime). onnxruntime is the runtime's one
# requirement; the others are optional extras, imported only when a variant that needs one loads.
ENGINE_ONNXRUNTIME = "onnxruntime"
ENGINE_OPENVINO = "openvino"
OPTIONAL_ENGINES = (ENGINE_OPENVINO,)

# Single-file bundles (edgeft export --archive); edgeft_runtime.archive unpacks them.
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz")
