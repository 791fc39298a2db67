"""An experiment's declared parameters, read from its catalog module without its heavy imports.

A catalog module imports torch and matplotlib (seconds); its parameters are built from literals and
small helpers.  The CLI checks ``--set`` against them first (:func:`declaration`), so a refused value
is answered before the heavy imports; the runner checks everything again on the imported experiment.

How: the module's top-level statements run one by one in a fresh namespace, with only the imports of
``LIGHT`` modules (the standard library, numpy, the parameter and spec modules); a name imported
from another module of the package is read from that module's source the same way (a parameter dict
kept beside torch code); a statement that needs anything else is skipped, and a name that a skipped
statement might have changed is dropped.
``quick``, ``full`` and ``rules`` of ``EXPERIMENT = Experiment(...)`` are then evaluated there; if any
needs a dropped name the answer is None, and the caller imports the module as usual.  A test checks
the declarations against the imported experiments.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from typing import Any

from .spec import Experiment

_CATALOG = "spinglass_icl.experiments.catalog"
# modules a declaration may import (fast: no torch, scipy or matplotlib behind them)
LIGHT = frozenset(
    {
        "numpy",
        "spinglass_icl.experiments.params",
        "spinglass_icl.experiments.points",
        "spinglass_icl.experiments.spec",
        "spinglass_icl.validation",
    }
)


def _not_declared(*args: Any) -> Any:
    raise RuntimeError("a declaration read without its imports has parameters only; use registry.get")


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
    return f"{base}.{node.module}" if node.module else base


def _light(name: str) -> bool:
    return name in LIGHT or name.split(".")[0] in sys.stdlib_module_names


def _allowed(node: ast.stmt, package: str) -> bool:
    """Whether a top-level statement may run: any statement but imports of modules not in LIGHT."""
    if isinstance(node, ast.Import):
        return all(_light(a.name) for a in node.names)
    if isinstance(node, ast.ImportFrom):
        module = _absolute(node, package)
        # `from .. import params` imports a submodule: light only if it is
        return _light(module) or all(_light(f"{module}.{a.name}") for a in node.names)
    return True


def _bound(node: ast.stmt) -> set[str]:
    """Names a statement binds or may change (assignment targets, objects of method calls, …)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _run_light(tree: ast.Module, filename: str, package: str, depth: int = 0) -> dict[str, Any]:
    """The namespace left by the module's top-level statements that need no heavy import.  A name
    imported from another module of this package is read the same way from that module's source."""
    ns: dict[str, Any] = {"__name__": f"{package}._declared", "__package__": package, "__file__": filename}
    for node in tree.body:
        if _experiment_call(node) is not None:
            continue
        try:
            if not _allowed(node, package):
                if not (isinstance(node, ast.ImportFrom) and depth < 3):
                    raise ImportError
                _import_light(node, package, ns, depth)
                continue
            exec(compile(ast.Module(body=[node], type_ignores=[]), filename, "exec"), ns)
        except Exception:  # needs a heavy import: skip it and forget, at once, every name it touches
            for name in _bound(node):
                ns.pop(name, None)
    return ns


def _import_light(node: ast.ImportFrom, package: str, ns: dict[str, Any], depth: int) -> None:
    """``from MODULE import a, b`` of a heavy module of this package: a and b as MODULE's own light
    statements define them (e.g. a dict of parameters beside code that needs torch); others dropped."""
    module = _absolute(node, package)
    found = _light_module(module, depth + 1) if module.startswith("spinglass_icl.") else None
    for alias in node.names:
        name = alias.asname or alias.name
        if found is not None and alias.name in found:
            ns[name] = found[alias.name]
        else:
            ns.pop(name, None)


_MODULES: dict[str, dict[str, Any] | None] = {}  # the light namespaces read so far, by module


def _light_module(module: str, depth: int) -> dict[str, Any] | None:
    if module not in _MODULES:
        _MODULES[module] = _read_light(module, depth)
    return _MODULES[module]


def _read_light(module: str, depth: int) -> dict[str, Any] | None:
    try:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return None
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    except (ImportError, ValueError, OSError, SyntaxError):
        return None
    return _run_light(tree, spec.origin, module.rpartition(".")[0], depth)


def _experiment_call(node: ast.stmt) -> ast.Call | None:
    if (
        isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "EXPERIMENT" for t in node.targets)
        and isinstance(node.value, ast.Call)
    ):
        return node.value
    return None


def declaration(experiment_id: str) -> Experiment | None:
    """``experiment_id``'s id, title, quick and full parameters and own rules, from its catalog module
    without its heavy imports (its callables only raise); None where that is not possible."""
    try:
        spec = importlib.util.find_spec(f"{_CATALOG}.{experiment_id}")
        if spec is None or not spec.origin:
            return None
        source = Path(spec.origin).read_text(encoding="utf-8")
        tree = ast.parse(source)
    except (ImportError, ValueError, OSError, SyntaxError):
        return None
    call = next((c for c in map(_experiment_call, tree.body) if c is not None), None)
    if call is None or call.args:
        return None
    ns = _run_light(tree, spec.origin, _CATALOG)
    args = {kw.arg: kw.value for kw in call.keywords if kw.arg in ("id", "title", "quick", "full", "rules")}
    try:
        values = {k: eval(compile(ast.Expression(v), spec.origin, "eval"), ns) for k, v in args.items()}
    except Exception:
        return None
    if values.get("id") != experiment_id or not all(isinstance(values.get(k), dict) for k in ("quick", "full")):
        return None
    return Experiment(
        id=experiment_id,
        title=str(values.get("title", experiment_id)),
        quick=values["quick"],
        full=values["full"],
        points=_not_declared,
        compute=_not_declared,
        plot=_not_declared,
        rules=values.get("rules"),
    )
