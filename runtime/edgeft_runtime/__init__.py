"""edgeft-runtime: run edgeft bundles with onnxruntime, tokenizers and numpy (no torch).

    import edgeft_runtime
    clf = edgeft_runtime.load("models/sst2-int8")
    clf.predict(["great film", "dull and slow"])   # [{"label": "pos", "score": 0.97}, ...]
    clf.predict_proba(["great film"])              # numpy array (n, num_labels)
    clf.embed(["great film"])                      # SetFit bundles: unit-length sentence vectors
    tagger = edgeft_runtime.load("models/conll-int8")
    tagger.tag(["Angela Merkel met Emmanuel Macron in Paris."])  # [[{"entity": "PER", "start": 0, ...}]]
"""

from .errors import BundleError
from .manifest import read_manifest, verify_bundle

__version__ = "0.1.0"

# The task classes load on first use (see loader.TASK_CLASSES): importing them all here would
# add the NER decoder's imports to every app's start-up. ``load`` and ``BundleModel`` too, so that
# importing the package does not import onnxruntime: ``python -m edgeft_runtime.check`` must be
# able to say that onnxruntime crashes at import on this machine instead of crashing with it.
_LAZY = {"BundleModel": "base", "Classifier": "classifier", "FillMask": "fill_mask", "Tagger": "tagger", "load": "loader"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["BundleError", "BundleModel", "Classifier", "FillMask", "load", "read_manifest", "Tagger", "verify_bundle", "__version__"]
