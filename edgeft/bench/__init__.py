"""Benchmark helpers on the training side: the PyTorch reference engine that `edgeft bench
--reference RUN` times beside the bundle (``pytorch_reference``), and `edgeft compare`'s table
and chart of device reports (``compare``)."""
