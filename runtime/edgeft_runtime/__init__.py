"""edgeft-runtime: run edgeft bundles with onnxruntime, tokenizers and numpy (no torch).

    import edgeft_runtime
    clf = edgeft_runtime.load("models/sst2-int8")
    clf.predict(["great film", "dull and slow"])   # [{"label": "pos", "score": 0.97}, ...]
    clf.predict_proba(["great film"])              # numpy array (n, num_labels)
    clf.embed(["great film"])                      # SetFit bundles: unit-length sentence vectors
"""

from .base import BundleModel
from .classifier import Classifier
from .errors import BundleError
from .loader import load
from .manifest import read_manifest, verify_bundle

__version__ = "0.1.0"

__all__ = ["BundleError", "BundleModel", "Classifier", "load", "read_manifest", "verify_bundle", "__version__"]
