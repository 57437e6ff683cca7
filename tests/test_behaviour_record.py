"""No behaviour change: models saved earlier, and models fitted again, still give
the recorded thresholds, scores, codes and reconstructions to 1e-12.

The record (``tests/data/behaviour_record.npz``) and the models
(``tests/data/behaviour/*.skae``) were written by
``tests/data/make_behaviour_record.py`` before skae's internals were reorganised;
rerun it only when a change of behaviour is intended, and say so in the commit.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import skae

DATA = Path(__file__).resolve().parent / "data"
_spec = importlib.util.spec_from_file_location(
    "make_behaviour_record", DATA / "make_behaviour_record.py"
)
maker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(maker)

TOLERANCE = {"rtol": 1e-12, "atol": 1e-12}


@pytest.fixture(scope="module")
def record():
    with np.load(maker.RECORD) as stored:
        return dict(stored)


@pytest.fixture(scope="module")
def inputs():
    return maker.make_inputs()


def _assert_as_recorded(record, name, outputs):
    expected = {k[len(name) + 1 :] for k in record if k.startswith(f"{name}/")}
    assert set(outputs) == expected
    for key, value in outputs.items():
        np.testing.assert_allclose(
            value, record[f"{name}/{key}"], **TOLERANCE, err_msg=f"{name}/{key}"
        )


def _loaded_encoder(name):
    """An encoder around the detector saved for it, as ``fit`` would leave it."""
    detector = skae.load_model(maker.MODELS / f"{name}.skae")
    encoder = skae.LSTMEncoderTransformer(**maker.encoder_params(name))
    encoder.detector_ = detector
    encoder.n_features_in_ = detector.n_features_in_
    encoder._n_features_out = detector.hidden_size
    return encoder


@pytest.mark.parametrize("name", maker.DETECTORS)
def test_saved_detector_scores_as_recorded(record, inputs, name):
    detector = skae.load_model(maker.MODELS / f"{name}.skae")
    _assert_as_recorded(record, name, maker.detector_outputs(detector, inputs))


@pytest.mark.parametrize("name", maker.DETECTORS)
def test_refitted_detector_scores_as_recorded(record, inputs, name):
    detector = maker.fit_detector(name, inputs)
    _assert_as_recorded(record, name, maker.detector_outputs(detector, inputs))


@pytest.mark.parametrize("name", maker.ENCODERS)
def test_saved_encoder_codes_as_recorded(record, inputs, name):
    encoder = _loaded_encoder(name)
    _assert_as_recorded(record, name, maker.encoder_outputs(encoder, inputs))


@pytest.mark.parametrize("name", maker.ENCODERS)
def test_refitted_encoder_codes_as_recorded(record, inputs, name):
    encoder = maker.fit_encoder(name, inputs)
    _assert_as_recorded(record, name, maker.encoder_outputs(encoder, inputs))
