"""The LSTM encoder-decoder as a plain :class:`torch.nn.Module`."""

import math

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

DECODER_FEEDS = ("repeat", "state")


class LSTMAutoencoder(nn.Module):
    """LSTM encoder-decoder that reconstructs a sequence from one latent code.

    The encoder's last hidden state is the code ``z``; the decoder LSTM rebuilds
    the sequence from ``z`` alone, and a linear head maps its states to features.

    Parameters
    ----------
    n_features : int
        Number of features per time step.
    hidden_size : int, default=64
        Size of the LSTM states and of the latent code.
    num_layers : int, default=1
        Stacked LSTM layers in the encoder and in the decoder.
    dropout : float, default=0.0
        Dropout between stacked LSTM layers (no effect with one layer).
    decoder_feed : {"repeat", "state"}, default="repeat"
        Feed ``z`` to the decoder as its input at every step, or as its initial
        hidden state with a zero input.
    centered_features : sequence of int, default=None
        Features centred on their mean over each sequence before encoding, the
        mean added back to the reconstruction. ``None`` centres nothing.
    generator : torch.Generator, default=None
        CPU generator of the initial weights; ``None`` uses torch's global one.

    Examples
    --------
    >>> import torch
    >>> from skae import LSTMAutoencoder
    >>> model = LSTMAutoencoder(n_features=3, hidden_size=8)
    >>> x = torch.randn(5, 20, 3)
    >>> model(x).shape
    torch.Size([5, 20, 3])
    >>> model.encode(x).shape
    torch.Size([5, 8])
    """

    def __init__(
        self,
        n_features,
        hidden_size=64,
        num_layers=1,
        dropout=0.0,
        decoder_feed="repeat",
        centered_features=None,
        generator=None,
    ):
        super().__init__()
        if decoder_feed not in DECODER_FEEDS:
            raise ValueError(
                f"decoder_feed must be one of {DECODER_FEEDS}, got {decoder_feed!r}."
            )
        self.n_features = n_features
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.decoder_feed = decoder_feed
        layer_dropout = dropout if num_layers > 1 else 0.0
        # with a generator, the layers are built without memory (and so without
        # drawing their default initial weights from the global generator)
        factory = {} if generator is None else {"device": "meta"}
        options = {"batch_first": True, "dropout": layer_dropout, **factory}
        self.encoder = nn.LSTM(n_features, hidden_size, num_layers, **options)
        decoder_input = hidden_size if decoder_feed == "repeat" else 1
        self.decoder = nn.LSTM(decoder_input, hidden_size, num_layers, **options)
        self.head = nn.Linear(hidden_size, n_features, **factory)
        if generator is not None:
            for layer in (self.encoder, self.decoder, self.head):
                layer.to_empty(device="cpu")
            self.reset_parameters(generator)
        mask = None
        if centered_features is not None and len(centered_features):
            mask = torch.zeros(n_features)
            mask[torch.as_tensor(list(centered_features), dtype=torch.long)] = 1.0
        self.register_buffer("center_mask", mask)

    @torch.no_grad()
    def reset_parameters(self, generator=None):
        """Draw new initial weights, as torch does when it builds the layers.

        Parameters
        ----------
        generator : torch.Generator, default=None
            Generator to draw from; ``None`` uses torch's global generator.
        """
        for lstm in (self.encoder, self.decoder):
            bound = 1.0 / math.sqrt(lstm.hidden_size) if lstm.hidden_size > 0 else 0
            for weight in lstm.parameters():
                nn.init.uniform_(weight, -bound, bound, generator=generator)
        nn.init.kaiming_uniform_(self.head.weight, a=math.sqrt(5), generator=generator)
        fan_in = self.head.weight.shape[1]
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0
        nn.init.uniform_(self.head.bias, -bound, bound, generator=generator)

    def _level(self, x, lengths):
        """Return the per-sequence mean of the centred features (0 elsewhere)."""
        if self.center_mask is None:
            return None
        if lengths is None:
            mean = x.mean(dim=1, keepdim=True)
        else:  # padding is zeros: sum the real steps only
            steps = lengths.to(device=x.device, dtype=x.dtype).view(-1, 1, 1)
            mean = x.sum(dim=1, keepdim=True) / steps
        return mean * self.center_mask

    def encode(self, x, lengths=None):
        """Return the latent codes, shape ``(batch, hidden_size)``.

        Parameters
        ----------
        x : Tensor of shape (batch, seq_len, n_features)
            Sequences, padded at the end when ``lengths`` is given.
        lengths : Tensor of shape (batch,), default=None
            True lengths of padded sequences; the code is the state after each
            sequence's last real step.
        """
        level = self._level(x, lengths)
        return self._encode_centred(x if level is None else x - level, lengths)

    def _encode_centred(self, x, lengths):
        if lengths is not None:
            x = pack_padded_sequence(
                x, lengths.cpu(), batch_first=True, enforce_sorted=False
            )
        _, (hidden, _) = self.encoder(x)
        return hidden[-1]

    def decode(self, z, seq_len):
        """Return ``(batch, seq_len, n_features)`` reconstructed from codes ``z``.

        Parameters
        ----------
        z : Tensor of shape (batch, hidden_size)
            The codes; centred features come back around their mean.
        seq_len : int
            Steps to reconstruct.
        """
        if self.decoder_feed == "repeat":
            output, _ = self.decoder(z.unsqueeze(1).expand(-1, seq_len, -1))
        else:
            inputs = z.new_zeros(z.shape[0], seq_len, 1)
            h0 = z.unsqueeze(0).expand(self.num_layers, -1, -1).contiguous()
            output, _ = self.decoder(inputs, (h0, torch.zeros_like(h0)))
        return self.head(output)

    def forward(self, x, lengths=None):
        """Return the reconstruction of ``x`` (padded steps too: mask them)."""
        level = self._level(x, lengths)
        if level is None:
            return self.decode(self._encode_centred(x, lengths), x.shape[1])
        z = self._encode_centred(x - level, lengths)
        return self.decode(z, x.shape[1]) + level
