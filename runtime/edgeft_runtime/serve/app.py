"""The HTTP side: a Starlette app over the Registry. Handlers parse on the event loop, hand the
texts to the model's batcher, and join the answers it serialised."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import signal
import time
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .batcher import Closed, Overloaded
from .openapi import openapi_spec
from .protocol import ApiError, Limits, answer_bytes, embed_job, predict_job
from .registry import Registry

log = logging.getLogger("edgeft_runtime.serve")
JSON = "application/json"


def error_response(error: ApiError) -> Response:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


async def read_json(scope: Scope, receive: Receive, max_bytes: int) -> Any:
    """The request body as JSON, refusing bodies over ``max_bytes`` before reading them whole."""
    length = header(scope, b"content-length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise ApiError(413, f"body: {int(length)} bytes; the most is {max_bytes} (--max-body-bytes)", "validation", "body")
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect: nobody will read the answer
            raise ApiError(400, "body: the client closed the connection before sending it whole", "validation", "body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise ApiError(413, f"body: more than {max_bytes} bytes (--max-body-bytes)", "validation", "body")
        chunks.append(chunk)
        more = message.get("more_body", False)
    try:
        return json.loads(b"".join(chunks))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ApiError(400, f"body: not valid JSON ({e})", "validation", "body") from None


def header(scope: Scope, name: bytes) -> str | None:
    """One request header's value (``name`` in lower case, as ASGI servers give header names)."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    return host.startswith("127.") or host in ("::1", "localhost", "testclient")


def unknown_model(registry: Registry, name: str) -> Response:
    return error_response(ApiError(404, f"no model named {name!r}; serving {', '.join(registry.models)}", "validation"))


async def answer(registry: Registry, limits: Limits, served: Any, scope: Scope, receive: Receive, name: str, endpoint: str) -> Response:
    """One inference request to a known model: its answer, or the error response that says why not."""
    options = registry.options
    try:
        if served.state != "ready":
            why = served.reason or "loading and checking the bundle"
            retry = {"Retry-After": "5"} if served.state == "loading" else {}
            raise ApiError(503, f"model {name} is not ready: {why}", "unhealthy", headers=retry)
        batcher = served.batcher
        assert batcher is not None  # made with the model, before the state is "ready"
        if batcher.queued >= options.max_queue:  # full: refuse before reading the body
            raise Overloaded(batcher.retry_after(), batcher.queued)
        body = await read_json(scope, receive, options.max_body_bytes)
        make_job = predict_job if endpoint == "predict" else embed_job
        job = make_job(served.model, body, limits)
        answers = await batcher.submit(job.key, job.texts)
        return Response(answer_bytes(job, answers, endpoint), media_type=JSON)
    except ApiError as e:
        return error_response(e)
    except Overloaded as e:
        return error_response(ApiError(429, str(e), "overloaded", headers={"Retry-After": str(e.retry_after)}))
    except Closed as e:
        return error_response(ApiError(503, str(e), "unhealthy", headers={"Retry-After": "1"}))
    except ValueError as e:  # the runtime's refusal of one text (e.g. a mask cut off by truncation)
        return error_response(ApiError(400, " ".join(str(e).split()), "validation", "inputs"))
    except Exception as e:  # noqa: BLE001 - a bug or an onnxruntime failure: say so, keep serving
        log.exception("%s: %s failed", name, endpoint)
        return error_response(ApiError(500, f"inference failed ({type(e).__name__}: {e})", "backend"))


async def infer(registry: Registry, limits: Limits, scope: Scope, receive: Receive, name: str, endpoint: str) -> Response:
    """``answer``, counted and timed in the metrics (a request to an unknown model is not)."""
    start = time.perf_counter()
    served = registry.models.get(name)
    if served is None:
        return unknown_model(registry, name)
    response = await answer(registry, limits, served, scope, receive, name, endpoint)
    metrics, code = registry.metrics, response.status_code
    metrics.requests.inc(name, endpoint, str(code))
    if code >= 400:
        metrics.errors.inc(name, json.loads(response.body)["error_type"])
    metrics.latency.observe(time.perf_counter() - start, name, endpoint)
    return response


async def reload_route(registry: Registry, request: Request) -> Response:
    """POST /admin/reload[?model=NAME], from this machine only."""
    if not is_loopback(request):
        return error_response(ApiError(403, "reload is allowed from this machine only (or send the process SIGHUP)", "validation"))
    wanted = request.query_params.get("model")
    if wanted is not None and wanted not in registry.models:
        return error_response(ApiError(404, f"model: no model named {wanted!r}; serving {', '.join(registry.models)}", "validation", "model"))
    results = await reload_models(registry, [wanted] if wanted else list(registry.models))
    failed = [n for n, r in results.items() if not r["reloaded"]]
    if failed:
        error = ApiError(409, f"reload refused for {', '.join(failed)}: {results[failed[0]]['reason']}", "validation")
        return JSONResponse({**error.body(), "models": results}, status_code=409)
    return JSONResponse({"models": results})


async def http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", "error")
    return error_response(ApiError(status, f"{request.method} {request.url.path}: {detail}", "validation"))


def lifespan_of(registry: Registry):
    """Start-up and shut-down: bind first, load after (/health answers at once and /ready says when
    the models are in); on stop, finish the bundle being loaded and whatever is still queued."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        loop = asyncio.get_running_loop()
        loading = loop.run_in_executor(None, registry.load_all)
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError, AttributeError):
            loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(reload_models(registry, list(registry.models))))
        try:
            yield
        finally:
            registry.stopping = True
            await loading  # the bundle being loaded now, if any; the others are skipped
            # uvicorn has waited for the requests in flight; whatever is still queued runs now.
            await loop.run_in_executor(None, registry.close, registry.options.graceful_timeout)
            log.info("stopped")

    return lifespan


def build_app(registry: Registry) -> ASGIApp:
    """The service: TEI-shaped inference routes at the root (first bundle) and under /NAME/."""
    limits = Limits(registry.options.max_texts, registry.options.max_chars)

    def route_name(request: Request) -> str:
        return request.path_params.get("model", registry.root)

    # Reached only when fast_inference passes a request on (a root path is set); see there.
    async def predict(request: Request) -> Response:
        return await infer(registry, limits, request.scope, request.receive, route_name(request), "predict")

    async def embed(request: Request) -> Response:
        return await infer(registry, limits, request.scope, request.receive, route_name(request), "embed")

    async def info(request: Request) -> Response:
        name = route_name(request)
        if name not in registry.models:
            return unknown_model(registry, name)
        return JSONResponse(model_info(registry, name))

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(request: Request) -> Response:
        body = {"ready": registry.ready, "models": {n: s.status() for n, s in registry.models.items()}}
        return JSONResponse(body, status_code=200 if registry.ready else 503)

    async def metrics_page(request: Request) -> Response:
        return Response(registry.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_spec(registry))

    async def reload(request: Request) -> Response:
        return await reload_route(registry, request)

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/metrics", metrics_page, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/info", info, methods=["GET"]),
        Route("/predict", predict, methods=["POST"]),
        Route("/embed", embed, methods=["POST"]),
        Route("/admin/reload", reload, methods=["POST"]),
        Route("/{model}/info", info, methods=["GET"]),
        Route("/{model}/predict", predict, methods=["POST"]),
        Route("/{model}/embed", embed, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan_of(registry), exception_handlers={HTTPException: http_error, Exception: http_error})
    return fast_inference(registry, limits, app)


INFERENCE_PATH = re.compile(r"/(?:([^/]+)/)?(predict|embed)")


def fast_inference(registry: Registry, limits: Limits, app: ASGIApp) -> ASGIApp:
    """In front of ``app``: ``POST /predict`` and ``/embed`` (also under /NAME/) go straight to
    ``infer``; every other request, and the lifespan, to ``app``.

    Why: Starlette's middleware stack, router, Request and exception wrappers cost more CPU per
    request than the model's share of a batched answer to a short text (profiled under 32 clients),
    and these two routes are nearly all the traffic. The paths match as Starlette's routes would
    (a NAME is one path segment; ``/predict/`` and other methods go on to Starlette, which answers
    them as before). With a root path set, Starlette's own routing is kept.
    """

    async def front(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            match = INFERENCE_PATH.fullmatch(scope["path"])
            if match is not None:
                name, endpoint = match.group(1) or registry.root, match.group(2)
                try:
                    response = await infer(registry, limits, scope, receive, name, endpoint)
                except Exception as e:  # noqa: BLE001 - as Starlette's handler would: one JSON 500
                    log.exception("%s: %s failed", name, endpoint)
                    response = error_response(ApiError(500, f"POST {scope['path']}: {type(e).__name__}: {e}", "backend"))
                await response(scope, receive, send)
                return
        await app(scope, receive, send)

    return front


async def reload_models(registry: Registry, names: list[str]) -> dict[str, Any]:
    """Reload each named bundle in a worker thread (loading and checking must not stall requests)."""
    loop = asyncio.get_running_loop()
    results = {}
    for name in names:
        results[name] = await loop.run_in_executor(None, registry.reload, name)
    return results


def model_info(registry: Registry, name: str) -> dict[str, Any]:
    """TEI's /info fields where they apply, then the bundle's own."""
    from .. import __version__
    from ..constants import TASK_EMBEDDING
    from .protocol import CLASSIFIER_TASKS, embed_output

    served, options = registry.models[name], registry.options
    model = served.model
    info: dict[str, Any] = {"model_id": name, "version": __version__, "max_client_batch_size": options.max_texts,
                            "max_batch_requests": options.max_batch, "max_concurrent_requests": options.max_queue,
                            "auto_truncate": True, "state": served.state, "bundle": str(served.spec.path)}
    if model is not None:
        labels = {str(i): label for i, label in enumerate(model.labels)}
        if model.task in CLASSIFIER_TASKS:
            info["model_type"] = {"classifier": {"id2label": labels, "label2id": {v: int(k) for k, v in labels.items()}}}
        if model.task == TASK_EMBEDDING:
            info["model_type"] = {"embedding": {"pooling": model.manifest.get("pooling")}}
        info.update(task=model.task, variant=model.variant, max_input_length=model.tokenizer.max_length, labels=model.labels,
                    endpoints=(["predict"] if model.task != TASK_EMBEDDING else []) + (["embed"] if embed_output(model) else []))
    return info
