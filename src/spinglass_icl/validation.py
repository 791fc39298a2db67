"""Input checks shared by the library and the CLI.

Every public entry point validates its arguments with these helpers, so a bad value stops with
one clear line (an :class:`InputError`) instead of a traceback deep inside numpy or a silent NaN.
The CLI turns an :class:`InputError` into ``error: <message>`` and exit code 2.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np


class InputError(ValueError):
    """A user-supplied value is out of its domain (message is one line)."""


def positive_int(name: str, value: Any) -> int:
    """Return ``value`` as an int >= 1, or raise :class:`InputError`."""
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
    """Return ``value`` as a finite float within the given bounds, or raise :class:`InputError`."""
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
    """Return ``value`` if it is a ``np.random.Generator``, else raise :class:`InputError`.

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


# -- experiment parameters (``--set``) ------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """Range of one experiment parameter (by name, shared by every experiment) and its meaning."""

    low: float | None = None
    low_open: bool = False
    high: float | None = None
    high_open: bool = False
    allow_nonfinite: bool = False
    real: bool = False  # a real number even where every default is a whole number (lr = 0: automatic)
    doc: str = ""

    def describe(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return " and ".join(parts)


_SIZE = Rule(low=1)
# Ranges and meanings of parameter names used across the catalog (SPEC §1-5).  An int parameter not
# listed here is a count or size (>= 1; >= 0 where a default is 0, which the catalog uses for
# "automatic"); a float not listed must only be finite; an experiment adds stricter checks with
# ``Experiment.check``.
PARAMETER_RULES: dict[str, Rule] = {
    "D": Rule(low=1, doc="token dimension"),
    "N": Rule(low=1, doc="context length (tokens per prompt before the query)"),
    "P": Rule(low=1, doc="number of pre-training prompts (each with its own task)"),
    "P_test": Rule(low=1, doc="fresh test prompts (fresh tasks) per repeat"),
    "repeats": Rule(low=1, doc="independent data draws"),
    "draws": Rule(low=1, doc="independent draws pooled into histograms/spectra"),
    "epochs": Rule(low=1, doc="full-batch Adam epochs"),
    "steps": Rule(low=1, doc="AMP iterations (at most)"),
    "chunk": Rule(low=1, doc="repeats or draws computed together in one point"),
    "bins": Rule(low=1, doc="histogram bins"),
    "lambda0": Rule(real=True, low=0, doc="L2 strength λ0 of the energy (0: minimum-norm ground state)"),
    "beta": Rule(real=True, low=0, low_open=True, doc="inverse temperature β of AMP"),
    "damping": Rule(real=True, low=0, high=1, high_open=True, doc="AMP damping θ (m ← θ m + (1−θ) m_new)"),
    "lr": Rule(real=True, low=0, low_open=True, doc="Adam learning rate"),
    "weight_decay": Rule(real=True, low=0, doc="Adam weight decay wd (PyTorch convention; minimiser of λ0 = wd/2)"),
    "tol": Rule(real=True, low=0, low_open=True, doc="convergence tolerance"),
    "alpha": Rule(real=True, low=0, low_open=True, doc="load α (P in units of D² or D(D+1), see the experiment)"),
    "c": Rule(real=True, low=0, high=1, high_open=True, doc="token correlation c"),
    "correlation": Rule(real=True, low=0, high=1, high_open=True, doc="token correlation c"),
    "noise": Rule(real=True, low=0, doc="label noise standard deviation σ_ε"),
    "lam": Rule(real=True, low=0, low_open=True, doc="on-site term λ_i of the synthetic spin glass"),
    "perplexity": Rule(real=True, low=0, low_open=True, doc="t-SNE perplexity"),
    "eps": Rule(real=True, low=0, low_open=True, doc="energy threshold above the ground state"),
    "range_sigmas": Rule(real=True, low=0, low_open=True, doc="histogram range in standard deviations"),
    # names used by one or a few experiments (one meaning per name across the catalog)
    "builder": Rule(doc="coupling builder: correct (the model's feature map, SPEC §2) or paper (SPEC §7)"),
    "pilot_draws": Rule(low=1, doc="draws of a pilot run that fix the histogram ranges"),
    "train_P": Rule(low=1, doc="training-set sizes P of the Adam panels"),
    "amp_P": Rule(low=1, doc="P of the AMP mean/variance images"),
    "amp_batch": Rule(low=1, doc="AMP runs solved together (memory only: results do not depend on it)"),
    "samples": Rule(low=1, doc="random W ~ N(0, 1) whose energies are embedded"),
    "grid": Rule(low=1, doc="interpolation mesh points per side"),
    "plane_grid": Rule(low=1, doc="mesh points per side of the energy plane through m*"),
    "plane_extent": Rule(real=True, low=0, low_open=True, doc="half-width L of the energy plane along the soft axis"),
    "plane_rise": Rule(real=True, low=0, low_open=True, doc="energy rise that scales the plane's stiff axis"),
    "smoothing": Rule(real=True, low=0, doc="RBF interpolation smoothing"),
    "energy": Rule(doc="energy convention: correct, or paper (J's diagonal counted twice, SPEC §7)"),
    "embedding": Rule(doc="2-D embedding of the random W's: tsne (scikit-learn) or pca"),
    "pairing": Rule(doc="paired: AMP, exact and Adam share each training set; unpaired: the paper's code (SPEC §7)"),
    "P_over_D2": Rule(real=True, low=0, low_open=True, doc="load P/D² (figS1's axis; the peak is at D(D+1)/D²)"),
    "models": Rule(doc="models to run (comma list; an unknown name lists the known ones)"),
    "curve_P": Rule(low=1, doc="P of the train/test-curve panels"),
    "curve_lr": Rule(real=True, low=0, low_open=True, doc="Adam learning rate of each curve_P"),
    "curve_epochs": Rule(low=1, doc="epochs of the curve panels"),
    "curve_repeats": Rule(low=1, doc="repeats of the curve panels"),
    "N_ref": Rule(low=1, doc="context length of the reference histograms p_ref"),
    "direction": Rule(doc="ref_to_N: KL(p_ref ‖ p_N), the paper's; N_to_ref: KL(p_N ‖ p_ref)"),
    "fit_D": Rule(low=1, doc="D of the fig1-type draws whose fitted distributions are sampled"),
    "fit_N": Rule(low=1, doc="N of the fig1-type draws whose fitted distributions are sampled"),
    "fit_P": Rule(low=1, doc="P of the fig1-type draws whose fitted distributions are sampled"),
    "fit_draws": Rule(low=1, doc="number of fig1-type draws whose fitted distributions are sampled"),
    "cholesky": Rule(doc="correlated-token sampler: correct (covariance L Lᵀ) or paper (the authors' X·L, LᵀL)"),
    "method": Rule(doc="numerical method (the experiment's docstring lists them; an unknown name lists them too)"),
    "n_traces": Rule(low=1, doc="per-epoch traces drawn"),
    "spectrum_P": Rule(low=1, doc="P of the spectrum panels"),
    "spectrum_D": Rule(low=1, doc="D of the spectrum panels"),
    "spectrum_draws": Rule(low=1, doc="draws pooled into each spectrum"),
    "c_N": Rule(low=1, doc="context length per token dimension: N = c_N·D"),
    "tau": Rule(real=True, low=0, low_open=True, doc="load τ = P/(D(D+1)) (1: the interpolation threshold)"),
    "T": Rule(low=1, doc="task-pool size: distinct task vectors the P prompts draw from"),
    "frac": Rule(real=True, low=0, low_open=True, high=1, doc="fraction of the context length N"),
}
_LIST_DOC = " (one value or a comma list)"


def _kind(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "float"
    return "str"


def param_type(*defaults: Any) -> tuple[str, bool]:
    """(element kind, is_list) of a parameter from its default values (quick, full): a list parameter
    if any default is a list; float if any element is a float, else int; bool; str otherwise."""
    items: list[Any] = []
    is_list = False
    for d in defaults:
        if isinstance(d, (list, tuple)):
            is_list = True
            items.extend(d)
        else:
            items.append(d)
    kinds = {_kind(x) for x in items} or {"str"}
    if kinds <= {"bool"}:
        return "bool", is_list
    if kinds <= {"int"}:
        return "int", is_list
    if kinds <= {"int", "float"}:
        return "float", is_list
    return "str", is_list


def _named_rule(name: str) -> Rule | None:
    # a prefixed name (sa_lr, curve_P, fit_D, tf_epochs) follows the rule of its last part
    return PARAMETER_RULES.get(name) or PARAMETER_RULES.get(name.rpartition("_")[2])


def param_kind(name: str, *defaults: Any) -> tuple[str, bool]:
    """:func:`param_type` of the defaults, made float for a parameter that is a real number by name."""
    kind, is_list = param_type(*defaults)
    rule = _named_rule(name)
    if kind == "int" and rule is not None and rule.real:
        kind = "float"
    return kind, is_list


def param_rule(name: str, kind: str, *defaults: Any) -> Rule:
    """The range of parameter ``name``: its named rule, or the generic one of its kind; a bound that a
    default sits on is closed (the catalog uses 0 for "automatic")."""
    rule = _named_rule(name)
    if rule is None:
        rule = _SIZE if kind == "int" else Rule()
    nums = [
        float(x) for d in defaults for x in (d if isinstance(d, (list, tuple)) else [d]) if _kind(x) in ("int", "float")
    ]
    if rule.low is not None and nums and kind in ("int", "float"):
        lowest = min(nums)
        if lowest < rule.low or (rule.low_open and lowest == rule.low):
            rule = replace(rule, low=lowest, low_open=False)
    return rule


def _allowed(kind: str, is_list: bool, rule: Rule) -> str:
    noun = {"int": "an integer", "float": "a finite number", "bool": "true or false", "str": "a non-empty text"}[kind]
    if kind == "float" and rule.allow_nonfinite:
        noun = "a number"
    rng = rule.describe() if kind in ("int", "float") else ""
    what = f"{noun} {rng}".strip()
    return f"{what}, or a comma list of them" if is_list else what


def _one(name: str, shown: str, value: Any, kind: str, rule: Rule, allowed: str) -> Any:
    """Convert one (element) value to ``kind`` and check its range, or raise :class:`InputError`."""

    def bad(why: str) -> InputError:
        return InputError(f"{shown}: {why}; {name} takes {allowed}")

    if isinstance(value, str):
        value = value.strip()
        if value == "":
            raise bad("empty value")
    if kind == "str":
        if not isinstance(value, str):
            raise bad(f"{value!r} is not text")
        return value
    if kind == "bool":
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        text = str(value).lower()
        if text in ("true", "yes", "1"):
            return True
        if text in ("false", "no", "0"):
            return False
        raise bad(f"{value!r} is not true/false")
    if isinstance(value, (bool, np.bool_)):
        raise bad(f"{value!r} is not a number")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise bad(f"{value!r} is not {'an integer' if kind == 'int' else 'a number'}") from None
    if not math.isfinite(x) and not (kind == "float" and rule.allow_nonfinite):
        raise bad(f"{value!r} is not finite")
    if kind == "int":
        if not x.is_integer():
            raise bad(f"{value!r} is not an integer")
        out: Any = int(x) if not isinstance(value, (int, np.integer)) else int(value)
    else:
        out = x
    if math.isfinite(x):
        if rule.low is not None and (x < rule.low or (rule.low_open and x == rule.low)):
            raise bad("out of range")
        if rule.high is not None and (x > rule.high or (rule.high_open and x == rule.high)):
            raise bad("out of range")
    return out


def split_list(text: str) -> list[str]:
    """Items of a command-line list: ``20,100`` or ``[20, 100]`` (brackets optional)."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return text.split(",")


def experiment_param(name: str, value: Any, *defaults: Any, experiment: str = "") -> Any:
    """``value`` of parameter ``name`` converted to the type of its ``defaults`` (the experiment's quick
    and full values) and checked against its range; a command-line string is parsed first (a list
    parameter takes ``a,b,c``; one value is a list of one).  Raises a one-line :class:`InputError` naming
    the parameter, the value and what is allowed."""
    kind, is_list = param_kind(name, *defaults)
    rule = param_rule(name, kind, *defaults)
    allowed = _allowed(kind, is_list, rule)
    shown = f"{experiment + ' ' if experiment else ''}{name}={value if isinstance(value, str) else json_text(value)}"
    if not is_list:
        if isinstance(value, (list, tuple)) or (isinstance(value, str) and "," in value and kind != "str"):
            raise InputError(f"{shown}: one value expected, got a list; {name} takes {allowed}")
        return _one(name, shown, value, kind, rule, allowed)
    if isinstance(value, str):
        items: list[Any] = split_list(value)
    elif isinstance(value, (list, tuple, np.ndarray)):
        items = list(value)
    else:
        items = [value]
    if not items or (len(items) == 1 and isinstance(items[0], str) and not items[0].strip()):
        raise InputError(f"{shown}: no value; {name} takes {allowed}")
    return [_one(name, shown, v, kind, rule, allowed) for v in items]


def json_text(value: Any) -> str:
    import json

    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def out_folder(path: Any, what: str = "--out") -> Path:
    """``path`` as an output folder that exists or can be created (and is writable), or raise."""
    if path is None or str(path).strip() == "":
        raise InputError(f"{what} is empty; give a folder, e.g. {what} results")
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
