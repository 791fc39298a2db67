"""Experiment parameters: their ranges and meanings, and the one parser of a ``--set`` value.

Every parameter has a :class:`~spinglass_icl.experiments.rules.Rule` (range and meaning).  Names shared across the
catalog (D, N, P,
repeats, lr, ...) mean one thing everywhere and are declared once here (:data:`SHARED`); a name that
belongs to one experiment is declared beside it, in ``Experiment.rules``.  A prefixed name (``sa_lr``,
``curve_P``, ``fit_D``) follows the rule of its last part.  A parameter's type comes from its quick and
full defaults: a list if either default is a list; float if any number is a float (or its rule says
``real``), else int; bool; text.
"""

from __future__ import annotations

import difflib
import json
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..validation import DEPRECATED_UNTIL, InputError
from .rules import Rule

if TYPE_CHECKING:
    from .spec import Experiment


# The largest value of an integer parameter that no rule bounds more tightly (a count or size): beyond it
# nothing in the project can finish on one machine, and a dry run refuses it before anything is expanded.
MAX_INT = 10**9
_SIZE = Rule(low=1, high=MAX_INT)
_REAL = Rule()
CONVENTIONS = ("correct", "paper")

#: The vocabulary shared by the catalog, one meaning per name.  An int parameter not listed (and not
#: declared by its experiment) is a count or size (>= 1; >= 0 where a default is 0, which the catalog uses
#: for "automatic"); a float not listed must only be finite.
SHARED: dict[str, Rule] = {
    "D": Rule(low=1, high=2000, doc="token dimension"),
    "N": Rule(low=1, high=10**6, doc="context length (tokens per prompt before the query)"),
    "P": Rule(low=1, high=10**8, doc="number of pre-training prompts (each with its own task)"),
    "P_test": Rule(low=1, high=10**7, doc="fresh test prompts (fresh tasks) per repeat"),
    "repeats": Rule(low=1, high=10**6, doc="independent data draws"),
    "draws": Rule(low=1, high=10**6, doc="independent draws pooled into histograms/spectra"),
    "epochs": Rule(low=1, high=10**7, doc="training epochs"),
    "steps": Rule(low=1, high=10**7, doc="AMP iterations (at most)"),
    "chunk": Rule(low=1, high=10**6, doc="repeats or draws computed together in one batch (memory and speed only)"),
    "bins": Rule(low=1, high=10**6, doc="histogram bins"),
    "samples": Rule(low=1, high=10**7, doc="random samples drawn"),
    "lambda0": Rule(real=True, low=0, doc="L2 strength λ0 of the energy (0: minimum-norm ground state)"),
    "beta": Rule(real=True, low=0, low_open=True, doc="inverse temperature β"),
    "damping": Rule(real=True, low=0, high=1, high_open=True, doc="AMP damping θ (m ← θ m + (1−θ) m_new)"),
    "lr": Rule(real=True, low=0, low_open=True, doc="Adam learning rate"),
    "weight_decay": Rule(real=True, low=0, doc="Adam weight decay wd (PyTorch convention; minimiser of λ0 = wd/2)"),
    "tol": Rule(real=True, low=0, low_open=True, doc="convergence tolerance"),
    "alpha": Rule(real=True, low=0, low_open=True, doc="load α (see the experiment)"),
    "noise": Rule(real=True, low=0, doc="label noise standard deviation σ_ε"),
    "tau": Rule(real=True, low=0, low_open=True, doc="load τ = P/(D(D+1)) (1: the interpolation threshold)"),
    "c_N": Rule(low=1, high=10**4, doc="context length per token dimension: N = c_N·D"),
    "T": Rule(low=1, high=10**8, doc="task-pool size: distinct task vectors the P prompts draw from"),
    "frac": Rule(real=True, low=0, low_open=True, high=1, doc="fraction of the context length N"),
    "models": Rule(doc="models to run (comma list; an unknown name lists the known ones)"),
    "method": Rule(doc="numerical method (the experiment's docstring lists them; an unknown name lists them too)"),
    "convention": Rule(doc="the paper's convention (paper) or the corrected one (correct); the experiment says which"),
}
_LIST_DOC = " (one value or a comma list)"

# Renamed parameters: {old name: (new name, first version that refuses the old name)}, that version being the one
# horizon of every deprecated name (``validation.DEPRECATED_UNTIL``, the core's renamed keywords too).  An old name
# keeps working for one minor version after its rename: it is translated to the new name before anything else
# (so it records the same point -- same seed, same store key -- as the new name) with a one-line
# deprecation note.  It applies to every experiment that has the new name and not the old one; an
# experiment's own ``Experiment.renamed`` ({new: old}, which also keeps the old seeds) adds its entries.
# A future rename adds one line here (or to ``renamed``); a test removes the line when ``until`` is reached.
ALIASES: dict[str, tuple[str, str]] = {
    "builder": ("convention", DEPRECATED_UNTIL),  # fig1, figS2: renamed in 0.2.0
    "energy": ("convention", DEPRECATED_UNTIL),  # fig3
    "cholesky": ("convention", DEPRECATED_UNTIL),  # figS4
    "amp_batch": ("chunk", DEPRECATED_UNTIL),  # fig4a
    "batch_repeats": ("chunk", DEPRECATED_UNTIL),  # figS8
}


def described(name: str, doc: str) -> Rule:
    """The shared rule of ``name`` with an experiment's own meaning ``doc`` (e.g. D "zipped with repeats")."""
    return replace(SHARED[name], doc=doc)


def _kind(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "float"
    return "str"


def _elements(defaults: tuple[Any, ...]) -> tuple[list[Any], bool]:
    items: list[Any] = []
    is_list = False
    for d in defaults:
        if isinstance(d, (list, tuple)):
            is_list = True
            items.extend(d)
        else:
            items.append(d)
    return items, is_list


def param_type(*defaults: Any) -> tuple[str, bool]:
    """(element kind, is_list) of a parameter from its default values (quick, full): a list parameter
    if any default is a list; float if any element is a float, else int; bool; str otherwise."""
    items, is_list = _elements(defaults)
    kinds = {_kind(x) for x in items} or {"str"}
    for kind, allowed in (("bool", {"bool"}), ("int", {"int"}), ("float", {"int", "float"})):
        if kinds <= allowed:
            return kind, is_list
    return "str", is_list


def named_rule(name: str, own: Mapping[str, Rule] | None = None) -> Rule | None:
    """The declared rule of ``name``: the experiment's own, else the shared one; a prefixed name
    (sa_lr, curve_P, fit_D) follows the rule of its last part."""
    table = {**SHARED, **(own or {})}
    return table.get(name) or table.get(name.rpartition("_")[2])


def param_kind(name: str, *defaults: Any, own: Mapping[str, Rule] | None = None) -> tuple[str, bool]:
    """:func:`param_type` of the defaults, made float for a parameter that is a real number by its rule."""
    kind, is_list = param_type(*defaults)
    rule = named_rule(name, own)
    if kind == "int" and rule is not None and rule.real:
        kind = "float"
    return kind, is_list


def param_rule(name: str, kind: str, *defaults: Any, own: Mapping[str, Rule] | None = None) -> Rule:
    """The range of parameter ``name``: its declared rule, or the generic one of its kind; a lower bound
    that a default sits below (or on, when open) is lowered to it (the catalog uses 0 for "automatic").
    An integer's rule without an upper bound gets the one of its name's last part (``fit_D`` follows ``D``),
    else ``MAX_INT``, so that no count can ask for more than one machine can hold."""
    rule = named_rule(name, own) or (_SIZE if kind == "int" else _REAL)
    if kind == "int" and rule.high is None:  # every integer has an upper bound: its name's shared one, else MAX_INT
        shared = SHARED.get(name.rpartition("_")[2])
        rule = replace(rule, high=shared.high if shared is not None and shared.high is not None else MAX_INT)
    items, _ = _elements(defaults)
    nums = [float(x) for x in items if _kind(x) in ("int", "float")]
    if rule.low is not None and nums and kind in ("int", "float"):
        lowest = min(nums)
        if lowest < rule.low or (rule.low_open and lowest == rule.low):
            rule = replace(rule, low=lowest, low_open=False)
    return rule


def allowed_text(kind: str, is_list: bool, rule: Rule) -> str:
    """What a parameter takes, in words (``an integer >= 1, or a comma list of them``)."""
    noun = {"int": "an integer", "float": "a finite number", "bool": "true or false", "str": "a non-empty text"}[kind]
    if kind == "float" and rule.allow_nonfinite:
        noun = "a number"
    what = f"{noun} {rule.describe() if kind in ('int', 'float') else ''}".strip()
    return f"{what}, or a comma list of them" if is_list else what


def _text(value: Any, kind: str, rule: Rule) -> Any:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not text")
    return value


def _bool(value: Any, kind: str, rule: Rule) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = str(value).lower()
    if text in ("true", "yes", "1", "false", "no", "0"):
        return text in ("true", "yes", "1")
    raise ValueError(f"{value!r} is not true/false")


def _number(value: Any, kind: str, rule: Rule) -> Any:
    noun = "an integer" if kind == "int" else "a number"
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{value!r} is not a number")
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{value!r} is not {noun}") from None
    if not math.isfinite(x) and not (kind == "float" and rule.allow_nonfinite):
        raise ValueError(f"{value!r} is not finite")
    if kind == "int" and not x.is_integer():
        raise ValueError(f"{value!r} is not an integer")
    if math.isfinite(x) and not rule.admits(x):
        raise ValueError("out of range")
    if kind == "float":
        return x
    return int(value) if isinstance(value, (int, np.integer)) else int(x)


_CONVERT: dict[str, Callable[[Any, str, Rule], Any]] = {"str": _text, "bool": _bool, "int": _number, "float": _number}


def _one(value: Any, kind: str, rule: Rule) -> Any:
    """One (element) value converted to ``kind`` and checked against ``rule``; ValueError says why not."""
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            raise ValueError("empty value")
    return _CONVERT[kind](value, kind, rule)


def split_list(text: str) -> list[str]:
    """Items of a command-line list: ``20,100`` or ``[20, 100]`` (brackets optional)."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return text.split(",")


def json_text(value: Any) -> str:
    """``value`` as JSON where it can be, else its repr (for messages)."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _items(value: Any) -> list[Any]:
    if isinstance(value, str):
        return split_list(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        return list(value)
    return [value]


def parse(name: str, value: Any, *defaults: Any, experiment: str = "", own: Mapping[str, Rule] | None = None) -> Any:
    """``value`` of parameter ``name`` converted to the type of its ``defaults`` (the experiment's quick
    and full values) and checked against its range; a command-line string is parsed first (a list
    parameter takes ``a,b,c``; one value is a list of one).  Raises a one-line :class:`~spinglass_icl.InputError` naming
    the parameter, the value and what is allowed."""
    kind, is_list = param_kind(name, *defaults, own=own)
    rule = param_rule(name, kind, *defaults, own=own)
    allowed = allowed_text(kind, is_list, rule)
    shown = f"{experiment + ' ' if experiment else ''}{name}={value if isinstance(value, str) else json_text(value)}"
    looks_like_list = isinstance(value, (list, tuple)) or (isinstance(value, str) and "," in value and kind != "str")
    if not is_list and looks_like_list:
        raise InputError(f"{shown}: one value expected, got a list; {name} takes {allowed}")
    items = _items(value) if is_list else [value]
    if not items or (len(items) == 1 and isinstance(items[0], str) and not items[0].strip()):
        raise InputError(f"{shown}: no value; {name} takes {allowed}")
    try:
        out = [_one(v, kind, rule) for v in items]
    except ValueError as exc:
        raise InputError(f"{shown}: {exc}; {name} takes {allowed}") from None
    return out if is_list else out[0]


def check_sizes(what: str, sizes: Mapping[str, int]) -> None:
    """Refuse a count or size (named as in :data:`SHARED`) beyond its range, in one line naming it: the
    ranges of the catalog's parameters, for options outside it (``ground-state --D``)."""
    for name, value in sizes.items():
        rule = param_rule(name, "int", value)
        if not rule.admits(value):
            raise InputError(
                f"{what} {name}={value} is beyond the sensible range of {name} ({rule.describe()}); "
                f"choose a smaller {name}"
            )


def aliases(exp: Experiment) -> dict[str, tuple[str, str]]:
    """{old name: (new name, version that refuses it)} of the renamed parameters ``exp`` still accepts."""
    table = {**ALIASES, **{old: (new, DEPRECATED_UNTIL) for new, old in (exp.renamed or {}).items()}}
    return {old: (new, until) for old, (new, until) in table.items() if new in exp.quick and old not in exp.quick}


def deprecation(exp: Experiment, old: str) -> str | None:
    """The one-line note of the deprecated parameter name ``old`` of ``exp`` (None: not a deprecated name)."""
    found = aliases(exp).get(old)
    if found is None:
        return None
    new, until = found
    return f"{exp.id}: parameter {old!r} is now {new!r} (the old name is deprecated and refused from {until} on)"


def canonical(
    exp: Experiment, overrides: Mapping[str, Any] | None, note: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """``overrides`` with every deprecated name replaced by its new one (``ALIASES``), each with its
    note: ``note(text)`` where given (the CLI prints it), else a ``FutureWarning``.  Old and new name of
    one parameter together are refused."""
    out: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        text = deprecation(exp, key)
        if text is None:
            out[key] = value
            continue
        new = aliases(exp)[key][0]
        if new in (overrides or {}):
            raise InputError(f"{exp.id}: {key} and {new} are one parameter ({key} is its old name); give {new} once")
        note(text) if note is not None else warnings.warn(text, FutureWarning, stacklevel=3)
        out[new] = value
    return out


def unknown(exp: Experiment, key: str) -> InputError:
    """The refusal of parameter name ``key`` that ``exp`` does not have, suggesting the closest known name."""
    close = difflib.get_close_matches(key, [*exp.quick, *aliases(exp)], n=1, cutoff=0.6)
    hint = ""
    if close:
        near = aliases(exp).get(close[0], (close[0], ""))[0]
        hint = f"did you mean {near!r}? "
    return InputError(
        f"{exp.id} has no parameter {key!r}; {hint}it has: {', '.join(sorted(exp.quick))} "
        f"(spinglass-icl params {exp.id})"
    )


def check(exp: Experiment, size: str, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The parameters of ``exp`` at ``size`` with ``overrides`` converted to each parameter's type and
    checked against its range, then against the experiment's own ``check``: a one-line
    :class:`~spinglass_icl.InputError` before anything runs.  A deprecated name is read as its new one
    (:func:`canonical`)."""
    checked = {}
    for key, value in canonical(exp, overrides).items():
        if key not in exp.quick:
            raise unknown(exp, key)
        checked[key] = parse(key, value, exp.quick[key], exp.full[key], experiment=exp.id, own=exp.rules)
    params = exp.params(size, checked)
    if exp.check is not None:
        exp.check(params)
    return params


@dataclass(frozen=True)
class Row:
    """One parameter as ``spinglass-icl params ID`` and the gallery show it."""

    name: str
    kind: str
    quick: str
    full: str
    allowed: str
    meaning: str


def table(exp: Experiment) -> list[Row]:
    """Every parameter of ``exp``: its type, quick and full values, what it takes and what it means."""
    rows = []
    for key in exp.full:
        q, f = exp.quick[key], exp.full[key]
        kind, is_list = param_kind(key, q, f, own=exp.rules)
        rule = param_rule(key, kind, q, f, own=exp.rules)
        meaning = rule.doc or "(not described)"
        shown_kind = f"list of {kind}" if is_list else kind
        rows.append(
            Row(
                key,
                shown_kind,
                json_text(q),
                json_text(f),
                allowed_text(kind, is_list, rule),
                meaning + _LIST_DOC * is_list,
            )
        )
    return rows
