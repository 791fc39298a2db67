"""The flat public API: ``import spinglass_icl as sgi`` gives the main names, lazily."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import spinglass_icl as sgi

MAIN = [
    "PromptSpec",
    "sample_features",
    "sample_prompts",
    "SpinGlass",
    "solve_exact",
    "solve_cg",
    "amp",
    "sample_exact",
    "langevin",
    "query_error",
    "contrast_ratio",
    "adam_gram",
    "fit",
    "make_model",
    "run",
    "records",
    "population_error",
    "icl_error_asymptotic",
    "gibbs_error",
]


def test_import_is_lazy():
    code = (
        "import sys, spinglass_icl as sgi; heavy = [m for m in ('torch', 'scipy', 'matplotlib') if m in sys.modules];"
        " print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


@pytest.mark.parametrize("name", MAIN)
def test_main_names_resolve_with_docstrings(name):
    assert name in sgi.__all__ and name in dir(sgi)
    obj = getattr(sgi, name)
    assert callable(obj) and obj.__doc__


def test_flat_names_are_the_module_objects():
    from spinglass_icl.metrics import query_error
    from spinglass_icl.solvers import solve_exact

    assert sgi.query_error is query_error and sgi.solve_exact is solve_exact


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'test_error'"):
        sgi.test_error  # noqa: B018  (the old name is gone from the flat API)


def test_round_trip_through_the_flat_api():
    rng = np.random.default_rng(0)
    spec = sgi.PromptSpec(D=3, N=20)
    sg = sgi.SpinGlass(sgi.sample_features(spec, 400, rng), lambda0=0.01)
    exact, cg = sgi.solve_exact(sg), sgi.solve_cg(sg)
    np.testing.assert_allclose(cg.mean, exact.mean, rtol=1e-8, atol=1e-10)
    test = sgi.sample_features(spec, 300, rng)
    assert 0.0 < float(sgi.query_error(exact.W, test)) < 1.0


def test_spinglass_refuses_what_is_not_a_batch_of_prompts():
    import numpy as np

    from spinglass_icl.prompts import Features

    with pytest.raises(sgi.InputError, match="needs Features"):
        sgi.SpinGlass(None)
    empty = Features(a=np.zeros((0, 4)), b=np.zeros((0, 4)), y=np.zeros(0), N=5)
    with pytest.raises(sgi.InputError, match="at least one prompt"):
        sgi.SpinGlass(empty)
