"""Tests of diffusion_edu.denoiser: the network, training, the adapter.

Short runs only (the whole file takes a few seconds); the full-quality
runs and the timings are in benchmarks/bench_denoiser.py.
"""

import math

import numpy as np
import pytest
import torch

from diffusion_edu import denoiser as dn
from diffusion_edu import elbo, metrics, samplers, schedules, toy_data

torch.set_num_threads(1)

S = schedules.linear(1000)


@pytest.fixture(scope="module")
def swiss_model():
    """A Swiss-roll denoiser after a short run (400 steps)."""
    model, losses = dn.train_denoiser(toy_data.SwissRoll2D(), S,
                                      steps=400, batch_size=256, seed=3,
                                      progress=False)
    return model, losses


# ---------------------------------------------------------------- network

def test_network_output_has_data_shape_and_float32():
    model = dn.MLPDenoiser(2)
    x = torch.randn(7, 2)
    out = model(x, torch.arange(1, 8))
    assert out.shape == (7, 2) and out.dtype == torch.float32
    # One step for the whole batch broadcasts like a repeated step.
    one = model(x, torch.tensor([5]))
    assert torch.allclose(one, model(x, torch.full((7,), 5)), atol=1e-6)
    # float64 input is accepted (cast to float32).
    assert torch.equal(model(x.double(), torch.full((7,), 5)),
                       model(x, torch.full((7,), 5)))


def test_parameter_count_matches_architecture():
    d, h, depth, e, m = 2, 64, 3, 32, 16
    model = dn.MLPDenoiser(d, hidden=h, depth=depth, time_embedding=e,
                           fourier_features=m)
    expected = ((d + 2 * m) * h + h          # input layer
                + depth * e * h              # time projections
                + (depth - 1) * (h * h + h)  # hidden layers
                + h * d + d)                 # output layer
    assert dn.count_parameters(model) == expected == 16834
    no_fourier = dn.MLPDenoiser(d, fourier_features=0)
    assert dn.count_parameters(no_fourier) == expected - 2 * m * h


def test_sinusoidal_embedding_matches_formula():
    k = 4
    freqs = torch.exp(-math.log(10000.0) * torch.arange(k) / k)
    t = torch.tensor([1, 17, 1000])
    emb = dn.sinusoidal_embedding(t, freqs)
    for row, step in zip(emb, t.tolist(), strict=True):
        w = 10000.0 ** (-np.arange(k) / k)
        expected = np.concatenate([np.sin(step * w), np.cos(step * w)])
        np.testing.assert_allclose(row.numpy(), expected, atol=1e-5)


def test_network_rejects_bad_architecture():
    with pytest.raises(ValueError, match="time_embedding must be even"):
        dn.MLPDenoiser(2, time_embedding=31)
    with pytest.raises(ValueError, match="depth must be >= 1"):
        dn.MLPDenoiser(2, depth=0)
    with pytest.raises(TypeError, match="dim must be an integer"):
        dn.MLPDenoiser(2.0)


# --------------------------------------------------------------- training

def test_loss_decreases_on_1d_mixture_within_300_steps():
    plain = dn.MLPDenoiser(1, seed=0)                 # no preconditioning
    _, losses = dn.train_denoiser(toy_data.GaussianMixture1D(), S,
                                  steps=300, batch_size=256, seed=0,
                                  progress=False, model=plain)
    assert losses.shape == (300,) and losses.dtype == np.float64
    first, last = losses[:20].mean(), losses[-50:].mean()
    # Predicting ε̂ = 0 costs E ε² = 1; the trained network far less.
    assert first > 0.8
    assert last < 0.5 * first
    # Preconditioned (the default), the network starts from the best
    # Gaussian guess (see the next test), already far below 1.
    _, losses = dn.train_denoiser(toy_data.GaussianMixture1D(), S,
                                  steps=300, batch_size=256, seed=0,
                                  progress=False)
    assert losses[:20].mean() < 0.6


def test_preconditioning_matches_its_formula_and_gaussian_optimum():
    # With F = 0 the preconditioned network is c_skip(t) x_t, which is
    # E[ε | x_t] for data N(0, σ_d² I): compare with the exact ε* of a
    # one-component "mixture", and the full output with the formula.
    sd = 0.7
    model = dn.MLPDenoiser(1, seed=2, data_std=sd)
    with pytest.raises(ValueError, match="needs its schedule"):
        model(torch.zeros(3, 1), torch.tensor([5]))
    model.schedule = S
    x = torch.linspace(-3, 3, 7, dtype=torch.float64)[:, None]
    t = torch.tensor([1, 10, 100, 300, 600, 900, 1000])
    ab = torch.from_numpy(np.array(S.alpha_bar))[t][:, None]
    var = ab * sd ** 2 + 1 - ab
    with torch.no_grad():
        full = model(x, t).double()
        f = model._mlp((x / var.sqrt()).float(), t).double()
        expected = ((1 - ab).sqrt() / var * x
                    + sd * ab.sqrt() / var.sqrt() * f)
        np.testing.assert_allclose(full, expected, rtol=1e-5, atol=1e-6)
        model.out.weight.zero_()
        model.out.bias.zero_()
        gauss = toy_data.GaussianMixture1D([1.0], [0.0], [sd ** 2])
        np.testing.assert_allclose(
            model(x, t).double().numpy(),
            gauss.eps(x.numpy(), S, t.numpy()), rtol=1e-5, atol=1e-7)


def test_same_seed_gives_same_losses_and_samples():
    data = toy_data.SwissRoll2D()
    runs = [dn.train_denoiser(data, S, steps=150, batch_size=64, seed=s,
                              progress=False) for s in (7, 7, 8)]
    np.testing.assert_array_equal(runs[0].losses, runs[1].losses)
    assert not np.array_equal(runs[0].losses, runs[2].losses)
    short = schedules.linear(1000)
    samples = [samplers.sample_ddim(short, dn.as_eps_model(r.model),
                                    (200, 2), 0, num_steps=20)
               for r in runs]
    np.testing.assert_array_equal(samples[0], samples[1])
    assert not np.array_equal(samples[0], samples[2])


def test_training_accepts_array_and_function_data():
    data = toy_data.GaussianMixture1D().sample(500, 0)
    model, losses = dn.train_denoiser(data[:, 0], S, steps=20,
                                      batch_size=32, progress=False)
    assert model.dim == 1 and losses.shape == (20,)
    model, _ = dn.train_denoiser(toy_data.SwissRoll2D().sample, S,
                                 steps=20, batch_size=32, progress=False)
    assert model.dim == 2 and model.schedule is S


def test_nan_loss_raises_documented_error():
    model = dn.MLPDenoiser(1)
    with torch.no_grad():
        model.out.weight[0, 0] = float("nan")
    with pytest.raises(dn.TrainingDivergedError,
                       match=r"diverged at step 1: the loss became NaN"):
        dn.train_denoiser(toy_data.GaussianMixture1D(), S, steps=50,
                          batch_size=16, model=model, progress=False)


def test_exploding_loss_raises_and_suggests_smaller_lr():
    with pytest.raises(dn.TrainingDivergedError) as info:
        dn.train_denoiser(toy_data.GaussianMixture1D(), S, steps=200,
                          batch_size=64, lr=100.0, progress=False)
    message = str(info.value)
    assert "exploded" in message or "NaN" in message
    assert "smaller learning rate (e.g. lr=0.01)" in message
    assert "No model is returned" in message


def test_huge_data_warns_then_raises_and_suggests_standardising():
    data = toy_data.GaussianMixture1D().sample(300, 0) * 1e30
    with pytest.warns(UserWarning, match="standard deviation"), \
            pytest.raises(dn.TrainingDivergedError,
                          match="standardise the data"):
        dn.train_denoiser(data, S, steps=20, batch_size=16,
                          progress=False, model=dn.MLPDenoiser(1))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(steps=0), ValueError, "steps must be >= 1"),
    (dict(batch_size=0), ValueError, "batch_size must be >= 1"),
    (dict(lr=0.0), ValueError, "lr must be > 0"),
    (dict(lr=-1e-3), ValueError, "lr must be > 0"),
    (dict(steps=2.5), TypeError, "steps must be an integer"),
    (dict(progress="yes"), ValueError, "progress must be True, False"),
    (dict(model=dn.MLPDenoiser(3)), ValueError, "D = 2 but the model"),
    (dict(model="mlp"), TypeError, "model must be an MLPDenoiser"),
])
def test_training_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        dn.train_denoiser(toy_data.SwissRoll2D(), S, **kwargs)


def test_training_rejects_bad_data_and_schedule():
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        dn.train_denoiser(np.zeros((10, 2, 2)), S, steps=1)
    with pytest.raises(ValueError, match="finite"):
        dn.train_denoiser(np.array([[0.0], [np.nan]]), S, steps=1)
    with pytest.raises(TypeError, match="data_or_sampler must be"):
        dn.train_denoiser("swiss roll", S, steps=1)
    with pytest.raises(TypeError, match="s must be a Schedule"):
        dn.train_denoiser(toy_data.SwissRoll2D(), S.alpha_bar, steps=1)


def test_progress_bar_only_when_asked_or_in_jupyter(capsys,
                                                    monkeypatch):
    data = toy_data.GaussianMixture1D()
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    dn.train_denoiser(data, S, steps=5, batch_size=8)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("JPY_SESSION_NAME", "chapter06.ipynb")
    dn.train_denoiser(data, S, steps=5, batch_size=8)
    assert "training" in capsys.readouterr().err
    monkeypatch.delenv("JPY_SESSION_NAME")
    dn.train_denoiser(data, S, steps=5, batch_size=8, progress=True)
    assert "training" in capsys.readouterr().err


def test_learning_rate_warms_up_then_decays_to_zero():
    factors = [dn._lr_factor(i, 1000, 100) for i in range(1000)]
    assert factors[0] == pytest.approx(0.01)
    assert factors[99] == pytest.approx(1.0)
    assert factors[100] == pytest.approx(1.0)
    assert factors[-1] < 1e-4
    assert np.all(np.diff(factors[100:]) <= 0)


# ---------------------------------------------------------------- adapter

def test_as_eps_model_round_trip_matches_network(swiss_model):
    model, _ = swiss_model
    eps_model = dn.as_eps_model(model)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((9, 2))
    t = rng.integers(1, S.T + 1, size=9)
    out = eps_model(x, t)
    assert out.shape == (9, 2) and out.dtype == np.float64
    with torch.no_grad():
        direct = model(torch.from_numpy(x).float(), torch.from_numpy(t))
    np.testing.assert_array_equal(out, direct.numpy().astype(np.float64))
    # An int step equals the same step repeated, row by row.
    np.testing.assert_allclose(eps_model(x, 40),
                               eps_model(x, np.full(9, 40)), atol=1e-6)
    assert eps_model.model is model and eps_model.schedule is S


def test_as_eps_model_validates_inputs(swiss_model):
    model, _ = swiss_model
    eps_model = dn.as_eps_model(model)
    with pytest.raises(ValueError, match="D = 2"):
        eps_model(np.zeros((4, 3)), 1)
    with pytest.raises(ValueError, match=r"1\.\.T = 1\.\.1000"):
        eps_model(np.zeros((4, 2)), 1001)
    with pytest.raises(ValueError, match="model.schedule is None"):
        dn.as_eps_model(dn.MLPDenoiser(2))
    with pytest.raises(ValueError, match="trained with T = 1000"):
        dn.as_eps_model(model, schedules.linear(50))
    with pytest.raises(TypeError, match="must be an MLPDenoiser"):
        dn.as_eps_model(lambda x, t: x)


def test_short_training_beats_untrained_network_on_swiss_roll(
        swiss_model):
    model, _ = swiss_model
    data = toy_data.SwissRoll2D()
    untrained = dn.as_eps_model(dn.MLPDenoiser(2, seed=3), S)
    trained = dn.as_eps_model(model)
    reference = data.sample(1000, 11)
    distances = [
        metrics.energy_distance(
            samplers.sample_ddpm(S, eps_model, (1000, 2), 5), reference)
        for eps_model in (untrained, trained)]
    baseline = metrics.energy_distance(data.sample(1000, 12), reference)
    # Untrained: ε̂ ≈ noise of the weights, samples fly off (ED ~ 100);
    # trained: within a few data-vs-data baselines.
    assert distances[1] < distances[0] / 1000
    assert distances[1] < 5 * baseline


def test_adapter_gives_elbo_between_ideal_and_untrained(swiss_model):
    model, _ = swiss_model
    data = toy_data.SwissRoll2D()
    x0 = data.sample(200, 4)
    bound = {name: -elbo.elbo(S, eps_model, x0, 9).mean()
             for name, eps_model in [
                 ("ideal", data.eps_model(S)),
                 ("trained", dn.as_eps_model(model)),
                 ("untrained", dn.as_eps_model(dn.MLPDenoiser(2), S))]}
    # E[ε | x_t] minimises every KL term, so the ideal bound is lowest
    # (same x_t for all three: same rng seed).
    assert bound["ideal"] < bound["trained"] < bound["untrained"]
    gap = bound["trained"] - bound["ideal"]
    assert gap < 0.25 * (bound["untrained"] - bound["ideal"])


# -------------------------------------------------------------- save/load

def test_save_load_gives_identical_outputs(swiss_model, tmp_path):
    model, _ = swiss_model
    path = tmp_path / "swiss.pt"
    dn.save(model, path)
    assert path.stat().st_size < 200_000
    loaded = dn.load(path)
    assert loaded.config == model.config
    np.testing.assert_array_equal(loaded.schedule.beta, S.beta)
    np.testing.assert_array_equal(loaded.schedule.alpha_bar, S.alpha_bar)
    assert loaded.schedule.name == S.name
    x = np.random.default_rng(1).standard_normal((50, 2))
    t = np.arange(1, 1000, 20)
    np.testing.assert_array_equal(dn.as_eps_model(loaded)(x, t),
                                  dn.as_eps_model(model)(x, t))


def test_save_records_the_schedule_not_a_guess(tmp_path):
    s = schedules.cosine(200)
    model, _ = dn.train_denoiser(toy_data.GaussianMixture1D(), s,
                                 steps=3, batch_size=8, progress=False,
                                 model=dn.MLPDenoiser(1, hidden=8,
                                                      depth=1))
    dn.save(model, tmp_path / "m.pt")
    loaded = dn.load(tmp_path / "m.pt")
    assert loaded.schedule.T == 200
    np.testing.assert_array_equal(loaded.schedule.beta, s.beta)
    assert loaded.config["hidden"] == 8 and loaded.config["depth"] == 1


def test_save_and_load_reject_what_they_cannot_handle(tmp_path):
    with pytest.raises(ValueError, match="model.schedule is None"):
        dn.save(dn.MLPDenoiser(2), tmp_path / "x.pt")
    bad = tmp_path / "bad.pt"
    torch.save({"weights": torch.zeros(3)}, bad)
    with pytest.raises(ValueError, match="not a file written by"):
        dn.load(bad)
    bad.write_text("hello")
    with pytest.raises(ValueError, match="not a file written by"):
        dn.load(bad)


# ------------------------------------------------------- loss per timestep

def test_ideal_denoiser_lower_bounds_loss_per_timestep(swiss_model):
    model, _ = swiss_model
    data = toy_data.SwissRoll2D()
    steps = np.array([1, 10, 100, 300, 1000])
    r = dn.loss_per_timestep(model, data, t=steps, n=1000)
    np.testing.assert_array_equal(r.t, steps)
    assert np.all(np.isfinite(r.ideal)) and np.all(r.network_se > 0)
    # E[ε | x_t] is the best prediction: the network cannot beat it
    # beyond Monte Carlo error (the two use the same x_0 and ε).
    se = np.hypot(r.network_se, r.ideal_se)
    assert np.all(r.gap > -3 * se)
    # At t = T, x_t is almost pure noise: ε is nearly x_t, no loss left.
    assert r.ideal[-1] < 1e-3 and r.network[-1] < 0.05
    # The ideal model against itself leaves no gap at all.
    same = dn.loss_per_timestep(data.eps_model(S), data, S, t=steps,
                                n=200)
    np.testing.assert_array_equal(same.network, same.ideal)


def test_loss_per_timestep_without_oracle_reports_nan(swiss_model):
    model, _ = swiss_model
    data = toy_data.SwissRoll2D().sample(500, 0)
    r = dn.loss_per_timestep(model, data, t=[5, 50], n=100)
    assert np.all(np.isnan(r.ideal)) and np.all(np.isfinite(r.network))
    with pytest.raises(ValueError, match="pass the schedule"):
        dn.loss_per_timestep(lambda x, t: x, data)


def test_loss_per_timestep_default_grid_covers_1_to_T():
    data = toy_data.GaussianMixture1D()
    s = schedules.linear(100)
    r = dn.loss_per_timestep(data.eps_model(s), data, s, ideal=None,
                             n=50)
    assert r.t[0] == 1 and r.t[-1] == 100
    assert np.all(np.diff(r.t) > 0) and r.t.shape[0] >= 30
    assert np.all(np.isnan(r.gap))


def test_loss_history_estimates_simple_loss_whatever_p_of_t():
    # With a learning rate too small to move the weights, both runs
    # score the same network: the reweighted history of t ~ p(t) ∝ w_t
    # and the plain history of t ~ U{1..T} estimate the same L_simple.
    data = toy_data.SwissRoll2D()
    runs = {how: dn.train_denoiser(data, S, steps=200, batch_size=256,
                                   lr=1e-12, seed=4, progress=False,
                                   t_sampling=how).losses
            for how in ("elbo", "uniform")}
    means = {k: v.mean() for k, v in runs.items()}
    ses = {k: v.std(ddof=1) / math.sqrt(v.size) for k, v in runs.items()}
    assert abs(means["elbo"] - means["uniform"]) < 4 * math.hypot(
        ses["elbo"], ses["uniform"])
    with pytest.raises(ValueError, match="t_sampling must be"):
        dn.train_denoiser(data, S, steps=2, t_sampling="log")


def test_callback_sees_the_model_every_k_steps_and_at_the_end():
    seen = []

    def record(step, model):
        with torch.no_grad():
            seen.append((step, model.out.bias.clone()))

    result = dn.train_denoiser(toy_data.GaussianMixture1D(), S, steps=25,
                               batch_size=16, seed=1, progress=False,
                               callback=record, callback_every=10)
    assert [step for step, _ in seen] == [10, 20, 25]
    # the last call saw the final weights; earlier calls other weights
    torch.testing.assert_close(seen[-1][1], result.model.out.bias)
    assert not torch.equal(seen[0][1], seen[-1][1])
    with pytest.raises(TypeError, match="callback must be"):
        dn.train_denoiser(toy_data.GaussianMixture1D(), S, steps=2,
                          callback="print")
    with pytest.raises(ValueError, match="callback_every"):
        dn.train_denoiser(toy_data.GaussianMixture1D(), S, steps=2,
                          callback_every=0)


def test_ema_returns_the_moving_average_of_the_weights():
    # With γ close to 1 the average barely leaves the initial weights.
    data = toy_data.GaussianMixture1D()
    init = dn.MLPDenoiser(1, seed=5, data_std=1.0)
    start = init.out.bias.detach().clone()
    plain = dn.train_denoiser(data, S, steps=30, batch_size=16, seed=5,
                              progress=False,
                              model=dn.MLPDenoiser(1, seed=5,
                                                   data_std=1.0)).model
    slow = dn.train_denoiser(data, S, steps=30, batch_size=16, seed=5,
                             progress=False, model=init,
                             ema=1 - 1e-9).model
    torch.testing.assert_close(slow.out.bias, start, atol=1e-6, rtol=0)
    assert not torch.allclose(plain.out.bias, start, atol=1e-3)
    with pytest.raises(ValueError, match="ema must be"):
        dn.train_denoiser(data, S, steps=2, ema=1.0)
