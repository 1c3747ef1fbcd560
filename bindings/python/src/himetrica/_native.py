"""Locating and loading ``libhimetrica.so``, and the ctypes signatures of the C API.

Search order:

1. ``HIMETRICA_LIBRARY`` (a path to the library file);
2. the copy inside this package (``himetrica/lib/libhimetrica.so``, put there by the wheel build);
3. in a source checkout, the repository's ``build/lib/libhimetrica.so`` (``make lib``).

``CDLL`` releases the GIL for every foreign call, so blocking calls (``hm_flush``,
``hm_shutdown``, ``hm_user_id``) let other Python threads run; ``track`` and ``identify``,
which never block, keep it (see :func:`untyped`).
"""

from __future__ import annotations

import ctypes
import os
import threading
from ctypes import (
    CFUNCTYPE,
    POINTER,
    c_char_p,
    c_int,
    c_int32,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import Callable

from .errors import LibraryNotFoundError

__all__ = ["load", "library_path", "LOG_CALLBACK", "DELIVERY_CALLBACK"]

LIBRARY_NAME = "libhimetrica.so"
ENV_VAR = "HIMETRICA_LIBRARY"

#: ``void (*)(int32_t level, const char *message, void *user_data)``
LOG_CALLBACK = CFUNCTYPE(None, c_int32, c_char_p, c_void_p)
#: ``void (*)(const hm_delivery *delivery, void *user_data)``
DELIVERY_CALLBACK = CFUNCTYPE(None, c_void_p, c_void_p)

_S = c_char_p
_P = c_void_p

# name: (restype, argtypes)
_SIGNATURES: dict[str, tuple[object, list[object]]] = {
    "hm_config_new": (_P, []),
    "hm_config_free": (None, [_P]),
    "hm_config_set": (c_int, [_P, _S, _S]),
    "hm_config_set_delivery_callback": (c_int, [_P, DELIVERY_CALLBACK, _P]),
    "hm_config_set_log_callback": (c_int, [_P, LOG_CALLBACK, c_int32, _P]),
    "hm_client_new": (c_int, [_S, _P, POINTER(c_void_p)]),
    "hm_client_free": (None, [_P]),
    "hm_prepare_fork": (c_int, []),
    "hm_track": (c_int, [_P, _S, _S, _S, _S, _S, _S, _S]),
    "hm_identify": (c_int, [_P, _S, _S, _S, _S]),
    # The out pointer is a char** freed with hm_string_free, so it is read as a void*.
    "hm_user_id": (c_int, [_P, _S, c_uint32, POINTER(c_void_p)]),
    "hm_string_free": (None, [_P]),
    "hm_flush": (c_int, [_P, c_uint32, POINTER(c_uint64)]),
    "hm_shutdown": (c_int, [_P, c_uint32, POINTER(c_uint64)]),
    "hm_shutdown_at_exit": (c_int, [_P, POINTER(c_uint64)]),
    "hm_stats_get": (c_int, [_P, c_int32, POINTER(c_uint64)]),
    "hm_stats_snapshot": (c_int, [_P, _P]),
    # A new string freed with hm_string_free, so it is read as a void*.
    "hm_secret_key_masked": (_P, [_S]),
    "hm_version_number": (c_uint32, []),
    "hm_stat_name": (_S, [c_int32]),
    "hm_status_name": (_S, [c_int32]),
    "hm_outcome_name": (_S, [c_int32]),
    "hm_last_error": (_S, []),
    "hm_version": (_S, []),
    "hm_delivery_attempts": (c_int32, [_P]),
    "hm_delivery_body": (_S, [_P]),
    "hm_delivery_endpoint": (_S, [_P]),
    "hm_delivery_message": (_S, [_P]),
    "hm_delivery_outcome": (c_int32, [_P]),
    "hm_delivery_status": (c_int32, [_P]),
}

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_path: str | None = None
_untyped_lib: ctypes.PyDLL | None = None


def _candidates() -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    env = os.environ.get(ENV_VAR)
    if env:
        found.append((ENV_VAR, Path(env)))
        return found  # an explicit override is never second-guessed
    here = Path(__file__).resolve().parent
    found.append(("package", here / "lib" / LIBRARY_NAME))
    # Source checkout: bindings/python/src/himetrica -> repository root.
    for parent in here.parents:
        if (parent / "Package.swift").is_file() and (parent / "bindings").is_dir():
            found.append(("source checkout", parent / "build" / "lib" / LIBRARY_NAME))
            break
    return found


def library_path() -> str:
    """The path of the library that is (or would be) loaded."""
    if _path is not None:
        return _path
    tried = []
    for origin, path in _candidates():
        if path.is_file():
            return str(path)
        tried.append(f"{path} ({origin})")
    raise LibraryNotFoundError(
        "himetrica: libhimetrica.so was not found (looked at: "
        + ", ".join(tried)
        + "). Install the platform wheel, run `make lib` in the source checkout, "
        f"or set {ENV_VAR} to the library's path."
    )


def load() -> ctypes.CDLL:
    """Loads the library once and declares every function's signature."""
    global _lib, _path
    lib = _lib
    if lib is not None:
        return lib
    with _lock:
        if _lib is not None:
            return _lib
        path = library_path()
        try:
            lib = ctypes.CDLL(path)
        except OSError as error:
            raise LibraryNotFoundError(
                f"himetrica: could not load {path}: {error}. Rebuild it with `make lib` or "
                f"point {ENV_VAR} at a working copy."
            ) from error
        for name, (restype, argtypes) in _SIGNATURES.items():
            function = getattr(lib, name)
            function.restype = restype
            function.argtypes = argtypes
        _path = path
        _lib = lib
        return lib


def untyped(name: str) -> Callable[..., int]:
    """``name`` for the hot paths (track, identify): no argtypes, so ctypes skips per-argument
    ``from_param`` conversion, and called through ``PyDLL``, so the GIL stays held.

    Keeping the GIL saves releasing and retaking it, and above all keeps another Python thread
    from taking it mid-call: the caller would then wait up to ``sys.getswitchinterval()``
    (5 ms) to get it back. It is safe because these functions never wait for anything that
    needs the GIL: they only take the engine's lock, and the flush thread calls back into
    Python (log and delivery callbacks) with that lock released. Callers must pass only
    ``bytes``, ``None`` and ``c_void_p``."""
    global _untyped_lib
    load()
    if _untyped_lib is None:
        _untyped_lib = ctypes.PyDLL(_path)  # a second handle, so the typed functions stay typed
    function = _untyped_lib[name]
    function.restype = c_int
    return function


def last_error(lib: ctypes.CDLL) -> str | None:
    """``hm_last_error()`` decoded (the calling thread's last failure)."""
    raw = lib.hm_last_error()
    return None if raw is None else raw.decode("utf-8", "replace")
