"""fit and partial_fit train through one skorch loop with the same callbacks."""

import math

import pytest
import torch
from conftest import tiny_detector, waves

from skae import TrainingDivergedError, _training


def test_partial_fit_runs_the_skorch_loop_of_fit_with_its_callbacks(monkeypatch):
    nets = []
    train_step = _training.AutoencoderNet.train_step

    def recording(self, batch, **fit_params):
        nets.append(self)
        return train_step(self, batch, **fit_params)

    monkeypatch.setattr(_training.AutoencoderNet, "train_step", recording)
    params = dict(window_size=10, batch_size=16, max_windows_per_epoch=64)
    detector = tiny_detector(params).fit(waves(300))
    fit_net = nets[-1]
    nets.clear()
    detector.partial_fit(waves(100, seed=1))
    # one epoch of 64 windows, on a net of its own around a copy of the module
    assert len(nets) == math.ceil(64 / 16) and len(set(map(id, nets))) == 1
    net = nets[0]
    assert net is not detector.net_ and net.module_ is not detector.net_.module_
    names = {name for name, _ in net.callbacks_}
    assert {"stop_on_divergence", "gradient_clipping"} <= names
    assert names <= {name for name, _ in fit_net.callbacks_}
    # the copy's trained weights are now the detector's
    weights = detector.net_.module_.state_dict()
    for name, tensor in net.module_.state_dict().items():
        assert torch.equal(tensor, weights[name]), name


def test_a_diverging_partial_fit_says_where_and_what_to_change():
    detector = tiny_detector().fit(waves(400)).set_params(lr=100.0)
    with pytest.raises(TrainingDivergedError, match=r"^partial_fit left .*lr=100"):
        detector.partial_fit(waves(300, seed=1))
