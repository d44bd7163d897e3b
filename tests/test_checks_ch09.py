"""Tests of the chapter 9 exercise checks (diffusion_edu.checks.ch09).

Each check must accept the reference (the package's functions and an
answer written the way a learner would), report "not implemented" for
the stub, and reject the classic mistakes of guidance while naming them:
the wrong sign of the guidance term, the gamma and w conventions mixed,
guidance added to eps with the score's scaling, and the unconditional
branch evaluated with the label.
"""

import numpy as np
import pytest
import torch
from check_helpers import assert_accepts, assert_lists_mistakes

from diffusion_edu import checks, guidance
from diffusion_edu.checks import ch09, listed_mistakes


def stub(*args, **kwargs):
    raise NotImplementedError


def posterior_by_hand(mixture, x, s, t):
    # log w_k + log N_k(x) component by component, then Bayes' rule with
    # the largest log term of each point factored out (no 0 / 0)
    ab = s.alpha_bar[t]
    logs = []
    for w, m, v in zip(mixture.weights, mixture.means, mixture.variances,
                       strict=True):
        var = ab * v + 1 - ab
        logs.append(np.log(w) + np.sum(
            -(x - np.sqrt(ab) * m) ** 2 / (2 * var)
            - 0.5 * np.log(2 * np.pi * var), axis=1))
    logs = np.stack(logs, axis=1)                            # (N, K)
    dens = np.exp(logs - logs.max(axis=1, keepdims=True))
    cols = [dens[:, np.asarray(mixture.labels) == c].sum(axis=1)
            for c in mixture.classes]
    p = np.stack(cols, axis=1)
    return p / p.sum(axis=1, keepdims=True)


def posterior_float32_torch(mixture, x, s, t):
    return torch.from_numpy(guidance.class_posterior(mixture, x, s, t)
                            .astype(np.float32))


def cfg_gamma_style(eps_uncond, eps_cond, w):
    gamma = guidance.gamma_from_w(w)
    return eps_uncond + gamma * (eps_cond - eps_uncond)


def cg_by_hand(s, xt, t, eps, grad_log_prob, scale):
    score = -eps / np.sqrt(1 - s.alpha_bar[t]) + scale * grad_log_prob
    return -np.sqrt(1 - s.alpha_bar[t]) * score


def net_by_hand(eps_net, x, t, label, w):
    return guidance.cfg_eps(eps_net(x, t, None), eps_net(x, t, label), w)


CHECKS = [
    (ch09.check_class_posterior,
     [guidance.class_posterior, posterior_by_hand,
      posterior_float32_torch]),
    (ch09.check_cfg_eps, [guidance.cfg_eps, cfg_gamma_style]),
    (ch09.check_classifier_guided_eps,
     [guidance.classifier_guided_eps, cg_by_hand]),
    (ch09.check_cfg_from_network, [net_by_hand]),
]
IDS = [c.__name__ for c, _ in CHECKS]


@pytest.mark.parametrize("check, answers", CHECKS, ids=IDS)
def test_check_accepts_package_and_learner_style_answers(check, answers):
    assert_accepts(check, answers, 3)


@pytest.mark.parametrize("check, answers", CHECKS, ids=IDS)
def test_check_reports_the_stub(check, answers):
    assert check(stub).status == "not implemented"


def test_every_check_lists_at_least_three_mistakes():
    assert_lists_mistakes(CHECKS)


@pytest.mark.parametrize("check, name", [
    (ch09.check_cfg_eps, "wrong sign of the guidance term"),
    (ch09.check_cfg_eps, "gamma convention used with w"),
    (ch09.check_classifier_guided_eps, "wrong sign of the guidance term"),
    (ch09.check_classifier_guided_eps,
     "added to eps with the score's scaling"),
    (ch09.check_cfg_from_network,
     "unconditional branch evaluated with the label"),
    (ch09.check_cfg_from_network, "gamma convention used with w"),
])
def test_check_names_the_classic_guidance_mistakes(check, name):
    mistake = {m.name: m for m in listed_mistakes(check)}[name]
    result = check(mistake.wrong)
    assert result.status == "failed" and result.mistake == name
    # the same mistake in float32 is still recognised as wrong
    def as32(*args):
        return np.asarray(mistake.wrong(*args), dtype=np.float32)
    assert check(as32).status == "failed"


def test_posterior_reference_rows_are_probabilities_and_match_bayes():
    for case in ch09._posterior_cases():
        mixture, x, s, t = case.args
        p = ch09._posterior_reference(*case.args)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
        np.testing.assert_allclose(p, posterior_by_hand(*case.args),
                                   rtol=1e-10)


def test_cfg_and_network_references_agree_at_w_zero_with_conditional():
    case = ch09._net_cases()[0]
    net, x, t, label, _ = case.args
    np.testing.assert_allclose(ch09._net_reference(net, x, t, label, 0.0),
                               net(x, t, label), rtol=1e-12)


def test_checks_are_exported_from_package():
    for name in ch09.__all__:
        assert getattr(checks, name) is getattr(ch09, name)


def posterior_without_logs(mixture, x, s, t):
    # a learner's answer that multiplies the densities out directly
    ab = s.alpha_bar[t]
    cols = []
    for c in mixture.classes:
        keep = mixture.labels == c
        var = ab * mixture.variances[keep] + 1 - ab
        diff = x[:, None] - np.sqrt(ab) * mixture.means[keep]
        dens = (mixture.weights[keep]
                * np.exp(-0.5 * np.sum(diff ** 2 / var, axis=2))
                / np.sqrt(np.prod(2 * np.pi * var, axis=1)))
        cols.append(dens.sum(axis=1))
    p = np.stack(cols, axis=1)
    return p / p.sum(axis=1, keepdims=True)


def test_posterior_check_rejects_densities_without_logarithms():
    # the statement asks for logarithms so that far-away points do not
    # give 0 / 0; an answer that gives NaN there must not pass
    result = ch09.check_class_posterior(posterior_without_logs)
    assert result.status == "failed"
    assert result.mistake == "densities without logarithms"
    assert any("far from the data" in f for f in result.failed)


def posterior_columns_by_label_value(mixture, x, s, t):
    # a learner's answer that uses the label itself as the column index
    r = guidance.class_posterior(mixture, x, s, t)
    out = np.zeros((len(x), len(mixture.classes)))
    for j, c in enumerate(mixture.classes):
        if c < out.shape[1]:
            out[:, c] = r[:, j]
    return out


def posterior_classes_as_range(mixture, x, s, t):
    # a learner's answer that assumes the classes are 0, 1, ..., C - 1
    p = posterior_by_hand(mixture, x, s, t)
    cols = [p[:, list(mixture.classes).index(c)]
            if c in mixture.classes else np.zeros(len(x))
            for c in range(len(mixture.classes))]
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("answer", [posterior_columns_by_label_value,
                                    posterior_classes_as_range])
def test_posterior_check_needs_columns_in_the_order_of_classes(answer):
    result = ch09.check_class_posterior(answer)
    assert result.status == "failed"
    assert any("labelled 5 and 2" in f for f in result.failed)
