"""The real commands: `spinglass-icl ...` as a subprocess, and main() in-process for the error paths."""

from __future__ import annotations

import json
import subprocess
import sys

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
    out = tmp_path / "demo"
    p = cli("demo", "--out", str(out), "--json", "--set", "P=10,40,200", "--set", "repeats=2", "--set", "epochs=100")
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
