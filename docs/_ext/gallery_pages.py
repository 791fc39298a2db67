"""Sources of the documentation that are generated at every build, never edited by hand.

* the API index: one autosummary entry per name of ``spinglass_icl.__all__``;
* the experiment gallery: one page per ``spinglass_icl.experiments.registry.ids()``, with the
  experiment's description (its catalog module's docstring), the parameter table that
  ``spinglass-icl params ID`` prints, the quick and full commands, the figure from docs/figures, the
  measured wall times (docs/figures/gallery.json, REPRODUCTION.md's table), the full run's key result
  against the paper (REPRODUCTION.md's table), the shipped full runs (docs/data/ID-full and
  docs/data/ID-LABEL-full, each with its figure and label) and the results.csv columns
  (``Experiment.columns``, the table ``spinglass-icl columns ID`` prints).

Files are rewritten only when their text changes, so Sphinx's incremental builds stay incremental.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

THEORY = Path(__file__).resolve().parents[1] / "theory.md"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def escape_bars(lines: list[str]) -> list[str]:
    """Docstring lines with ``|`` escaped outside inline literals and ``::`` literal blocks.

    The package writes norms as |x| and conditionals as E[a|w] in plain text; reStructuredText would read
    ``|...|`` as a substitution reference.  Literal text keeps its bars as they are."""
    out: list[str] = []
    literal_indent: int | None = None
    for line in lines:
        indent = len(line) - len(line.lstrip())
        if literal_indent is not None and line.strip() and indent <= literal_indent:
            literal_indent = None
        if literal_indent is None:
            parts = line.split("``")
            parts[::2] = [part.replace("|", "\\|") for part in parts[::2]]  # outside ``...`` only
            out.append("``".join(parts))
            if line.rstrip().endswith("::"):
                literal_indent = indent
        else:
            out.append(line)
    return out


_THEORY = re.compile(r"docs/theory\.md#([\w-]+)")


def link_theory(lines: list[str], root: str) -> list[str]:
    """Docstring pointers ``docs/theory.md#anchor`` as reStructuredText links to the theory page, which is
    ``root`` + ``theory.html`` from the page the docstring is rendered on."""
    return [_THEORY.sub(rf"`theory: \1 <{root}theory.html#\1>`__", line) for line in lines]


def write_api_index(path: Path, names: list[str]) -> None:
    """The API reference page: the flat public API, generated from ``spinglass_icl.__all__``."""
    entries = "\n".join(f"   {n}" for n in names)
    _write(
        path,
        f"""API reference
=============

The flat public API: ``import spinglass_icl as sgi`` gives every name below (imported lazily, on first
use).  This list is generated from ``spinglass_icl.__all__`` at every build; each page from the
docstrings.  Shapes are written as tuples, e.g. ``(R, P, D+1)``: repeats R, prompts P, token dimension
D.  See also the :doc:`../theory` page for the formulas behind each function.

.. currentmodule:: spinglass_icl

.. autosummary::
   :toctree: generated
   :nosignatures:

{entries}
""",
    )


# -- gallery ---------------------------------------------------------------------------------------------


def cli_help() -> dict[str, str]:
    """{command: its ``--help`` text}, for ``spinglass-icl`` itself (key "") and every subcommand."""
    from spinglass_icl import cli

    parser = cli.build_parser()
    out = {"": parser.format_help()}
    for action in parser._subparsers._group_actions if parser._subparsers else []:  # argparse keeps them here
        for name, sub in getattr(action, "choices", {}).items():
            out[name] = sub.format_help()
    return out


def write_cli_page(path: Path) -> None:
    """The command-line reference: every command's ``--help``, as the installed CLI prints it."""
    parts = [
        "# Command line\n",
        "`spinglass-icl COMMAND --help` prints each of these; they are generated from the CLI itself at every",
        "build. Bad input always ends with one `error: ...` line and exit code 2.\n",
    ]
    for name, text in cli_help().items():
        parts.append(f"## spinglass-icl {name}\n".replace(" \n", "\n") if name else "## spinglass-icl\n")
        parts.append(f"```text\n{text.rstrip()}\n```\n")
    _write(path, "\n".join(parts))


def reproduction_table(path: Path) -> dict[str, dict[str, str]]:
    """{id: {column header: cell}} from the first table of REPRODUCTION.md whose first header is ``id``."""
    rows: dict[str, dict[str, str]] = {}
    if not path.exists():
        return rows
    header: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            if header is not None and rows:
                break
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells if cells and cells[0] == "id" else None
        elif not set(cells[0]) <= set("-: "):
            rows[cells[0]] = dict(zip(header, cells))
    return rows


def _md_cell(text: str) -> str:
    """``text`` as one Markdown table cell of a gallery page (links from the repository root re-rooted)."""
    return text.replace("|", "\\|").replace("\n", " ").replace("](docs/", "](../")


def columns_table(exp: Any) -> str:
    """A Markdown table of an experiment's results.csv columns (what ``spinglass-icl columns ID`` prints)."""
    from spinglass_icl.experiments import columns

    lines = ["| column | kind | meaning [unit] |", "|---|---|---|"]
    lines += [f"| `{name}` | {kind} | {_md_cell(meaning)} |" for name, kind, meaning in columns.table(exp)]
    if not exp.columns:
        lines.append("\n*This experiment declares no result columns yet (`Experiment.columns`).*")
    return "\n".join(lines)


def params_table(exp: Any) -> str:
    """A Markdown table of an experiment's parameters (what ``spinglass-icl params ID`` prints)."""
    from spinglass_icl.experiments import params

    lines = ["| parameter | type | quick | full | allowed | meaning |", "|---|---|---|---|---|---|"]
    lines += [
        f"| `{r.name}` | {_md_cell(r.kind)} | `{_md_cell(r.quick)}` | `{_md_cell(r.full)}` | {_md_cell(r.allowed)} "
        f"| {_md_cell(r.meaning)} |"
        for r in params.table(exp)
    ]
    return "\n".join(lines)


def _description(module: Any) -> str:
    """The catalog module's docstring as reStructuredText without its first paragraph (the title, which may
    run over several lines: the page shows the experiment's title instead)."""
    doc = (module.__doc__ or "").strip()
    body = doc.split("\n\n", 1)[1].strip() if "\n\n" in doc else ""
    return "\n".join(link_theory(escape_bars(body.splitlines()), "../"))


def declaring_module(exp_id: str) -> Any:
    """The module that declares experiment ``exp_id``: its catalog module, else (a plugin) the module of its
    ``compute`` -- not a helper module the catalog entry borrows ``compute`` from."""
    from spinglass_icl.experiments import registry

    try:
        return importlib.import_module(f"spinglass_icl.experiments.catalog.{exp_id}")
    except ModuleNotFoundError:
        return importlib.import_module(registry.get(exp_id).compute.__module__)


def _timing(exp_id: str, timings: dict[str, Any], repro: dict[str, str]) -> str:
    lines = []
    t = timings.get(exp_id)
    if t:
        when = f" on {t['date']}" if t.get("date") else ""
        # older entries name only the architecture: the project's shared 2-core development machine
        machine = t["machine"] if "core" in str(t.get("machine", "")) else "the shared 2-core CPU machine"
        lines.append(
            f"- quick: **{t['seconds']} s** wall for {t.get('computed', '?')} points (`make gallery`{when}, "
            f"{machine}, 1 worker)"
        )
    if repro.get("full (wall)"):
        lines.append(f"- full: {_md_cell(repro['full (wall)'])} (REPRODUCTION.md)")
    return "\n".join(lines) or "- not measured yet"


def _quick_time(exp_id: str, timings: dict[str, Any]) -> str:
    seconds = timings.get(exp_id, {}).get("seconds")
    return f"about {seconds:.0f} s on 2 CPU cores (measured)" if seconds else "small sizes"


_LITERATURE = ("Garg", "Raventós", "Lu et al", "Lu, Letey")


def conventions_box(theory: Path) -> str:
    """The conventions box of the theory page (between its ``<!-- conventions`` markers), written once there."""
    text = theory.read_text(encoding="utf-8") if theory.exists() else ""
    found = re.search(r"<!-- conventions[^>]*-->\n(.*?)<!-- /conventions -->", text, re.S)
    return found.group(1).strip() if found else ""


def needs_conventions(exp: Any, module: Any) -> bool:
    """Whether an experiment's page shows the conventions box: it has label noise, or it compares with the
    literature (Garg, Raventós, Lu et al.: its description, columns or summary keys cite them)."""
    cited = " ".join([module.__doc__ or "", *(exp.columns or {}).values(), *(exp.summary_keys or {}).values()])
    return "noise" in exp.quick or any(name in cited for name in _LITERATURE)


def exports_section(module: Any) -> str:
    """The tables an experiment's export writes beside results.csv (its catalog module's ``EXPORTS``:
    {file: {column: meaning}}), one Markdown table each; empty if it declares none."""
    exports = getattr(module, "EXPORTS", None) or {}
    parts = []
    for name, cols in exports.items():
        rows = "\n".join(f"| `{c}` | {_md_cell(m)} |" for c, m in cols.items())
        parts.append(f"### {name}\n\n| column | meaning [unit] |\n|---|---|\n{rows}\n")
    if not parts:
        return ""
    head = "## Exported tables\n\nWritten beside results.csv by every run, rewritten by `plot` from stored points.\n"
    return "\n".join([head, *parts])


def summary_table(exp: Any) -> str:
    """A Markdown table of the summary keys ``reproduce`` prints (``Experiment.summary_keys``)."""
    if not exp.summary_keys:
        return "*This experiment declares no summary keys yet (`Experiment.summary_keys`).*"
    lines = ["| key | meaning [unit] |", "|---|---|"]
    lines += [f"| `{key}` | {_md_cell(meaning)} |" for key, meaning in exp.summary_keys.items()]
    return "\n".join(lines)


def shipped_runs(exp_id: str, data: Path) -> list[Path]:
    """The shipped full runs of an experiment: the folders docs/data/ID-full and docs/data/ID-LABEL-full
    (e.g. diversity-sigma0.5-full) whose config.json names it, the plain one first."""
    found = [data / f"{exp_id}-full"] + sorted(data.glob(f"{exp_id}-*-full"))
    out = []
    for folder in found:
        config = folder / "config.json"
        if config.exists() and json.loads(config.read_text(encoding="utf-8")).get("experiment") == exp_id:
            out.append(folder)
    return out


def run_label(module: Any, config: dict[str, Any]) -> str:
    """A shipped run's label: the catalog module's ``run_label(params)`` if it has one, else its data sizes;
    then the command that made it (its overrides as ``--set``)."""
    params = config.get("params", {})
    label = module.run_label(params) if hasattr(module, "run_label") else ""
    if not label:
        sizes = [f"{k} = {params[k]}" for k in ("D", "N", "noise") if not isinstance(params.get(k, []), list)]
        label = ", ".join(sizes) or "full size"
    sets = "".join(f" --set {k}={v}" for k, v in (config.get("overrides") or {}).items())
    return f"{label} (`spinglass-icl reproduce {config.get('experiment')} --full{sets}`)"


def shipped_section(exp_id: str, module: Any, figures: Path) -> str:
    """The page's section on the shipped full runs: per run its label and figure (a figure already at the
    top of the page is not repeated)."""
    data = figures.parent / "data"
    runs = shipped_runs(exp_id, data)
    if not runs:
        return ""
    top = figures / f"{exp_id}.png"
    parts = ["## Shipped full runs\n"]
    for folder in runs:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        where = f"docs/data/{folder.name}"
        parts.append(f"### {folder.name}\n\n{_md_cell(run_label(module, config))}; results in `{where}/`.\n")
        fig = folder / f"{exp_id}.png"
        if top.exists() and fig.exists() and fig.read_bytes() == top.read_bytes():
            parts.append("Its figure is the one at the top of this page.\n")
        elif fig.exists():
            parts.append(f"```{{image}} ../data/{folder.name}/{exp_id}.png\n:alt: {folder.name}\n:width: 100%\n```\n")
    return "\n".join(parts)


def figure_caption(exp_id: str, module: Any, figures: Path) -> str:
    """The caption of the page's top figure: the quick run's, or the shipped full run's it is a copy of."""
    top = (figures / f"{exp_id}.png").read_bytes()
    for folder in shipped_runs(exp_id, figures.parent / "data"):
        fig = folder / f"{exp_id}.png"
        if fig.exists() and fig.read_bytes() == top:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            return f"*The full run shipped in docs/data/{folder.name}: {_md_cell(run_label(module, config))}.*"
    return f"*The quick-size figure (`spinglass-icl reproduce {exp_id} --quick`).*"


def page(exp_id: str, figures: Path, timings: dict[str, Any], repro: dict[str, str]) -> str:
    """The Markdown (MyST) text of one experiment's gallery page."""
    from spinglass_icl.experiments import registry

    exp = registry.get(exp_id)
    module = declaring_module(exp_id)
    figure = figures / f"{exp_id}.png"
    fig_md = (
        f"```{{image}} ../figures/{exp_id}.png\n:alt: {exp_id}\n:width: 100%\n```\n\n"
        + figure_caption(exp_id, module, figures)
        if figure.exists()
        else "*No figure in docs/figures yet (`make gallery`).*"
    )
    paper = ""
    if repro:
        paper = (
            "## Against the paper\n\n"
            f"- full run: {_md_cell(repro.get('key result of the full run', '—'))}\n"
            f"- matches the paper? {_md_cell(repro.get('matches the paper?', '—'))}\n\n"
            "REPRODUCTION.md in the repository has the whole account (settings, caveats, every number).\n"
        )
    box = conventions_box(THEORY) if needs_conventions(exp, module) else ""
    return f"""# {exp_id}: {exp.title}

```{{eval-rst}}
{_description(module)}
```

{box}

{fig_md}

## Run it

```bash
spinglass-icl reproduce {exp_id} --quick    # {_quick_time(exp_id, timings)}
spinglass-icl reproduce {exp_id} --full     # the paper's sizes
spinglass-icl plot {exp_id}                 # redraw the figure from the stored results
```

or from Python: `sgi.run("{exp_id}", "quick")`.  A run writes `results/{exp_id}/results.csv`, `config.json`,
`{exp_id}.png`, `{exp_id}.pdf` and its resumable store.

## Measured wall time

{_timing(exp_id, timings, repro)}

{paper}
{shipped_section(exp_id, module, figures)}
## Parameters

The table `spinglass-icl params {exp_id}` prints; override any value with `--set KEY=VALUE` (a list as
`--set KEY=a,b,c`).

{params_table(exp)}

## results.csv columns

One row per point: the runner's columns, the point's parameters, then its results.
`spinglass-icl columns {exp_id}` prints the same table; a `*` stands for any text (a family of columns).

{columns_table(exp)}

{exports_section(module)}
## Summary keys

What `spinglass-icl reproduce {exp_id}` prints after the run (`spinglass-icl columns {exp_id}` lists them too); a
key of a nested section is written `SECTION.key`, and a key that does not apply to the run prints `–`.

{summary_table(exp)}
"""


def write_gallery(dest: Path, figures: Path, reproduction: Path) -> list[str]:
    """Write ``dest/index.md`` and one page per registered experiment; returns the ids."""
    from spinglass_icl.experiments import registry

    index_path = figures / "gallery.json"
    timings = json.loads(index_path.read_text(encoding="utf-8")) if index_path.exists() else {}
    repro = reproduction_table(reproduction)
    ids = registry.ids()
    titles = registry.titles()
    for exp_id in ids:
        _write(dest / f"{exp_id}.md", page(exp_id, figures, timings, repro.get(exp_id, {})))
    rows = "\n".join(
        f"| [{i}]({i}.md) | {_md_cell(titles[i])} | {timings.get(i, {}).get('seconds', '—')} s |" for i in ids
    )
    toc = "\n".join(ids)
    _write(
        dest / "index.md",
        f"""# Experiment gallery

Every experiment of the catalog (generated from `spinglass_icl.experiments.registry`, so a new
catalog module appears here by itself): the paper's figures, then the experiments beyond the paper.
Each page has the figure at quick size, the commands, the parameters, the measured wall time, the full
run against the paper and the meaning of every results.csv column.

| id | what it shows | quick (wall) |
|---|---|---|
{rows}

```{{toctree}}
:hidden:

{toc}
```
""",
    )
    for stale in dest.glob("*.md"):  # an experiment removed from the catalog loses its page
        if stale.stem not in ids and stale.name != "index.md":
            stale.unlink()
    return ids
