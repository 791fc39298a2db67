"""Cost of a `diversity` run, measured against the runner's estimate: per model and per (model, M), the
seconds of the points' computation (``seconds_model``: draws, training and predictions, summed over the
batches of repeats) beside the estimate of the same points (the experiment's ``resources``, what
``reproduce --dry-run`` sums), their ratio, and the totals in core-hours.

    python benchmarks/bench_diversity_cost.py docs/data/diversity-sigma0.5-full [FOLDER ...] [--by-M]

A FOLDER is a diversity results folder (its store.sqlite, the rows of its results.csv).  The store is read
from a consistent copy (SQLite's backup, the source opened read-only), so a run still writing it is not
disturbed; its unfinished points are counted apart.  ``seconds_model`` is wall time inside one worker process:
CPU seconds where the worker had a core to itself (nice-d beside other jobs it is an upper bound).
``--quick`` (the smoke test) reads the shipped σ = 0.5 run.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from _common import print_table
from spinglass_icl import resources as R
from spinglass_icl.experiments import registry
from spinglass_icl.experiments.store import Store

SHIPPED = Path(__file__).resolve().parents[1] / "docs" / "data" / "diversity-sigma0.5-full"


def read_points(folder: Path) -> list[dict[str, Any]]:
    """The folder's stored points (key, config, status, seconds, scalars), from a backup copy of its store."""
    source = sqlite3.connect(f"file:{folder / 'store.sqlite'}?mode=ro", uri=True)
    with tempfile.TemporaryDirectory() as tmp:
        target = sqlite3.connect(Path(tmp) / "store.sqlite")
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        store = Store(Path(tmp), repair=False)
        try:
            return store.rows()
        finally:
            store.close()


def _secs(x: float) -> str:
    return f"{x:.1f}" if x < 10 else f"{x:.0f}"


def planned_points(folder: Path, stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``stored`` plus, as status "planned", the points of the folder's config.json not stored yet (a run
    still going); only the stored ones where its parameters no longer expand into its keys."""
    exp = registry.get("diversity")
    try:
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        points = exp.points(cfg["params"])
        keyed = {exp.key(p, exp.seed(int(cfg.get("seed", 0)), p)): p for p in points}
    except Exception as exc:  # an old config.json: the stored points only
        print(f"note: {folder}/config.json does not expand into its points ({type(exc).__name__}); stored only")
        return stored
    seen = {row["key"] for row in stored}
    return stored + [{"key": k, "config": p, "status": "planned"} for k, p in keyed.items() if k not in seen]


def cost_rows(points: list[dict[str, Any]]) -> tuple[list[dict], list[dict], dict[str, float]]:
    """(per model, per (model, M), totals): measured seconds_model and the estimate of the same done points;
    the estimate of the points not done."""
    exp = registry.get("diversity")
    by_model: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    by_m: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    pending = 0.0
    for row in points:
        point = row["config"]
        est = R.estimate(dict(point), exp.resources).seconds
        if row["status"] != "done":
            pending += est
            continue
        seconds = float(row["scalars"].get("seconds_model", row["seconds"]))
        for acc in (by_model[point["model"]], by_m[point["model"], int(point["M"])]):
            acc[0] += seconds
            acc[1] += est
            acc[2] += 1

    def table(items: list[tuple[Any, list[float]]], label: dict[str, Any] | None = None) -> list[dict]:
        out = []
        for key, (seconds, est, n) in items:
            head = {"model": key} if isinstance(key, str) else {"model": key[0], "M": key[1] or "∞"}
            out.append({**head, "points": int(n), "seconds_model": _secs(seconds), "estimate_s": _secs(est)})
            out[-1]["measured/estimate"] = f"{seconds / est:.2f}" if est else "–"
        return out

    order = {name: i for i, name in enumerate(("ground_state", "dmmse", "ridge", *registry_models()))}
    models = table(sorted(by_model.items(), key=lambda kv: order.get(kv[0], len(order))))
    per_m = table(sorted(by_m.items(), key=lambda kv: (order.get(kv[0][0], len(order)), kv[0][1] or 2**62)))
    measured = sum(v[0] for v in by_model.values())
    estimated = sum(v[1] for v in by_model.values())
    totals = {"measured_h": measured / 3600, "estimate_h": estimated / 3600, "pending_estimate_h": pending / 3600}
    totals["done"] = sum(v[2] for v in by_model.values())
    totals["points"] = len(points)
    return models, per_m, totals


def registry_models() -> tuple[str, ...]:
    from spinglass_icl.models import names

    return names()


def matrix(per_m: list[dict]) -> list[dict]:
    """The (model, M) rows as one row per M, one column per model: "seconds (measured/estimate)"."""
    rows: dict[Any, dict] = {}
    for r in per_m:
        rows.setdefault(r["M"], {"M": r["M"]})[r["model"]] = f"{r['seconds_model']} ({r['measured/estimate']})"
    return list(rows.values())


def report(folder: Path, by_m: bool) -> list[dict]:
    models, per_m, t = cost_rows(planned_points(folder, read_points(folder)))
    names = [r["model"] for r in models]
    title = f"{folder}: {t['done']} of {t['points']} points done"
    print_table(
        title + " -- per model", models, ["model", "points", "seconds_model", "estimate_s", "measured/estimate"]
    )
    if by_m:
        print_table(title + " -- per M: seconds_model (measured/estimate) per model", matrix(per_m), ["M", *names])
    ratio = t["measured_h"] / t["estimate_h"] if t["estimate_h"] else float("nan")
    print(
        f"\ntotal: {t['measured_h']:.3f} core-hours measured (seconds_model) against {t['estimate_h']:.3f} "
        f"estimated for the same points (ratio {ratio:.2f}); points not done: {t['points'] - t['done']}, "
        f"estimated {t['pending_estimate_h']:.3f} core-hours"
    )
    return models


def main(quick: bool = False, folders: list[str] | None = None, by_m: bool = False) -> list[dict]:
    rows: list[dict] = []
    for folder in [SHIPPED] if quick or not folders else [Path(f) for f in folders]:
        rows += report(folder, by_m)
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="*", help="diversity results folders (default: the shipped σ = 0.5 run)")
    ap.add_argument("--by-M", dest="by_m", action="store_true", help="also the table per model and M")
    ap.add_argument("--quick", action="store_true", help="the shipped σ = 0.5 run (smoke test)")
    args = ap.parse_args()
    main(args.quick, args.folders, args.by_m)
