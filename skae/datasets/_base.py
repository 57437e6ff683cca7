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

    The folder is, in order of precedence: ``data_home`` when given, the
    environment variable ``SKAE_DATA`` when set, else ``~/skae_data``. It is
    laid out like the public benchmark repositories (``<data_home>/NAB/...``,
    ``<data_home>/SKAB/...``), so a folder holding clones of them works as is.
    The folder is not created here; downloads create what they need.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. ``None`` means ``SKAE_DATA`` or ``~/skae_data``.

    Returns
    -------
    data_home : pathlib.Path
        The folder, with ``~`` expanded.
    """
    if data_home is None:
        data_home = os.environ.get("SKAE_DATA", Path("~") / "skae_data")
    return Path(data_home).expanduser()


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _join_url(base_url, relative_path):
    return base_url.rstrip("/") + "/" + urllib.parse.quote(relative_path)


def _download(url, path, sha256):
    """Download ``url`` to ``path`` through a temporary file, checking SHA-256.

    The file appears at ``path`` only once it is complete and its checksum
    matches, so an interrupted or corrupted download never leaves a file that
    a later call would take for a good one.
    """
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
    data_home, benchmark, relative_path, *, sha256, base_url, download_if_missing
):
    """Return the local path of a benchmark file, downloading it if allowed.

    A file already present is used as it is and never downloaded again.
    """
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
    return _download(_join_url(base_url, relative_path), path, sha256)


def _unknown_name_error(kind, name, valid):
    return ValueError(f"Unknown {kind} {name!r}. Valid names are: {', '.join(valid)}.")
