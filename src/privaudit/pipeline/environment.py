"""What a result records about the software that produced it: :func:`package_versions`."""

from __future__ import annotations

import platform
from typing import Sequence

__all__ = ["package_versions", "TABULAR_PACKAGES", "TEXT_PACKAGES"]

#: packages whose versions every audit records (those installed)
TABULAR_PACKAGES = ("privaudit", "numpy", "scipy", "scikit-learn", "pandas", "torch")
#: what a text audit records besides (language-model stack)
TEXT_PACKAGES = ("privaudit", "numpy", "scipy", "scikit-learn", "torch", "transformers", "tokenizers", "gguf")


def package_versions(packages: Sequence[str] = TABULAR_PACKAGES) -> dict[str, str]:
    """``{"python": "3.x.y", package: version, ...}`` for each of ``packages`` that is installed (others left out)."""
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions
