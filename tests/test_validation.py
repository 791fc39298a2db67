"""Bad input stops with one clear line (an InputError), never a deep traceback or a silent NaN."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from conftest import make_features, make_spinglass, raises_one_line, stack
from spinglass_icl import validation as V
from spinglass_icl.experiments import params as P
from spinglass_icl.prompts import Features, PromptSpec, sample_features, sample_prompts
from spinglass_icl.solvers import amp, langevin, sample_exact, solve_cg, solve_exact
from spinglass_icl.spinglass import SpinGlass
from spinglass_icl.training import GramData, adam_gram

rng = lambda: np.random.default_rng(0)  # noqa: E731


@pytest.mark.parametrize(
    "kw",
    [
        dict(D=0, N=3),
        dict(D=2, N=0),
        dict(D=-1, N=3),
        dict(D=2.5, N=3),
        dict(D="3", N=3),
        dict(D=True, N=3),
        dict(D=2, N=3, sigma_x=0),
        dict(D=2, N=3, sigma_w=-1),
        dict(D=2, N=3, noise=-0.1),
        dict(D=2, N=3, noise=float("nan")),
        dict(D=2, N=3, correlation=1.0),
        dict(D=2, N=3, correlation=-0.1),
        dict(D=2, N=3, cholesky="upper"),
        dict(D=2, N=3, task_pool=0),
    ],
)
def test_bad_prompt_spec(kw):
    raises_one_line(PromptSpec, **kw)


def test_integral_floats_are_accepted():
    assert PromptSpec(D=3.0, N=4).D == 3


@pytest.mark.parametrize("sampler", [sample_prompts, sample_features])
@pytest.mark.parametrize("P", [0, -3, 1.5])
def test_bad_prompt_count(sampler, P):
    raises_one_line(sampler, PromptSpec(D=2, N=3), P, rng())


def test_bad_spinglass():
    f = make_features(2, 3, 5, seed=0)
    raises_one_line(SpinGlass, f, -0.1, match="lambda0")
    raises_one_line(SpinGlass, f, float("inf"))
    bad_a = f.a.copy()
    bad_a[0, 0] = np.nan
    raises_one_line(SpinGlass, Features(bad_a, f.b, f.y, f.N), 0.0, match="non-finite")
    raises_one_line(SpinGlass, Features(f.a, f.b[:, :2], f.y, f.N), 0.0, match="shape")
    raises_one_line(SpinGlass, Features(f.a, f.b, f.y[:3], f.N), 0.0, match="shape")
    raises_one_line(SpinGlass, Features(f.a[0], f.b[0], f.y[:1], f.N), 0.0)
    raises_one_line(SpinGlass(f, 0.1).energy, np.zeros(9), diagonal="other")
    raises_one_line(SpinGlass, f, 0.1, feature_map="other")


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(beta=0.0), "beta"),
        (dict(beta=-1.0), "beta"),
        (dict(damping=1.0), "damping"),
        (dict(damping=-0.1), "damping"),
        (dict(damping=float("nan")), "damping"),
        (dict(steps=0), "steps"),
        (dict(tol=0.0), "tol"),
        (dict(init="zeros"), "init"),
        (dict(criterion="energy"), "criterion"),
    ],
)
def test_bad_amp_arguments(kw, match):
    raises_one_line(amp, make_spinglass(), rng=rng(), match=match, **kw)


def test_bad_exact_arguments():
    sg = make_spinglass()
    raises_one_line(solve_exact, sg, "qr", match="method")
    raises_one_line(solve_exact, sg, beta=0.0, match="beta")
    raises_one_line(solve_cg, sg, tol=-1.0, match="tol")
    raises_one_line(solve_cg, sg, maxiter=0, match="maxiter")
    raises_one_line(solve_cg, sg, beta=-2.0, match="beta")


def test_bad_sampling_arguments():
    sg = make_spinglass(lambda0=0.1)
    raises_one_line(sample_exact, sg, 0.0, 10, rng(), match="beta")
    raises_one_line(sample_exact, sg, 1.0, 0, rng(), match="n")
    raises_one_line(sample_exact, make_spinglass(lambda0=0.0), 1.0, 10, rng(), match="lambda0")
    raises_one_line(langevin, sg, 1.0, steps=0, rng=rng(), match="steps")
    raises_one_line(langevin, sg, 1.0, chains=0, rng=rng(), match="chains")
    raises_one_line(langevin, sg, 1.0, steps=10, burn_in=10, rng=rng(), match="burn_in")
    raises_one_line(langevin, sg, 1.0, dt=0.0, rng=rng(), match="dt")
    batched = SpinGlass(stack([make_features(2, 3, 5, seed=s) for s in range(2)]), 0.1)
    raises_one_line(sample_exact, batched, 1.0, 10, rng(), match="batch")


def test_bad_training_arguments():
    sg = SpinGlass(make_features(2, 3, 5, seed=0), 0.0)
    tr = GramData.from_spinglass(sg, dtype="float64")
    W0 = np.zeros((1, 3, 3))
    raises_one_line(GramData.from_spinglass, sg, dtype="float16", match="dtype")
    raises_one_line(adam_gram, tr, [W0], lr=0.0, epochs=5, match="lr")
    raises_one_line(adam_gram, tr, [W0], lr=0.1, epochs=0, match="epochs")
    raises_one_line(adam_gram, tr, [W0], lr=0.1, epochs=5, weight_decay=-1.0, match="weight_decay")
    raises_one_line(adam_gram, tr, [W0], lr=0.1, epochs=5, model="mlp", match="model")
    raises_one_line(adam_gram, tr, [W0], lr=0.1, epochs=5, record_every=0, match="record_every")


def test_device_check():
    assert V.device("cpu") == "cpu"
    raises_one_line(V.device, "tpu", match="device")
    if torch.cuda.is_available():
        assert V.device("cuda") == "cuda"
    else:
        raises_one_line(V.device, "cuda", match="CUDA")
        raises_one_line(V.device, "cuda:0", match="CUDA")


def test_array_checks():
    raises_one_line(V.array, "x", [[1.0, np.inf]], match="non-finite")
    raises_one_line(V.array, "x", ["a", "b"], match="numeric")
    raises_one_line(V.array, "x", np.zeros((2, 3)), ndim=1)
    raises_one_line(V.array, "x", np.zeros(3), min_ndim=2)
    raises_one_line(V.array, "x", np.zeros((2, 3)), shape=(2, 4))
    raises_one_line(V.array, "x", np.zeros(3), shape=(2, 3))
    assert V.array("x", np.zeros((5, 2, 3)), shape=(None, 3)).shape == (5, 2, 3)


@given(
    value=st.one_of(
        st.integers(max_value=0),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=3),
        st.none(),
        st.booleans(),
    )
)
def test_positive_int_rejects_or_returns_positive(value):
    err = out = None
    try:
        out = V.positive_int("n", value)
    except V.InputError as e:
        err = str(e)
    if err is not None:
        assert "\n" not in err
    else:
        assert isinstance(out, int) and out >= 1


@given(value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5), st.text(max_size=3)))
def test_damping_domain(value):
    err = d = None
    try:
        d = V.damping(value)
    except V.InputError as e:
        err = str(e)
    if err is not None:
        assert "\n" not in err
    else:
        assert 0.0 <= d < 1.0


def test_bad_training_init():
    sg = SpinGlass(make_features(2, 3, 5, seed=0), 0.0)
    tr = GramData.from_spinglass(sg, dtype="float64")
    kw = dict(lr=0.1, epochs=2)
    raises_one_line(adam_gram, tr, [np.zeros((1, 4, 4))], match="shape", **kw)
    raises_one_line(adam_gram, tr, [np.zeros((2, 3, 3))], match="shape", **kw)  # no silent broadcast
    raises_one_line(adam_gram, tr, [np.full((1, 3, 3), np.nan)], match="non-finite", **kw)
    raises_one_line(adam_gram, tr, [np.zeros((1, 3, 3))], model="separate", **kw)
    raises_one_line(adam_gram, tr, [np.zeros((1, 2, 3)), np.zeros((1, 3, 3))], model="separate", match="W_k", **kw)
    assert adam_gram(tr, [np.zeros((1, 2, 3)), np.ones((1, 2, 3))], model="separate", **kw).W.shape == (1, 3, 3)


def test_bad_metric_input():
    from spinglass_icl.metrics import as_matrix, query_error

    f = make_features(2, 3, 5, seed=0)
    raises_one_line(query_error, np.zeros((4, 4)), f, match="D = 2")
    raises_one_line(as_matrix, np.zeros(5))


# -- helpers of issue 10: generators, --set parameters, memory, folders, scheduler addresses --------


@pytest.mark.parametrize("value", [None, 0, 7, "seed", np.random.RandomState(0), 1.5])
def test_generator_refuses_everything_but_a_numpy_generator(value):
    msg = raises_one_line(V.generator, "rng", value, match="default_rng")
    assert "rng" in msg


def test_generator_passes_a_generator_through():
    g = np.random.default_rng(3)
    assert V.generator("rng", g) is g


@pytest.mark.parametrize(
    "name, raw, quick, full, expected",
    [
        ("N", "20,100", [2, 16], [2, 4], [20, 100]),
        ("N", "[20, 100]", [2, 16], [2, 4], [20, 100]),
        ("N", "20", [2, 16], [2, 4], [20]),
        ("N", "2e1", [2], [2], [20]),
        ("D", "5", 10, 20, 5),
        ("lr", "1", 0.01, 0.01, 1.0),  # a whole number for a float parameter is a float
        ("tf_lr", "0.003", 0, 0, 0.003),  # real by name although its defaults are whole
        ("tf_lr", "0", 0, 0, 0.0),  # the default's 0 ("automatic") stays allowed
        ("lambda0", "0", 0.01, 0.01, 0.0),
        ("damping", "0", 0.9, 0.9, 0.0),
        ("models", "sla,fla", "amp,sla", "amp,sla", "sla,fla"),  # a text parameter keeps its commas
        ("models", "merged", ["merged", "separate"], ["merged", "separate"], ["merged"]),
        ("flag", "yes", True, False, True),
        ("D", 7.0, 10, 20, 7),  # Python values are checked the same way
        ("N", (3, 4), [2], [2], [3, 4]),
    ],
)
def test_experiment_param_parses_and_converts(name, raw, quick, full, expected):
    out = P.parse(name, raw, quick, full)
    assert out == expected and type(out) is type(expected)
    if isinstance(out, list):
        assert [type(x) for x in out] == [type(x) for x in expected]


@pytest.mark.parametrize(
    "name, raw, quick, full, match",
    [
        ("N", "", [2], [2], "no value"),
        ("N", "20,abc", [2], [2], "'abc' is not an integer"),
        ("N", "20,,30", [2], [2], "empty value"),
        ("N", "[]", [2], [2], "empty value|no value"),
        ("N", "2.5", [2], [2], "not an integer"),
        ("D", "0", 10, 20, "D takes an integer >= 1"),
        ("repeats", "0", 4, 10, ">= 1"),
        ("repeats", "abc", 4, 10, "not an integer"),
        ("lambda0", "nan", 0.01, 0.01, "not finite"),
        ("lambda0", "-1", 0.01, 0.01, ">= 0"),
        ("beta", "0", 100.0, 100.0, "> 0"),
        ("beta", "inf", 100.0, 100.0, "not finite"),
        ("lr", "-0.1", 0.01, 0.01, "> 0"),
        ("sa_lr", "-1", 0, 0.01, ">= 0"),
        ("damping", "1", 0.9, 0.9, "< 1"),
        ("frac", "0.3,1.5", [0.2], [0.1], "<= 1"),
        ("D", "3,4", 10, 20, "one value expected"),
        ("D", True, 10, 20, "not a number"),
        ("models", "a,,b", ["merged"], ["merged"], "empty value"),
        ("flag", "maybe", True, False, "true/false"),
        ("chunk", "0", 4, 10, ">= 1"),  # an unnamed int is a count
    ],
)
def test_experiment_param_refuses_with_key_value_and_what_is_allowed(name, raw, quick, full, match):
    msg = raises_one_line(P.parse, name, raw, quick, full, experiment="figX", match=match)
    assert msg.startswith(f"figX {name}=") and "takes" in msg


def test_declared_rules_accept_every_default_of_the_catalog():
    from spinglass_icl.experiments import registry

    for exp_id in registry.ids():
        exp = registry.get(exp_id)
        for key in exp.quick:
            for value in (exp.quick[key], exp.full[key]):
                P.parse(key, value, exp.quick[key], exp.full[key], experiment=exp_id, own=exp.rules)


def test_out_folder(tmp_path):
    assert V.out_folder(tmp_path / "a" / "b").is_dir()
    (tmp_path / "file").write_text("x")
    raises_one_line(V.out_folder, tmp_path / "file", match="is a file")
    raises_one_line(V.out_folder, tmp_path / "file" / "sub", match="cannot be created")
    raises_one_line(V.out_folder, "", match="empty")
    raises_one_line(V.out_folder, "   ", match="empty")


@pytest.mark.parametrize(
    "address, expected",
    [
        ("tcp://127.0.0.1:8786", "tcp://127.0.0.1:8786"),
        ("localhost:8786", "tcp://localhost:8786"),
        ("tls://[::1]:8786", "tls://[::1]:8786"),
    ],
)
def test_scheduler_address_accepts(address, expected):
    assert V.scheduler_address(address) == expected


@pytest.mark.parametrize(
    "address",
    ["foo", "tcp://host", "tcp://host:0", "tcp://host:99999", "http://host:80", "tcp://:8786", "tcp://host:87a6", ""],
)
def test_scheduler_address_refuses(address):
    assert "dask scheduler" in raises_one_line(V.scheduler_address, address)
