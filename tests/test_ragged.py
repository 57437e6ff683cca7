"""Variable-length sequences: packed encoding, masked loss, length-bucketed batches."""

import numpy as np
import pytest
import torch
from conftest import ragged_waves, tiny_detector

from skae import LSTMAutoencoder, _inference, _training


@pytest.fixture(scope="module")
def fitted():
    lengths = np.random.default_rng(1).integers(5, 80, size=40)
    sequences = ragged_waves(lengths)
    return tiny_detector(batch_size=8).fit(sequences), sequences


def test_a_sequence_scores_the_same_alone_and_in_a_ragged_batch(fitted):
    detector, sequences = fitted
    together = detector.score_samples(sequences)
    codes = detector.encode(sequences)
    recon = detector.reconstruct(sequences)
    contributions = detector.feature_contributions(sequences)
    for i in (0, 7, 21, 39):
        alone = [sequences[i]]
        np.testing.assert_allclose(
            detector.score_samples(alone)[0], together[i], rtol=1e-5
        )
        np.testing.assert_allclose(detector.encode(alone)[0], codes[i], atol=1e-6)
        np.testing.assert_allclose(
            detector.reconstruct(alone)[0], recon[i], rtol=1e-5, atol=1e-6
        )
        np.testing.assert_allclose(
            detector.feature_contributions(alone)[0], contributions[i], rtol=1e-5
        )
    # with a much longer neighbour the padding grows, the score does not
    longer = [sequences[3], ragged_waves([400], seed=5)[0]]
    np.testing.assert_allclose(
        detector.score_samples(longer)[0], together[3], rtol=1e-5
    )
    assert [r.shape for r in recon] == [s.shape for s in sequences]


def test_padding_changes_neither_codes_nor_the_masked_loss():
    torch.manual_seed(0)
    module = LSTMAutoencoder(n_features=2, hidden_size=5).eval()
    short, long = torch.randn(3, 2), torch.randn(7, 2)
    padded = torch.full((2, 7, 2), 123.0)
    padded[0, :3], padded[1] = short, long
    lengths = torch.tensor([3, 7])
    with torch.no_grad():
        codes = module.encode(padded, lengths)
        np.testing.assert_allclose(codes[0], module.encode(short[None])[0], atol=1e-6)
        np.testing.assert_allclose(codes[1], module.encode(long[None])[0], atol=1e-6)
        output = module(padded, lengths)
    net = _training.AutoencoderNet(
        LSTMAutoencoder, module__n_features=2, criterion=torch.nn.MSELoss
    )
    loss = net.get_loss(output, None, X={"x": padded, "lengths": lengths})
    squared = torch.cat(
        [(output[0, :3] - short).pow(2), (output[1] - long).pow(2)]
    ).mean(dim=1)
    # the mean over the 10 real steps; the padded 123s count nowhere
    assert float(loss) == pytest.approx(float(squared.mean()), rel=1e-6)


def test_length_bucket_sampler_covers_each_sequence_once_per_epoch():
    lengths = np.random.default_rng(2).integers(20, 501, size=300)
    sampler = _training.LengthBucketSampler(lengths, batch_size=16, shuffle=True)
    torch.manual_seed(0)
    epoch = list(sampler)
    assert sorted(i for batch in epoch for i in batch) == list(range(300))
    assert len(epoch) == len(sampler) == 19
    # batches hold similar lengths: little padding
    padded = sum(len(b) * lengths[b].max() for b in epoch)
    assert padded < 1.1 * lengths.sum()
    # the same seed gives the same epoch, another seed another one
    torch.manual_seed(0)
    assert list(sampler) == epoch
    torch.manual_seed(1)
    assert list(sampler) != epoch
    ordered = _training.LengthBucketSampler(lengths, batch_size=16, shuffle=False)
    flat = [i for batch in ordered for i in batch]
    assert np.all(np.diff(lengths[flat]) >= 0)


def test_ragged_training_and_scoring_pad_in_proportion_to_total_length(monkeypatch):
    """1,000 sequences of 20 to 500 steps. Batches are runs of length-sorted
    sequences, so the padding of one pass over the data is at most one batch's
    worth (``batch_size * (longest - shortest)``) whatever the number of
    sequences: memory and work follow the total length, not 1,000 x 500.
    (Random batches would pad every batch to about 500 steps: about 1.9 times the
    total length here.)"""
    lengths = np.random.default_rng(3).integers(20, 501, size=1000)
    sequences = ragged_waves(lengths, n_features=1)
    span = lengths.max() - lengths.min()
    shapes = []
    pad_batch = _inference.pad_batch

    def spy(batch):
        padded = pad_batch(batch)
        shapes.append(tuple(padded["x"].shape[:2]))
        return padded

    monkeypatch.setattr(_inference, "pad_batch", spy)
    detector = tiny_detector(hidden_size=2, max_epochs=1, batch_size=64).fit(sequences)
    # one epoch of the 800 training sequences, the 200 held out for validation,
    # and the scoring of those 200 for the threshold
    assert sum(n for n, _ in shapes) == 800 + 200 + 200
    seen = lengths.sum() + lengths[800:].sum()
    fit_padded = sum(n * t for n, t in shapes)
    assert fit_padded <= seen + 64 * span + 64 * span + _inference.BATCH_SIZE * span
    assert fit_padded < 1.3 * seen
    assert max(n * t for n, t in shapes) <= max(64 * 500, _inference.MAX_BATCH_STEPS)

    shapes.clear()
    scores = detector.score_samples(sequences)
    assert scores.shape == (1000,) and np.all(np.isfinite(scores))
    score_padded = sum(n * t for n, t in shapes)
    assert score_padded <= lengths.sum() + _inference.BATCH_SIZE * span
    assert score_padded < 1.2 * lengths.sum()
    assert max(n * t for n, t in shapes) <= _inference.MAX_BATCH_STEPS


def test_equal_length_sequences_are_scored_as_one_array(monkeypatch):
    rng = np.random.default_rng(3)
    X = np.sin(np.arange(20) / 3)[None, :, None] + 0.1 * rng.normal(size=(300, 20, 2))
    detector = tiny_detector().fit(X)
    module = detector.net_.module_
    scaled = (X - detector.mean_) / detector.scale_
    # the array path gives the ragged path's values, batch for batch
    np.testing.assert_allclose(
        _inference.equal_length_errors(module, scaled, 64),
        np.stack(_inference.sequence_errors(module, list(scaled), batch_size=64)),
        rtol=1e-12,
    )
    # score_samples of a 3-D array takes it, and never the ragged path
    calls = []
    real = _inference.equal_length_errors
    monkeypatch.setattr(
        _inference,
        "equal_length_errors",
        lambda *a, **k: calls.append(k) or real(*a, **k),
    )
    monkeypatch.setattr(_inference, "sequence_reconstructions", None)
    scores = detector.score_samples(X)
    assert calls == [{"mean": True}]  # one mean per sequence, no per-step array
    monkeypatch.undo()
    # a sequence's score is its mean squared error in standardized units, here
    # computed from the reconstruction (the ragged path)
    recon = detector.reconstruct(list(X))
    expected = [
        np.mean(((x - r) / detector.scale_) ** 2) for x, r in zip(X, recon, strict=True)
    ]
    np.testing.assert_allclose(-scores, expected, rtol=1e-5)
