"""Raw files of a dataset repository: from a local folder, or from the hub through ``huggingface_hub``.

``huggingface_hub`` keeps what it downloads in its cache (``HF_HUB_CACHE``) and, with
``HF_HUB_OFFLINE=1``, serves from that cache without a network call, so the same code path
runs online, offline, and in the tests (on a replica laid out as a hub cache). A token for
gated repositories is read from the environment variable the config names.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from workbench.errors import DataError


def is_local(path: str) -> bool:
    """A folder on this machine (else ``path`` is a hub repository id)."""
    return Path(path).expanduser().is_dir()


def token_from(env: str | None) -> str | None:
    """The hub token in environment variable ``env`` (None lets huggingface_hub use its own login)."""
    return os.environ.get(env) or None if env else None


def _explain(repo: str, what: str, err: Exception) -> DataError:
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

    if isinstance(err, GatedRepoError):
        why = "gated repository: accept its terms on the hub and put a token in the config's token_env variable"
    elif isinstance(err, RepositoryNotFoundError):
        why = "repository not found (or private: a token is needed)"
    elif isinstance(err, LocalEntryNotFoundError):
        why = "not in the local hub cache and the hub cannot be reached (HF_HUB_OFFLINE set, or no network)"
    else:
        why = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    return DataError(f"dataset repository '{repo}'", what, why)


def repo_file(repo: str, filename: str, revision: str | None = None, token_env: str | None = "HF_TOKEN") -> Path:
    """The local path of one file of a dataset repository (downloaded once into the hub cache)."""
    if is_local(repo):
        path = Path(repo).expanduser() / filename
        if not path.is_file():
            raise DataError(f"dataset folder '{repo}'", filename, "file not found")
        return path
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(
            hf_hub_download(repo, filename, repo_type="dataset", revision=revision, token=token_from(token_env))
        )
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError, ValueError) as err:
        raise _explain(repo, filename, err) from None


def repo_glob(repo: str, pattern: str, revision: str | None = None, token_env: str | None = "HF_TOKEN") -> list[Path]:
    """Local paths of the repository files matching ``pattern`` (``fnmatch``, e.g. ``de-DE/train-*.parquet``), sorted.

    From the hub, only the matching files are fetched (``snapshot_download`` with
    ``allow_patterns``); offline, the cached snapshot is searched.
    """
    if is_local(repo):
        root = Path(repo).expanduser()
    else:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

        try:
            root = Path(
                snapshot_download(
                    repo, repo_type="dataset", revision=revision, allow_patterns=[pattern], token=token_from(token_env)
                )
            )
        except (HfHubHTTPError, LocalEntryNotFoundError, OSError, ValueError) as err:
            raise _explain(repo, pattern, err) from None
    files = (p for p in root.rglob("*") if p.is_file())
    return sorted(p for p in files if fnmatch.fnmatch(p.relative_to(root).as_posix(), pattern))
