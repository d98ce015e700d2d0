"""Where medseg keeps things: the shipped bundles, the user's cache and the user's config folder.

Plain data and three small functions, importing nothing of medseg, so every layer may ask where
things live without pulling in the modules that use them.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
REPO_BUNDLES = PACKAGE_ROOT.parent / "bundles"  # the repository's bundles/ (absent in an installed wheel)
REPO_MANIFESTS = PACKAGE_ROOT.parent / "data_manifests"
# where `medseg bundle new NAME` writes by default, in the current folder: a folder of its own, never the data's
USER_BUNDLES = Path("my_bundles")


def bundle_dirs() -> list[Path]:
    """Where named bundles live: the repository's ``bundles/`` then the installed copy."""
    dirs = [REPO_BUNDLES]
    try:
        from importlib.resources import files

        dirs.append(Path(str(files("medseg_bundles"))))
    except (ModuleNotFoundError, NotADirectoryError):
        pass
    return [d for d in dirs if d.is_dir()]


def default_cache_dir() -> Path:
    """Regenerable data (demo phantoms, DICOM conversions, preprocessed cases, unpacked zips):
    ``$MEDSEG_CACHE``, else ``$XDG_CACHE_HOME/medseg``, else ``~/.cache/medseg``."""
    base = os.environ.get("MEDSEG_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "medseg"
    )
    return Path(base)


def config_dir() -> Path:
    """Per-user medseg settings: ``$MEDSEG_CONFIG``, else ``$XDG_CONFIG_HOME/medseg``, else ``~/.config/medseg``."""
    base = os.environ.get("MEDSEG_CONFIG") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME", os.path.expanduser("~/.config")), "medseg"
    )
    return Path(base)
