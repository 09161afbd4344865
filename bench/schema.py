"""Build typed, frozen dataclasses from plain data (YAML/TOML), with precise error messages.

One small mechanism validates every configuration boundary (suites, recipes, bench.toml):
unknown keys are rejected with the valid ones listed, types are checked, and every message
carries the dotted key path of the offending value.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import reprlib
import types
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from bench.errors import ConfigError, did_you_mean

T = TypeVar("T")


_SHOW = reprlib.Repr()
_SHOW.maxstring, _SHOW.maxother, _SHOW.maxlevel = 80, 80, 3
_SHOW.maxlist = _SHOW.maxtuple = _SHOW.maxdict = _SHOW.maxset = 6


def show(value: Any) -> str:
    """A short repr for error messages: a huge value (a YAML alias bomb) is never formatted whole."""
    return _SHOW.repr(value)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin in (list, tuple):
        return "a list"
    if origin in (dict, Mapping):
        return "a mapping"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
        tp, "None" if tp is type(None) else getattr(tp, "__name__", str(tp))
    )


def convert(tp: Any, value: Any, path: str) -> Any:
    """Check `value` against the type `tp` and return it in canonical form."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        choices = get_args(tp)
        if value not in choices:
            raise ConfigError(
                f"{show(value)} is not valid{did_you_mean(value, map(str, choices)) if isinstance(value, str) else ''}; "
                f"valid: {', '.join(map(str, choices))}",
                key=path,
            )
        return value
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return convert(option, value, path)
            except ConfigError as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        raise ConfigError(f"expected {_type_name(tp)}, got {show(value)}", key=path)
    if dataclasses.is_dataclass(tp):
        return build(tp, value, path)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"expected a list, got {show(value)}", key=path)
        args = get_args(tp) or (Any, ...)
        if origin is tuple and args[-1] is not Ellipsis:  # fixed length, e.g. tuple[float, float]
            if len(value) != len(args):
                raise ConfigError(f"expected a list of {len(args)} values, got {show(value)}", key=path)
            return tuple(convert(t, v, _join(path, i)) for i, (t, v) in enumerate(zip(args, value)))
        items = [convert(args[0], v, _join(path, i)) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"expected a mapping, got {show(value)}", key=path)
        _, value_type = get_args(tp) or (str, Any)
        return {str(k): convert(value_type, v, _join(path, str(k))) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"expected true or false, got {show(value)}", key=path)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"expected an integer, got {show(value)}", key=path)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            # YAML 1.1 reads "1e-4" as a string; accept numeric strings for floats only.
            number = None
            if isinstance(value, str):
                with contextlib.suppress(ValueError):
                    number = float(value)
            if number is None:
                raise ConfigError(f"expected a number, got {show(value)}", key=path)
            value = number
        if not math.isfinite(value):
            raise ConfigError(f"expected a finite number, got {show(value)}", key=path)
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"expected a string, got {show(value)}", key=path)
        return value
    raise TypeError(f"schema: unsupported type {tp!r} at {path}")  # a bug, not a user error


def fields_of(cls: type) -> dict[str, Any]:
    """Field name -> resolved type annotation for a dataclass."""
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def build(cls: type[T], data: Any, path: str = "") -> T:
    """Instantiate dataclass `cls` from a mapping, rejecting unknown keys and wrong types."""
    if isinstance(data, cls):
        return data
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a mapping, got {show(data)}", key=path or None)
    fields = fields_of(cls)
    for key in data:
        if key not in fields:
            raise ConfigError(
                f"unknown key {key!r}{did_you_mean(key, fields)}; valid keys: {', '.join(fields)}",
                key=_join(path, str(key)),
            )
    kwargs = {}
    for name, tp in fields.items():
        if name in data:
            kwargs[name] = convert(tp, data[name], _join(path, name))
        else:
            field = next(f for f in dataclasses.fields(cls) if f.name == name)
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ConfigError("this key is required", key=_join(path, name))
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:  # __post_init__ range checks raise ValueError
        raise ConfigError(str(exc), key=path or None) from None


def check_partial(cls: type, data: Any, path: str) -> None:
    """Validate the keys and value types of a partial mapping (an override) against `cls`."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a mapping, got {show(data)}", key=path)
    fields = fields_of(cls)
    for key, value in data.items():
        sub = _join(path, str(key))
        if key not in fields:
            raise ConfigError(
                f"unknown key {key!r}{did_you_mean(key, fields)}; valid keys: {', '.join(fields)}", key=sub
            )
        tp = fields[key]
        if dataclasses.is_dataclass(tp) and isinstance(value, Mapping):
            check_partial(tp, value, sub)
        else:
            convert(tp, value, sub)


def to_plain(obj: Any) -> Any:
    """Dataclasses, tuples and mappings as plain JSON-ready data."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    return obj


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: `update` merged into `base`, recursing into nested mappings."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def expand_dotted(data: Mapping[str, Any]) -> dict[str, Any]:
    """{'recipe.optimizer.lr': 0.1} -> {'recipe': {'optimizer': {'lr': 0.1}}}; nested input passes through."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        value = expand_dotted(value) if isinstance(value, Mapping) else value
        parts = str(key).split(".")
        nested: Any = value
        for part in reversed(parts[1:]):
            nested = {part: nested}
        out = deep_merge(out, {parts[0]: nested})
    return out


__all__ = ["build", "check_partial", "convert", "deep_merge", "expand_dotted", "fields_of", "to_plain"]
