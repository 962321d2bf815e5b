"""edgeft: fine-tune BERT-family encoders and ship them to devices as checked int8 ONNX bundles."""

__version__ = "0.1.0"
