"""Paths in what is meant to be shared (report.json, report.html, the model card): relative to the config, never local.

An audit run from a config resolves its paths against the config's folder, so
the run itself sees absolute paths (``/home/me/audits/records.csv``). A
report or model card must not carry those: :func:`shareable_path` turns a
path inside the config's folder into its relative name (``records.csv``) and
any other absolute path into its file name alone; relative paths stay as the
user wrote them.

>>> shareable_path("/home/me/audit/data/records.csv", "/home/me/audit")
'data/records.csv'
>>> shareable_path("/srv/models/forest.skops", "/home/me/audit")
'forest.skops'
>>> shareable_path("data/records.csv")
'data/records.csv'
"""

from __future__ import annotations

import ntpath
import os
import posixpath
from pathlib import Path, PurePosixPath, PureWindowsPath

__all__ = ["PATH_KEYS", "is_local_path", "shareable_path", "shareable_config", "shareable_result"]

#: config keys whose values are file or folder paths (any nesting level); other absolute paths are caught when they exist here
PATH_KEYS = frozenset({"path", "weights", "transform", "store", "output", "members", "nonmembers", "population", "cache",
                       "estimator", "factory", "model", "reference_model", "texts"})


def is_local_path(text: str) -> bool:
    """Whether ``text`` is an absolute local path (POSIX, ``~``, or a Windows drive / UNC path)."""
    return posixpath.isabs(text) or text.startswith("~") or bool(ntpath.splitdrive(text)[0])


def shareable_path(path, base_dir=None) -> str:
    """``path`` as it may appear in a shared report: relative to ``base_dir`` when inside it, else its file name.

    A factory reference ``/abs/file.py:build`` keeps its ``:build``. Relative
    paths (and non-paths) are returned unchanged, as text.
    """
    text = str(path)
    head, colon, attribute = text.rpartition(":")
    if colon and head.endswith(".py") and is_local_path(head):
        return f"{shareable_path(head, base_dir)}:{attribute}"
    if not is_local_path(text):
        return text
    if base_dir is not None:
        try:
            return Path(os.path.expanduser(text)).resolve().relative_to(Path(base_dir).resolve()).as_posix() or "."
        except ValueError:
            pass
    pure = PureWindowsPath(text) if ntpath.splitdrive(text)[0] else PurePosixPath(text)
    return pure.name or "."


def shareable_config(value, base_dir=None, key: str | None = None):
    """A copy of a config dump with every local path made shareable (:func:`shareable_path`).

    Values under :data:`PATH_KEYS` are rewritten when absolute; any other
    string only when it is an absolute path that exists on this machine (so
    an HTTP response path such as ``/predictions`` is left alone).
    """
    if isinstance(value, dict):
        return {k: shareable_config(v, base_dir, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [shareable_config(v, base_dir, key) for v in value]
    if isinstance(value, str) and (key in PATH_KEYS or (is_local_path(value) and os.path.exists(os.path.expanduser(value)))):
        return shareable_path(value, base_dir)
    return value


def shareable_result(result, base_dir=None) -> None:
    """Make an audit result's config dump, data source, reference stores and trusted files shareable, in place (``base_dir``: the config's folder)."""
    if result.config is not None:
        result.config = shareable_config(result.config, base_dir)
    result.data_source = shareable_path(result.data_source, base_dir)
    result.reference = {name: {**info, "store": shareable_path(info["store"], base_dir)} if "store" in info else info
                        for name, info in result.reference.items()}
    if getattr(result, "trust", None):  # factories (file.py:function) and pickle files, as the config named them
        result.trust = {**result.trust, **{key: {name: shareable_path(value, base_dir) for name, value in (result.trust.get(key) or {}).items()}
                                           for key in ("factories", "pickles")}}
