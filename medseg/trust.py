"""Which bundles may run without asking: bundle configs are code.

A MONAI bundle config instantiates ``_target_`` classes and evaluates ``$`` expressions, so running a
bundle runs whatever Python its author wrote. medseg runs a bundle without asking only when it is

* shipped with medseg (the installed ``medseg_bundles`` package or this repository's ``bundles/``), or
* a run directory this user's medseg wrote (``medseg train``), whose configs carry a seal: an HMAC
  of their bytes under a key kept in the user's config folder. A seal cannot be copied into a
  downloaded folder (the key never leaves the machine), and editing a sealed config breaks it.

Anything else (a downloaded bundle, a colleague's run directory, a hand-edited config) is refused
with a one-line warning until the user passes ``--trust`` (or ``trust=True``) or seals it with
``medseg bundle trust PATH`` after reading its configs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from medseg.errors import BundleError, OutputError
from medseg.io.atomic import atomic_path, write_text_atomic
from medseg.locations import bundle_dirs, config_dir

SEAL = Path("configs") / ".medseg-seal"


def _key(create: bool) -> bytes | None:
    """The user's sealing key, created (mode 0600) on first use when ``create``."""
    path = config_dir() / "seal.key"
    if not path.is_file() and create:
        with atomic_path(path) as tmp:
            tmp.write_bytes(secrets.token_bytes(32))
            tmp.chmod(0o600)
    return path.read_bytes() if path.is_file() else None


def _digest(root: Path, key: bytes) -> str:
    """HMAC over every config file's name and bytes (sorted), so adding, removing or editing one breaks it."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for path in sorted((root / "configs").glob("*.json")):
        mac.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return mac.hexdigest()


def seal(root: str | Path) -> Path | None:
    """Mark a bundle folder as trusted by this user (medseg does this for the run directories it writes).

    Best effort: where the config folder cannot be written (a read-only home on a cluster) the run
    is left unsealed, and running it later asks for ``--trust``; training itself is not stopped.
    """
    root = Path(root)
    try:
        key = _key(create=True)
    except OutputError:
        return None
    return write_text_atomic(root / SEAL, _digest(root, key) + "\n")


def shipped_roots() -> list[Path]:
    return [d.resolve() for d in bundle_dirs()]


def is_trusted(root: str | Path) -> bool:
    """Shipped with medseg, or sealed by this user and unchanged since."""
    root = Path(root).resolve()
    if any(root.is_relative_to(base) for base in shipped_roots()):
        return True
    seal_file, key = root / SEAL, _key(create=False)
    if not seal_file.is_file() or key is None:
        return False
    return hmac.compare_digest(seal_file.read_text().strip(), _digest(root, key))


def check_trusted(root: str | Path, trust: bool = False) -> None:
    """Refuse to run a bundle's configs from outside medseg unless the user said ``--trust``."""
    if trust or is_trusted(root):
        return
    raise BundleError(
        "this bundle is not from medseg or your own runs, and its configs run Python code "
        "($ expressions, _target_); read configs/*.json, then rerun with --trust "
        "(or seal it: medseg bundle trust PATH)",
        root,
    )
