"""Memory and CPU of one point that trains an attention model (figS8, diversity): their estimator.

A point names its ``model`` and carries that model's budget as ``<model>_<field>`` (epochs, curriculum
epochs, held-out prompts) and its options (``mhla_heads``, ``tf_d_model``).  The spin-glass references
(AMP, the ground state, SLA on the Gram, dMMSE, ridge) follow :func:`.resources.generic`; a trained model
holds its prompts' tokens (P + P_val + P_test + held-out, N+1, D+1) in float32 with their gradients, and
costs CPU per (repeat · prompt · token · (D+1)² · epoch) as fitted below, times its width against the
width it was calibrated at.
"""

from __future__ import annotations

from typing import Any

from .. import resources as R

# CPU seconds per (repeat · prompt · token · (D+1)² · epoch), fitted to figS8's full run's measured
# 12 697 CPU-s (BENCHMARKS.md, "figS8 cost"): TF 10 875 s, the others 1 822 s
# (the L-layer linear transformer: FLA's per layer, calibrated at one layer)
SECONDS = {"tf": 5.3e-9, "sa": 8.5e-11, "fla": 8.5e-11, "mhla": 8.5e-11, "lintf": 8.5e-11}
# the widths of that calibration (the full recipes) and how the cost grows with each: heads and layers
# linearly, the transformer's d_model quadratically (its projections and MLP)
WIDTHS = {"heads": (2, 1), "d_model": (32, 2), "layers": (2, 1)}
CALIBRATED = {("lintf", "layers"): 1}  # where a model's calibrated width differs from WIDTHS'
EVALUATION = 1.0 / 3.0  # a forward pass (held-out prompts, each epoch) against forward + backward


def size_factor(point: dict[str, Any], model: str) -> tuple[float, str]:
    """The model's cost against its calibrated width, and the option that widens it most."""
    factor, widest, most = 1.0, "", 1.0
    for option, (calibrated, power) in WIDTHS.items():
        value = R.largest(point, f"{model}_{option}")
        if value > 0:  # 0: the class default, the calibrated one
            f = (value / CALIBRATED.get((model, option), calibrated)) ** power
            factor *= f
            widest, most = (f"{model}_{option}", f) if f > most else (widest, most)
    return factor, widest


def _pool(point: dict[str, Any]) -> R.Estimate:
    """A finite task pool of M tasks per repeat (diversity's ``M``; 0 or absent: fresh tasks): the pools
    (R, M, D) in memory and, for the Bayes-optimal dMMSE predictor, a posterior over the M tasks of every
    test prompt, in both test splits (:func:`.resources.dmmse_seconds`)."""
    M, D = R.largest(point, "M"), R.largest(point, "D")
    reps = R.count_of(point, "repeats")
    nbytes = 8.0 * 3 * reps * M * (D + 1)
    seconds = R.dmmse_seconds(2 * reps * R.largest(point, "P_test"), M, D) if M else 0.0
    return R.Estimate(R.MATRIX_MARGIN * nbytes, seconds, {"M": nbytes} if nbytes else {})


def estimate(point: dict[str, Any]) -> R.Estimate:
    """The estimate of one point: :func:`.resources.generic` for a reference, else its training's; plus
    its task pool's (``_pool``)."""
    pool = _pool(point)
    est = _model(point)
    slow = "M" if pool.seconds > est.seconds else est.slow
    return R.Estimate(est.bytes + pool.bytes, est.seconds + pool.seconds, {**est.parts, **pool.parts}, slow)


def _model(point: dict[str, Any]) -> R.Estimate:
    model = str(point.get("model", ""))
    if model not in SECONDS:
        return R.generic(point)
    est = R.generic({k: v for k, v in point.items() if not k.endswith("_epochs")})
    D, N, P, reps = R.largest(point, "D"), R.largest(point, "N", 1), R.largest(point, "P"), R.count_of(point, "repeats")
    held_name = f"{model}_val_prompts" if R.largest(point, f"{model}_val_prompts") else "P_val"
    held = R.largest(point, f"{model}_val_prompts") + R.largest(point, "P_val")
    width, widest = size_factor(point, model)
    per_prompt = 4.0 * 4 * (N + 1) * (D + 1) * reps * max(1.0, width**0.5)  # float32 tokens and gradients
    tokens = {"P": P * per_prompt, held_name: held * per_prompt, "P_test": R.largest(point, "P_test") * per_prompt}
    if widest:  # what the width adds, named by the option that sets it
        tokens[widest] = sum(tokens.values()) * (1 - 1 / max(1.0, width**0.5))
    epochs = R.largest(point, f"{model}_epochs") + R.largest(point, f"{model}_curriculum_epochs")
    per_prompt_epoch = SECONDS[model] * reps * (N + 1) * (D + 1) ** 2 * width
    train = per_prompt_epoch * epochs * (P + EVALUATION * held)
    slow = widest or (held_name if EVALUATION * held > P else f"{model}_epochs")
    parts = {k: est.parts.get(k, 0.0) + tokens.get(k, 0.0) for k in {*est.parts, *tokens}}
    return R.Estimate(est.bytes + R.MATRIX_MARGIN * sum(tokens.values()), est.seconds + train, parts, slow)
