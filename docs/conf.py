"""Sphinx configuration of the spinglass-icl documentation (``make docs``).

Built with warnings as errors (``-W --keep-going``).  Generated at every build, never edited by hand:
the API reference (``api/index.rst`` from ``spinglass_icl.__all__``, one page per name by autosummary)
and the experiment gallery (``gallery/``, one page per ``experiments.registry.ids()``; see
``_ext/gallery_pages.py``).  The tutorials are MyST-markdown notebooks that myst-nb executes on every
build.  No intersphinx: the build runs offline.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent / "src"))  # the package itself (also installed editable by `make docs`)

import gallery_pages  # noqa: E402
import module_pages  # noqa: E402

import spinglass_icl  # noqa: E402

project = "spinglass-icl"
author = "the spinglass-icl developers"
copyright = "2026, the spinglass-icl developers"
release = spinglass_icl.__version__
version = release

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
# architecture.md is a page of the site itself (architecture.html), so the README's link to it has a page to land on
exclude_patterns = ["_build", "jupyter_execute", "_ext", "Thumbs.db", ".DS_Store", "data"]

# -- MyST / myst-nb -------------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3  # GitHub-style #slug anchors, so REPRODUCTION.md's links to theory.md work on both
nb_execution_mode = "force"  # every tutorial runs at every build: they cannot rot
nb_execution_timeout = 600
nb_execution_raise_on_error = True  # a failing cell fails the build
nb_execution_show_tb = True
nb_merge_streams = True
nb_output_stderr = "remove"  # progress bars and library log lines; a failing cell still fails the build

# -- cross-references: every role must resolve (nitpicky), so a reference that rots fails the build ----------
nitpicky = True
# Only third-party and standard-library types, which cannot resolve offline (no intersphinx): numpy (its
# arrays, generators, dtypes and numpy.typing), torch, scipy, matplotlib, and the standard library's
# collections.abc, os.PathLike and pathlib.Path.  Every name of this package must resolve.
nitpick_ignore_regex = [
    ("py:.*", r"(numpy|np|torch|scipy|matplotlib|collections\.abc|os|pathlib|argparse|typing|dataclasses)(\..*)?"),
    ("py:class", r"types\.ModuleType"),  # Experiment.from_module's module
    # the same types where a module imports them for annotations only (``if TYPE_CHECKING:``), so autodoc
    # sees the bare name: matplotlib's Figure, Axes, AxesImage, Legend and Line2D, numpy's ArrayLike, torch's
    # Module and Tensor
    ("py:(class|meth)", r"Figure|Axes|AxesImage|Legend|Line2D|ArrayLike|Module|Tensor|nn\.Module(\..*)?"),
]
# the package's own type aliases where autodoc shows an annotation as written (it cannot evaluate one that
# names a type imported for annotations only): resolved to their definitions by _alias_reference below
TYPE_ALIASES = {
    "Point": "spinglass_icl.experiments.spec.Point",
    "Record": "spinglass_icl.experiments.spec.Record",
    "Result": "spinglass_icl.experiments.spec.Result",
    "Rule": "spinglass_icl.experiments.rules.Rule",
    "Trained": "spinglass_icl.training.Trained",
    "Budget": "spinglass_icl.Budget",
    "Predictor": "spinglass_icl.experiments.task_diversity.Predictor",
}

# -- autodoc / autosummary / napoleon -------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = False
napoleon_google_docstring = True
napoleon_numpy_docstring = True

# -- HTML -----------------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"spinglass-icl {release}"
html_static_path: list[str] = []


def _escape_bars(app, what, name, obj, options, lines):
    """Plain-text |x| in the package's docstrings is not a reStructuredText substitution."""
    lines[:] = gallery_pages.link_theory(gallery_pages.escape_bars(lines), "../../")  # pages in api/generated/


def _alias_reference(app, env, node, contnode):
    """A bare ``Point``/``Record``/``Result``/``Rule`` in a signature: the reference to its definition (None if
    the definition does not resolve, so that nitpicky mode reports the dangling alias instead of crashing)."""
    target = TYPE_ALIASES.get(node.get("reftarget", ""))
    if node.get("refdomain") != "py" or target is None:
        return None
    found = env.get_domain("py").resolve_any_xref(env, node["refdoc"], app.builder, target, node, contnode)
    return found[0][1] if found else None


def _parsable_defaults(app, what, name, obj, options, signature, return_annotation):
    """Defaults that are not Python (a dataclass's ``<factory>``, a class's ``<class 'numpy.float64'>``) written as
    Python, so that Sphinx parses the signature and links its types instead of splitting it at commas."""
    if signature:
        signature = re.sub(r"<class '([\w.]+)'>", r"\1", signature.replace("<factory>", "..."))
    return signature, return_annotation


def _skip_torch_members(app, what, name, obj, skip, options):
    """torch.nn.Module's own members (methods, properties, class attributes and annotations that a subclass
    inherits unchanged) are not this package's: left off the pages of its nn.Module classes (StackedModel)."""
    from torch import nn

    inherited = name in getattr(nn.Module, "__annotations__", {}) or (
        hasattr(nn.Module, name) and getattr(nn.Module, name) is obj
    )
    return True if inherited else None


def setup(app):
    app.connect("autodoc-skip-member", _skip_torch_members)
    app.connect("autodoc-process-signature", _parsable_defaults)
    app.connect("autodoc-process-docstring", _escape_bars)
    app.connect("missing-reference", _alias_reference)


# -- generated sources ------------------------------------------------------------------------------------
gallery_pages.write_api_index(HERE / "api" / "index.rst", [n for n in spinglass_icl.__all__ if n != "__version__"])
gallery_pages.write_gallery(HERE / "gallery", HERE / "figures", HERE.parent / "REPRODUCTION.md")
gallery_pages.write_cli_page(HERE / "cli.md")
module_pages.write_module_pages(HERE / "api" / "modules")
