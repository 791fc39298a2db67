"""Issue 23, item 1: nothing expands before it is estimated.

Every integer parameter of every experiment at 10⁹ and 10¹¹ through ``reproduce ID --dry-run --set name=value``
(the real CLI entry point), in one child process under an address-space limit: a run-away expansion fails the
test with a MemoryError instead of taking the machine down.  Each call answers -- refused with one ``error:``
line, or estimated -- and every parameter that scales the computation moves the estimate (or is refused
before it, by its range, the point count or the experiment's own check).  How fast they answer is measured by
benchmarks/bench_dry_run.py (BENCHMARKS.md), never asserted here.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import pytest

from spinglass_icl.experiments import params, registry
from spinglass_icl.models import architectures

LIMIT = 4 * 2**30  # address space of the child: torch and the catalog need < 2 GiB; a list of 10⁹ points does not fit
VALUES = (10**9, 10**11)
# integer parameters that do not scale the work beyond the quick run's at a large value, and why (matched by
# name or by the last part of a prefixed name: fla_batch_size, grad_chunk)
NOT_SCALING: dict[str, str] = {
    "chunk": "repeats or draws held at once: at most all of them, which the quick run already holds",
    "batch_size": "minibatch size: an epoch is one pass over the P prompts whatever its batches (capped at P)",
    "grad_chunk": "prompts per gradient chunk: memory only, at most the whole batch, which is already counted",
    "warmup": "epochs of learning-rate warm-up, part of the epochs already counted",
    "cg_from_D": "the D from which the solver goes matrix-free: a larger value keeps the (counted) dense solver",
    "T": "pool's task-pool sizes: those above P are left out of the sweep (a pool of more tasks than prompts)",
}

CHILD = r"""
import contextlib, io, json, sys, tempfile, time
from spinglass_icl.cli import main
from spinglass_icl.experiments import params, registry, runner
from spinglass_icl.validation import InputError

rows, out = [], tempfile.mkdtemp() + "/out"
for exp_id in registry.ids():
    exp = registry.get(exp_id)
    base = runner.estimate(exp_id)  # imports the experiment first: the calls below time the dry run alone
    for name in exp.full:
        if params.param_kind(name, exp.quick[name], exp.full[name], own=exp.rules)[0] != "int":
            continue
        try:  # the estimate at the top of the parameter's range, against the quick run's largest value
            q = exp.quick[name]
            ref = runner.estimate(exp_id, "quick", {name: max(q)}) if isinstance(q, list) else base
            top = params.param_rule(name, "int", q, exp.full[name], own=exp.rules).high
            tot = runner.estimate(exp_id, "quick", {name: int(top)})
            moved = [tot.peak.bytes / ref.peak.bytes, tot.seconds / ref.seconds]
        except InputError as exc:
            moved = str(exc)
        for value in json.loads(sys.argv[1]):
            err, std = io.StringIO(), io.StringIO()
            t0 = time.perf_counter()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
                try:
                    rc = main(["reproduce", exp_id, "--dry-run", "--out", out, "--set", f"{name}={value}"])
                except SystemExit as exc:
                    rc = exc.code
            seconds = time.perf_counter() - t0
            row = dict(exp=exp_id, name=name, value=value, rc=rc, err=err.getvalue(), out=std.getvalue())
            row["seconds"] = seconds
            rows.append(dict(row, moved=moved))
print(json.dumps(rows))
"""


def _named(name: str, message: str) -> bool:
    """Whether ``message`` names parameter ``name`` (a model's budget field may be named without its
    model prefix beside the model: ``fla warmup=...`` for fla_warmup)."""
    return name in message or name.split("_", 1)[-1] in message


def _limit() -> None:  # in the child, before it runs anything
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def dry_runs(values: tuple[int, ...] = VALUES) -> list[dict]:
    """Every experiment's every integer parameter at each of ``values``: a row per dry run (exit status,
    stderr, seconds, and the estimate's memory and CPU against the quick run's, or the refusal)."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(list(values))],
        capture_output=True,
        text=True,
        preexec_fn=_limit,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return dry_runs()


def test_every_integer_parameter_is_covered(rows):
    seen = {(r["exp"], r["name"]) for r in rows}
    for exp_id in registry.ids():
        exp = registry.get(exp_id)
        ints = [k for k in exp.full if params.param_kind(k, exp.quick[k], exp.full[k], own=exp.rules)[0] == "int"]
        assert ints and all((exp_id, k) in seen for k in ints), exp_id


def test_every_huge_integer_is_answered_refused_in_one_line_or_estimated(rows):
    for r in rows:
        err = r["err"].strip()
        assert r["rc"] in (0, 2), r
        assert "Traceback" not in err and "MemoryError" not in err, r
        if r["rc"] == 2:
            assert err.count("\n") == 0 and err.startswith("error: "), r
            assert _named(r["name"], err), r  # names the parameter to change
        else:  # a dry run's estimate is its result, on stdout
            assert r["out"].startswith("estimate: "), r


def _undrawn(r: dict) -> bool:
    """Whether ``r``'s parameter belongs to a registered architecture outside its experiment's default
    ``models`` (it has its parameters, but the default run does not train it, so they cannot move it)."""
    exp = registry.get(r["exp"])
    if "models" not in exp.quick:
        return False
    drawn = str(exp.quick["models"]).split(",")
    return any(r["name"].startswith(a.name + "_") and a.name not in drawn for a in architectures())


def test_every_scaling_parameter_moves_the_estimate(rows):
    for r in rows:
        if _undrawn(r):
            continue
        if isinstance(r["moved"], str):  # refused before the estimate (range, count, the experiment's check)
            assert r["rc"] == 2 and _named(r["name"], r["moved"]), r
            continue
        if any(r["name"] == k or r["name"].endswith("_" + k) for k in NOT_SCALING):
            continue
        bytes_ratio, seconds_ratio = r["moved"]
        assert max(bytes_ratio, seconds_ratio) > 1.01, r  # at the top of its range: more than the quick run


def test_every_integer_parameter_shows_an_upper_bound():
    for exp_id in registry.ids():
        exp = registry.get(exp_id)
        for row in params.table(exp):
            if row.kind.endswith("int"):
                assert "<=" in row.allowed, (exp_id, row)


@pytest.mark.parametrize("size", ["quick", "full"])
def test_the_count_is_the_number_of_points_or_an_upper_bound(size):
    from spinglass_icl.experiments import runner

    for exp_id in registry.ids():
        exp = registry.get(exp_id)
        params_ = runner.check_parameters(exp_id, size, None)
        n, made = exp.n_points(params_), len(exp.points(params_))
        assert made <= n <= runner.MAX_POINTS, (exp_id, n, made)
        if exp.count is not None:  # declared by arithmetic: exact
            assert n == made or exp_id == "diversity", (exp_id, n, made)  # diversity: M values may repeat


def test_a_sweep_of_too_many_points_is_refused_before_it_is_made(monkeypatch):
    import dataclasses

    from conftest import raises_one_line
    from spinglass_icl.experiments import runner

    exp, made = registry.get("fig1"), []
    lazy = dataclasses.replace(exp, points=lambda p: made.append(p) or exp.points(p))
    monkeypatch.setattr(registry, "get", lambda exp_id: lazy)
    msg = raises_one_line(runner.estimate, "fig1", "quick", {"draws": 10**6, "chunk": 1}, match="1,000,000 points")
    assert "draws=1000000" in msg and "a smaller draws or a larger chunk" in msg and not made
    assert runner.estimate("fig1", "quick", {"draws": 1000, "chunk": 10}).points == 100 and made
