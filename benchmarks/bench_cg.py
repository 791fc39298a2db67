"""Exact ground state at large D: matrix-free CG vs dense normal equations.

Target (issue 2): D=60, P=2·D(D+1), N=100, λ0=0.01: CG faster than
``np.linalg.solve(SᵀS/P + λ0 I, Sᵀy/P)`` with S (P×K) formed explicitly, and its peak memory
(tracemalloc) below one K×K float64 matrix.  Time and peak memory come from the same call.
"""

from __future__ import annotations

import gc

import numpy as np

from _common import cli, fmt_bytes, fmt_ratio, fmt_seconds, peak_memory, print_table
from spinglass_icl.features import feature_matrix, n_effective, n_spins
from spinglass_icl.prompts import PromptSpec, sample_features
from spinglass_icl.solvers import solve_cg
from spinglass_icl.spinglass import SpinGlass


def dense_normal_equations(f, lambda0: float) -> np.ndarray:
    """The straightforward solve: S explicit, A = SᵀS/P + λ0 I formed, LU solve.  Returns m (K,)."""
    S = feature_matrix(f)
    A = S.T @ S / f.P + lambda0 * np.eye(S.shape[1])
    return np.linalg.solve(A, S.T @ f.y / f.P)


def main(quick: bool = False) -> list[dict]:
    D = 8 if quick else 60
    N, lambda0 = (20 if quick else 100), 0.01
    P = 2 * n_effective(D)
    f = sample_features(PromptSpec(D=D, N=N), P, np.random.default_rng(0))
    sg = SpinGlass(f, lambda0)
    K = n_spins(D)
    kk_bytes = K * K * 8

    gc.collect()
    mem_cg, t_cg, res = peak_memory(lambda: solve_cg(sg))
    gc.collect()
    mem_dense, t_dense, m_dense = peak_memory(lambda: dense_normal_equations(f, lambda0))
    diff = float(np.linalg.norm(res.mean - m_dense) / np.linalg.norm(m_dense))

    rows = [
        {
            "case": f"D={D}, N={N}, P={P}, K={K}, λ0={lambda0}",
            "dense time": fmt_seconds(t_dense),
            "CG time": fmt_seconds(t_cg),
            "speed-up": fmt_ratio(t_dense / t_cg),
            "dense peak": fmt_bytes(mem_dense),
            "CG peak": fmt_bytes(mem_cg),
            "one K×K float64": fmt_bytes(kk_bytes),
            "CG iterations": int(res.iterations),
            "rel. diff": f"{diff:.1e}",
            "_speedup": t_dense / t_cg,
            "_cg_peak": mem_cg,
            "_kk": kk_bytes,
            "_diff": diff,
            "_converged": bool(res.converged),
        }
    ]
    print_table(
        "Exact ground state: matrix-free CG vs dense normal equations",
        rows,
        [
            "case",
            "dense time",
            "CG time",
            "speed-up",
            "dense peak",
            "CG peak",
            "one K×K float64",
            "CG iterations",
            "rel. diff",
        ],
    )
    return rows


if __name__ == "__main__":
    cli(main, __doc__)
