"""Checks for the coding exercises of chapter 9 (guidance).

* :func:`check_class_posterior` — the exact classifier p(c | x_t) of a
  noised labelled mixture; recognises the clean (un-noised) components,
  forgotten mixture weights, means not scaled by √ᾱ_t, a missing
  1 − ᾱ_t, ...
* :func:`check_cfg_eps` — (1 + w) ε(x, c) − w ε(x, ∅); recognises the
  γ convention used with w, a wrong sign of the guidance term, the two
  branches swapped, ...
* :func:`check_classifier_guided_eps` — ε − λ √(1 − ᾱ_t) ∇ log p(c | x_t);
  recognises a wrong sign, the gradient added with the score's scaling,
  a division instead of a product, the variance instead of the standard
  deviation, ...
* :func:`check_cfg_from_network` — both branches from one conditional
  network; recognises the unconditional branch evaluated with the label,
  the γ convention, a wrong sign, ...
"""

from __future__ import annotations

import numpy as np

from .. import schedules as sch
from ..guidance import class_posterior
from ..toy_data import GaussianMixture2D
from ._core import Case, CheckResult, Mistake, run_check

__all__ = [
    "check_class_posterior",
    "check_cfg_eps",
    "check_classifier_guided_eps",
    "check_cfg_from_network",
]


# ---------------------------------------------------------------------------
# The exact classifier of the noised mixture
# ---------------------------------------------------------------------------

def _posterior_with(mixture, x, s, t, *, a_pow=1.0, v_pow=2.0,
                    add_c=True, equal_weights=False):
    """Class posterior with a chosen (possibly wrong) noised component."""
    ab = s.alpha_bar[t]
    a = np.sqrt(ab)
    mean = mixture.means * a ** a_pow
    var = mixture.variances * a ** v_pow + ((1 - ab) if add_c else 0.0)
    w = (np.full(len(mixture.weights), 1 / len(mixture.weights))
         if equal_weights else mixture.weights)
    logn = (np.log(w)[:, None]
            - 0.5 * np.sum(np.log(2 * np.pi * var), 1)[:, None]
            - 0.5 * np.sum((x[None] - mean[:, None]) ** 2
                           / var[:, None], axis=2))          # (K, N)
    logn -= logn.max(0, keepdims=True)
    r = np.exp(logn)
    out = np.stack([r[mixture.labels == c].sum(0)
                    for c in mixture.classes], axis=1)
    return out / out.sum(1, keepdims=True)


def _posterior_reference(mixture, x, s, t):
    return class_posterior(mixture, x, s, t)


def _posterior_clean(mixture, x, s, t):
    return class_posterior(mixture, x)


def _posterior_equal_weights(mixture, x, s, t):
    return _posterior_with(mixture, x, s, t, equal_weights=True)


def _posterior_unscaled_means(mixture, x, s, t):
    return _posterior_with(mixture, x, s, t, a_pow=0.0)


def _posterior_no_noise_var(mixture, x, s, t):
    return _posterior_with(mixture, x, s, t, add_c=False)


def _posterior_sqrt_on_v(mixture, x, s, t):
    return _posterior_with(mixture, x, s, t, v_pow=1.0)


def _posterior_components(mixture, x, s, t):
    # responsibilities of the first C components, not summed per class
    ab = s.alpha_bar[t]
    var = ab * mixture.variances + 1 - ab                    # (K, D)
    logits = (np.log(mixture.weights)[None]
              - 0.5 * np.sum(np.log(2 * np.pi * var), 1)[None]
              - 0.5 * np.sum((x[:, None] - np.sqrt(ab) * mixture.means)
                             ** 2 / var[None], axis=2))      # (N, K)
    logits = logits[:, :len(mixture.classes)]
    p = np.exp(logits - logits.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def _posterior_no_logs(mixture, x, s, t):
    # densities multiplied out directly: 0 / 0 far from the data
    ab = s.alpha_bar[t]
    var = ab * mixture.variances + 1 - ab                    # (K, D)
    diff = x[:, None] - np.sqrt(ab) * mixture.means          # (N, K, D)
    dens = (mixture.weights
            * np.exp(-0.5 * np.sum(diff ** 2 / var, axis=2))
            / np.sqrt(np.prod(2 * np.pi * var, axis=1)))     # (N, K)
    r = dens / dens.sum(1, keepdims=True)
    return np.stack([r[:, mixture.labels == c].sum(1)
                     for c in mixture.classes], axis=1)


def _posterior_cases() -> list[Case]:
    rng = np.random.default_rng(901)
    ang = np.deg2rad([90, 210, 330])
    three = GaussianMixture2D([0.5, 0.3, 0.2],
                              np.stack([np.cos(ang), np.sin(ang)], 1),
                              [0.2, 0.1, 0.3], [0, 1, 2])
    paired = GaussianMixture2D([0.1, 0.2, 0.3, 0.4],
                               [[-1.0, 0.0], [0.0, 1.0], [1.0, 0.2],
                                [0.2, -1.2]],
                               [[0.05, 0.1], [0.2, 0.05], [0.1, 0.1],
                                [0.3, 0.02]], [0, 1, 0, 1])
    odd = GaussianMixture2D([0.2, 0.3, 0.5],
                            [[0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]],
                            [0.1, 0.2, 0.3], [5, 2, 5])
    lin, cos = sch.linear(1000), sch.cosine(200)
    return [
        Case("3 classes, linear(1000), t = 1 (almost clean)",
             (three, rng.standard_normal((6, 2)), lin, 1)),
        Case("3 classes, linear(1000), t = 200",
             (three, rng.standard_normal((6, 2)), lin, 200)),
        Case("3 classes, linear(1000), t = 1, points far from the data",
             (three, np.array([[50.0, 0.0], [-40.0, 30.0], [0.5, 0.5]]),
              lin, 1)),
        Case("2 classes of 2 components each, cosine(200), t = 60",
             (paired, 1.5 * rng.standard_normal((8, 2)), cos, 60)),
        Case("2 classes of 2 components, cosine(200), t = 150 (noisy)",
             (paired, rng.standard_normal((5, 2)), cos, 150)),
        Case("classes labelled 5 and 2 (columns in the order of "
             "mixture.classes, [2, 5]), cosine(200), t = 50",
             (odd, rng.standard_normal((4, 2)), cos, 50)),
    ]


def check_class_posterior(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(mixture, x, s, t)`` = p(c | x_t), shape (N, C)
    (exercise ex-09-class-posterior)."""
    return run_check(
        "exact classifier p(c | x_t)", answer, _posterior_reference,
        _posterior_cases(), strict=strict, rtol=1e-6, atol=1e-9,
        mistakes=[
            Mistake("clean components", _posterior_clean,
                    "x_t is a noised point: component k of q(x_t) is "
                    "N(sqrt(alpha_bar_t) m_k, alpha_bar_t v_k + 1 - "
                    "alpha_bar_t), not the clean N(m_k, v_k)."),
            Mistake("mixture weights forgotten", _posterior_equal_weights,
                    "p(c | x_t) is proportional to the PRIOR weight times "
                    "the likelihood: include the weights w_k of the "
                    "components."),
            Mistake("means not scaled", _posterior_unscaled_means,
                    "the forward process shrinks the data: the means of "
                    "q(x_t) are sqrt(alpha_bar_t) m_k."),
            Mistake("noise variance missing", _posterior_no_noise_var,
                    "the variance of component k of q(x_t) is "
                    "alpha_bar_t v_k + (1 - alpha_bar_t): the added "
                    "noise contributes 1 - alpha_bar_t."),
            Mistake("sqrt(alpha_bar) on the variance",
                    _posterior_sqrt_on_v,
                    "scaling x_0 by sqrt(alpha_bar_t) scales its "
                    "variance by alpha_bar_t (the square of the factor)."),
            Mistake("components not summed per class",
                    _posterior_components,
                    "a class may own several components: sum the "
                    "responsibilities of all components with that label "
                    "(column j is the class mixture.classes[j])."),
            Mistake("densities without logarithms", _posterior_no_logs,
                    "far from the data every Gaussian density underflows "
                    "to 0 and the ratio is 0 / 0: work with the log "
                    "densities and subtract the largest one of each point "
                    "before exponentiating (log-sum-exp)."),
        ],
        hint="compute log w_k + log N(x_t; sqrt(ab) m_k, ab v_k + 1 - ab) "
             "for every component (ab = s.alpha_bar[t]), normalise over "
             "the components, then add up the components of each class "
             "(mixture.labels, in the order of mixture.classes).")


# ---------------------------------------------------------------------------
# The classifier-free combination
# ---------------------------------------------------------------------------

def _cfg_reference(eps_uncond, eps_cond, w):
    return (1 + w) * eps_cond - w * eps_uncond


def _cfg_gamma_as_w(eps_uncond, eps_cond, w):
    return eps_uncond + w * (eps_cond - eps_uncond)


def _cfg_wrong_sign(eps_uncond, eps_cond, w):
    return eps_cond - w * (eps_cond - eps_uncond)


def _cfg_swapped(eps_uncond, eps_cond, w):
    return (1 + w) * eps_uncond - w * eps_cond


def _cfg_no_one(eps_uncond, eps_cond, w):
    return w * eps_cond - w * eps_uncond


def _cfg_cases() -> list[Case]:
    rng = np.random.default_rng(902)
    cases = []
    for label, w, shape in [("w = 2, 5 points in 2-D", 2.0, (5, 2)),
                            ("w = 0.5, 4 points in 3-D", 0.5, (4, 3)),
                            ("w = 7.5 (strong), 6 points", 7.5, (6, 2)),
                            ("w = 0 (the conditional model)", 0.0,
                             (3, 2))]:
        eu, ec = rng.standard_normal((2,) + shape)
        cases.append(Case(label, (eu, ec, w)))
    return cases


def check_cfg_eps(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(eps_uncond, eps_cond, w)`` = (1 + w) ε_c − w ε_∅
    (exercise ex-09-cfg-eps)."""
    return run_check(
        "classifier-free guidance with weight w", answer, _cfg_reference,
        _cfg_cases(), strict=strict,
        mistakes=[
            Mistake("gamma convention used with w", _cfg_gamma_as_w,
                    "eps_u + w (eps_c - eps_u) is the formula for the "
                    "guidance SCALE gamma; with the weight w of Ho and "
                    "Salimans, gamma = 1 + w: (1 + w) eps_c - w eps_u."),
            Mistake("wrong sign of the guidance term", _cfg_wrong_sign,
                    "guidance moves AWAY from the unconditional "
                    "prediction: eps_c + w (eps_c - eps_u), not minus."),
            Mistake("branches swapped", _cfg_swapped,
                    "the weight (1 + w) multiplies the CONDITIONAL "
                    "prediction eps_cond; -w multiplies eps_uncond."),
            Mistake("conditional term without the 1", _cfg_no_one,
                    "w (eps_c - eps_u) is only the guidance direction; "
                    "add it to eps_c: (1 + w) eps_c - w eps_u."),
        ],
        hint="guidance adds w times the direction eps_cond - eps_uncond "
             "to the CONDITIONAL prediction; test your formula: w = 0 "
             "must give eps_cond and w = -1 eps_uncond.")


# ---------------------------------------------------------------------------
# Classifier guidance on a noise prediction
# ---------------------------------------------------------------------------

def _cg_reference(s, xt, t, eps, grad_log_prob, scale):
    return eps - scale * np.sqrt(1 - s.alpha_bar[t]) * grad_log_prob


def _cg_wrong_sign(s, xt, t, eps, grad_log_prob, scale):
    return eps + scale * np.sqrt(1 - s.alpha_bar[t]) * grad_log_prob


def _cg_score_scaling(s, xt, t, eps, grad_log_prob, scale):
    return eps + scale * grad_log_prob


def _cg_no_factor(s, xt, t, eps, grad_log_prob, scale):
    return eps - scale * grad_log_prob


def _cg_divided(s, xt, t, eps, grad_log_prob, scale):
    return eps - scale * grad_log_prob / np.sqrt(1 - s.alpha_bar[t])


def _cg_variance(s, xt, t, eps, grad_log_prob, scale):
    return eps - scale * (1 - s.alpha_bar[t]) * grad_log_prob


def _cg_cases() -> list[Case]:
    rng = np.random.default_rng(903)
    lin, cos = sch.linear(1000), sch.cosine(200)
    cases = []
    for label, s, t, scale in [("linear(1000), t = 10, scale 2", lin, 10,
                                2.0),
                               ("linear(1000), t = 500, scale 1", lin,
                                500, 1.0),
                               ("cosine(200), t = 120, scale 4", cos, 120,
                                4.0),
                               ("cosine(200), t = 3, scale 0.5", cos, 3,
                                0.5)]:
        xt, eps, g = rng.standard_normal((3, 5, 2))
        cases.append(Case(label, (s, xt, t, eps, 3 * g, scale)))
    return cases


def check_classifier_guided_eps(answer, strict: bool = False
                                ) -> CheckResult:
    """Check ``answer(s, xt, t, eps, grad_log_prob, scale)`` =
    ε − λ √(1 − ᾱ_t) ∇ log p(c | x_t) (exercise ex-09-classifier-eps)."""
    return run_check(
        "classifier guidance on epsilon", answer, _cg_reference,
        _cg_cases(), strict=strict,
        mistakes=[
            Mistake("wrong sign of the guidance term", _cg_wrong_sign,
                    "the score gets + scale * grad; since eps = "
                    "-sqrt(1 - alpha_bar_t) * score, eps gets MINUS "
                    "scale * sqrt(1 - alpha_bar_t) * grad."),
            Mistake("added to eps with the score's scaling",
                    _cg_score_scaling,
                    "grad log p(c | x_t) is a term of the SCORE; convert "
                    "it to the units of eps by multiplying by "
                    "-sqrt(1 - alpha_bar_t) before adding it."),
            Mistake("factor sqrt(1 - alpha_bar_t) missing", _cg_no_factor,
                    "the sign is right, but a score term becomes an eps "
                    "term after multiplication by sqrt(1 - "
                    "alpha_bar_t)."),
            Mistake("divided by sqrt(1 - alpha_bar_t)", _cg_divided,
                    "eps = -sqrt(1 - alpha_bar_t) * score: from score to "
                    "eps you MULTIPLY by the standard deviation."),
            Mistake("variance instead of standard deviation",
                    _cg_variance,
                    "the factor is the standard deviation sqrt(1 - "
                    "alpha_bar_t) of the noise in x_t, not its "
                    "variance."),
        ],
        hint="the guided score is score + scale * grad_log_prob; map it "
             "to eps with eps = -sqrt(1 - alpha_bar_t) * score "
             "(alpha_bar_t = s.alpha_bar[t]).")


# ---------------------------------------------------------------------------
# Both branches from one conditional network
# ---------------------------------------------------------------------------

class _ExactNetwork:
    """eps_net(x, t, label=None): the exact ε of a labelled mixture,
    conditional on ``label`` or unconditional for None (the token ∅)."""

    def __init__(self, mixture, s):
        self.mixture, self.s = mixture, s

    def __call__(self, x, t, label=None):
        if label is None:
            return self.mixture.eps(x, self.s, t)
        return self.mixture.conditional(int(label)).eps(x, self.s, t)

    def __repr__(self) -> str:
        return f"eps_net({self.mixture!r})"


def _net_reference(eps_net, x, t, label, w):
    return (1 + w) * eps_net(x, t, label) - w * eps_net(x, t, None)


def _net_label_in_both(eps_net, x, t, label, w):
    return (1 + w) * eps_net(x, t, label) - w * eps_net(x, t, label)


def _net_gamma_as_w(eps_net, x, t, label, w):
    e_u = eps_net(x, t, None)
    return e_u + w * (eps_net(x, t, label) - e_u)


def _net_wrong_sign(eps_net, x, t, label, w):
    e_c = eps_net(x, t, label)
    return e_c - w * (e_c - eps_net(x, t, None))


def _net_cases() -> list[Case]:
    rng = np.random.default_rng(904)
    ang = np.deg2rad([90, 210, 330])
    three = GaussianMixture2D(None, np.stack([np.cos(ang), np.sin(ang)],
                                             1), np.full(3, 0.2), [0, 1, 2])
    paired = GaussianMixture2D([0.1, 0.2, 0.3, 0.4],
                               [[-1.0, 0.0], [0.0, 1.0], [1.0, 0.2],
                                [0.2, -1.2]], np.full(4, 0.1), [0, 1, 0, 1])
    s = sch.cosine(200)
    net3, net2 = _ExactNetwork(three, s), _ExactNetwork(paired, s)
    return [
        Case("3 classes, t = 40, class 0, w = 3",
             (net3, rng.standard_normal((6, 2)), 40, 0, 3.0)),
        Case("3 classes, t = 150, class 2, w = 1",
             (net3, rng.standard_normal((5, 2)), 150, 2, 1.0)),
        Case("2 classes of 2 components, t = 10, class 1, w = 0.5",
             (net2, rng.standard_normal((4, 2)), 10, 1, 0.5)),
    ]


def check_cfg_from_network(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(eps_net, x, t, label, w)`` = (1 + w) ε(x, t, c) −
    w ε(x, t, ∅) (exercise ex-09-cfg-network)."""
    return run_check(
        "classifier-free guidance from one network", answer,
        _net_reference, _net_cases(), strict=strict,
        mistakes=[
            Mistake("unconditional branch evaluated with the label",
                    _net_label_in_both,
                    "the unconditional branch is the SAME network called "
                    "with the token 'no label': eps_net(x, t, None). "
                    "Called with the label, both branches agree and the "
                    "guidance term vanishes."),
            Mistake("gamma convention used with w", _net_gamma_as_w,
                    "with Ho and Salimans' weight w the conditional "
                    "branch gets 1 + w: (1 + w) eps_c - w eps_u "
                    "(eps_u + gamma (eps_c - eps_u) with gamma = 1 + w)."),
            Mistake("wrong sign of the guidance term", _net_wrong_sign,
                    "guidance extrapolates from the unconditional "
                    "prediction through the conditional one: eps_c + "
                    "w (eps_c - eps_u)."),
        ],
        hint="call the network twice, with the label and with None (the "
             "token 'no label'), and combine the two predictions with "
             "the weight w as in the exercise on the classifier-free "
             "combination (w = 0 must give the conditional one).")
