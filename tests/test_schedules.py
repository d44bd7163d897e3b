"""Tests of diffusion_edu.schedules: identities, reference values, input."""

import dataclasses

import numpy as np
import pytest

from diffusion_edu import schedules as S


@pytest.fixture(scope="module")
def lin():
    return S.linear(1000)


# ---------------------------------------------------------------- identities

@pytest.mark.parametrize("make", [
    lambda: S.linear(1000), lambda: S.cosine(1000),
    lambda: S.quadratic(50, 1e-3, 0.1), lambda: S.constant(7, 0.3)])
def test_index_zero_is_the_data(make):
    s = make()
    assert s.beta[0] == 0
    assert s.alpha[0] == 1
    assert s.alpha_bar[0] == 1.0
    assert s.beta_tilde[0] == 0
    assert s.snr[0] == np.inf
    assert s.beta_tilde[1] == 0.0          # β̃_1 = β_1 (1 − ᾱ_0)/(…) = 0
    assert s.beta.shape == (s.T + 1,) == s.alpha_bar.shape


def test_alpha_bar_is_product_up_to_t_not_T(lin):
    for t in [1, 2, 17, 500, 1000]:
        expected = np.prod(1 - lin.beta[1:t + 1])
        assert lin.alpha_bar[t] == pytest.approx(expected, rel=1e-12)


def test_beta_tilde_and_snr_formulas(lin):
    t = np.arange(2, 1001)
    ab = lin.alpha_bar
    expected = lin.beta[t] * (1 - ab[t - 1]) / (1 - ab[t])
    np.testing.assert_allclose(lin.beta_tilde[t], expected, rtol=1e-12)
    np.testing.assert_allclose(lin.snr[1:], ab[1:] / (1 - ab[1:]),
                               rtol=1e-12)
    assert np.all(lin.beta_tilde[1:] <= lin.beta[1:])


def test_constant_schedule_alpha_bar_is_a_power():
    s = S.constant(20, 0.1)
    np.testing.assert_allclose(s.alpha_bar, 0.9 ** np.arange(21),
                               rtol=1e-13)


def test_quadratic_is_linear_in_sqrt_beta():
    s = S.quadratic(100, 1e-4, 0.02)
    root = np.sqrt(s.beta[1:])
    np.testing.assert_allclose(np.diff(root, 2), 0, atol=1e-14)
    assert s.beta[1] == pytest.approx(1e-4, rel=1e-12)
    assert s.beta[100] == pytest.approx(0.02, rel=1e-12)


def test_linear_endpoints_and_spacing():
    s = S.linear(10, 0.01, 0.1)
    np.testing.assert_allclose(s.beta[1:], np.linspace(0.01, 0.1, 10),
                               rtol=1e-14)


# ------------------------------------------------- published reference values

def test_linear_alpha_bar_T_reference(lin):
    # Ho et al. (2020) schedule: ᾱ_1000 ≈ 4.0358e-05.
    assert lin.alpha_bar[1000] == pytest.approx(4.0358e-05, rel=1e-4)


def test_linear_beta_tilde_reference_values(lin):
    assert lin.beta_tilde[488] == pytest.approx(0.0097916, rel=1e-5)
    assert lin.beta_tilde[1000] == pytest.approx(0.0199999835, rel=1e-8)


def test_cosine_reference_values():
    s = S.cosine(1000)
    assert s.beta[1] == pytest.approx(4.1284e-05, rel=1e-4)
    assert s.beta[1000] == 0.999                   # clipped
    assert np.all(s.beta[1:] <= 0.999)


def test_cosine_alpha_bar_follows_f_before_clipping():
    s = S.cosine(1000)

    def f(u):
        return np.cos((u + 0.008) / 1.008 * np.pi / 2) ** 2

    t = np.arange(0, 900)
    np.testing.assert_allclose(s.alpha_bar[t], f(t / 1000) / f(0),
                               rtol=1e-10)


# ------------------------------------------------------ immutability and repr

def test_schedule_is_frozen_and_read_only(lin):
    with pytest.raises(dataclasses.FrozenInstanceError):
        lin.T = 5
    with pytest.raises(ValueError, match="read-only"):
        lin.alpha_bar[3] = 0.5
    with pytest.raises(ValueError, match="read-only"):
        lin.beta[3] = 0.5
    assert lin.alpha_bar.dtype == np.float64


def test_repr_shows_name_and_size(lin):
    text = repr(lin)
    assert "linear" in text and "T=1000" in text
    assert len(lin) == 1000


# ---------------------------------------------------------- other constructors

def test_from_betas_round_trip(lin):
    s = S.from_betas(lin.beta[1:])
    np.testing.assert_array_equal(s.alpha_bar, lin.alpha_bar)


def test_from_alpha_bar_array_round_trip():
    s = S.cosine(200)
    back = S.from_alpha_bar(s.alpha_bar[1:])
    np.testing.assert_allclose(back.beta, s.beta, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(back.alpha_bar, s.alpha_bar, rtol=1e-12)


def test_from_alpha_bar_function_normalises_by_f0():
    s = S.from_alpha_bar(lambda u: 2.0 * (1 - 0.5 * u), 4)
    np.testing.assert_allclose(s.alpha_bar, 1 - 0.5 * np.arange(5) / 4,
                               rtol=1e-14)


def test_respace_keeps_alpha_bar_at_kept_steps(lin):
    # ᾱ' is rebuilt as a product of α'_k = 1 − β'_k; when a ratio
    # ᾱ_k/ᾱ_{k−1} is ~4e-5, storing β'_k costs ~1e-16/4e-5 relative, so the
    # tolerance is 1e-10 rather than 1e-12.
    kept = np.array([1, 10, 100, 250, 999, 1000])
    short = S.respace(lin, kept)
    assert short.T == 6
    np.testing.assert_allclose(short.alpha_bar[1:], lin.alpha_bar[kept],
                               rtol=1e-10)
    np.testing.assert_array_equal(short.timesteps, [0, *kept])
    # respacing a respaced schedule maps back to the original steps
    shorter = S.respace(short, np.array([2, 5]))
    np.testing.assert_array_equal(shorter.timesteps, [0, 10, 999])
    np.testing.assert_allclose(shorter.alpha_bar[1:],
                               lin.alpha_bar[[10, 999]], rtol=1e-10)


def test_respace_evenly_keeps_alpha_bar_to_1e12(lin):
    kept = np.arange(10, 1001, 10)
    short = S.respace(lin, kept)
    np.testing.assert_allclose(short.alpha_bar[1:], lin.alpha_bar[kept],
                               rtol=1e-12)


def test_respace_with_every_step_is_the_same_schedule(lin):
    same = S.respace(lin, np.arange(1, 1001))
    np.testing.assert_allclose(same.beta, lin.beta, rtol=1e-9, atol=1e-15)


# ------------------------------------------------------------------- coef

def test_coef_broadcasts_int_and_array_t(lin):
    x = np.zeros((4, 3))
    c = S.coef(lin.alpha_bar, 7, x)
    assert c.shape == (4, 1)
    np.testing.assert_array_equal(c[:, 0], lin.alpha_bar[7])
    t = np.array([1, 2, 3, 1000])
    c = S.coef(lin.alpha_bar, t, x)
    assert c.shape == (4, 1)
    np.testing.assert_array_equal(c[:, 0], lin.alpha_bar[t])
    assert (c * x).shape == x.shape
    for scalar in (np.int64(7), np.array(7), [7, 7, 7, 7]):
        np.testing.assert_array_equal(S.coef(lin.alpha_bar, scalar, x),
                                      S.coef(lin.alpha_bar, 7, x))


def test_coef_t_min_allows_zero_only_when_asked(lin):
    x = np.zeros((2, 1))
    assert S.coef(lin.alpha_bar, 0, x, t_min=0)[0, 0] == 1.0
    with pytest.raises(ValueError, match=r"t must lie in 1\.\.T"):
        S.coef(lin.alpha_bar, 0, x)


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("call, exc, match", [
    (lambda: S.linear(0), ValueError, "T must be >= 1"),
    (lambda: S.linear(10.5), TypeError, "T must be an integer"),
    (lambda: S.linear(10, 0.0, 0.02), ValueError, r"beta_1 must be > 0"),
    (lambda: S.linear(10, 1e-4, 1.5), ValueError, r"lie in \(0, 1\)"),
    (lambda: S.linear(10, np.nan, 0.02), ValueError, "finite"),
    (lambda: S.constant(5, 1.0), ValueError, r"lie in \(0, 1\)"),
    (lambda: S.quadratic(5, -1e-4, 0.02), ValueError, "> 0"),
    (lambda: S.cosine(0), ValueError, "T must be >= 1"),
    (lambda: S.cosine(10, s=-1.0), ValueError, "s must be"),
    (lambda: S.from_betas([0.1, 1.3, 0.2]), ValueError,
     r"betas must lie in \(0, 1\); got beta\[2\] = 1\.3"),
    (lambda: S.from_betas([0.1, -0.1]), ValueError, r"\(0, 1\)"),
    (lambda: S.from_betas([0.0, 0.1]), ValueError, r"s\.beta\[1:\]"),
    (lambda: S.from_betas([0.1, np.nan]), ValueError, "finite"),
    (lambda: S.from_betas([[0.1, 0.2]]), ValueError, "1-dimensional"),
    (lambda: S.from_betas([]), ValueError, "at least one"),
    (lambda: S.Schedule(np.array([0.1, 0.2])), ValueError,
     r"beta\[0\] must be 0"),
    (lambda: S.Schedule(np.array([0.0])), ValueError, "T >= 1"),
    (lambda: S.from_alpha_bar([0.9, 0.95]), ValueError,
     "decrease strictly"),
    (lambda: S.from_alpha_bar([1.0, 0.9]), ValueError, "implied"),
    (lambda: S.from_alpha_bar(lambda u: 1 - u, 10), ValueError,
     "max_beta"),
    (lambda: S.from_alpha_bar(lambda u: 1 - u), TypeError, "T is required"),
    (lambda: S.respace(S.linear(10), [0, 5]), ValueError,
     r"lie in 1\.\.T"),
    (lambda: S.respace(S.linear(10), [5, 3]), ValueError,
     "strictly increasing"),
    (lambda: S.respace(S.linear(10), [1.0, 2.0]), ValueError, "int array"),
    (lambda: S.respace("linear", [1]), TypeError, "must be a Schedule"),
    (lambda: S.coef(S.linear(10).beta, 11, np.zeros((2, 1))), ValueError,
     r"t must lie in 1\.\.T = 1\.\.10; got 11"),
    (lambda: S.coef(S.linear(10).beta, np.array([1, 2, 3]),
                    np.zeros((2, 1))), ValueError, r"shape \(N,\) = \(2,\)"),
    (lambda: S.coef(S.linear(10).beta, np.array([1.0, 2.0]),
                    np.zeros((2, 1))), TypeError, "int array"),
    (lambda: S.coef(S.linear(10).beta, True, np.zeros((2, 1))), TypeError,
     "int"),
])
def test_bad_input_is_rejected_with_a_clear_message(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
