"""Issue 25, item 2: a renamed parameter keeps working for one minor version (a deprecation note naming the
new name; the same point, seed and store key as the new name), and an unknown name suggests the closest one."""

from __future__ import annotations

import warnings

import pytest

from spinglass_icl import __version__, cli
from spinglass_icl.experiments import params, registry
from spinglass_icl.validation import InputError

# (experiment, old name, new name, a value) for every rename of 0.2.0
RENAMES = [
    ("fig1", "builder", "convention", "paper"),
    ("figS2", "builder", "convention", "paper"),
    ("fig3", "energy", "convention", "paper"),
    ("figS4", "cholesky", "convention", "paper"),
    ("fig4a", "amp_batch", "chunk", "1"),
    ("figS8", "batch_repeats", "chunk", "1"),
]


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("."))


@pytest.mark.parametrize(("exp_id", "old", "new", "value"), RENAMES)
def test_old_name_records_the_same_point_with_a_note(exp_id, old, new, value):
    exp = registry.get(exp_id)
    assert params.aliases(exp)[old][0] == new
    with pytest.warns(FutureWarning, match=rf"'{old}' is now '{new}'"):
        by_old = params.check(exp, "quick", {old: value})
    by_new = params.check(exp, "quick", {new: value})
    assert by_old == by_new
    points = exp.points(by_old)
    assert points == exp.points(by_new)
    assert [exp.key(p, exp.seed(0, p)) for p in points] == [exp.key(p, exp.seed(0, p)) for p in exp.points(by_new)]


def test_the_cli_prints_one_note_and_runs(capsys, tmp_path):
    code = cli.main(["reproduce", "fig1", "--set", "builder=paper", "--dry-run", "--out", str(tmp_path)])
    err = capsys.readouterr().err.splitlines()
    assert code == 0
    assert [line for line in err if "deprecated" in line] == [
        "note: fig1: parameter 'builder' is now 'convention' (the old name is deprecated and refused from 0.4.0 on)"
    ]


def test_python_run_accepts_the_old_name(tmp_path):
    from spinglass_icl.experiments.runner import run

    with pytest.warns(FutureWarning, match="'energy' is now 'convention'"):
        s = run("fig3", "quick", out=tmp_path, overrides={"energy": "paper"}, dry_run=True, progress=False)
    assert s.n_points > 0


def test_old_and_new_name_together_are_refused():
    with pytest.raises(InputError, match="builder and convention are one parameter"):
        params.check(registry.get("fig1"), "quick", {"builder": "paper", "convention": "paper"})


@pytest.mark.parametrize(
    ("typo", "meant"), [("convetion", "convention"), ("repeat", "repeats"), ("buildr", "convention")]
)
def test_an_unknown_name_suggests_the_closest(typo, meant):
    exp_id = "fig4b" if typo == "repeat" else "fig1"
    with pytest.raises(InputError, match=rf"has no parameter '{typo}'; did you mean '{meant}'\?"):
        params.check(registry.get(exp_id), "quick", {typo: "1"})


def test_nothing_close_suggests_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError) as info:
            params.check(registry.get("fig1"), "quick", {"zzzz": "1"})
    assert "did you mean" not in str(info.value)


def test_every_alias_is_removed_when_its_version_comes():
    """One minor version of grace: from ``until`` on the old name must go (delete its line in ALIASES)."""
    for old, (new, until) in params.ALIASES.items():
        assert _version(__version__) < _version(until), f"{old} -> {new}: remove the alias (refused from {until})"
        assert old != new


# -- issue 25, item 3: in_figure decides only the default set of models ---------------------------------


def test_models_accepts_every_registered_architecture():
    """sla-separate is registered with in_figure=False: not drawn by default in figS8, accepted when asked for
    (diversity trains the architectures in the figure only)."""
    exp = registry.get("figS8")
    assert "sla-separate" not in exp.quick["models"].split(",")
    p = params.check(exp, "quick", {"models": "sla,sla-separate"})
    assert p["models"] == "sla,sla-separate"
    assert "sla-separate_lr" in exp.quick  # its recipe can be set like the others'
    assert all(pt["model"] in ("sla", "sla-separate") for pt in exp.points(p))
    with pytest.raises(InputError, match="unknown sla-separate schedule"):  # its recipe is checked like the others'
        params.check(exp, "quick", {"sla-separate_schedule": "no-such-schedule"})


def test_core_keywords_and_set_aliases_share_one_horizon():
    """A renamed core keyword and a renamed ``--set`` parameter are refused from the same version on."""
    from spinglass_icl import validation

    until = validation.DEPRECATED_UNTIL
    with pytest.warns(DeprecationWarning, match=rf"f\(a=\.\.\.\) is deprecated and refused from {until} on; use b="):
        assert validation.renamed_keyword("f", "a", "b", 7) == 7
    assert {u for _, u in params.ALIASES.values()} == {until}
    assert all(u == until for _, u in params.aliases(registry.get("fig1")).values())
    assert _version(__version__) < _version(until)
