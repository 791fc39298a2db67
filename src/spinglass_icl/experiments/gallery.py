"""Regenerate the gallery: every experiment at quick size, its figure copied to docs/figures/ID.png,
wall times and key numbers to docs/figures/gallery.json.  ``make gallery`` runs it.

Usage: python -m spinglass_icl.experiments.gallery [--out results/gallery] [--docs docs/figures] [ID ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path

from .._io import strict_json, write_atomic
from . import registry
from .runner import run


def machine() -> str:
    """The machine the wall times were measured on, as the gallery pages show it: CPU model and cores."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
        model = names[0] if names else model
    except OSError:  # not Linux: platform's answer
        pass
    return f"{model}, {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ids", nargs="*", help="experiments (default: all)")
    ap.add_argument("--out", default="results/gallery")
    ap.add_argument("--docs", default="docs/figures")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)
    docs = Path(args.docs)
    docs.mkdir(parents=True, exist_ok=True)
    index_path = docs / "gallery.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {}
    for exp_id in args.ids or registry.ids():
        t0 = time.perf_counter()
        s = run(exp_id, "quick", out=args.out, workers=args.workers)
        shutil.copy(Path(s.folder) / f"{exp_id}.png", docs / f"{exp_id}.png")
        index[exp_id] = {
            "seconds": round(time.perf_counter() - t0, 1),
            "computed": s.n_computed,
            "failed": len(s.failed),
            "summary": s.summary,
            "machine": machine(),
            "date": time.strftime("%Y-%m-%d"),
        }
        print(f"{exp_id}: {index[exp_id]['seconds']} s, {s.n_computed} points computed, {len(s.failed)} failed")
        write_atomic(index_path, json.dumps(strict_json(index), indent=1, allow_nan=False))  # NaN -> null
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
