"""The torch module on its own."""

import pytest
import torch

from skae import LSTMAutoencoder


@pytest.mark.parametrize("decoder_feed", ["repeat", "state"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_shapes_and_latent_code(decoder_feed, num_layers):
    torch.manual_seed(0)
    model = LSTMAutoencoder(
        n_features=3, hidden_size=5, num_layers=num_layers, decoder_feed=decoder_feed
    )
    x = torch.randn(4, 11, 3)
    assert model(x).shape == x.shape
    z = model.encode(x)
    assert z.shape == (4, 5)
    # the code is the encoder's final hidden state of its last layer
    _, (hidden, _) = model.encoder(x)
    torch.testing.assert_close(z, hidden[-1])
    # the decoder sees nothing but z
    torch.testing.assert_close(model.decode(z, 11), model(x))


def test_state_feed_has_no_input_projection_of_the_code():
    repeat = LSTMAutoencoder(n_features=2, hidden_size=16, decoder_feed="repeat")
    state = LSTMAutoencoder(n_features=2, hidden_size=16, decoder_feed="state")
    assert repeat.decoder.weight_ih_l0.shape == (64, 16)
    assert state.decoder.weight_ih_l0.shape == (64, 1)


def test_padding_does_not_change_the_real_steps():
    torch.manual_seed(0)
    model = LSTMAutoencoder(n_features=2, hidden_size=4).eval()
    short = torch.randn(1, 6, 2)
    padded = torch.cat([short, torch.zeros(1, 4, 2)], dim=1)
    with torch.inference_mode():
        alone = model(short)
        packed = model(padded, lengths=torch.tensor([6]))
    torch.testing.assert_close(packed[:, :6], alone)


def test_a_few_adam_steps_reduce_the_loss():
    torch.manual_seed(0)
    model = LSTMAutoencoder(n_features=1, hidden_size=8)
    # ramps of different slopes: the code only has to carry the slope
    x = torch.linspace(0, 1, 20).reshape(1, 20, 1) * torch.randn(16, 1, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(60):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), x)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_unknown_decoder_feed():
    with pytest.raises(ValueError, match="decoder_feed"):
        LSTMAutoencoder(n_features=1, decoder_feed="both")
