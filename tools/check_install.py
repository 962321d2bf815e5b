"""After `make install`: fail loudly if the environment is not the one edgeft was measured with."""

import sys

import torch
import transformers

problems = []
if not torch.__version__.startswith("2.13.0"):
    problems.append(f"torch {torch.__version__} (expected 2.13.0)")
if not transformers.__version__.startswith("4.57."):
    problems.append(f"transformers {transformers.__version__} (expected 4.57.x; optimum-onnx 0.1.0 needs < 4.58)")
if problems:
    sys.exit("install check failed: " + "; ".join(problems))
cuda = "CUDA " + torch.version.cuda if torch.version.cuda else "CPU build"
print(f"edgeft environment ready: torch {torch.__version__} ({cuda}), transformers {transformers.__version__}")
