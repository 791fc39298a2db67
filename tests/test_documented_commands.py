"""Issue 25, item 1: every command the documentation shows is run, so a page cannot drift from the CLI.

The commands are collected by :mod:`doc_commands` (its docstring states where they are read and how each is
run: ``reproduce``/``demo`` with ``--dry-run``, ``plot`` for real, placeholders filled in); they run in one
subprocess (one import of the package, about half a minute on the 2-core machine), each in a fresh temporary
folder.  A failure names the page and line of the command and the CLI's answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict

import pytest

import doc_commands

ROOT = doc_commands.ROOT


@pytest.fixture(scope="module")
def collected():
    return doc_commands.collect()


@pytest.fixture(scope="module")
def outcomes(collected, tmp_path_factory):
    commands, _ = collected
    folder = tmp_path_factory.mktemp("doc-commands")
    (folder / "in.json").write_text(json.dumps([asdict(c) for c in commands]))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    }
    env.pop("SPINGLASS_ICL_PLUGINS", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "doc_commands.py"), str(folder / "in.json"), str(folder / "out.json")],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return list(zip(commands, (doc_commands.Outcome(**o) for o in json.loads((folder / "out.json").read_text()))))


def test_the_collector_finds_the_documented_commands(collected):
    """The collector cannot silently find nothing: the pages' known commands are among those it runs."""
    commands, targets = collected
    texts = {(c.page, c.text) for c in commands}
    assert len(commands) > 80
    assert ("README.md", "spinglass-icl reproduce fig4b --quick") in texts
    assert (
        "docs/howto/own_architecture.md",
        "spinglass-icl --plugin scaled_identity reproduce figS8 --quick --set models=sla,scaled-identity",
    ) in texts
    assert any(c.page.startswith("gallery/") and c.mode == "plot" for c in commands)
    assert any(c.page.startswith("`spinglass-icl reproduce --help`") for c in commands)
    assert {t for _, _, t in targets} >= {"demo", "test", "docs", "gallery"}
    modes = {c.mode for c in commands}
    assert modes == {"run", "quick", "dry-run", "plot", "parse"}
    assert all(c.plugin_source for c in commands if "scaled_identity" in c.argv)


def test_every_documented_command_is_accepted(outcomes):
    refused = []
    for cmd, got in outcomes:
        if cmd.mode == "plot" and got.code == 2 and got.error.startswith("error: no results for"):
            out = cmd.argv[cmd.argv.index("--out") + 1] if "--out" in cmd.argv else "results"
            if f"--out {out}" in got.error:  # accepted; the test's fresh folder has no results to draw
                continue
        if got.code != 0:
            refused.append(f"{cmd.where}: `{cmd.text}` -> exit {got.code}: {got.error}")
        refused += [f"{cmd.where}: `{cmd.text}` uses an old name: {note}" for note in got.notes]
    assert not refused, "\n".join(refused)


def test_a_documented_plot_draws(outcomes):
    """REPRODUCTION.md's `cp -r docs/data/asymptotics-full run/asymptotics && spinglass-icl plot ...` draws."""
    drawn = [got for cmd, got in outcomes if cmd.mode == "plot" and cmd.copy is not None]
    assert drawn and all(got.code == 0 and got.stdout.strip().endswith(".pdf") for got in drawn)


def test_every_documented_make_target_exists(collected):
    """``make X`` on any page names a Makefile target (checked, not run: test and docs take minutes)."""
    _, targets = collected
    known = doc_commands.makefile_targets()
    assert [f"{page}:{line}: make {t}" for page, line, t in targets if t not in known] == []


def test_every_documented_set_key_is_a_parameter_by_its_current_name():
    """``--set KEY=`` anywhere on the pages (tables too) names a parameter of some experiment by today's name."""
    from spinglass_icl.experiments import params, registry

    known = {key for i in registry.ids() for key in registry.get(i).quick}
    old = {key for i in registry.ids() for key in params.aliases(registry.get(i))}
    found = [
        k
        for page in doc_commands._pages()
        for k in doc_commands.set_keys_in(str(page.relative_to(ROOT)), page.read_text(encoding="utf-8"))
        if k[2] != "KEY"  # the placeholder of `--set KEY=VALUE`
    ]
    assert len(found) > 10
    assert [
        f"{p}:{n}: --set {k}= ({'an old name' if k in old else 'unknown'})" for p, n, k in found if k not in known
    ] == []
