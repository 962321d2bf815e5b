"""The export stage: Optimum ONNX export, graph optimisation, int8 quantisation, parity gate, bundle writer.

Imports of optimum and onnxruntime's tooling happen inside the functions that need them, so this
package imports quickly and its error messages can name the missing extra.
"""

from .errors import ExportError, ParityError
from .staging import OutputExistsError, StagedDir

__all__ = ["ExportError", "OutputExistsError", "ParityError", "StagedDir"]
