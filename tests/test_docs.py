"""The documentation and the citable package: the how-to pages' examples run as written, the gallery and
the API reference cover the catalog and the public API, links into the theory page resolve, and LICENSE,
CITATION.cff, CHANGELOG.md and the version agree.  (The site itself is built by ``make docs``.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import spinglass_icl
from spinglass_icl.experiments import registry

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _code_blocks(page: Path, language: str = "python") -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", page.read_text(encoding="utf-8"), re.S)


def _module_name(test_code: str) -> str:
    """The plugin module a how-to test imports (its first ``import x  # noqa`` line)."""
    found = re.search(r"^import (\w+)  # noqa: F401", test_code, re.M)
    assert found, "the how-to test must import the module it tests"
    return found.group(1)


@pytest.mark.parametrize("page", ["own_experiment.md", "own_architecture.md"])
def test_howto_example_runs_as_written(page, tmp_path):
    """Copy the page's module and test into a fresh folder and run the test there, as a reader would."""
    module, test = _code_blocks(DOCS / "howto" / page)
    (tmp_path / f"{_module_name(test)}.py").write_text(module)
    (tmp_path / "test_example.py").write_text(test)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT / "src")]), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_example.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 passed" in done.stdout


def test_front_page_example_runs(tmp_path):
    (block,) = _code_blocks(DOCS / "index.md")
    (tmp_path / "example.py").write_text(block)
    done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("test error") == 3


@pytest.fixture(scope="module")
def pages():
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import gallery_pages
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    return gallery_pages


def test_gallery_has_a_page_for_every_experiment(pages, tmp_path):
    ids = pages.write_gallery(tmp_path, DOCS / "figures", ROOT / "REPRODUCTION.md")
    assert ids == registry.ids() and len(ids) >= 18
    index = (tmp_path / "index.md").read_text()
    for exp_id in ids:
        text = (tmp_path / f"{exp_id}.md").read_text()
        exp = registry.get(exp_id)
        assert text.startswith(f"# {exp_id}: {exp.title}")
        assert f"spinglass-icl reproduce {exp_id} --quick" in text and f"reproduce {exp_id} --full" in text
        for key in exp.full:  # the parameter table
            assert f"| `{key}` | " in text
        for column in exp.columns or {}:  # the results.csv columns
            assert f"| `{column}` | result |" in text or f"| `{column}` | parameter |" in text
        if (DOCS / "figures" / f"{exp_id}.png").exists():
            assert f"../figures/{exp_id}.png" in text
        assert f"[{exp_id}]({exp_id}.md)" in index


def test_gallery_quotes_the_reproduction_table(pages):
    table = pages.reproduction_table(ROOT / "REPRODUCTION.md")
    assert {"fig1", "fig4b", "figS8"} <= set(table)
    assert "key result of the full run" in table["fig4b"] and table["fig4b"]["matches the paper?"]


def test_api_reference_lists_the_whole_public_api(pages, tmp_path):
    names = [n for n in spinglass_icl.__all__ if n != "__version__"]
    pages.write_api_index(tmp_path / "index.rst", names)
    listed = re.findall(r"^   (\w+)$", (tmp_path / "index.rst").read_text(), re.M)
    assert listed == names
    for name in names:  # every name resolves, so autosummary can document it
        assert getattr(spinglass_icl, name) is not None


def test_module_reference_documents_every_module_and_references_must_resolve(tmp_path):
    """Every public module has a page of its own (so every docstring is rendered), the flat API's classes are
    documented once (on their flat page), and the build is nitpicky: a cross-reference that rots fails it."""
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import module_pages
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    module_pages.write_module_pages(tmp_path)
    names = module_pages.module_names()
    assert {"spinglass_icl.spinglass", "spinglass_icl.experiments.histograms", "spinglass_icl.cli"} <= set(names)
    assert not any(part.startswith("_") for n in names for part in n.split("."))
    assert {p.stem for p in tmp_path.glob("*.rst")} == {*names, "index"}
    page = (tmp_path / "spinglass_icl.spinglass.rst").read_text()
    assert ".. automodule:: spinglass_icl.spinglass" in page and "SpinGlass" in page.split(":exclude-members:")[1]
    conf = (DOCS / "conf.py").read_text()
    assert re.search(r"^nitpicky = True$", conf, re.M)


def test_cli_reference_has_every_command(pages):
    helps = pages.cli_help()
    assert {"", "demo", "ground-state", "list", "params", "columns", "reproduce", "plot"} <= set(helps)
    assert all(text.startswith("usage: spinglass-icl") for text in helps.values())


def _slug(heading: str) -> str:
    """GitHub's (and MyST's ``myst_heading_anchors``) anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_links_into_the_theory_page_resolve():
    anchors = {_slug(h) for h in re.findall(r"^#{1,3} (.+)$", (DOCS / "theory.md").read_text(), re.M)}
    linked = []
    for path in [ROOT / "README.md", ROOT / "REPRODUCTION.md"]:
        linked += re.findall(r"\]\((?:\.\./)?docs/theory\.md#([\w-]+)\)", path.read_text(encoding="utf-8"))
    assert linked, "REPRODUCTION.md points to the theory page"
    assert sorted(set(linked) - anchors) == []


def test_no_reference_to_the_unshipped_spec():
    """The specification is not shipped: README, REPRODUCTION.md and docstrings link the theory page."""
    offenders = []
    for path in [ROOT / "README.md", ROOT / "REPRODUCTION.md", *sorted((ROOT / "src").rglob("*.py"))]:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "SPEC §" in line or "SPEC's" in line:
                offenders.append(f"{path.relative_to(ROOT)}:{n}")
    assert offenders == []


# -- a package people can cite ----------------------------------------------------------------------------


def test_version_is_one_number_everywhere():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    # pyproject reads the one version of the package (spinglass_icl._version)
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "spinglass_icl._version.__version__"}
    version = spinglass_icl.__version__
    assert version == "0.2.0"
    out = subprocess.run(
        [sys.executable, "-m", "spinglass_icl", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == f"spinglass-icl {version}"
    assert re.search(rf"^version: {re.escape(version)}$", (ROOT / "CITATION.cff").read_text(), re.M)
    assert f"## [{version}]" in (ROOT / "CHANGELOG.md").read_text()


def test_license_is_mit():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the spinglass-icl developers")
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"] == {"text": "MIT"}


def test_changelog_follows_keep_a_changelog():
    text = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", text, re.M)
    assert releases[:2] == ["0.2.0", "0.1.0"]
    assert "keepachangelog.com" in text
    for section in ("### Added", "### Changed"):
        assert section in text


def test_citation_cff_is_valid():
    cffconvert = pytest.importorskip("cffconvert", reason="cffconvert comes with the docs extra")
    from cffconvert.cli.create_citation import create_citation

    citation = create_citation(str(ROOT / "CITATION.cff"), None)
    citation.validate()  # raises on an invalid file
    assert cffconvert is not None
    data = citation.cffobj
    assert data["preferred-citation"]["title"] == "Spin glass model of in-context learning"
    assert any(i["value"] == "arXiv:2408.02288" for i in data["preferred-citation"]["identifiers"])
    assert data["license"] == "MIT"


# -- issue 25: the slips, each pinned -----------------------------------------------------------------------


def _toctree_pages() -> set[str]:
    pages = set()
    for path in DOCS.rglob("*.md"):
        for block in re.findall(r"```\{toctree\}\n(.*?)```", path.read_text(encoding="utf-8"), re.S):
            base = path.parent.relative_to(DOCS)
            pages |= {str(base / line.strip()) for line in block.splitlines() if line.strip() and ":" not in line}
    return {p.removeprefix("./") for p in pages}


def test_every_docs_page_the_readme_links_is_a_page_of_the_site():
    """README's links into docs/ land on pages of the built site (in a toctree, not excluded)."""
    linked = re.findall(r"\]\(docs/([\w/]+)\.md", (ROOT / "README.md").read_text(encoding="utf-8"))
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    excluded = re.search(r"^exclude_patterns = \[(.*?)\]", conf, re.M | re.S).group(1)
    assert "architecture" in linked
    for page in linked:
        assert f'"{page}.md"' not in excluded, page
        assert page in _toctree_pages() | {"index"}, page


_MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:work|home|Users|root|mnt|scratch|srv|private)/\w")


def test_no_tracked_file_names_a_path_of_a_machine():
    """No absolute path of a development machine in any tracked text file (REPRODUCTION.md named run folders so)."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    offenders = []
    for name in files:
        try:
            text = (ROOT / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue  # binary files (figures, stores)
        offenders += [f"{name}:{n}" for n, line in enumerate(text.splitlines(), 1) if _MACHINE_PATH.search(line)]
    assert offenders == []


def test_gallery_descriptions_start_with_a_whole_sentence(pages):
    """The description is the catalog module's docstring without its title paragraph (diversity's was cut)."""
    for exp_id in registry.ids():
        body = pages._description(pages.declaring_module(exp_id)).lstrip()
        assert body and not body[0].islower(), (exp_id, body[:80])
    assert pages._description(pages.declaring_module("diversity")).startswith("Raventós, Paul, Chen, Ganguli")


def test_quick_help_states_the_measured_times():
    from spinglass_icl import cli

    timings = json.loads((DOCS / "figures" / "gallery.json").read_text(encoding="utf-8"))
    seconds = [t["seconds"] for t in timings.values()]
    assert f"{min(seconds):.0f}-{max(seconds):.0f} s" in cli.QUICK_TIME
    assert cli.QUICK_TIME in " ".join(pages_help()["reproduce"].split())


def pages_help() -> dict[str, str]:
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import gallery_pages
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    return gallery_pages.cli_help()


def test_dry_run_prints_its_estimate_once(capsys, tmp_path):
    from spinglass_icl import cli

    assert cli.main(["reproduce", "fig1", "--dry-run", "--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert (out + err).count("estimate:") == 1 and out.startswith("estimate:")


def test_plot_hint_repeats_the_users_out(capsys, tmp_path):
    from spinglass_icl import cli

    folder = tmp_path / "elsewhere"
    assert cli.main(["plot", "fig1", "--out", str(folder)]) == 2
    assert f"`spinglass-icl reproduce fig1 --out {folder}`" in capsys.readouterr().err


def test_python_errors_name_python_arguments(tmp_path, capsys):
    from spinglass_icl import cli
    from spinglass_icl.validation import InputError

    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(InputError) as info:
        spinglass_icl.run("fig1", out=a_file, progress=False)
    assert "out=" in str(info.value) and "--" not in str(info.value)
    assert cli.main(["reproduce", "fig1", "--out", str(a_file)]) == 2
    assert "choose another --out" in capsys.readouterr().err


def test_params_shows_every_bound_it_enforces(capsys):
    from spinglass_icl import cli
    from spinglass_icl.experiments import params

    exp = registry.get("fig1")
    assert cli.main(["params", "fig1"]) == 0
    out = capsys.readouterr().out
    assert f"int >= 1 and <= {params.SHARED['D'].high:g}" in out
    for row in params.table(exp):  # the gallery's table too: every integer shows its upper bound
        assert row.kind != "int" or "<=" in row.allowed, row


def test_stacked_model_is_in_the_api_reference():
    assert "StackedModel" in spinglass_icl.__all__ and spinglass_icl.StackedModel.__name__ == "StackedModel"


def test_conventions_box_on_the_theory_page_and_where_noise_or_literature(pages, tmp_path):
    box = pages.conventions_box(DOCS / "theory.md")
    for needed in ("standard deviation", "Garg", "Raventós", "Lu et al.", r"\sigma_R/\sqrt D", r"D \times"):
        assert needed in box, needed
    pages.write_gallery(tmp_path, DOCS / "figures", ROOT / "REPRODUCTION.md")
    shown = {i for i in registry.ids() if box in (tmp_path / f"{i}.md").read_text(encoding="utf-8")}
    with_noise = {i for i in registry.ids() if "noise" in registry.get(i).quick}
    assert with_noise <= shown and {"diversity", "asymptotics"} <= shown and "fig1" not in shown


def test_gallery_shows_every_shipped_run_with_its_label(pages, tmp_path):
    """Every docs/data/ID-full and ID-LABEL-full folder is on its experiment's page with its figure (or the
    note that the top figure is its own) and its command; diversity's runs are labelled with their noise and
    their noise-to-signal ratio relative to Raventós et al.'s."""
    pages.write_gallery(tmp_path, DOCS / "figures", ROOT / "REPRODUCTION.md")
    folders = [p.parent for p in sorted((DOCS / "data").glob("*/config.json"))]
    assert any(f.name == "diversity-sigma0.5-full" for f in folders)
    for folder in folders:
        exp_id = json.loads((folder / "config.json").read_text())["experiment"]
        text = (tmp_path / f"{exp_id}.md").read_text(encoding="utf-8")
        assert f"### {folder.name}" in text and f"results in `docs/data/{folder.name}/`" in text
        assert f"../data/{folder.name}/{exp_id}.png" in text or "Its figure is the one at the top" in text
    text = (tmp_path / "diversity.md").read_text(encoding="utf-8")
    assert "σ = 0.5 (noise-to-signal ratio σ² = 0.25, 8× Raventós et al.'s 0.25/D = 0.03125)" in text
    assert "--set noise=0.5" in text
    for name, cols in pages.declaring_module("diversity").EXPORTS.items():  # the export's tables and columns
        assert f"### {name}" in text and all(f"| `{c}` | " in text for c in cols)


def test_gallery_pages_define_every_summary_key(pages, tmp_path):
    pages.write_gallery(tmp_path, DOCS / "figures", ROOT / "REPRODUCTION.md")
    for exp_id in registry.ids():
        exp = registry.get(exp_id)
        text = (tmp_path / f"{exp_id}.md").read_text(encoding="utf-8")
        assert exp.summary_keys, f"{exp_id} declares no summary keys"
        for key in exp.summary_keys:
            assert f"| `{key}` | " in text, (exp_id, key)
