"""The spin glass that pre-training defines (docs/theory.md#the-spin-glass).

    E(W) = 1/(2P) Σ_μ (y^μ − s^μ·W)² + (λ0/2)|W|²
         = −½ Σ_{i≠j} J_ij W_i W_j − Σ_i h_i W_i + ½ Σ_i λ_i W_i² + ½⟨y²⟩

with J = −SᵀS/P (diagonal kept, as in the paper), h = Sᵀy/P, λ_i = λ0 − J_ii.  The Hessian is
A = SᵀS/P + λ0 I = −J + λ0 I, and the Boltzmann law p(W) ∝ exp(−βE) is N(A⁻¹h, (βA)⁻¹).

A :class:`SpinGlass` is built from the per-prompt statistics (a, b, y) and λ0; J and h are
computed on first use with one symmetric rank-P update (BLAS syrk, chunked over prompts so the
memory stays at a few K×K matrices), never through a P×K×K tensor.  The matrix-free product
A·vec(M) = (1/P) Σ_μ (aᵀMb) a bᵀ/(N+1)² + λ0 M is also here, for solvers at large D.
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass
from functools import cached_property
from typing import Literal

import numpy as np

from . import validation as V
from .features import FEATURE_MAPS, FeatureMap, effective_index, feature_matrix, n_effective, n_spins, predict
from .metrics import as_matrix
from .prompts import Features

PROMPT_BLOCK = 2048  # prompts per syrk call: bounds the feature block to 2048·K doubles
# how the energy counts J's diagonal: once (E as defined), or twice as the authors' fig3 code does
Diagonal = Literal["once", "twice"]
DIAGONALS: tuple[Diagonal, ...] = ("once", "twice")
PairCount = Literal["once", "both"]  # each coupling pair of a block once, or both (i, j) and (j, i)


def effective_gram(a: np.ndarray, b: np.ndarray, N: int, *, prompt_block: int = PROMPT_BLOCK) -> np.ndarray:
    """SᵀS on the effective spins for one problem, a, b (P, D+1): S is formed ``prompt_block`` prompts
    at a time (never the whole P×K matrix) and accumulated by syrk."""
    from scipy.linalg import blas

    P, D1 = a.shape
    Ke = D1 * (D1 - 1)
    a = a / (N + 1)  # scale the P×(D+1) factor, not the P×K product
    bq = b[:, :-1]
    G = np.zeros((Ke, Ke), order="F")
    buf = np.empty((min(P, prompt_block), D1, D1 - 1))  # one feature block, reused
    for start in range(0, P, prompt_block):
        n = min(prompt_block, P - start)
        block = np.multiply(a[start : start + n, :, None], bq[start : start + n, None, :], out=buf[:n])
        # syrk on the Fortran view of the C block: with trans=0 it computes blockᵀ block (upper half)
        G = blas.dsyrk(1.0, block.reshape(n, Ke).T, beta=1.0, c=G, trans=0, lower=0, overwrite_c=1)
    return np.triu(G) + np.triu(G, 1).T


@dataclass(frozen=True)
class SpinGlass:
    """Couplings and fields defined by pre-training data ``features`` at regularisation λ0.

    ``features`` may carry leading batch dims (independent repeats): every derived array then has
    the same leading dims.  ``feature_map="paper"`` builds J and h from the authors' feature map
    (:func:`~spinglass_icl.features.feature_matrix` with ``feature_map="paper"``: D×D block of s
    transposed, divided by N instead of N+1), as their fig1/figS2 code does; it changes J and h only.
    How the energy counts J's diagonal is a separate choice, :meth:`energy`'s ``diagonal``.
    ``convention`` is the deprecated name of ``feature_map`` (until 0.4.0).
    """

    features: Features
    lambda0: float = 0.0
    feature_map: FeatureMap = "correct"
    convention: InitVar[FeatureMap | None] = None

    def __post_init__(self, convention: FeatureMap | None) -> None:
        if convention is not None:
            old = V.renamed_keyword("SpinGlass", "convention", "feature_map", convention, depth=2)
            object.__setattr__(self, "feature_map", old)  # frozen dataclass
        V.choice("feature_map", self.feature_map, FEATURE_MAPS)
        V.nonneg("lambda0", self.lambda0)
        f = self.features
        if not isinstance(f, Features):
            raise V.InputError(
                f"SpinGlass needs Features, got {type(f).__name__}; build them with sample_features(spec, P, rng)"
            )
        V.array("features.a", f.a, min_ndim=2)
        if f.P < 1 or f.D < 1:
            raise V.InputError(f"SpinGlass needs at least one prompt and D >= 1, got P={f.P}, D={f.D}")
        V.array("features.b", f.b, shape=f.a.shape[-2:])
        V.array("features.y", f.y, shape=f.a.shape[-2:-1])

    # -- sizes -----------------------------------------------------------------------------
    @property
    def D(self) -> int:
        return self.features.D

    @property
    def N(self) -> int:
        return self.features.N

    @property
    def P(self) -> int:
        return self.features.P

    @property
    def K(self) -> int:
        return n_spins(self.D)

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self.features.a.shape[:-2]

    # -- views sharing the computed couplings ---------------------------------------------------
    _CACHED = ("gram", "gram_effective", "h", "y2")

    def _carry(self, other: SpinGlass, index: tuple = ()) -> SpinGlass:
        for name in self._CACHED:
            if name in self.__dict__:  # filled cached_property slots (frozen dataclass)
                other.__dict__[name] = self.__dict__[name][index] if index else self.__dict__[name]
        return other

    def at(self, lambda0: float) -> SpinGlass:
        """The same data at another λ0, reusing the couplings and fields already computed."""
        return self._carry(SpinGlass(self.features, lambda0, self.feature_map))

    def with_gram(self, gram: np.ndarray) -> SpinGlass:
        """This problem with its Gram matrix SᵀS/P (…, K, K) supplied instead of computed; the caller
        guarantees that it belongs to ``features`` (e.g. running sums over nested prompt sets)."""
        self.__dict__["gram"] = gram  # fills functools.cached_property's slot (frozen dataclass)
        return self

    def select(self, index: tuple[int, ...]) -> SpinGlass:
        """The problem at batch ``index`` (a tuple of ints over the batch dims), sharing what is computed."""
        one = self.features.take(tuple(index))
        return self._carry(SpinGlass(one, self.lambda0, self.feature_map), tuple(index))

    # -- couplings and fields ----------------------------------------------------------------
    @cached_property
    def gram(self) -> np.ndarray:
        """The data part of the Hessian (= −J), SᵀS/P, shape (..., K, K)."""
        if self.feature_map == "paper":
            S = feature_matrix(self.features, feature_map="paper")
            return np.swapaxes(S, -1, -2) @ S / self.P  # batched BLAS gemm (einsum would not use BLAS)
        eff = self.gram_effective
        out = np.zeros(self.batch_shape + (self.K, self.K))
        idx = effective_index(self.D)
        out[..., idx[:, None], idx[None, :]] = eff
        return out

    @cached_property
    def gram_effective(self) -> np.ndarray:
        """SᵀS/P restricted to the D(D+1) effective spins, shape (..., D(D+1), D(D+1))."""
        if self.feature_map == "paper" or "gram" in self.__dict__:  # derive from the full Gram when it exists
            idx = effective_index(self.D)
            return self.gram[..., idx[:, None], idx[None, :]]
        f = self.features
        a = f.a.reshape((-1,) + f.a.shape[-2:])
        b = f.b.reshape((-1,) + f.b.shape[-2:])
        G = np.stack([effective_gram(a[r], b[r], f.N) for r in range(a.shape[0])]) / self.P
        return G.reshape(self.batch_shape + G.shape[-2:])

    @property
    def J(self) -> np.ndarray:
        """Couplings J = −SᵀS/P, shape (..., K, K), diagonal included (it never enters E)."""
        return -self.gram

    @cached_property
    def h(self) -> np.ndarray:
        """Fields h = Sᵀy/P, shape (..., K)."""
        f = self.features
        if self.feature_map == "paper":
            return np.einsum("...pk,...p->...k", feature_matrix(f, feature_map="paper"), f.y) / self.P
        # Σ_μ y^μ a^μ b^μᵀ as one batched gemm: a three-operand einsum would not use BLAS (≈ 10× slower at D=60)
        Hm = np.swapaxes(f.a * f.y[..., None], -1, -2) @ f.b / (self.P * (f.N + 1))
        return Hm.reshape(self.batch_shape + (self.K,))

    @property
    def h_effective(self) -> np.ndarray:
        return self.h[..., effective_index(self.D)]

    @property
    def lam(self) -> np.ndarray:
        """On-site terms λ_i = λ0 − J_ii, shape (..., K)."""
        return self.lambda0 + np.diagonal(self.gram, axis1=-2, axis2=-1)

    @cached_property
    def y2(self) -> np.ndarray:
        """The mean ⟨y²⟩ of the squared labels over the prompts (the constant of the energy is ½⟨y²⟩)."""
        return np.mean(self.features.y**2, axis=-1)

    def hessian(self, *, diagonal: Diagonal = "once", convention: str | None = None) -> np.ndarray:
        """A = SᵀS/P + λ0 I, shape (..., K, K): the Hessian of :meth:`energy` with the same ``diagonal``
        (``"twice"`` adds the diagonal of SᵀS/P once more, as the authors' energy counts it twice).
        ``convention`` (``"correct"``/``"paper"`` for once/twice) is deprecated until 0.4.0."""
        diagonal = _diagonal("hessian", diagonal, convention)
        A = self.gram + self.lambda0 * np.eye(self.K)
        if diagonal == "twice":
            i = np.arange(self.K)
            A[..., i, i] += np.diagonal(self.gram, axis1=-2, axis2=-1)
        return A

    def hessian_effective(self) -> np.ndarray:
        """A on the D(D+1) effective spins, SᵀS/P + λ0 I, shape (..., D(D+1), D(D+1)): what the
        exact solvers and the samplers factorise (the zero modes only add λ0 on the diagonal)."""
        return self.gram_effective + self.lambda0 * np.eye(n_effective(self.D))

    # -- energy --------------------------------------------------------------------------------
    def energy(self, W: np.ndarray, *, diagonal: Diagonal = "once", convention: str | None = None) -> np.ndarray:
        """E(W) for weights W of shape (..., K) or (..., D+1, D+1); returns shape (...).

        ``diagonal="twice"`` reproduces the authors' fig3 code, which evaluates −½WᵀJW with J's
        diagonal kept *and* ½Σλ_i W_i², counting the diagonal twice.  Independent of the
        ``feature_map`` the couplings were built with.  ``convention`` (``"correct"``/``"paper"`` for
        once/twice) is deprecated until 0.4.0.
        """
        diagonal = _diagonal("energy", diagonal, convention)
        W = np.asarray(W, dtype=float)
        w = W.reshape(W.shape[:-2] + (self.K,)) if W.shape[-2:] == (self.D + 1, self.D + 1) else W
        Aw = np.einsum("...ij,...j->...i", self.gram, w) + self.lambda0 * w
        e = 0.5 * np.einsum("...i,...i->...", w, Aw) - np.einsum("...i,...i->...", self.h, w) + 0.5 * self.y2
        if diagonal == "twice":
            e = e + 0.5 * np.einsum("...i,...i->...", np.diagonal(self.gram, axis1=-2, axis2=-1), w * w)
        return e

    def training_energy(self, W: np.ndarray) -> np.ndarray:
        """E(W) straight from its definition, 1/(2P) Σ (y − s·W)² + λ0/2 |W|² (for checks)."""
        W = as_matrix(np.asarray(W, dtype=float))
        f = self.features
        pred = predict(W, f)
        return 0.5 * np.mean((f.y - pred) ** 2, axis=-1) + 0.5 * self.lambda0 * np.sum(W**2, axis=(-2, -1))

    # -- matrix-free Hessian ---------------------------------------------------------------------
    @cached_property
    def _b_query(self) -> np.ndarray:
        """b without its always-zero last entry, contiguous (a strided view would be copied per product)."""
        return np.ascontiguousarray(self.features.b[..., :-1])

    def hessian_matvec(self, M: np.ndarray, *, effective: bool = True) -> np.ndarray:
        """A·vec(M) for M of shape (..., D+1, D) (effective) or (..., D+1, D+1), in O(P·D²).

        Uses the rank-one structure: A·vec(M) = (1/P) Σ_μ (aᵀ M b) a bᵀ/(N+1)² + λ0 M, with two
        (batched) BLAS products instead of a P×K feature matrix.
        """
        f = self.features
        b = self._b_query if effective else f.b
        t = np.einsum("...pj,...pj->...p", f.a @ M, b)  # aᵀ M b per prompt, (..., P)
        out = np.swapaxes(f.a * (t / (self.P * (f.N + 1) ** 2))[..., None], -1, -2) @ b
        return out + self.lambda0 * M

    def kernel(self) -> np.ndarray:
        """The P×P kernel of the dual problem, SSᵀ/P = (a·a')(b·b')/((N+1)² P), shape (..., P, P): the same
        non-zero spectrum as SᵀS/P, in O(P² D) without a feature matrix (b's last entry is 0, so the
        effective and the full features give the same kernel)."""
        f = self.features
        aT, bT = np.swapaxes(f.a, -1, -2), np.swapaxes(f.b, -1, -2)
        return (f.a @ aT) * (f.b @ bT) / (f.N + 1) ** 2 / self.P

    def hessian_inverse_diagonal(self) -> np.ndarray:
        """diag(A⁻¹) on the D(D+1) effective spins, shape (..., D(D+1)):
        :func:`~spinglass_icl.spinglass.inverse_diagonal` of
        :meth:`hessian_effective` (inf on spins that a flat direction touches, i.e. at λ0 = 0 below
        P = D(D+1)).  Marginal variances of the Boltzmann law are this divided by β."""
        return inverse_diagonal(self.hessian_effective())

    # -- spectrum --------------------------------------------------------------------------------
    def gram_spectrum(self, *, small: bool = False) -> np.ndarray:
        """Eigenvalues of SᵀS/P (ascending), shape (..., K).

        ``small=True`` (one problem, unbatched): the same spectrum from the smaller of the effective
        Gram matrix and the P×P kernel SSᵀ/P = (aaᵀ)∘(bbᵀ)/((N+1)² P), padded with the exact zeros the
        rank bound min(P, D(D+1)) implies -- never forms the K×K matrix when P is small.
        """
        if not small:
            return np.linalg.eigvalsh(self.gram)
        if self.P < n_effective(self.D):
            ev = np.linalg.eigvalsh(self.kernel())
        else:
            ev = np.linalg.eigvalsh(self.gram_effective)
        return np.sort(np.concatenate([np.zeros(self.K - ev.size), ev]))

    def flat_fraction(self, *, effective: bool = True, tol: float | None = None) -> np.ndarray:
        """Fraction of flat directions of the landscape at λ0 = 0: eigenvalues of SᵀS/P that are
        numerically zero (:func:`~spinglass_icl.spinglass.flat_mask`), shape (...).

        ``effective=True`` (default) counts among the D(D+1) effective spins, theory
        1 − min(P, D(D+1))/(D(D+1)); ``effective=False`` among all (D+1)² spins, the D+1 exact zero
        modes included, theory 1 − min(P, D(D+1))/(D+1)² (docs/theory.md#the-spin-glass / fig. S7, with ``tol=1e-5``).
        See :func:`flat_fraction_theory`.
        """
        lam = np.linalg.eigvalsh(self.gram_effective if effective else self.gram)
        return np.mean(flat_mask(lam, tol), axis=-1)

    # -- block views (Fig. 1, S2, S3) ------------------------------------------------------------
    def blocks(self, *, pairs: PairCount = "once") -> dict[str, np.ndarray]:
        """Fields and couplings by block, zero modes excluded -- the one definition of the blocks.

        h1: (..., D, D) fields on the D×D block of W (diagonal carries the signal);
        h2: (..., D) fields on row D+1;  J1: couplings within block 𝒜 (rows 1..D), J2: between 𝒜
        and ℬ (row D+1), J3: within ℬ -- flattened to (..., n) arrays of the non-trivial entries.
        ``pairs="once"`` counts each coupling pair within a block once (i < j); ``"both"`` counts
        (i, j) and (j, i) of the symmetric J, as the authors' figS2 histograms do.
        """
        D = self.D
        V.choice("pairs", pairs, ("once", "both"))
        k = np.arange(self.K).reshape(D + 1, D + 1)
        A_idx, B_idx = k[:D, :D].ravel(), k[D, :D]
        J = self.J

        def within(idx: np.ndarray) -> np.ndarray:
            Jb = J[..., idx[:, None], idx[None, :]]
            if pairs == "both":
                return Jb[..., ~np.eye(len(idx), dtype=bool)]
            iu = np.triu_indices(len(idx), 1)
            return Jb[..., iu[0], iu[1]]

        Haa = self.h.reshape(self.batch_shape + (D + 1, D + 1))
        return {
            "h1": Haa[..., :D, :D],
            "h2": Haa[..., D, :D],
            "J1": within(A_idx),
            "J2": J[..., A_idx[:, None], B_idx[None, :]].reshape(self.batch_shape + (-1,)),
            "J3": within(B_idx),
        }


def _diagonal(owner: str, diagonal: Diagonal, convention: str | None) -> Diagonal:
    """``diagonal`` checked, or translated from the deprecated ``convention`` ("correct" -> once, "paper" -> twice)."""
    if convention is not None:
        old = V.renamed_keyword(owner, "convention", "diagonal", convention, depth=2)
        V.choice("convention", old, ("correct", "paper"))
        diagonal = "once" if old == "correct" else "twice"
    V.choice("diagonal", diagonal, DIAGONALS)
    return diagonal


# -- linear algebra of the landscape: the flat-direction rule and diag(A⁻¹) ----------------------------------
def flat_mask(
    eigenvalues: np.ndarray, tol: float | None = None, *, rtol: float | None = None, shift: float = 0.0
) -> np.ndarray:
    """Which eigenvalues (..., n) of SᵀS/P count as zero -- the one rule of the project.  Boolean, shape (..., n).

    Eigenvalues of a Hessian A = SᵀS/P + λ0 I are tested with ``shift=λ0`` (their data part λ − λ0).
    Rules (the data part d = λ − shift, λ_max = max |λ| of the row):

    * default (``tol=None, rtol=None``): d < n·eps·λ_max, numpy's matrix-rank tolerance (scale-free:
      what rounding cannot tell from 0);
    * ``rtol``: d < rtol·λ_max (a relative cutoff, e.g. 1e-12 for a pseudo-inverse);
    * ``tol``: |d| < tol, an absolute threshold (the paper's fig. S7 uses 1e-5).
    """
    lam = np.asarray(eigenvalues, dtype=float)
    data = lam - shift if shift else lam
    if tol is not None:
        return np.abs(data) < V.positive("tol", tol)
    scale = np.max(np.abs(lam), axis=-1, keepdims=True)
    rel = lam.shape[-1] * np.finfo(float).eps if rtol is None else V.positive("rtol", rtol)
    return data < rel * scale


def inverse_diagonal(A: np.ndarray, tol: float | None = None) -> np.ndarray:
    """diag(A⁻¹) of symmetric positive semi-definite matrices A (..., n, n), shape (..., n) -- the one
    computation of marginal variances (solvers) and of tr(Q A⁻¹) (theory).

    Through the eigendecomposition A = U diag(λ) Uᵀ: (A⁻¹)_ii = Σ_k U_ik²/λ_k, with eigenvalues in
    :func:`~spinglass_icl.spinglass.flat_mask` (``tol`` as there) taken as exact zeros, so an entry that a flat
    direction
    touches is inf (a singular A has no inverse; its Boltzmann law is improper along those directions).
    """
    w, U = np.linalg.eigh(A)
    flat = flat_mask(w, tol)
    inv = np.where(~flat, 1.0 / np.where(~flat, w, 1.0), np.inf)
    with np.errstate(invalid="ignore"):
        out = np.einsum("...ik,...k,...ik->...i", U, inv, U)
    return np.where(np.isnan(out), np.inf, out)  # 0·inf: a flat direction orthogonal to spin i


def flat_fraction_theory(P: int, D: int, *, effective: bool = True) -> float:
    """Closed form of :meth:`~spinglass_icl.SpinGlass.flat_fraction`: rank(SᵀS) = min(P, D(D+1)), so the fraction is
    1 − min(P, D(D+1))/(D(D+1)) among the effective spins, 1 − min(P, D(D+1))/(D+1)² among all."""
    n = n_effective(D) if effective else n_spins(D)
    return 1.0 - min(P, n_effective(D)) / n
