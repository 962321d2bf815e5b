"""Bridges from edgeft-runtime to data engines (Ray Data, Arrow tables).

Each module imports its engine only when used: ``import edgeft_runtime`` never pulls in ray or
pyarrow, which are optional (``pip install "edgeft-runtime[ray]"``).
"""
