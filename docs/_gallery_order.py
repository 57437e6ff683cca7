"""The order of the examples in the gallery: the way a new user meets skae."""

from pathlib import Path

ORDER = [
    "plot_detect_nab.py",
    "plot_multivariate_skab.py",
    "plot_tune_gridsearch.py",
    "plot_save_load.py",
    "plot_streaming.py",
    "plot_compress.py",
    "plot_denoise.py",
    "plot_variable_length.py",
]


class ExampleOrder:
    """Sort key for sphinx-gallery: the examples in ``ORDER`` first, then by name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = Path(filename).name
        return (ORDER.index(name), name) if name in ORDER else (len(ORDER), name)

    def __repr__(self):
        return "ExampleOrder"
