"""Typed options: a dataclass per config section holds its keys, types, defaults (written once) and help.

``parse(cls, raw, prefix)`` turns a YAML mapping into an instance of ``cls``: a key that is not a field
is refused naming the nearest valid key (``train.lrr: unknown option; did you mean train.lr?``), and a
value of the wrong type or outside its range is refused naming the key. Nested dataclasses are nested
mappings. ``to_dict`` is the inverse (plain YAML-safe data). Field types understood: ``bool``, ``int``,
``float`` (YAML 1.1 reads ``1e-4`` as text: text that is a number is accepted), ``str``, ``Literal[...]``,
``X | None``, ``list[X]``, ``tuple[X, ...]`` / ``tuple[X, Y]``, ``dict[str, Any]``, ``Any`` and
dataclasses. Range limits and help come from ``option(default, help, ge=, gt=, le=)``.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union

from .errors import PosevidError

T = TypeVar("T")


def option(default: Any = dataclasses.MISSING, help: str = "", *, ge: float | None = None,
           gt: float | None = None, le: float | None = None) -> Any:
    """A dataclass field with a help text and optional limits (``ge`` >=, ``gt`` >, ``le`` <=).

    Mutable defaults (lists, dicts, dataclass instances) are copied for each instance.
    """
    meta = {"help": help, "ge": ge, "gt": gt, "le": le}
    if isinstance(default, (list, dict, set)) or dataclasses.is_dataclass(default):
        value = default
        return dataclasses.field(default_factory=lambda: _copy(value), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _copy(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return dataclasses.replace(value)
    return type(value)(value)


@functools.cache
def hints(cls: type) -> dict[str, Any]:
    """The resolved field types of dataclass ``cls``."""
    return typing.get_type_hints(cls)


def keys(cls: type, prefix: str = "") -> list[str]:
    """Every dotted key of ``cls`` (nested dataclasses flattened), e.g. ``["train.lr", ...]``."""
    out = []
    for f in dataclasses.fields(cls):
        name = f"{prefix}.{f.name}" if prefix else f.name
        hint = hints(cls)[f.name]
        out += keys(hint, name) if _is_dataclass_type(hint) else [name]
    return out


def parse(cls: type[T], raw: Any, prefix: str = "") -> T:
    """An instance of dataclass ``cls`` from the mapping ``raw`` (None = all defaults).

    ``prefix`` is the section's dotted name, used in messages. Raises ``PosevidError`` naming the key.
    """
    if raw is None:
        raw = {}
    if isinstance(raw, cls):
        return raw
    if not isinstance(raw, Mapping):
        raise PosevidError(prefix or "config", f"must be a mapping of options, got {_show(raw)}")
    names = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in raw:
        if key not in names:
            raise PosevidError(_join(prefix, str(key)), unknown_message(str(key), list(names), prefix))
    values = {}
    for name, f in names.items():
        key = _join(prefix, name)
        hint = hints(cls)[name]
        if name in raw:
            values[name] = _coerce(hint, raw[name], key, f.metadata)
        elif _is_dataclass_type(hint) and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            values[name] = parse(hint, None, key)
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:  # a __post_init__ check, or a required field left out
        raise PosevidError(prefix or "config", str(err)) from None


def unknown_message(key: str, valid: list[str], prefix: str = "") -> str:
    """``unknown option; did you mean <prefix>.<nearest>?`` (or the list of valid keys when none is near)."""
    near = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    if near:
        return f"unknown option; did you mean {_join(prefix, near[0])}?"
    shown = ", ".join(sorted(valid)[:12]) + (", ..." if len(valid) > 12 else "")
    return f"unknown option; valid here: {shown}" if valid else "unknown option; this section takes none"


def to_dict(obj: Any) -> Any:
    """Options as plain YAML-safe data: dataclasses -> dicts, tuples -> lists."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def describe(cls: type, prefix: str = "") -> list[tuple[str, str, Any, str]]:
    """(dotted key, type, default, help) of every option of ``cls``, for documentation and ``--help``."""
    rows = []
    for f in dataclasses.fields(cls):
        key, hint = _join(prefix, f.name), hints(cls)[f.name]
        if _is_dataclass_type(hint):
            rows += describe(hint, key)
            continue
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        rows.append((key, _type_name(hint), to_dict(default), f.metadata.get("help", "")))
    return rows


# ---- coercion ---------------------------------------------------------------------------------------

def _coerce(hint: Any, value: Any, key: str, meta: Mapping[str, Any] | None = None) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        errors = []
        for a in inner:
            try:
                return _coerce(a, value, key, meta)
            except PosevidError as err:
                errors.append(err)
        raise errors[0] if len(inner) == 1 else PosevidError(key, f"must be {_type_name(hint)}, got {_show(value)}")
    if _is_dataclass_type(hint):
        return parse(hint, value, key)
    if origin is Literal:
        if value not in args:
            raise PosevidError(key, f"must be one of {', '.join(map(str, args))}, got {_show(value)}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise PosevidError(key, f"must be a list, got {_show(value)}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise PosevidError(key, f"must be a list of {len(args)} values, got {_show(value)}")
            return tuple(_coerce(a, v, f"{key}[{i}]", meta) for i, (a, v) in enumerate(zip(args, value)))
        item = args[0] if args else Any
        items = [_coerce(item, v, f"{key}[{i}]", meta) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise PosevidError(key, f"must be a mapping, got {_show(value)}")
        return dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise PosevidError(key, f"must be true or false, got {_show(value)}")
        return value
    if hint in (int, float):
        return _limits(_number(hint, value, key), key, meta or {})
    if hint is str:
        if not isinstance(value, str) or not value:
            raise PosevidError(key, f"must be a non-empty text, got {_show(value)}")
        return value
    raise TypeError(f"option {key}: unsupported type {hint!r}")


def _number(kind: type, value: Any, key: str) -> int | float:
    what = "an integer" if kind is int else "a number"
    if isinstance(value, str):
        try:
            value = float(value) if kind is float or not value.strip().lstrip("+-").isdigit() else int(value)
        except ValueError:
            raise PosevidError(key, f"must be {what}, got {_show(value)}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PosevidError(key, f"must be {what}, got {_show(value)}")
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise PosevidError(key, f"must be {what}, got {_show(value)}")
        return int(value)
    return float(value)


def _limits(value: float, key: str, meta: Mapping[str, Any]) -> float:
    if meta.get("ge") is not None and value < meta["ge"]:
        raise PosevidError(key, f"must be at least {meta['ge']:g}, got {value:g}")
    if meta.get("gt") is not None and value <= meta["gt"]:
        raise PosevidError(key, f"must be greater than {meta['gt']:g}, got {value:g}")
    if meta.get("le") is not None and value > meta["le"]:
        raise PosevidError(key, f"must be at most {meta['le']:g}, got {value:g}")
    return value


def _is_dataclass_type(hint: Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def _type_name(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _type_name(a) for a in args)
    if origin is Literal:
        return " | ".join(map(str, args))
    if origin in (list, tuple):
        return "list"
    names = {bool: "true/false", int: "integer", float: "number", str: "text"}
    return names.get(hint, getattr(hint, "__name__", "value"))


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _show(value: Any) -> str:
    return f"{value!r:.40}"
