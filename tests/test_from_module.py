"""``Experiment.from_module``: an experiment declared by its module's own names (QUICK, FULL, points, compute,
plot, COLUMNS, ...), with misspelt and missing names refused, keywords overriding names, and the panel letters
and finish applied once, after ``plot``, for every catalog figure."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spinglass_icl import InputError, plotting
from spinglass_icl.experiments import registry
from spinglass_icl.experiments.spec import MODULE_NAMES, REQUIRED, Experiment

CATALOG = Path(__file__).resolve().parents[1] / "src" / "spinglass_icl" / "experiments" / "catalog"


def _points(p: dict) -> list[dict]:
    return [{"x": x} for x in p["xs"]]


def _compute(point: dict, seed: int, device: str) -> dict:
    return {"y": 2.0 * point["x"]}


def _plot(records: list[dict], params: dict) -> Any:
    fig, ax = plotting.figure(3, 1)  # two titled panels and an untitled text panel, side by side
    for a in ax[0, :2]:
        a.plot([0, 1], [0, 1], label="line")
        a.set_title("panel")
        a.set_ylabel("y")
    fig.colorbar(ax[0, 1].imshow([[0, 1], [1, 0]]), ax=ax[0, 1])
    ax[0, 2].axis("off")
    ax[0, 2].text(0, 0.5, "notes")
    return fig


@pytest.fixture
def module() -> Iterator[types.ModuleType]:
    """A fresh module ``_from_module_example`` defining the required names, in sys.modules while the test runs."""
    mod = types.ModuleType("_from_module_example")
    mod.__dict__.update(QUICK={"xs": [1, 2]}, FULL={"xs": [1, 2, 3]}, points=_points, compute=_compute, plot=_plot)
    sys.modules[mod.__name__] = mod
    yield mod
    sys.modules.pop(mod.__name__, None)


def test_fields_come_from_the_module_names(module):
    module.COLUMNS = {"y": "twice x [1]"}
    module.RENAMED = {"x": "old_x"}
    module.THREADS = 1

    def count(p: dict) -> int:
        return len(p["xs"])

    module.count = count
    exp = Experiment.from_module(module.__name__, id="ex", title="an example")
    assert (exp.id, exp.title, exp.quick, exp.full) == ("ex", "an example", module.QUICK, module.FULL)
    assert exp.points is _points and exp.compute is _compute and exp.count is count
    assert exp.columns == {"y": "twice x [1]"} and exp.renamed == {"x": "old_x"} and exp.threads == 1
    assert exp.summary is None and exp.rules is None and exp.resources is None
    assert exp.n_points(exp.params("full")) == 3
    # the module object itself works as well as its name
    assert Experiment.from_module(module, id="ex", title="t").columns == exp.columns


def test_a_keyword_overrides_the_module_name(module):
    exp = Experiment.from_module(module.__name__, id="ex", title="t", quick={"xs": [5]}, threads=2)
    assert exp.quick == {"xs": [5]} and exp.full == module.FULL and exp.threads == 2


def test_the_estimator_is_read_as_cost(module):
    module.cost = lambda point: None
    assert Experiment.from_module(module.__name__, id="ex", title="t").resources is module.cost


@pytest.mark.parametrize("name", REQUIRED)
def test_a_missing_required_name_is_an_error_naming_module_and_name(module, name):
    value = getattr(module, MODULE_NAMES[name])
    delattr(module, MODULE_NAMES[name])
    with pytest.raises(InputError, match=rf"_from_module_example defines no {MODULE_NAMES[name]}\b"):
        Experiment.from_module(module.__name__, id="ex", title="t")
    # given as a keyword instead, it is not missing
    assert getattr(Experiment.from_module(module.__name__, id="ex", title="t", **{name: value}), name) is not None


@pytest.mark.parametrize(
    ("name", "meant"),
    [("SUMARY_KEYS", "SUMMARY_KEYS"), ("columns", "COLUMNS"), ("RULE", "RULES"), ("Plot", "plot"), ("quick", "QUICK")],
)
def test_a_misspelt_name_is_an_error_not_ignored(module, name, meant):
    setattr(module, name, {})
    with pytest.raises(InputError, match=rf"_from_module_example defines {name} \(did you mean {meant}\?\)"):
        Experiment.from_module(module.__name__, id="ex", title="t")


def test_private_and_unrelated_names_are_left_alone(module):
    module._SUMARY_KEYS = {}  # private: a helper's name may be close to a conventional one
    module.TRAIN_KEYS = ("D", "N")
    module.threshold_T = lambda p: 0
    module.np = types.ModuleType("numpy_like")
    Experiment.from_module(module.__name__, id="ex", title="t")


def test_an_unknown_keyword_is_a_type_error(module):
    with pytest.raises(TypeError, match="summry"):
        Experiment.from_module(module.__name__, id="ex", title="t", summry=None)


def _titles(fig: Any) -> list[str]:
    return [a.get_title() for a in fig.axes]


def test_the_figure_is_lettered_and_finished_after_plot(module):
    exp = Experiment.from_module(module.__name__, id="ex", title="t")
    with plotting.style():
        fig = exp.plot([], {})
    # the titled panels lettered in the order they were made; the text panel and the colorbar are not lettered
    assert _titles(fig) == ["(a) panel", "(b) panel", "", ""]
    assert exp.plot.__wrapped__ is _plot  # type: ignore[attr-defined]
    plain = Experiment.from_module(module.__name__, id="ex", title="t", finish=False)
    with plotting.style():
        assert _titles(plain.plot([], {})) == ["panel", "panel", "", ""]


def test_experiment_itself_still_takes_every_field():
    exp = Experiment(
        id="ex", title="t", quick={"xs": [1]}, full={"xs": [1]}, points=_points, compute=_compute, plot=_plot
    )
    assert exp.plot is _plot  # nothing added: its plot finishes its own figure


def test_catalog_modules_declare_themselves_and_leave_the_tail_to_it():
    """The catalog modules end with ``Experiment.from_module`` (all 19 of 0.2.0 do; a module in the older
    ``Experiment(...)`` form still works), and the ``plot`` of none of them letters or finishes its figure itself
    (``finish=False`` modules aside, whose plot is shared with other code)."""
    declared = []
    for path in sorted(CATALOG.glob("[!_]*.py")):
        source = path.read_text(encoding="utf-8")
        if "EXPERIMENT = Experiment.from_module(" not in source:
            continue
        declared.append(path.stem)
        if "finish=False" not in source:
            assert not re.search(r"panels\.letters\(|\b(panels|plotting)\.finish\(", source), path.stem
            assert registry.get(path.stem).plot.__wrapped__ is not None  # type: ignore[attr-defined]
    assert len(declared) >= 19, declared


def test_a_module_name_that_is_not_imported_is_an_error():
    with pytest.raises(InputError, match="no module 'not_a_module_here'"):
        Experiment.from_module("not_a_module_here", id="ex", title="t")
