"""Paper AMP, vectorised (numpy, all spins at once) vs the literal per-spin torch loop.

Target (issue 2): D=20, P=10000, N=100: ≥ 200× per iteration.  Both start from the same (m0, v0)
and run the same equations; the loop is timed over a few sweeps only (it costs O(K) torch calls
per sweep), and its iterate is checked against the vectorised one after the same number of sweeps.
"""

from __future__ import annotations

import numpy as np
import torch

from _common import best_time, cli, fmt_ratio, fmt_seconds, print_table
from spinglass_icl.prompts import PromptSpec, sample_features
from spinglass_icl.solvers import amp, amp_paper_reference
from spinglass_icl.spinglass import SpinGlass


def main(quick: bool = False) -> list[dict]:
    D, N, P = (4, 20, 500) if quick else (20, 100, 10000)
    loop_sweeps, vec_steps = (1, 20) if quick else (3, 100)
    beta, damping, lambda0, seed = 100.0, 0.9, 0.01, 0
    sg = SpinGlass(sample_features(PromptSpec(D=D, N=N), P, np.random.default_rng(0)), lambda0)
    J, h, lam = sg.J, sg.h, sg.lam  # couplings built once, outside both timings

    # vectorised: a fixed number of iterations (tol ≈ 0 so it never stops early); includes its set-up
    t_vec, res = best_time(
        lambda: amp(sg, beta=beta, damping=damping, steps=vec_steps, tol=1e-300, rng=np.random.default_rng(seed))
    )
    per_vec = t_vec / int(res.iterations)

    rng = np.random.default_rng(seed)  # amp(init="paper", rng) draws m0 then v0 from this stream
    m0, v0 = rng.standard_normal(sg.K), rng.standard_normal(sg.K)
    T = [torch.tensor(x, dtype=torch.float64) for x in (J, h, lam, m0, v0)]
    t_loop, (m_loop, _, sweeps, _) = best_time(
        lambda: amp_paper_reference(*T, beta=beta, damping=damping, steps=loop_sweeps, tol=1e-300), repeat=1
    )
    per_loop = t_loop / sweeps
    same = amp(sg, beta=beta, damping=damping, steps=loop_sweeps, tol=1e-300, rng=np.random.default_rng(seed)).mean
    diff = float(np.max(np.abs(same - m_loop.numpy())) / np.max(np.abs(m_loop.numpy())))

    rows = [
        {
            "case": f"D={D}, N={N}, P={P}, K={sg.K}, λ0={lambda0}, β={beta}",
            "per-spin torch loop / iter": fmt_seconds(per_loop),
            "vectorised / iter": fmt_seconds(per_vec),
            "ratio": fmt_ratio(per_loop / per_vec),
            "loop sweeps timed": sweeps,
            "vectorised iters": int(res.iterations),
            "max rel. diff after same sweeps": f"{diff:.1e}",
            "_ratio": per_loop / per_vec,
            "_diff": diff,
        }
    ]
    print_table(
        "Paper AMP: vectorised vs per-spin loop (per iteration)",
        rows,
        [
            "case",
            "per-spin torch loop / iter",
            "vectorised / iter",
            "ratio",
            "loop sweeps timed",
            "vectorised iters",
            "max rel. diff after same sweeps",
        ],
    )
    return rows


if __name__ == "__main__":
    cli(main, __doc__)
