"""What every benchmark script shares: data, torch threads, tables, the machine.

Run the scripts from the repository root as modules, for example::

    python -m benchmarks.quality.skab --quick

Data are read through :mod:`skae.datasets` from ``--data-home`` (default
``../shared/data`` beside the repository, the layout of the public SKAB and NAB
repositories); nothing is downloaded.
"""

import os
import platform
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_HOME = REPO_ROOT.parent / "shared" / "data"


def add_data_home(parser):
    """Add the ``--data-home`` option to an :class:`argparse.ArgumentParser`."""
    parser.add_argument(
        "--data-home",
        default=str(DEFAULT_DATA_HOME),
        help="folder holding SKAB/ and NAB/ (default: ../shared/data from the "
        "repository root)",
    )
    return parser


def fetch_skab(name, data_home):
    """Return :func:`skae.datasets.fetch_skab` of a local copy (no download)."""
    from skae.datasets import fetch_skab

    return fetch_skab(name, data_home=data_home, download_if_missing=False)


def fetch_nab(name, data_home):
    """Return :func:`skae.datasets.fetch_nab` of a local copy (no download)."""
    from skae.datasets import fetch_nab

    return fetch_nab(name, data_home=data_home, download_if_missing=False)


def setup_torch(threads):
    """Set torch's intra-op thread count, print it, and return it.

    Benchmarks set the count explicitly: torch's own choice on a shared machine
    can make two threads wait for each other (see the README, "Threads").
    """
    import torch

    torch.set_num_threads(threads)
    print(
        f"torch {torch.__version__}, threads: {torch.get_num_threads()}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}",
        flush=True,
    )
    return torch.get_num_threads()


def machine_note():
    """Return a one-line description of the CPU and library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        out = subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=True
        ).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                cpu = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    import sklearn
    import torch

    import skae

    return (
        f"{cpu}, {os.cpu_count()} CPUs visible; skae {skae.__version__}, "
        f"torch {torch.__version__}, scikit-learn {sklearn.__version__}"
    )


def markdown_table(header, rows):
    """Return a Markdown pipe table."""
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
