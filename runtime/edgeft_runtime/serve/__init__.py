"""edgeft bundles over HTTP: ``python -m edgeft_runtime.serve BUNDLE [BUNDLE...]`` or ``edgeft serve``.

Needs the ``serve`` extra (``pip install 'edgeft-runtime[serve]'``: Starlette and uvicorn); nothing
here is imported by ``import edgeft_runtime``. Modules, one job each:

- ``options``: the command-line options, declared once, each number checked against its range;
- ``protocol``: request fields and answers per task (text-embeddings-inference shapes), no HTTP;
- ``batcher``: the dynamic batcher, one worker thread per model;
- ``registry``: the served bundles, the device check at start-up, verified reloads;
- ``metrics``: Prometheus counters, gauges and histograms;
- ``app`` / ``openapi``: the Starlette routes and their OpenAPI description;
- ``cli``: ``main``, which runs uvicorn and stops cleanly on SIGTERM.
"""
