"""Checks for the coding exercises of chapter 6 (training and sampling).

* :func:`check_ddpm_step` — one ancestral DDPM step; recognises noise
  added at t = 1, an off-by-one in t, β̃_t instead of β_t, a variance
  used as a standard deviation, √ᾱ_t instead of √α_t, ...
* :func:`check_simple_loss` — the simplified loss of one minibatch;
  recognises ᾱ_t instead of √ᾱ_t, ᾱ_T instead of ᾱ_t, x_0 as target, ...
* :func:`check_energy_distance` — the squared energy distance;
  recognises squared distances, a missing factor 2 and a square root.
"""

from __future__ import annotations

import numpy as np

from .. import schedules as sch
from ._core import Case, CheckResult, Mistake, as_array, run_check

__all__ = [
    "check_ddpm_step",
    "check_simple_loss",
    "check_energy_distance",
]


def _finite(fn):
    """Wrap fn so that NaN/inf outputs become a large sentinel.

    A learner's off-by-one at t = 1 reads ᾱ_0 = 1 and divides 0 by 0;
    the sentinel lets the check compare such an answer with the mistake
    instead of stopping at "contains NaN".
    """
    def wrapped(*args, **kwargs):
        with np.errstate(divide="ignore", invalid="ignore"):
            out = fn(*args, **kwargs)
        if isinstance(out, tuple):      # several values: reported as such
            return out
        try:
            arr = as_array(out)
        except (TypeError, ValueError):
            return out
        return np.nan_to_num(arr, nan=1e6, posinf=1e6, neginf=-1e6)
    return wrapped


# ---------------------------------------------------------------------------
# One DDPM step
# ---------------------------------------------------------------------------

def _step(s, xt, t, eps, noise, ti, var, noise_at_1=False, root=True,
          div_alpha=None):
    """μ_θ + σ z with the coefficients read at index ti (t normally)."""
    ab = s.alpha_bar[ti]
    alpha = s.alpha[ti] if div_alpha is None else div_alpha
    mean = (xt - s.beta[ti] / np.sqrt(1.0 - ab) * eps) / np.sqrt(alpha)
    scale = np.sqrt(var) if root else var
    if t == 1 and not noise_at_1:
        scale = 0.0
    return mean + scale * noise


def _ddpm_reference(s, xt, t, eps, noise):
    return _step(s, xt, t, eps, noise, t, s.beta[t])


def _ddpm_noise_at_1(s, xt, t, eps, noise):
    return _step(s, xt, t, eps, noise, t, s.beta[t], noise_at_1=True)


def _ddpm_off_by_one(s, xt, t, eps, noise):
    return _step(s, xt, t, eps, noise, t - 1, s.beta[t - 1])


def _ddpm_beta_tilde(s, xt, t, eps, noise):
    return _step(s, xt, t, eps, noise, t, s.beta_tilde[t])


def _ddpm_var_as_std(s, xt, t, eps, noise):
    return _step(s, xt, t, eps, noise, t, s.beta[t], root=False)


def _ddpm_sqrt_alpha_bar(s, xt, t, eps, noise):
    return _step(s, xt, t, eps, noise, t, s.beta[t],
                 div_alpha=s.alpha_bar[t])


def _ddpm_no_sqrt_denominator(s, xt, t, eps, noise):
    mean = (xt - s.beta[t] / (1.0 - s.alpha_bar[t]) * eps) / np.sqrt(
        s.alpha[t])
    return mean + (t > 1) * np.sqrt(s.beta[t]) * noise


def _ddpm_cases() -> list[Case]:
    rng = np.random.default_rng(601)
    lin, cos = sch.linear(1000), sch.cosine(50)
    settings = [
        ("linear(1000), t = 1 (last reverse step: no noise)", lin, 1,
         (5, 2)),
        ("linear(1000), t = 2", lin, 2, (4, 1)),
        ("linear(1000), t = 500, 6 points in 2-D", lin, 500, (6, 2)),
        ("linear(1000), t = T = 1000", lin, 1000, (3, 1)),
        ("cosine(50), t = 1, 1-D", cos, 1, (4, 1)),
        ("cosine(50), t = 3, 3-D", cos, 3, (3, 3)),
        ("cosine(50), t = 37", cos, 37, (5, 2)),
    ]
    cases = []
    for label, s, t, shape in settings:
        xt, eps, noise = rng.standard_normal((3,) + shape)
        cases.append(Case(label, (s, xt, t, eps, noise)))
    return cases


def check_ddpm_step(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(s, xt, t, eps, noise)`` = x_{t−1} of one DDPM step
    with σ_t² = β_t and no noise at t = 1 (exercise ex-06-ddpm-step)."""
    mistakes = [
        Mistake("noise added at t = 1", _ddpm_noise_at_1,
                "Algorithm 2 returns the mean mu_theta(x_1, 1) at t = 1 "
                "and adds no noise there; this exercise asks for that "
                "convention. (The noise-free output estimates "
                "E[x_0 | x_1] and is slightly narrower than the data; "
                "chapter 6 measures what noise at t = 1 changes.)"),
        Mistake("off-by-one in t", _ddpm_off_by_one,
                "every coefficient of step t is read at index t: "
                "s.beta[t], s.alpha[t], s.alpha_bar[t]. Index t - 1 is "
                "the coefficient of the previous step (a 0-based loop "
                "variable used as the book's t)."),
        Mistake("beta_tilde_t instead of beta_t", _ddpm_beta_tilde,
                "this exercise asks for Algorithm 2 of Ho et al. with "
                "the choice sigma_t^2 = beta_t (s.beta[t], 'fixed "
                "large'), not beta_tilde_t."),
        Mistake("variance used as a standard deviation", _ddpm_var_as_std,
                "multiply the noise by the standard deviation "
                "np.sqrt(beta_t), not by the variance beta_t."),
        Mistake("sqrt(alpha_bar_t) instead of sqrt(alpha_t)",
                _ddpm_sqrt_alpha_bar,
                "the mean divides by sqrt(alpha_t), the factor of ONE "
                "forward step, not by sqrt(alpha_bar_t)."),
        Mistake("1 - alpha_bar_t without the square root",
                _ddpm_no_sqrt_denominator,
                "the noise coefficient is beta_t / sqrt(1 - alpha_bar_t):"
                " the standard deviation of x_t given x_0."),
    ]
    mistakes = [Mistake(m.name, _finite(m.wrong), m.hint)
                for m in mistakes]
    if callable(answer):
        answer = _finite(answer)
    return run_check(
        "one DDPM step x_(t-1) = mu_theta + sigma_t z", answer,
        _ddpm_reference, _ddpm_cases(), mistakes=mistakes, strict=strict,
        hint="a step is the mean of eq. (6.1) plus a noise term: test "
             "the mean alone first (noise = 0) against eq. (4.7) of "
             "Chapter 4, then the noise scale, the square root of the "
             "variance sigma_t^2 = beta_t; at t = 1 the book's convention "
             "returns the mean.")


# ---------------------------------------------------------------------------
# The simplified loss of one minibatch
# ---------------------------------------------------------------------------

def _linear_eps_model(x, t):
    """A fixed, t-dependent stand-in for a network."""
    t = np.asarray(t, dtype=float).reshape(-1, 1)
    return 0.7 * x * np.cos(t / 40.0) - 0.1 * np.sin(x) + 0.01 * t / 10


def _loss_with(s, eps_model, x0, t, noise, a, c, target="eps"):
    xt = a * x0 + c * noise
    pred = eps_model(xt, t)
    goal = noise if target == "eps" else x0
    return float(np.mean((goal - pred) ** 2))


def _loss_reference(eps_model, s, x0, t, noise):
    ab = s.alpha_bar[t][:, None]
    return _loss_with(s, eps_model, x0, t, noise, np.sqrt(ab),
                      np.sqrt(1 - ab))


def _loss_no_sqrt(eps_model, s, x0, t, noise):
    ab = s.alpha_bar[t][:, None]
    return _loss_with(s, eps_model, x0, t, noise, ab, 1 - ab)


def _loss_alpha_bar_T(eps_model, s, x0, t, noise):
    ab = s.alpha_bar[s.T]
    return _loss_with(s, eps_model, x0, t, noise, np.sqrt(ab),
                      np.sqrt(1 - ab))


def _loss_alpha(eps_model, s, x0, t, noise):
    a = s.alpha[t][:, None]
    return _loss_with(s, eps_model, x0, t, noise, np.sqrt(a),
                      np.sqrt(1 - a))


def _loss_x0_target(eps_model, s, x0, t, noise):
    ab = s.alpha_bar[t][:, None]
    return _loss_with(s, eps_model, x0, t, noise, np.sqrt(ab),
                      np.sqrt(1 - ab), target="x0")


def _loss_sum_coordinates(eps_model, s, x0, t, noise):
    return x0.shape[1] * _loss_reference(eps_model, s, x0, t, noise)


def _loss_cases() -> list[Case]:
    rng = np.random.default_rng(602)
    cases = []
    for label, s, n, d in [
            ("linear(1000), 64 points in 2-D", sch.linear(1000), 64, 2),
            ("cosine(50), 40 points in 1-D", sch.cosine(50), 40, 1),
            ("linear(200), 30 points in 3-D", sch.linear(200), 30, 3)]:
        x0 = 1.3 * rng.standard_normal((n, d))
        t = rng.integers(1, s.T + 1, size=n)
        t[:2] = (1, s.T)
        noise = rng.standard_normal((n, d))
        cases.append(Case(label, (_linear_eps_model, s, x0, t, noise)))
    return cases


def check_simple_loss(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(eps_model, s, x0, t, noise)`` = the simplified loss
    of one minibatch, mean over examples and coordinates
    (exercise ex-06-simple-loss)."""
    return run_check(
        "simplified loss of one minibatch", answer, _loss_reference,
        _loss_cases(), strict=strict, rtol=1e-6,
        mistakes=[
            Mistake("alpha_bar_t instead of sqrt(alpha_bar_t)",
                    _loss_no_sqrt,
                    "x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) "
                    "eps: the coefficients are standard deviations, so "
                    "take square roots of alpha_bar_t and 1 - "
                    "alpha_bar_t."),
            Mistake("alpha_bar_T for every example", _loss_alpha_bar_T,
                    "each example has its own step t[i]: use "
                    "s.alpha_bar[t] (an array), not s.alpha_bar[s.T] or "
                    "s.alpha_bar[-1]."),
            Mistake("alpha_t instead of alpha_bar_t", _loss_alpha,
                    "x_t is reached from x_0 in t steps: its coefficient "
                    "is the product alpha_bar_t, not the one-step "
                    "alpha_t."),
            Mistake("x_0 as the regression target", _loss_x0_target,
                    "the network predicts the noise: compare "
                    "eps_model(x_t, t) with eps (noise), not with x_0."),
            Mistake("sum over coordinates", _loss_sum_coordinates,
                    "take the mean over examples AND coordinates "
                    "(np.mean of the squared errors), as train_denoiser "
                    "does."),
        ],
        hint="print the shapes: each example has its own t, so "
             "alpha_bar_t must be a column of shape (N, 1), and x_t is "
             "built as in eq. (3.7) of Chapter 3. The loss compares the "
             "noise you drew with the model's prediction at (x_t, t), "
             "averaged over examples and coordinates.")


# ---------------------------------------------------------------------------
# Energy distance
# ---------------------------------------------------------------------------

def _mean_pair_dist(a, b, power=1.0):
    diff = a[:, None, :] - b[None, :, :]
    return float(np.mean(np.sum(diff ** 2, axis=-1) ** (power / 2)))


def _energy_reference(a, b):
    return (2 * _mean_pair_dist(a, b) - _mean_pair_dist(a, a)
            - _mean_pair_dist(b, b))


def _energy_squared(a, b):
    return (2 * _mean_pair_dist(a, b, 2) - _mean_pair_dist(a, a, 2)
            - _mean_pair_dist(b, b, 2))


def _energy_no_two(a, b):
    return (_mean_pair_dist(a, b) - _mean_pair_dist(a, a)
            - _mean_pair_dist(b, b))


def _energy_sqrt(a, b):
    return float(np.sqrt(max(_energy_reference(a, b), 0.0)))


def _energy_cross_only(a, b):
    return _mean_pair_dist(a, b)


def _energy_no_self_pairs(a, b):
    def within(u):
        n = u.shape[0]
        return _mean_pair_dist(u, u) * n / (n - 1)   # i = k left out
    return 2 * _mean_pair_dist(a, b) - within(a) - within(b)


def _energy_cases() -> list[Case]:
    rng = np.random.default_rng(603)
    return [
        Case("two 2-D samples of sizes 50 and 40, shifted",
             (rng.standard_normal((50, 2)),
              rng.standard_normal((40, 2)) + [0.5, -0.2])),
        Case("1-D samples of sizes 30 and 30, different spreads",
             (rng.standard_normal((30, 1)),
              2.0 * rng.standard_normal((30, 1)))),
        Case("3-D samples, 25 and 35 points",
             (rng.standard_normal((25, 3)),
              rng.standard_normal((35, 3)) * [1, 1, 0.3])),
    ]


def check_energy_distance(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(a, b)`` = the squared energy distance (V-statistic:
    means over all pairs, i = j included) (exercise
    ex-06-energy-distance)."""
    return run_check(
        "squared energy distance", answer, _energy_reference,
        _energy_cases(), strict=strict, rtol=1e-8,
        mistakes=[
            Mistake("squared distances", _energy_squared,
                    "use Euclidean distances ||x - y||, not their "
                    "squares: with squares the three terms collapse to "
                    "2 ||mean(a) - mean(b)||^2 and only the means are "
                    "compared."),
            Mistake("missing factor 2 on the cross term", _energy_no_two,
                    "D^2 = 2 E||X - Y|| - E||X - X'|| - E||Y - Y'||: the "
                    "cross term counts twice."),
            Mistake("square root taken", _energy_sqrt,
                    "return D^2 itself (the quantity of the equation), "
                    "not its square root."),
            Mistake("only the cross term", _energy_cross_only,
                    "E||X - Y|| alone is not 0 when the two samples "
                    "come from the same distribution: subtract the two "
                    "within-sample terms."),
            Mistake("self-pairs left out", _energy_no_self_pairs,
                    "the exercise asks for the average over ALL pairs, "
                    "a point with itself included (np.mean of the full "
                    "N x N matrix); leaving out i = k gives the unbiased "
                    "U-statistic, a different estimate."),
        ],
        hint="compare with eq. (6.2) term by term on two tiny data sets "
             "you can do by hand (two points each): distances, not "
             "squared distances; the cross term counted twice; the "
             "within-set averages include the pairs (i, i).")
