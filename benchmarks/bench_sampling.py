"""Direct feature sampler vs explicit prompts.

Target (issue 2): D=20, N=200: ≥ 10×.  Both produce the per-prompt statistics (a, b, y_query) the
spin glass needs, with the same distribution (tests/test_prompts.py checks the moments):
``sample_features`` in O(P(N + D)) draws vs ``features_from_prompts(sample_prompts(...))`` in O(P N D).
"""

from __future__ import annotations

import numpy as np

from _common import best_time, cli, fmt_ratio, fmt_seconds, print_table
from spinglass_icl.prompts import PromptSpec, features_from_prompts, sample_features, sample_prompts


def main(quick: bool = False) -> list[dict]:
    D, N = (5, 20) if quick else (20, 200)
    P = 200 if quick else 10000
    rows = []
    for label, kw in [("iid tokens", {}), ("correlation 0.5, noise 0.1", {"correlation": 0.5, "noise": 0.1})]:
        spec = PromptSpec(D=D, N=N, **kw)
        t_expl, _ = best_time(
            lambda spec=spec: features_from_prompts(sample_prompts(spec, P, np.random.default_rng(0)))
        )
        t_dir, _ = best_time(lambda spec=spec: sample_features(spec, P, np.random.default_rng(0)))
        rows.append(
            {
                "case": f"D={D}, N={N}, P={P}, {label}",
                "explicit prompts": fmt_seconds(t_expl),
                "direct sampler": fmt_seconds(t_dir),
                "speed-up": fmt_ratio(t_expl / t_dir),
                "_speedup": t_expl / t_dir,
            }
        )
    print_table(
        "Feature sampling: direct vs explicit prompts", rows, ["case", "explicit prompts", "direct sampler", "speed-up"]
    )
    return rows


if __name__ == "__main__":
    cli(main, __doc__)
