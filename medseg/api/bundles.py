"""``medseg bundle list|verify|trust``: the bundles there are, checked and sealed (light: no torch, no MONAI).

Making bundles (``bundle new``, ``import-zoo``, ``export``) is ``medseg.api.packaging``.
"""

from __future__ import annotations

from pathlib import Path

from medseg.bundle.find import Bundle, find_bundle, list_bundles, parse_overrides, verify_bundle
from medseg.bundle.trust import seal

__all__ = ["bundle_tasks", "parse_overrides", "trust_bundle", "verify"]


def bundle_tasks() -> list[tuple[str, str]]:
    """The bundles shipped with medseg and the task each names."""
    return [(name, find_bundle(name).metadata.get("task", "")) for name in list_bundles()]


def verify(bundle: str | Path) -> Bundle:
    """``bundle``'s metadata checked against MONAI's metadata schema and its label schema."""
    found = find_bundle(bundle)
    verify_bundle(found)
    return found


def trust_bundle(path: str | Path) -> Path:
    """Seal the bundle at ``path`` (after its configs were read): medseg then runs it without ``--trust``."""
    found = find_bundle(path)
    seal(found.root)
    return found.root
