"""The module reference (``api/modules/``): one page per module of the package, each its ``automodule``.

Generated at every build, never edited by hand.  Every docstring of the package is rendered here under its
module's own name (``spinglass_icl.spinglass.flat_mask``, ``spinglass_icl.training.recipe``, ...), so with
``nitpicky = True`` and ``-W`` a cross-reference (``:func:``, ``:class:``, ``:mod:``, ...) that no longer
resolves fails ``make docs``.  Modules with ``__all__`` (the packages ``solvers``, ``training``, ``models``)
document those names; the others their public, documented members -- less the flat API's classes and re-exports,
which have their own pages (see :func:`_page`).  The catalog's experiment modules
are the gallery's pages (their docstrings are rendered there) and are listed here without members.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path


def module_names(package: str = "spinglass_icl") -> list[str]:
    """Every importable module below ``package`` whose name has no private part (``_amp``, ``__main__``); the
    package root itself is the flat API page."""
    root = importlib.import_module(package)
    names = []
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def _flat_objects() -> set[int]:
    """ids of the objects of the flat API (``spinglass_icl.__all__``), which have their own pages."""
    import spinglass_icl

    return {id(getattr(spinglass_icl, n)) for n in spinglass_icl.__all__ if n != "__version__"}


def _page(name: str, flat: set[int]) -> str:
    """One module's page: its docstring and members, less the flat API's objects (documented once, there)."""
    title = f"``{name}``"
    module = importlib.import_module(name)
    if ".catalog." in name:
        return f"{title}\n{'=' * len(title)}\n\n.. automodule:: {name}\n"
    # The flat API's classes have their pages there, which also register their module names as aliases
    # (``spinglass_icl.spinglass.SpinGlass``): documenting them here again would make a bare ``SpinGlass``
    # ambiguous.  Its functions get no such alias, so they are documented where they are defined
    # (``spinglass_icl.theory.population_error``), and not where a package only re-exports them.
    skip = sorted(
        n
        for n, v in vars(module).items()
        if id(v) in flat and not n.startswith("_") and (isinstance(v, type) or getattr(v, "__module__", name) != name)
    )
    options = "   :members:\n" + (f"   :exclude-members: {', '.join(skip)}\n" if skip else "")
    return f"{title}\n{'=' * len(title)}\n\n.. automodule:: {name}\n{options}"


def write_module_pages(folder: Path) -> None:
    """``folder/index.rst`` (a toctree of every module) and one page per module."""
    folder.mkdir(parents=True, exist_ok=True)
    names, flat = module_names(), _flat_objects()
    for name in names:
        (folder / f"{name}.rst").write_text(_page(name, flat), encoding="utf-8")
    for stale in folder.glob("*.rst"):
        if stale.stem not in names and stale.name != "index.rst":
            stale.unlink()
    toc = "\n".join(f"   {n}" for n in names)
    (folder / "index.rst").write_text(
        "Module reference\n================\n\n"
        "Every module of the package, by its own name (the flat API of :doc:`../index` re-exports the main\n"
        "names).  Generated from the package at every build.\n\n"
        f".. toctree::\n   :maxdepth: 1\n\n{toc}\n",
        encoding="utf-8",
    )
