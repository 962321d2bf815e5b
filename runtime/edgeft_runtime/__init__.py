"""edgeft-runtime: run edgeft bundles with onnxruntime, tokenizers and numpy (no torch).

    import edgeft_runtime
    clf = edgeft_runtime.load("models/sst2-int8")
    clf.predict(["great film", "dull and slow"])   # [{"label": "pos", "score": 0.97}, ...]
    clf.predict_proba(["great film"])              # numpy array (n, num_labels)
    clf.embed(["great film"])                      # SetFit bundles: unit-length sentence vectors
    tagger = edgeft_runtime.load("models/conll-int8")
    tagger.tag(["Angela Merkel met Emmanuel Macron in Paris."])  # [[{"entity": "PER", "start": 0, ...}]]
"""

from .base import BundleModel
from .classifier import Classifier
from .errors import BundleError
from .fill_mask import FillMask
from .loader import load
from .manifest import read_manifest, verify_bundle
from .tagger import Tagger

__version__ = "0.1.0"

__all__ = ["BundleError", "BundleModel", "Classifier", "FillMask", "load", "read_manifest", "Tagger", "verify_bundle", "__version__"]
