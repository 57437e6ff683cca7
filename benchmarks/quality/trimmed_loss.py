"""Does training that ignores its worst windows give better errors when the fit
data hold anomalies (issue 23, Orion's protocol)?

Under Orion's protocol skae fits on the whole series, anomalies included, and a
network trained to convergence learns to reconstruct them too. A trimmed loss
is the usual robust answer: in every training batch, the ``--trim`` share of
windows with the largest reconstruction error is left out of the loss, so rare
windows (anomalies, or rare normal patterns) pull the weights less. The held-out
loss that stops training, and everything after training, are as in skae.

This script changes skae's training loss for its own process only (it wraps
:meth:`skae._training.AutoencoderNet.get_loss`) and then runs
:mod:`benchmarks.quality.alarm_choice` with a cache of its own, so the table it
prints has the same rules, sets and columns as the alarm study at the defaults:
compare the two tables row by row. Nothing in skae changes.

Run from the repository root (about 30 minutes of fits on one thread with
bfloat16 training; the table alone once cached)::

    nice python -m benchmarks.quality.trimmed_loss --trim 0.1
    nice python -m benchmarks.quality.trimmed_loss --trim 0.1 --cached-only
"""

import argparse
import sys


def trimmed_get_loss(get_loss, trim):
    """Return ``get_loss`` with training losses averaged over the windows of a
    batch except its ``trim`` share of largest errors (unpadded windows only)."""
    import torch
    from skorch.utils import to_tensor

    def wrapped(self, y_pred, y_true, X=None, training=False):
        if not training or isinstance(X, dict):
            return get_loss(self, y_pred, y_true, X=X, training=training)
        x = to_tensor(X, device=self.device)
        per_window = (y_pred.float() - x).pow(2).mean(dim=(1, 2))
        keep = max(1, int(round((1.0 - trim) * per_window.numel())))
        return torch.topk(per_window, keep, largest=False).values.mean()

    return wrapped


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trim", type=float, default=0.1, help="share left out")
    args, rest = parser.parse_known_args(argv)
    if not 0.0 <= args.trim < 1.0:
        raise SystemExit(f"--trim must be in [0, 1), got {args.trim}")
    from benchmarks.quality import alarm_choice
    from benchmarks.quality import orion as O
    from skae import _training

    net = _training.AutoencoderNet
    net.get_loss = trimmed_get_loss(net.get_loss, args.trim)
    if not any(a == "--cache" or a.startswith("--cache=") for a in rest):
        rest += ["--cache", f"{O.DEFAULT_CACHE}_trim{args.trim:g}"]
    print(f"training loss: trimmed mean, {args.trim:g} of each batch left out")
    alarm_choice.main(rest)


if __name__ == "__main__":
    main(sys.argv[1:])
