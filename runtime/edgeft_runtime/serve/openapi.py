"""The service's OpenAPI 3 description, built from the bundles being served (one path set per
bundle under its name, the first also at the root)."""

from __future__ import annotations

from typing import Any

_TEXTS = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}], "example": "The battery is brilliant."}
_ERROR = {"$ref": "#/components/schemas/ErrorResponse"}


def _errors(*codes: int) -> dict[str, Any]:
    words = {400: "Bad JSON or a wrong field (named in `field`)", 413: "Too many texts, too long a text or too large a body",
             424: "The bundle has no such output", 429: "Queue full: retry after the Retry-After header's seconds",
             503: "Model not ready (loading, or failed its device check) or shutting down", 500: "Inference failed"}
    return {str(c): {"description": words[c], "content": {"application/json": {"schema": _ERROR}}} for c in codes}


def _post(summary: str, request: str, response: dict[str, Any], tag: str) -> dict[str, Any]:
    return {"post": {"tags": [tag], "summary": summary,
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{request}"}}}},
                     "responses": {"200": {"description": "One answer per text (one answer for a single string)", "content": {"application/json": {"schema": response}}},
                                   **_errors(400, 413, 424, 429, 500, 503)}}}


def _paths_for(prefix: str, tag: str, task: str | None, embeds: bool) -> dict[str, Any]:
    predict = {
        "ner": ("Entities per text (runtime fields: entity, text, start, end, score)", "TagRequest", {"type": "array", "items": {"$ref": "#/components/schemas/Entity"}}),
        "fill-mask": ("Candidates for each [MASK] (runtime fields: score, token (the id), token_str, sequence)", "FillMaskRequest", {"type": "array", "items": {"type": "array", "items": {"$ref": "#/components/schemas/Candidate"}}}),
    }.get(task or "", ("Every label with its probability, best first (TEI's /predict)", "PredictRequest", {"type": "array", "items": {"$ref": "#/components/schemas/Prediction"}}))
    paths: dict[str, Any] = {} if task == "embedding" else {f"{prefix}/predict": _post(predict[0], predict[1], predict[2], tag)}
    paths |= {f"{prefix}/info": {"get": {"tags": [tag], "summary": "The bundle: task, labels, variant, limits (TEI's /info fields where they apply)", "responses": {"200": {"description": "Model info"}}}}}
    if embeds or task is None:
        paths[f"{prefix}/embed"] = _post("Sentence embeddings, one vector per text (TEI's /embed)", "EmbedRequest", {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}, tag)
    return paths


def openapi_spec(registry: Any) -> dict[str, Any]:
    from .. import __version__
    from .protocol import embed_output

    paths: dict[str, Any] = {
        "/health": {"get": {"summary": "Alive (the process answers)", "responses": {"200": {"description": "ok"}}}},
        "/ready": {"get": {"summary": "Every bundle loaded and, unless --no-check, passed its device check here; the reasons when not",
                           "responses": {"200": {"description": "ready"}, "503": {"description": "not ready: see models.NAME.reason"}}}},
        "/metrics": {"get": {"summary": "Prometheus metrics (text format 0.0.4)", "responses": {"200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/admin/reload": {"post": {"summary": "Verify (sha256 + device check) and serve the bundles on disk again; a bundle that fails keeps its previous model serving. Loopback clients only; also SIGHUP.",
                                   "parameters": [{"name": "model", "in": "query", "required": False, "schema": {"type": "string"}, "description": "reload only this bundle"}],
                                   "responses": {"200": {"description": "reloaded"}, "409": {"description": "refused; the previous model still serves"}}}},
    }
    for i, (name, served) in enumerate(registry.models.items()):
        model = served.model
        task, embeds = getattr(model, "task", None), bool(model is not None and embed_output(model))
        if i == 0:
            paths.update(_paths_for("", name, task, embeds))
        paths.update(_paths_for(f"/{name}", name, task, embeds))
    truncation = {"truncate": {"type": "boolean", "description": "accepted for TEI clients; texts are always cut at the bundle's max_length"},
                  "truncation_direction": {"type": "string", "enum": ["right", "Right"]}}
    schemas = {
        "ErrorResponse": {"type": "object", "required": ["error", "error_type"], "properties": {
            "error": {"type": "string"}, "error_type": {"type": "string", "enum": ["validation", "overloaded", "unhealthy", "backend"]},
            "field": {"type": "string", "description": "the request field at fault, e.g. inputs[3]"}}},
        "PredictRequest": {"type": "object", "required": ["inputs"], "additionalProperties": False,
                           "properties": {"inputs": _TEXTS, "raw_scores": {"type": "boolean", "default": False}, **truncation}},
        "EmbedRequest": {"type": "object", "required": ["inputs"], "additionalProperties": False,
                         "properties": {"inputs": _TEXTS, "normalize": {"type": "boolean", "default": True}, "prompt_name": {"type": "string", "nullable": True}, **truncation}},
        "TagRequest": {"type": "object", "required": ["inputs"], "additionalProperties": False,
                       "properties": {"inputs": _TEXTS, "aggregation": {"type": "string", "enum": ["first", "average", "max"]}}},
        "FillMaskRequest": {"type": "object", "required": ["inputs"], "additionalProperties": False,
                            "properties": {"inputs": _TEXTS, "top_k": {"type": "integer", "minimum": 1, "maximum": 100, "default": 5}, **truncation}},
        "Prediction": {"type": "object", "properties": {"label": {"type": "string"}, "score": {"type": "number"}}},
        "Entity": {"type": "object", "properties": {"entity": {"type": "string"}, "text": {"type": "string"}, "start": {"type": "integer"}, "end": {"type": "integer"}, "score": {"type": "number"}}},
        "Candidate": {"type": "object", "properties": {"score": {"type": "number"}, "token": {"type": "integer"}, "token_str": {"type": "string"}, "sequence": {"type": "string"}}},
    }
    return {"openapi": "3.0.3", "info": {"title": "edgeft serve", "version": __version__,
                                         "description": "edgeft bundles over HTTP; request and response shapes of text-embeddings-inference for classifiers and embeddings"},
            "paths": paths, "components": {"schemas": schemas}}
