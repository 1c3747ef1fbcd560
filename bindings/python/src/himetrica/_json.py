"""Encoding ``properties`` and ``traits`` into the JSON text the core checks.

The core owns every rule about the JSON (object at the top, at most 10 KB compact, nesting,
NaN, lone surrogates...); this module only turns Python values into JSON text, and rejects
values JSON cannot carry with a ``TypeError`` naming the key path (``properties.items[2]``).

Conversions: ``dict``/``Mapping`` with ``str`` keys -> object; ``list``, ``tuple``, ``set``,
``frozenset`` -> array (sets sorted when their items can be sorted); ``datetime`` -> ISO 8601
(naive datetimes are taken as UTC); ``date``/``time`` -> ISO 8601; ``Decimal`` -> a JSON number
(NaN/Infinity are passed on so the core's own rule reports them); ``UUID`` -> its string;
``Enum`` -> its value. ``NaN`` and infinite floats are written as ``NaN``/``Infinity``, which
the core rejects with its message.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import datetime as _dt
    from decimal import Decimal

__all__ = ["encode_object", "instance_of", "iso8601"]

# The C encoder json.dumps uses, built once: compact separators, non-ASCII kept as UTF-8,
# NaN allowed (the core rejects it with its own message), no circular-reference markers
# (a cycle ends in RecursionError, which sends the value down the slow path). Taken from
# the `_json` accelerator itself, which spares importing the whole `json` package.
def _never(value: object) -> object:
    raise TypeError


_c_string: Callable[[str], str]
_c_string_ascii: Callable[[str], str]
_fast: Callable[[object, int], list[str]]
try:
    import _json as _accelerator
except ImportError:  # pragma: no cover - CPython always has the C accelerator
    import json as _jsonlib
    from json import encoder as _py_encoder

    _c_string = _py_encoder.py_encode_basestring
    _c_string_ascii = _py_encoder.py_encode_basestring_ascii

    def _fast(value: object, _level: int) -> list[str]:
        return [_jsonlib.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=True)]
else:
    _c_string = _accelerator.encode_basestring
    _c_string_ascii = _accelerator.encode_basestring_ascii
    _fast = _accelerator.make_encoder(None, _never, _c_string, None, ":", ",", False, False, True)

_SCALARS = frozenset((str, int, float, bool, type(None)))
_STR = frozenset((str,))


def instance_of(value: object, module: str, *names: str) -> bool:
    """``isinstance(value, (module.name, ...))`` without importing ``module``: no value of its
    types can exist before something imported it. Keeps ``datetime``, ``decimal`` and ``uuid``
    out of the package's import time; they are only needed for such values."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(value, tuple(getattr(loaded, name) for name in names))


def iso8601(value: _dt.datetime | _dt.date | _dt.time) -> str:
    """ISO 8601 text for a datetime (naive = UTC, written with ``Z``), date or time."""
    import datetime as _dt  # already loaded: value is one of its types

    if isinstance(value, _dt.datetime):
        offset = value.utcoffset()
        if offset is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        elif offset.seconds % 60 or offset.microseconds:
            value = value.astimezone(_dt.timezone.utc)  # +hh:mm:ss offsets are not ISO 8601 date-times
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    return value.isoformat()


def encode_object(value: object, field: str) -> bytes:
    """UTF-8 JSON text of ``value`` (a mapping with str keys) for argument ``field``.

    Raises ``TypeError`` naming the key path when something cannot be represented.
    """
    # Fast path: a plain dict of str keys and scalar values, the common case.
    if (
        type(value) is dict
        and _STR.issuperset(map(type, value))
        and _SCALARS.issuperset(map(type, value.values()))
    ):
        try:
            return "".join(_fast(value, 0)).encode()
        except UnicodeEncodeError:
            pass  # a lone surrogate: the slow path escapes it so the core can name it
    if not isinstance(value, Mapping):
        raise TypeError(f"{field} must be a dict with str keys, not {type(value).__name__}")
    parts: list[str] = []
    _write(value, field, parts, set())
    text = "".join(parts)
    try:
        return text.encode()
    except UnicodeEncodeError:
        parts = []
        _write(value, field, parts, set(), ascii_only=True)
        return "".join(parts).encode()


def _float(value: float) -> str:
    if math.isfinite(value):
        return float.__repr__(value)
    return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")


def _decimal(value: Decimal) -> str:
    if value.is_nan():
        return "NaN"
    if value.is_infinite():
        return "-Infinity" if value.is_signed() else "Infinity"
    text = str(value)
    # Decimal("5.") -> "5", "1E+2" is valid JSON; ".5" does not occur in str(Decimal).
    return text


def _write(value: object, path: str, out: list[str], seen: set[int], ascii_only: bool = False) -> None:
    string = _c_string_ascii if ascii_only else _c_string
    kind = type(value)
    if kind is str:
        out.append(string(value))  # type: ignore[arg-type]  # `kind is str` does not narrow
    elif kind is bool or value is None:
        out.append("true" if value is True else "false" if value is False else "null")
    elif isinstance(value, Enum):
        _write(value.value, path, out, seen, ascii_only)
    elif isinstance(value, str):
        out.append(string(str.__str__(value)))
    elif isinstance(value, bool):  # pragma: no cover - bool cannot be subclassed
        out.append("true" if value else "false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, Mapping):
        ident = id(value)
        if ident in seen:
            raise ValueError(f"{path}: circular reference")
        seen.add(ident)
        out.append("{")
        first = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: keys must be str, not {type(key).__name__} ({key!r})")
            if isinstance(key, Enum):
                key = str.__str__(key)
            if not first:
                out.append(",")
            first = False
            out.append(string(key))
            out.append(":")
            _write(item, f"{path}.{key}", out, seen, ascii_only)
        out.append("}")
        seen.discard(ident)
    elif isinstance(value, (list, tuple, set, frozenset)):
        ident = id(value)
        if ident in seen:
            raise ValueError(f"{path}: circular reference")
        seen.add(ident)
        items = value
        if isinstance(value, (set, frozenset)):
            try:
                items = sorted(value)
            except TypeError:
                items = list(value)
        out.append("[")
        for index, item in enumerate(items):
            if index:
                out.append(",")
            _write(item, f"{path}[{index}]", out, seen, ascii_only)
        out.append("]")
        seen.discard(ident)
    elif instance_of(value, "datetime", "datetime", "date", "time"):
        out.append(string(iso8601(value)))  # type: ignore[arg-type]  # checked by name, not imported
    elif instance_of(value, "decimal", "Decimal"):
        out.append(_decimal(value))  # type: ignore[arg-type]
    elif instance_of(value, "uuid", "UUID"):
        out.append(string(str(value)))
    else:
        raise TypeError(f"{path}: values of type {kind.__name__} are not JSON serializable")
