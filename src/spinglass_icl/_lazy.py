"""Public names imported on first use (PEP 562), so that importing a package stays cheap.

A package lists ``{name: "module"}`` (the name is that module's attribute of the same name) or
``{name: "module:attribute"}``, relative to itself, and takes its ``__getattr__`` and ``__dir__`` from
:func:`lazy_names`; the first access imports the module and caches the name in the package.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_names(
    package: str, table: Mapping[str, str], public: Iterable[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """(``__getattr__``, ``__dir__``) of ``package`` (its ``__name__``, being imported) for the names of
    ``table``; ``public``: its ``__all__``, which ``dir()`` lists beside what is already loaded."""
    namespace = sys.modules[package].__dict__
    names = tuple(public)

    def __getattr__(name: str) -> Any:
        target = table.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = target.partition(":")
        value = getattr(importlib.import_module(module, package), attribute or name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
