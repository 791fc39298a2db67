"""Input checks shared by the library and the CLI.

Every public entry point validates its arguments with these helpers, so a bad value stops with
one clear line (an :class:`~spinglass_icl.InputError`) instead of a traceback deep inside numpy or a silent NaN.
The CLI turns an :class:`~spinglass_icl.InputError` into ``error: <message>`` and exit code 2.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import numpy as np


class InputError(ValueError):
    """A user-supplied value is out of its domain (message is one line)."""


_COMMAND_LINE: ContextVar[bool] = ContextVar("command_line", default=False)
# how the Python API names what the CLI calls --NAME (flags without a value: NAME=True)
_PYTHON = {"force": "force=True", "wait": "wait=True"}


@contextlib.contextmanager
def command_line() -> Iterator[None]:
    """Inside: messages name the command line's options (``--out``); outside, the Python arguments (``out=``)."""
    token = _COMMAND_LINE.set(True)
    try:
        yield
    finally:
        _COMMAND_LINE.reset(token)


def option(name: str, value: str = "") -> str:
    """Option ``name`` (``out``, ``force``, ``wait``, ``workers``, ``set``) as the user wrote it: ``--out DIR`` on
    the command line (:func:`command_line`), ``out=DIR`` from Python (``set`` of ``KEY=VALUE``:
    ``overrides={'KEY': VALUE}``)."""
    if _COMMAND_LINE.get():
        return f"--{name} {value}".strip()
    if name == "set":  # KEY=VALUE
        key, _, val = value.partition("=")
        return f"overrides={{{key!r}: {val}}}"
    if name in _PYTHON:
        return _PYTHON[name].format(value=value)
    return f"{name}={value}"


def positive_int(name: str, value: Any) -> int:
    """Return ``value`` as an int >= 1, or raise :class:`~spinglass_icl.InputError`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise InputError(f"{name} must be an integer >= 1, got {value!r}")
    if value < 1:
        raise InputError(f"{name} must be >= 1, got {value}")
    return int(value)


def finite_float(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite float within the given bounds, or raise :class:`~spinglass_icl.InputError`."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise InputError(f"{name} must be finite, got {value!r}")
    if low is not None and (x < low or (low_open and x == low)):
        raise InputError(f"{name} must be {'>' if low_open else '>='} {low:g}, got {x:g}")
    if high is not None and (x > high or (high_open and x == high)):
        raise InputError(f"{name} must be {'<' if high_open else '<='} {high:g}, got {x:g}")
    return x


def nonneg(name: str, value: Any) -> float:
    return finite_float(name, value, low=0.0)


def positive(name: str, value: Any) -> float:
    return finite_float(name, value, low=0.0, low_open=True)


def damping(value: Any) -> float:
    return finite_float("damping", value, low=0.0, high=1.0, high_open=True)


def generator(name: str, value: Any) -> np.random.Generator:
    """Return ``value`` if it is a ``np.random.Generator``, else raise :class:`~spinglass_icl.InputError`.

    Randomness is explicit in this project: no hidden default (``None``) and no bare seed (an int would
    silently make two calls with the same seed share a stream), so the caller builds the generator.
    """
    if isinstance(value, np.random.Generator):
        return value
    raise InputError(
        f"{name} must be a numpy Generator, got {type(value).__name__} {value!r:.40}; pass np.random.default_rng(seed)"
    )


def choice(name: str, value: Any, options: tuple[str, ...] | list[str]) -> str:
    if value not in options:
        raise InputError(f"unknown {name} {value!r}; choose one of: {', '.join(options)}")
    return str(value)


def device(value: Any) -> str:
    """Check a torch device string ('cpu', 'cuda', 'cuda:1'); 'cuda' must be available."""
    name = str(value)
    if name == "cpu":
        return name
    if name == "cuda" or name.startswith("cuda:"):
        import torch

        if not torch.cuda.is_available():
            raise InputError(f"device {name!r} requested but CUDA is not available on this machine")
        return name
    raise InputError(f"unknown device {name!r}; choose cpu or cuda")


def array(
    name: str,
    value: Any,
    *,
    ndim: int | None = None,
    min_ndim: int | None = None,
    shape: tuple[int | None, ...] | None = None,
    dtype: Any = np.float64,
) -> np.ndarray:
    """Return ``value`` as a finite array of ``dtype`` with the required shape, or raise."""
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a numeric array") from None
    if ndim is not None and arr.ndim != ndim:
        raise InputError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    if min_ndim is not None and arr.ndim < min_ndim:
        raise InputError(f"{name} must have at least {min_ndim} dimensions, got shape {arr.shape}")
    if shape is not None:
        tail = arr.shape[arr.ndim - len(shape) :] if arr.ndim >= len(shape) else None
        if tail is None or any(s is not None and s != t for s, t in zip(shape, tail)):
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
            raise InputError(f"{name} must end in shape {want}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} contains non-finite values (NaN or inf)")
    return arr


def out_folder(path: Any, what: str | None = None) -> Path:
    """``path`` as an output folder that exists or can be created (and is writable), or raise (naming it
    ``what``: by default ``--out`` on the command line, ``out=`` from Python)."""
    what = what if what is not None else option("out")
    if path is None or str(path).strip() == "":
        raise InputError(f"{what} is empty; give a folder, e.g. {option('out', 'results')}")
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(f"{what} {str(p)!r} is a file, not a folder; choose another {what}")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        why = exc.strerror or exc
        raise InputError(f"{what} {str(p)!r} cannot be created ({why}); choose another {what}") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise InputError(f"{what} {str(p)!r} is not writable; choose another {what}")
    return p


_SCHEMES = ("tcp", "tls", "inproc", "ucx", "ws", "wss")


def scheduler_address(value: Any) -> str:
    """A dask scheduler address ``[tcp://]host:port`` (port 1-65535), checked before connecting."""
    text = str(value).strip()
    hint = "give the address `dask scheduler` prints, e.g. --scheduler tcp://127.0.0.1:8786"
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    if scheme not in _SCHEMES:
        raise InputError(f"scheduler address {text!r} has an unknown scheme {scheme!r}; {hint}")
    if scheme == "inproc":
        return text
    host, colon, port = rest.rpartition(":")
    host = host.strip("[]")
    if not colon or not host or "/" in rest or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise InputError(f"scheduler address {text!r} is not host:port; {hint}")
    return f"{scheme}://{rest}"


#: The one horizon of every deprecated name -- a renamed keyword of the core (:func:`renamed_keyword`) and a renamed
#: ``--set`` parameter (``experiments.params.ALIASES``, ``Experiment.renamed``): the first version that refuses it.
DEPRECATED_UNTIL = "0.4.0"


def renamed_keyword(owner: str, old: str, new: str, value: Any, *, depth: int = 1) -> Any:
    """The value of a renamed keyword (``old`` -> ``new``), with a :class:`DeprecationWarning`; the old name works
    until :data:`DEPRECATED_UNTIL`, which refuses it.  ``owner`` names the function or class for the message;
    ``depth``: calls between the user's call and this one (the warning points at the user's line)."""
    import warnings

    warnings.warn(
        f"{owner}({old}=...) is deprecated and refused from {DEPRECATED_UNTIL} on; use {new}=...",
        DeprecationWarning,
        stacklevel=2 + depth,
    )
    return value
