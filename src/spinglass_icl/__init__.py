"""spinglass-icl: the spin-glass theory of in-context learning (Li, Bai, Huang, arXiv:2408.02288).

Layers, each its own module: prompts (data) → features (the rank-one feature map) → spinglass
(J, h, λ, energy) → solvers (exact, AMP, sampling) → models/training → experiments → plotting → cli.
Import what you need from the submodules; this package namespace stays small on purpose.
"""

__version__ = "0.1.0"
