"""The real commands: `spinglass-icl ...` as a subprocess, and main() in-process for the error paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from spinglass_icl.cli import main, parse_set
from spinglass_icl.validation import InputError


def cli(*args: str, check_rc: int | None = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "spinglass_icl", *args], capture_output=True, text=True, timeout=300)
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stderr
    return proc


def test_ground_state_json_all_solvers():
    base = ["ground-state", "--D", "4", "--N", "20", "--P", "300", "--lambda0", "0.01", "--json"]
    procs = {s: cli(*base, "--solver", s, check_rc=None) for s in ("exact", "cg", "amp", "amp-onsager")}
    outs = {s: json.loads(p.stdout) for s, p in procs.items()}
    for s, o in outs.items():
        assert procs[s].returncode == (0 if o["converged"] else 3), s  # exit 3: did not converge
        assert o["converged"] or len(procs[s].stderr.strip().splitlines()) == 1, s
        assert {"test_error", "contrast_ratio", "converged", "iterations", "seconds", "couplings_seconds"} <= set(o), s
    assert outs["exact"]["converged"] and outs["cg"]["converged"]
    assert outs["cg"]["test_error"] == pytest.approx(outs["exact"]["test_error"], rel=1e-8)
    assert 0 < outs["exact"]["test_error"] < 1.5


def test_ground_state_min_norm_at_lambda0_zero():
    o = json.loads(cli("ground-state", "--D", "3", "--N", "10", "--P", "5", "--lambda0", "0", "--json").stdout)
    assert o["converged"] and o["residual"] < 1e-8


def test_demo_json_and_files(tmp_path):
    out = tmp_path / "demo"  # --out is the parent folder: results in tmp_path/demo
    p = cli(
        "demo", "--out", str(tmp_path), "--json", "--set", "P=10,40,200", "--set", "repeats=2", "--set", "epochs=100"
    )
    rows = json.loads(p.stdout)
    assert [r["P"] for r in rows] == [10, 40, 200]
    assert rows[-1]["exact_test_error"] < rows[0]["exact_test_error"]
    for name in ("results.csv", "config.json", "demo.png", "demo.pdf"):
        assert (out / name).exists()


def test_demo_prints_a_table(tmp_path):
    p = cli("demo", "--out", str(tmp_path / "d"), "--set", "P=10,200", "--set", "repeats=2", "--set", "epochs=50")
    assert "ground state" in p.stdout and "Adam" in p.stdout and "200" in p.stdout


def test_list_reproduce_plot(tmp_path):
    listing = cli("list").stdout
    assert "demo" in listing
    cli(
        "reproduce",
        "demo",
        "--quick",
        "--out",
        str(tmp_path),
        "--set",
        "P=10,50",
        "--set",
        "repeats=2",
        "--set",
        "epochs=20",
        "--json",
    )
    (tmp_path / "demo" / "demo.png").unlink()
    cli("plot", "demo", "--out", str(tmp_path))
    assert (tmp_path / "demo" / "demo.png").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["ground-state", "--D", "0"], "D must be >= 1"),
        (["ground-state", "--P", "-3"], "P must be >= 1"),
        (["ground-state", "--lambda0", "-1"], "lambda0 must be >= 0"),
        (["ground-state", "--beta", "0"], "beta must be > 0"),
        (["ground-state", "--damping", "1"], "damping must be < 1"),
        (["ground-state", "--steps", "0"], "steps must be >= 1"),
        (["ground-state", "--lambda0", "nan"], "lambda0 must be finite"),
        (["ground-state", "--device", "tpu"], "unknown device"),
        (["reproduce", "fig99"], "unknown experiment"),
        (["reproduce", "demo", "--set", "oops"], "key=value"),
        (["reproduce", "demo", "--set", "bogus=1"], "no parameter"),
        (["plot", "demo", "--out", "/nonexistent/folder"], "no results"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_argparse_errors_exit_2_one_line():
    p = cli("ground-state", "--solver", "magic", check_rc=2)
    assert p.stderr.count("\n") == 1 and "error:" in p.stderr
    p = cli("ground-state", "--D", "abc", check_rc=2)
    assert "Traceback" not in p.stderr


def test_parse_set():
    # values stay text: the runner parses each against its parameter's type (validation.experiment_param)
    assert parse_set(["N=20,100", "lr=1e-3", "name=paper", "flag=true", "L=[1,2]", "E="]) == {
        "N": "20,100",
        "lr": "1e-3",
        "name": "paper",
        "flag": "true",
        "L": "[1,2]",
        "E": "",
    }
    with pytest.raises(InputError, match="key=value"):
        parse_set(["=3"])
    with pytest.raises(InputError, match="given twice"):
        parse_set(["D=5", "D=6"])


def test_ground_state_seconds_are_the_solver_time_and_couplings_are_separate():
    o = json.loads(cli("ground-state", "--D", "6", "--N", "20", "--P", "2000", "--json").stdout)
    assert o["solver"] == "exact-cholesky"  # P >= D(D+1): the primal form, whose couplings are prebuilt
    assert o["couplings_seconds"] > 0 and o["seconds"] > 0


# -- issue 19: output for people, --quiet, one meaning of --out, theory beside ground-state ----------

SMALL = ("--set", "repeats=2", "--set", "epochs=20", "--set", "D=3", "--set", "N=10")
TINY = ("--set", "P=10,60", *SMALL)


def test_summary_is_an_aligned_table():
    from spinglass_icl._table import summary

    text = summary({"n": 3, "ok": True, "P=10": {"x": [1, 10, 100], "err": [0.5, 0.25, None]}, "span": [0.1, 2.0]})
    assert text == [
        "n     3",
        "ok    yes",
        "span  0.1, 2",
        "P=10:",
        "    x   err",
        "    1   0.5",
        "   10  0.25",
        "  100     –",
    ]


def test_reproduce_prints_tables_not_dicts(tmp_path):
    p = cli("reproduce", "demo", "--out", str(tmp_path), *SMALL, "--set", "P=10,20,40,60")
    summary = p.stdout.splitlines()[1:]
    assert summary and not any(c in p.stdout for c in "{}[]'")
    header = next(line for line in summary if "exact_test_error" in line)
    row = summary[summary.index(header) + 1]
    assert header.split()[0] == "P" and len(row) == len(header)  # right-aligned numeric columns


def test_quiet_prints_only_the_paths(tmp_path):
    for args in (("demo",), ("reproduce", "demo")):
        p = cli(*args, "--out", str(tmp_path), *TINY, "--quiet")
        paths = p.stdout.splitlines()
        assert paths and all((tmp_path / "demo").samefile(Path(x).parent) for x in paths), p.stdout
        assert p.stderr == ""
    p = cli("plot", "demo", "--out", str(tmp_path), "--quiet")
    assert {Path(x).name for x in p.stdout.split()} == {"demo.png", "demo.pdf"} and p.stderr == ""
    p = cli("ground-state", "--D", "3", "--N", "10", "--P", "40", "--quiet")
    assert float(p.stdout) > 0 and p.stderr == ""
    cli("demo", "--quiet", "--json", check_rc=2)  # one or the other


def test_out_is_the_parent_folder_for_every_command_old_demo_form_deprecated(tmp_path):
    cli("demo", "--out", str(tmp_path), *TINY)
    assert (tmp_path / "demo" / "results.csv").exists()
    again = json.loads(cli("reproduce", "demo", "--out", str(tmp_path), *TINY, "--json").stdout)
    assert again["cached"] == again["points"] == 2  # the same folder: nothing recomputed
    assert cli("plot", "demo", "--out", str(tmp_path)).stdout.split()[0].startswith(str(tmp_path / "demo"))
    for command in (("demo",), ("reproduce", "demo"), ("plot", "demo")):  # the old form: the folder itself
        p = cli(*command, "--out", str(tmp_path / "demo"), *(TINY if command[0] != "plot" else ()))
        assert "deprecated" in p.stderr and f"--out {tmp_path}" in p.stderr
        assert not (tmp_path / "demo" / "demo").exists()
    assert "parent folder" in cli("demo", "--help").stdout and "parent folder" in cli("plot", "--help").stdout


def _api_ground_state(D: int, N: int, P: int, seed: int, noise: float = 0.0, pool: int | None = None):
    """The CLI's ground-state computed through the public API: the solution and the pool's tasks."""
    import numpy as np

    from spinglass_icl.prompts import PromptSpec, sample_features
    from spinglass_icl.solvers import solve_exact
    from spinglass_icl.spinglass import SpinGlass

    rng = np.random.default_rng(seed)
    train, tasks, _ = sample_features(PromptSpec(D=D, N=N, noise=noise, task_pool=pool), P, rng, return_tasks=True)
    return solve_exact(SpinGlass(train, 0.01)).mean, tasks


def test_ground_state_prints_the_theory_beside_the_measured_error():
    from spinglass_icl.theory import icl_error_theory, population_error

    o = json.loads(cli("ground-state", "--D", "3", "--N", "10", "--P", "200", "--json").stdout)
    W, _ = _api_ground_state(3, 10, 200, 0)
    assert o["population_error"] == pytest.approx(float(population_error(W, 3, 10)), rel=1e-10)
    assert o["theory_asymptotic"] == pytest.approx(float(icl_error_theory(3, 10, 200)), rel=1e-12)
    assert o["population_error_pool"] is None
    text = cli("ground-state", "--D", "3", "--N", "10", "--P", "200").stdout
    for needle in ("measured on 1000 test prompts", "population error of the solution", "Lu et al. asymptotic"):
        assert needle in text
    assert f"{o['population_error']:.6g}" in text and f"{o['theory_asymptotic']:.6g}" in text


def test_ground_state_noise_and_pool():
    from spinglass_icl.theory import icl_error_theory, population_error

    args = ("--D", "3", "--N", "10", "--P", "200", "--noise", "0.3", "--pool", "4", "--test-prompts", "40000")
    o = json.loads(cli("ground-state", *args, "--json").stdout)
    W, tasks = _api_ground_state(3, 10, 200, 0, noise=0.3, pool=4)
    assert tasks.shape == (4, 3)
    assert o["population_error"] == pytest.approx(float(population_error(W, 3, 10, 0.3)), rel=1e-10)
    assert o["population_error_pool"] == pytest.approx(float(population_error(W, 3, 10, 0.3, tasks)), rel=1e-10)
    assert o["population_error_pool"] < o["population_error"]  # four tasks: memorised, not learned in context
    assert o["test_error"] == pytest.approx(o["population_error"], rel=0.05)  # 40000 fresh-task test prompts
    assert o["theory_asymptotic"] == pytest.approx(float(icl_error_theory(3, 10, 200, 0.3, 4)), rel=1e-12)
    assert "pool tasks" in cli("ground-state", *args).stdout


@pytest.mark.parametrize(
    "args",
    [
        ["reproduce", "demo", "--set", "D=-3"],
        ["reproduce", "fig4b", "--set", "N=abc"],
        ["reproduce", "pool", "--set", "bogus=1"],
        ["demo", "--set", "repeats=0"],
        ["reproduce", "temperature", "--full", "--set", "P=1.5"],
        ["reproduce", "figS8", "--set", "D=0"],
        ["reproduce", "diversity", "--set", "tf_epochs=-1"],
        ["reproduce", "diversity", "--full", "--set", "lintf_layers=100000"],
    ],
)
def test_a_refused_set_loads_neither_torch_nor_matplotlib(args):
    """A bad --set is answered before the heavy imports (that is what makes it fast)."""
    code = (
        "import sys\nfrom spinglass_icl.cli import main\n"
        f"rc = main({args!r})\n"
        "print('RC', rc, 'HEAVY', sorted(m for m in ('torch', 'matplotlib', 'scipy') if m in sys.modules))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "RC 2 HEAVY []" in p.stdout, p.stdout + p.stderr[-1000:]
    assert p.stderr.startswith("error: ") and p.stderr.count("\n") == 1


def test_catalog_and_cli_import_neither_torch_nor_matplotlib():
    """Every catalog module, its parameters (figS8's and diversity's from the model registry) and the CLI
    import cheaply: torch, matplotlib and scipy only when a point computes or a figure is drawn.  That is
    what lets the CLI check ``--set`` on the experiment's own module."""
    code = (
        "import sys\nimport spinglass_icl.cli\nfrom spinglass_icl.experiments import registry\n"
        "for i in registry.ids():\n"
        "    e = registry.get(i)\n"
        "    assert e.id == i and dict(e.quick) and dict(e.full) is not None and dict(e.rules or {}) is not None\n"
        "heavy = sorted(m for m in ('torch', 'matplotlib', 'scipy') if m in sys.modules)\n"
        "print('N', len(registry.ids()), 'HEAVY', heavy)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in p.stdout, p.stdout + p.stderr[-2000:]
    assert int(p.stdout.split()[1]) >= 19


def test_output_piped_into_head_ends_without_a_traceback():
    import os

    read, write = os.pipe()
    os.close(read)  # a reader that has gone (`| head` after its line): every write fails with EPIPE
    try:
        p = subprocess.run(
            [sys.executable, "-m", "spinglass_icl", "params", "demo"], stdout=write, stderr=subprocess.PIPE
        )
    finally:
        os.close(write)
    assert p.returncode == 141 and p.stderr == b"", p.stderr.decode()[-500:]
