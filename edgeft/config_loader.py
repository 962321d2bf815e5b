"""Layered configuration for any dataclass: defaults < TOML/JSON file < command-line flags < ``--set key=value``.

Generic: it knows nothing about training. The schemas (``edgeft.config``) declare their fields
(``edgeft_runtime.options.option``: type, default, help, checks) and check themselves when
constructed; this module reads files and overrides, converts each value to its field's declared
type, and names the file, flag or ``--set`` of every bad value.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import tomllib
from edgeft_runtime.options import declared, flag_of

from .errors import ConfigError

C = TypeVar("C")


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _coerce(name: str, raw: Any, annotation: Any, where: str) -> Any:
    """Convert a file value or a ``--set`` string to the field's declared type."""
    args = typing.get_args(annotation)
    optional = (typing.get_origin(annotation) in (typing.Union, types.UnionType)) and type(None) in args
    target = next((a for a in args if a is not type(None)), annotation) if optional else annotation
    if optional and (raw is None or (isinstance(raw, str) and raw.lower() in ("", "none", "null"))):
        return None
    if typing.get_origin(target) is list:
        # A file gives a list; the command line a list or (via --set) comma-separated text.
        items = raw.split(",") if isinstance(raw, str) else raw
        (item_type,) = typing.get_args(target) or (str,)
        if item_type in (int, float) and isinstance(items, (list, tuple)):
            return [_coerce(name, i, item_type, where) for i in items if str(i).strip()]
        if isinstance(items, (list, tuple)) and all(isinstance(i, (str, Path)) for i in items):
            return [str(i).strip() for i in items if str(i).strip()]
        raise ConfigError(f"{where}: {name}={raw!r} is not a list of text values")
    try:
        if target is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("true", "1", "yes", "on"):
                return True
            if text in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if target is int:
            if isinstance(raw, float) and not raw.is_integer():
                raise ValueError
            if isinstance(raw, bool):
                raise ValueError
            return int(raw)
        if target is float:
            if isinstance(raw, bool):
                raise ValueError
            return float(raw)
        if target is str:
            return str(raw)
    except ValueError:
        pass
    else:
        return raw
    raise ConfigError(f"{where}: {name}={raw!r} is not a valid {getattr(target, '__name__', target)}")


def _unknown_key(name: str, known: list[str], where: str) -> ConfigError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
    return ConfigError(f"{where}: unknown config key {name!r}{hint}")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a flat TOML or JSON table of config keys."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: cannot parse config ({e}); use TOML (key = value) or JSON") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: config must be a table of key = value")
    nested = [k for k, v in data.items() if isinstance(v, dict)]
    if nested:
        raise ConfigError(f"{path}: sections are not supported ({', '.join(nested)}); write keys at the top level")
    return data


def parse_set(items: list[str] | None) -> dict[str, str]:
    """``["epochs=5", "lr=3e-5"]`` -> ``{"epochs": "5", "lr": "3e-5"}``."""
    result: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. --set epochs=5")
        result[key.strip()] = value.strip()
    return result


def build_config(
    cls: type[C],
    *,
    config_file: str | Path | None = None,
    flags: dict[str, Any] | None = None,
    overrides: list[str] | None = None,
) -> C:
    """Resolve a config of type ``cls`` from defaults, a file, CLI flags (None = not given) and
    ``--set``. A value that fails its field's check is named with where it came from (the file,
    the flag, ``--set``)."""
    # Inherited keys a schema does not use: refused by name, left out of the known keys.
    not_applicable = tuple(getattr(cls, "not_applicable", ()))
    types_ = {k: v for k, v in _field_types(cls).items() if k not in not_applicable}
    known = sorted(types_)
    flag_names = {f.name: flag_of(f) for f in declared(cls)}
    values: dict[str, Any] = {}
    given_by: dict[str, str] = {}
    layers: list[tuple[str, dict[str, Any]]] = []
    if config_file is not None:
        layers.append((str(config_file), read_config_file(config_file)))
    layers.append(("command line", {k: v for k, v in (flags or {}).items() if v is not None}))
    layers.append(("--set", parse_set(overrides)))
    for where, layer in layers:
        for name, raw in layer.items():
            source = flag_names.get(name, where) if where == "command line" else where
            if name in not_applicable:
                raise ConfigError(f"{source}: config key {name!r} is not used by this task; remove it")
            if name not in types_:
                raise _unknown_key(name, known, source)
            values[name] = _coerce(name, str(raw) if isinstance(raw, Path) else raw, types_[name], source)
            given_by[name] = source
    try:
        return cls(**values)  # the schema checks itself on construction
    except ConfigError as e:
        key = getattr(e, "key", None)
        if key in given_by:
            raise ConfigError(f"{given_by[key]}: {e}") from None
        raise


def save_config(config: Any, path: str | Path) -> None:
    """Write the resolved config as JSON (readable again with ``--config``)."""
    Path(path).write_text(json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8")
