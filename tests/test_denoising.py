"""Denoising: the reconstruction of a series, and training on corrupted inputs."""

import numpy as np
import pytest
import torch
from conftest import tiny_detector, waves

from skae import LSTMAutoencoderDetector, SlidingWindowTransformer, _training
from skae.datasets import load_nab


@pytest.fixture(scope="module")
def series():
    return waves(240, periods=(20, 30), noise=0.1)


def test_reconstruct_series_averages_the_window_reconstructions(series):
    detector = tiny_detector(window_size=10).fit(series)
    windows = SlidingWindowTransformer(window_size=10).fit(series)
    scaled = (windows.transform(series) - detector.mean_) / detector.scale_
    with torch.inference_mode():
        recon = detector.net_.module_(torch.as_tensor(scaled, dtype=torch.float32))
    recon = recon.numpy().astype(np.float64) * detector.scale_ + detector.mean_
    expected = windows.inverse_transform(recon)
    result = detector.reconstruct(series)
    assert result.shape == series.shape
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-5)
    # step 0 is covered by one window, step 20 by ten
    np.testing.assert_allclose(result[0], recon[0, 0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        result[20],
        recon[np.arange(11, 21), np.arange(9, -1, -1)].mean(axis=0),
        rtol=1e-5,
    )


def test_denoising_loss_compares_the_noisy_input_output_with_the_clean_input():
    net = _training.AutoencoderNet(
        _training.LSTMAutoencoder,
        module__n_features=2,
        module__hidden_size=4,
        criterion=torch.nn.MSELoss,
        noise_std=0.7,
        device="cpu",
    ).initialize()
    x = torch.randn(5, 8, 2, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(3)
    step = net.train_step_single((x, torch.zeros(5)))
    loss = float(step["loss"].detach())
    torch.manual_seed(3)
    noisy = x + 0.7 * torch.randn_like(x)
    with torch.no_grad():
        output = net.module_(noisy)
    # float32 outputs near 0: an absolute tolerance too
    np.testing.assert_allclose(step["y_pred"].detach(), output, rtol=1e-5, atol=1e-6)
    expected = torch.nn.functional.mse_loss(output, x)
    assert loss == pytest.approx(float(expected), rel=1e-5)
    # the target is the clean input, not the noisy one
    assert loss != pytest.approx(
        float(torch.nn.functional.mse_loss(output, noisy)), rel=1e-3
    )
    # ragged batches are corrupted too, their lengths kept
    corrupted = net._corrupt({"x": x, "lengths": torch.tensor([8, 3, 5, 8, 1])})
    assert corrupted["lengths"].tolist() == [8, 3, 5, 8, 1]
    assert not torch.equal(corrupted["x"], x)


def test_noise_std_is_reproducible_and_only_changes_training(series):
    plain = tiny_detector().fit(series)
    noisy_a = tiny_detector(noise_std=0.5).fit(series)
    noisy_b = tiny_detector(noise_std=0.5).fit(series)
    np.testing.assert_array_equal(
        noisy_a.score_samples(series), noisy_b.score_samples(series)
    )
    # training saw noise: same seed, same data, different training losses and model
    assert noisy_a.history_[:, "train_loss"] != plain.history_[:, "train_loss"]
    assert not np.array_equal(
        noisy_a.score_samples(series), plain.score_samples(series)
    )
    # scoring adds none: the same call gives the same result twice
    np.testing.assert_array_equal(
        noisy_a.reconstruct(series), noisy_a.reconstruct(series)
    )
    with pytest.raises(ValueError, match="noise_std"):
        LSTMAutoencoderDetector(noise_std=-1.0).fit(series)


def _snr_db(clean, estimate):
    signal = np.mean((clean - clean.mean()) ** 2)
    return 10 * np.log10(signal / np.mean((estimate - clean) ** 2))


def test_reconstruction_denoises_a_real_nab_series():
    """NYC taxi demand plus white noise (a signal-to-noise ratio of about 6 dB):
    the reconstruction by a denoising autoencoder, which never saw the clean
    series, is closer to it than the noisy copy is, by at least 3 dB (about
    4 dB measured), and what it removes is mostly the added noise."""
    clean = load_nab("nyc_taxi").data[:3000]
    rng = np.random.default_rng(0)
    noise = 0.5 * clean.std() * rng.standard_normal(clean.shape)
    noisy = clean + noise
    detector = LSTMAutoencoderDetector(
        window_size=24,
        hidden_size=16,
        lr=1e-2,
        max_epochs=4,
        # four epochs over every window: a bounded epoch would need more of them
        max_windows_per_epoch=None,
        noise_std=0.5,
        device="cpu",
        random_state=0,
    ).fit(noisy)
    denoised = detector.reconstruct(noisy)
    assert denoised.shape == noisy.shape
    after = _snr_db(clean, denoised)
    assert after > 9.0  # 10.1 dB measured
    assert after > _snr_db(clean, noisy) + 3.0
    # nearer the clean series than the noisy input it was given (0.3 measured)...
    assert np.mean((denoised - clean) ** 2) < 0.5 * np.mean((denoised - noisy) ** 2)
    # ...because what it takes away is the noise (correlation 0.84 measured)
    removed = (noisy - denoised).ravel()
    assert np.corrcoef(removed, noise.ravel())[0, 1] > 0.75
