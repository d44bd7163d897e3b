"""Tests of the conditional network of diffusion_edu.denoiser: the class
embedding with its "no label" token, label dropout, the adapter and
saving."""

import numpy as np
import pytest
import torch

from diffusion_edu import denoiser, schedules
from diffusion_edu.toy_data import GaussianMixture2D

torch.set_num_threads(1)
ANG = np.deg2rad([90, 210, 330])
MIX = GaussianMixture2D(None, np.stack([np.cos(ANG), np.sin(ANG)], 1),
                        np.full(3, 0.2), [0, 1, 2])
S = schedules.cosine(100)


def test_unconditional_network_is_unchanged_by_the_option():
    plain = denoiser.MLPDenoiser(2, seed=3)
    cond = denoiser.MLPDenoiser(2, seed=3, num_classes=3)
    assert "num_classes" not in plain.config
    assert plain.label_emb is None
    for (name, p), (_, q) in zip(plain.named_parameters(),
                                 [(n, q) for n, q in cond.named_parameters()
                                  if not n.startswith("label_emb")],
                                 strict=True):
        assert torch.equal(p, q), name
    extra = denoiser.count_parameters(cond) - denoiser.count_parameters(
        plain)
    assert extra == 4 * 32             # (C + 1) rows of size 32


def test_labels_change_the_output_and_none_is_the_null_token():
    net = denoiser.MLPDenoiser(2, seed=0, num_classes=3)
    with torch.no_grad():
        net.label_emb.weight.normal_()
    x, t = torch.randn(5, 2), torch.tensor([7])
    out = [net(x, t, torch.tensor([c])) for c in range(4)]
    assert not torch.allclose(out[0], out[1])
    assert torch.equal(net(x, t), out[3])
    assert torch.equal(net(x, t, None), net(x, t, torch.tensor([3])))
    assert net.null_label == 3
    per_row = net(x, t, torch.tensor([0, 1, 2, 3, 0]))
    assert torch.allclose(per_row[1], out[1][1])


def test_bad_labels_raise():
    net = denoiser.MLPDenoiser(2, num_classes=3)
    with pytest.raises(ValueError, match="labels in 0..3"):
        net(torch.randn(2, 2), torch.tensor([1]), torch.tensor([4]))
    plain = denoiser.MLPDenoiser(2)
    with pytest.raises(ValueError, match="unconditional"):
        plain(torch.randn(2, 2), torch.tensor([1]), torch.tensor([0]))
    with pytest.raises(ValueError, match="no label tokens"):
        _ = plain.null_label
    with pytest.raises(TypeError, match="labelled data"):
        denoiser.train_denoiser(np.zeros((10, 2)), S, steps=2,
                                num_classes=3)
    with pytest.raises(ValueError, match="label_dropout"):
        denoiser.train_denoiser(MIX, S, steps=2, num_classes=3,
                                label_dropout=1.5)


@pytest.fixture(scope="module")
def trained():
    return denoiser.train_denoiser(MIX, S, steps=600, batch_size=256,
                                   num_classes=3, label_dropout=0.3,
                                   seed=1).model


def test_conditional_training_learns_both_branches(trained):
    # On noisy inputs the class branch must be closer to the exact
    # conditional eps than to the exact unconditional one, and the null
    # branch closer to the unconditional one.
    rng = np.random.default_rng(0)
    x0 = MIX.conditional(0).sample(2000, rng)
    t = 30
    noise = rng.standard_normal(x0.shape)
    xt = np.sqrt(S.alpha_bar[t]) * x0 + np.sqrt(1 - S.alpha_bar[t]) * noise
    e_c = MIX.conditional(0).eps(xt, S, t)
    e_u = MIX.eps(xt, S, t)
    net_c = denoiser.as_eps_model(trained, label=0)(xt, t)
    net_u = denoiser.as_eps_model(trained)(xt, t)
    assert np.mean((net_c - e_c) ** 2) < 0.5 * np.mean((net_c - e_u) ** 2)
    assert np.mean((net_u - e_u) ** 2) < 0.5 * np.mean((net_u - e_c) ** 2)


def test_label_dropout_zero_leaves_null_token_untrained():
    model = denoiser.train_denoiser(MIX, S, steps=30, batch_size=64,
                                    num_classes=3, label_dropout=0.0,
                                    seed=2).model
    fresh = denoiser.MLPDenoiser(2, seed=2, num_classes=3,
                                 data_std=model.data_std)
    assert torch.equal(model.label_emb.weight[3], fresh.label_emb.weight[3])
    assert not torch.equal(model.label_emb.weight[0],
                           fresh.label_emb.weight[0])


def test_training_accepts_a_tuple_of_data_and_labels():
    x, c = MIX.sample(500, 0, return_labels=True)
    model = denoiser.train_denoiser((x, c), S, steps=5, batch_size=32,
                                    num_classes=3).model
    assert model.num_classes == 3
    with pytest.raises(ValueError, match="ints in 0..2"):
        denoiser.train_denoiser((x, c + 1), S, steps=5, batch_size=32,
                                num_classes=3)


def test_adapter_label_checks_and_save_load_round_trip(tmp_path, trained):
    with pytest.raises(ValueError, match="<= 2"):
        denoiser.as_eps_model(trained, label=3)
    plain = denoiser.MLPDenoiser(2)
    with pytest.raises(ValueError, match="unconditional"):
        denoiser.as_eps_model(plain, S, label=0)
    path = tmp_path / "cond.pt"
    denoiser.save(trained, path)
    back = denoiser.load(path)
    x = np.random.default_rng(3).standard_normal((4, 2))
    for label in [None, 0, 2]:
        np.testing.assert_array_equal(
            denoiser.as_eps_model(back, label=label)(x, 10),
            denoiser.as_eps_model(trained, label=label)(x, 10))
