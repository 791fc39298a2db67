"""Every command the documentation shows, collected with its page and line, and a driver that runs them.

Used by ``tests/test_documented_commands.py``; run as a script (``python tests/doc_commands.py IN OUT``) it
executes the commands listed in IN (JSON) in one process, each through ``spinglass_icl.cli.main`` in a fresh
temporary folder, and writes each exit code and last error line to OUT.

Where commands are read: README.md, REPRODUCTION.md, BENCHMARKS.md, every page under docs/ (tutorials and
how-tos included; not the changelog, which records history), the generated gallery pages (their template in
docs/_ext/gallery_pages.py, rendered for every experiment) and every ``--help`` text of the CLI.  A command
is a ``spinglass-icl ...`` line of a shell code block (``bash``, ``text``, ``console`` or bare fences; Python
blocks are executed by their own tests) or an inline code span (single or double backticks) that starts with
``spinglass-icl``, up to a shell comment, ``&&``, ``;``, a pipe or a redirection.  ``make X`` in the same
places names a Makefile target.

How each is checked (the rule; "refused" means what the CLI answers with exit code 2):

* placeholders are filled in first (:data:`PLACEHOLDERS`: ``ID`` -> ``demo``, ``KEY=VALUE`` ->
  ``repeats=1`` ...; ``[--quick|--full]`` -> ``--quick``, another ``[optional part]`` left out);
* a how-to's ``reproduce ... --quick`` runs for real (the page's point; a few seconds);
* every other ``reproduce`` and ``demo`` runs with ``--dry-run`` added: every input is checked exactly as by the run
  (parameters, ranges, the experiment's own check, the points, the resource estimate, the output folder),
  nothing is computed -- the documented full runs take hours;
* ``plot`` runs for real; without a preceding ``cp -r docs/data/...`` (which is done) the test folder holds no
  results, and the only answer accepted then is the "no results" message, which must repeat the command's
  ``--out``;
* ``list``, ``params``, ``columns``, ``ground-state`` and ``--help`` run as written;
* ``--plugin M``: a module M that the same page writes out (its first Python block, "Save this as M.py") is
  saved as M.py on the path first; a placeholder module (:data:`PARSE_ONLY`, a page's made-up name such as
  ``mymodule``) and ids that only a page's code block defines (``ridgeline``, run by
  tests/test_architecture_doc.py) are parsed by argparse only;
* ``make X``: X must be a target of the Makefile (not run: ``make test`` and ``make docs`` take minutes).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# placeholder text of the pages -> what the test runs instead
PLACEHOLDERS = {
    "KEY=VALUE": "repeats=1",
    "models=...": "models=sla",
    "...": "",
    "…": "",
}
PLACEHOLDER_WORDS = {"ID": "demo"}
PARSE_ONLY = {"mymodule", "myexp", "ridgeline"}  # made-up names of the pages' examples


@dataclass(frozen=True)
class Command:
    """One documented command: where it is, its text as written, and what the driver runs."""

    page: str
    line: int
    text: str
    argv: tuple[str, ...]
    mode: str  # run, quick, dry-run, plot, parse
    plugin_source: str = ""  # M.py's text for --plugin M (a page's own module), else ""
    copy: tuple[str, str] | None = None  # a preceding `cp -r SRC DST` (from the repository)

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def _pages() -> list[Path]:
    docs = [
        p
        for p in sorted((ROOT / "docs").rglob("*.md"))
        if not {"_build", "jupyter_execute", "gallery", "api", "data"} & set(p.relative_to(ROOT / "docs").parts)
        and p.name not in ("changelog.md", "cli.md")  # history; generated from the CLI
    ]
    return [ROOT / "README.md", ROOT / "REPRODUCTION.md", ROOT / "BENCHMARKS.md", *docs]


_FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*\{?([\w-]*)\}?.*$")
_SHELL = {"", "bash", "sh", "shell", "console", "text"}


def _shell_and_inline(text: str) -> tuple[list[tuple[int, str]], list[tuple[int, str]], list[str]]:
    """(shell lines of code blocks with their line numbers, inline code spans with theirs, Python blocks)."""
    shell: list[tuple[int, str]] = []
    prose: list[str] = []
    python: list[str] = []
    block: str | None = None
    fence = ""
    current: list[str] = []
    for line in text.splitlines():
        m = _FENCE.match(line)
        if block is None and m:
            block, fence, current = m.group(3), m.group(2), []
            prose.append("")
            continue
        if block is not None:
            if line.strip().startswith(fence) and line.strip().strip(fence[0]) == "":
                if block == "python":
                    python.append("\n".join(current) + "\n")
                block = None
            elif block in _SHELL:
                shell.append((len(prose) + 1, line))
            current.append(line)
            prose.append("")
            continue
        prose.append(line)
    inline = []
    joined = "\n".join(prose)
    for m in re.finditer(r"(`+)([^`]+?)\1", joined):
        inline.append((joined.count("\n", 0, m.start()) + 1, " ".join(m.group(2).split())))
    return shell, inline, python


_END = re.compile(r"\s(?:#|&&|;|\||2?>)")


def _command_texts(fragment: str) -> list[tuple[str, str]]:
    """(command text from ``spinglass-icl`` on, the text before it) in one line or span."""
    out = []
    for m in re.finditer(r"(?:^|(?<=[\s(`]))spinglass-icl(?=\s|$)", fragment):
        rest = fragment[m.start() :]
        end = _END.search(rest)
        out.append(((rest[: end.start()] if end else rest).strip(), fragment[: m.start()]))
    return out


def _argv(text: str) -> list[str]:
    for old, new in PLACEHOLDERS.items():
        text = text.replace(old, new)
    text = re.sub(r"\[(--[\w-]+)\|[^]]*\]", r"\1", text)  # [--a|--b]: the first choice
    text = re.sub(r"\[[^]]*\]", "", text)  # [optional part]: left out
    words = shlex.split(text)[1:]
    return [PLACEHOLDER_WORDS.get(w, w) for w in words]


def subcommand(argv: list[str] | tuple[str, ...]) -> str:
    """The CLI command of ``argv`` (after the global options), "" for none."""
    words = list(argv)
    while words and words[0].startswith("-"):
        words = words[2:] if words[0] == "--plugin" else words[1:]
    return words[0] if words else ""


def _copy(before: str) -> tuple[str, str] | None:
    found = re.search(r"cp -r (docs/data/\S+) (\S+)\s*&&\s*$", before)
    return (found.group(1), found.group(2)) if found else None


def _mode(argv: list[str], howto: bool) -> str:
    command = subcommand(argv)
    if set(argv) & PARSE_ONLY:
        return "parse"
    if command in ("reproduce", "demo") and "--help" not in argv and "-h" not in argv:
        return "quick" if howto and "--quick" in argv else "dry-run"
    return "plot" if command == "plot" else "run"


def _plugin_source(argv: list[str], python_blocks: list[str], page_text: str) -> str:
    if "--plugin" not in argv:
        return ""
    module = argv[argv.index("--plugin") + 1]
    if module in PARSE_ONLY or not python_blocks or f"`{module}.py`" not in page_text:
        return ""
    return python_blocks[0]


def commands_in(name: str, text: str) -> list[Command]:
    """The commands of one page (``name`` is how failures cite it)."""
    shell, inline, python = _shell_and_inline(text)
    found = []
    for line_no, fragment in [*shell, *inline]:
        for cmd, before in _command_texts(fragment):
            argv = _argv(cmd)
            if not argv:  # the program's name in prose ("`spinglass-icl` is ...")
                continue
            mode = _mode(argv, name.startswith("docs/howto/"))
            if mode == "dry-run" and "--dry-run" not in argv:
                argv.append("--dry-run")
            found.append(
                Command(name, line_no, cmd, tuple(argv), mode, _plugin_source(argv, python, text), _copy(before))
            )
    return sorted(found, key=lambda c: c.line)


def make_targets_in(name: str, text: str) -> list[tuple[str, int, str]]:
    """(page, line, target) of every ``make TARGET`` in a page's shell blocks and inline code."""
    shell, inline, _ = _shell_and_inline(text)
    out = []
    for line_no, fragment in [*shell, *inline]:
        for m in re.finditer(r"(?:^|(?<=[\s(`&;]))make ([a-z][\w.-]*)", fragment):
            out.append((name, line_no, m.group(1)))
    return out


def _gallery_and_help() -> list[tuple[str, str]]:
    """(name, text) of the generated gallery pages and of every ``--help`` text."""
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    try:
        import gallery_pages
    finally:
        sys.path.remove(str(ROOT / "docs" / "_ext"))
    from spinglass_icl.experiments import registry

    figures = ROOT / "docs" / "figures"
    timings = json.loads((figures / "gallery.json").read_text(encoding="utf-8"))
    repro = gallery_pages.reproduction_table(ROOT / "REPRODUCTION.md")
    texts = [
        (f"gallery/{i}.md (docs/_ext/gallery_pages.py)", gallery_pages.page(i, figures, timings, repro.get(i, {})))
        for i in registry.ids()
    ]
    for name, help_text in gallery_pages.cli_help().items():
        texts.append((f"`spinglass-icl {name} --help`".replace("  ", " "), help_text))
    return texts


def collect(generated: bool = True) -> tuple[list[Command], list[tuple[str, int, str]]]:
    """Every documented command and ``make`` target: the pages, and (``generated``) gallery and help."""
    sources = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in _pages()]
    if generated:
        sources += _gallery_and_help()
    commands, targets = [], []
    for name, text in sources:
        commands += commands_in(name, text)
        targets += make_targets_in(name, text)
    return commands, targets


def set_keys_in(name: str, text: str) -> list[tuple[str, int, str]]:
    """(page, line, key) of every ``--set KEY=...`` in a page's shell blocks and inline code, with or
    without the command around it (tables write ``--set convention=paper`` alone)."""
    shell, inline, _ = _shell_and_inline(text)
    return [
        (name, line_no, m.group(1))
        for line_no, fragment in [*shell, *inline]
        for m in re.finditer(r"--set (\w+)=", fragment)
    ]


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][\w.-]*)\s*:(?!=)", text, re.M))


# -- the driver (runs in its own process) ------------------------------------------------------------------


@dataclass
class Outcome:
    code: int
    error: str  # the last stderr line
    stdout: str
    seconds: float
    notes: list[str]  # the deprecation notes it printed (a page must use today's names)


def _run_one(cmd: Command, plugins: Path) -> Outcome:
    import argparse

    from spinglass_icl import cli

    t0 = time.perf_counter()
    if cmd.plugin_source:
        module = cmd.argv[list(cmd.argv).index("--plugin") + 1]
        (plugins / f"{module}.py").write_text(cmd.plugin_source, encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="doc-command-") as folder:
        os.chdir(folder)
        if cmd.copy is not None:
            shutil.copytree(ROOT / cmd.copy[0], Path(folder) / cmd.copy[1])
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                if cmd.mode == "parse":
                    parser = cli.build_parser()
                    parser.parse_args(list(cmd.argv))
                    code = 0
                else:
                    code = cli.main(list(cmd.argv))
            except SystemExit as exc:  # argparse: --help exits 0, a refusal 2
                code = exc.code if isinstance(exc.code, int) else 2
            except (Exception, argparse.ArgumentError) as exc:  # a traceback is a failure too
                code, err = 1, io.StringIO(f"{type(exc).__name__}: {exc}")
        os.chdir(ROOT)
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    notes = [line for line in lines if line.startswith("note:") and "deprecated" in line]
    return Outcome(code, lines[-1] if lines else "", out.getvalue()[-500:], time.perf_counter() - t0, notes)


def main(argv: list[str]) -> int:
    commands = [
        Command(**{**c, "argv": tuple(c["argv"]), "copy": tuple(c["copy"]) if c["copy"] else None})
        for c in json.loads(Path(argv[0]).read_text())
    ]
    plugins = Path(tempfile.mkdtemp(prefix="doc-plugins-"))
    sys.path.insert(0, str(plugins))
    results = [asdict(_run_one(c, plugins)) for c in commands]
    Path(argv[1]).write_text(json.dumps(results))
    shutil.rmtree(plugins, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
