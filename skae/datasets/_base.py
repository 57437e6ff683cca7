"""The local cache of benchmark files and the checked, atomic download into it."""

import hashlib
import os
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

_CHUNK_BYTES = 1 << 16
_TIMEOUT_SECONDS = 60


def get_data_home(data_home=None):
    """Return the folder where skae keeps downloaded benchmark files.

    It holds the benchmarks as their repositories lay them out
    (``<data_home>/NAB/...``, ``<data_home>/SKAB/...``), so clones work as is.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use; None means the environment variable ``SKAE_DATA``,
        else ``~/skae_data``.

    Returns
    -------
    data_home : pathlib.Path
        The folder, with ``~`` expanded.
    """
    if data_home is None:
        data_home = os.environ.get("SKAE_DATA", Path("~") / "skae_data")
    return Path(data_home).expanduser()


def _download(url, path, sha256):
    """Download ``url`` to ``path`` once complete and its SHA-256 matches."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".part", dir=path.parent
    )
    try:
        digest = hashlib.sha256()
        with os.fdopen(descriptor, "wb") as file:
            try:
                with urllib.request.urlopen(url, timeout=_TIMEOUT_SECONDS) as response:
                    for chunk in iter(lambda: response.read(_CHUNK_BYTES), b""):
                        digest.update(chunk)
                        file.write(chunk)
            except OSError as error:
                raise OSError(f"Could not download {url} to {path}: {error}") from error
        if digest.hexdigest() != sha256:
            raise OSError(
                f"The file downloaded from {url} has SHA-256 {digest.hexdigest()}, "
                f"expected {sha256}. It was not saved to {path}; the remote file "
                "may have changed or the download was corrupted."
            )
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def _cached_file(
    data_home, benchmark, relative_path, checksums, base_url, download_if_missing
):
    """Return the local path of a benchmark file, downloading it if missing."""
    path = get_data_home(data_home) / benchmark / relative_path
    if path.is_file():
        return path
    if not download_if_missing:
        raise FileNotFoundError(
            f"{path} does not exist and download_if_missing=False. Pass "
            "download_if_missing=True to download it, or point data_home (or the "
            "SKAE_DATA environment variable) at a folder that holds "
            f"{benchmark}/{relative_path}."
        )
    url = base_url.rstrip("/") + "/" + urllib.parse.quote(relative_path)
    return _download(url, path, checksums[relative_path])


def _unknown_name_error(kind, name, valid):
    return ValueError(f"Unknown {kind} {name!r}. Valid names are: {', '.join(valid)}.")
