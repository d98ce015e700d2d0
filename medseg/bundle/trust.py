"""Which bundles may run without asking: bundle configs are code, and a config medseg did not write is data.

A MONAI bundle config instantiates ``_target_`` classes and evaluates ``$`` expressions, so running a
bundle runs whatever Python its author wrote. medseg runs a bundle without asking only when it is

* shipped with medseg (the installed ``medseg_bundles`` package or this repository's ``bundles/``), or
* a bundle this user's medseg wrote (``medseg train`` run directories, ``bundle new``, ``bundle
  import-zoo``) or this user sealed (``medseg bundle trust``), whose configs carry a seal: an HMAC of
  their bytes under a key kept in the user's config folder. A seal cannot be copied into a downloaded
  folder (the key never leaves the machine), and editing a sealed file breaks it.

Anything else (a downloaded bundle, a colleague's run directory, a hand-edited config) is refused
with a one-line warning until the user passes ``--trust`` (or ``trust=True``) or seals it with
``medseg bundle trust PATH`` after reading its configs.

Metadata is data in every bundle run without ``--trust``: a ``metadata.json`` value MONAI would
evaluate (``find_code``) is refused. What a sealed config may pull in from elsewhere (macro files,
modules) is ``medseg.bundle.sealed_imports``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import uuid
from pathlib import Path
from typing import Any

from medseg.errors import BundleError, OutputError
from medseg.io.atomic import write_text_atomic
from medseg.locations import bundle_dirs, config_dir

SEAL = Path("configs") / ".medseg-seal"
# What MONAI's ConfigParser reads as more than a value: a string starting with an expression, macro or
# reference sign; a dict holding a component key (``ConfigComponent.non_arg_keys``); a top-level key
# of a loaded file starting with ``+`` (merged into another) or holding an id separator (``a::b`` sets b in a).
SIGNS = {"$": "a Python expression", "%": "a MONAI '%' macro", "@": "a MONAI '@' reference"}
COMPONENT_KEYS = ("_target_", "_requires_", "_disabled_", "_desc_", "_mode_")


def _key(create: bool) -> bytes | None:
    """The user's sealing key, created on first use when ``create``."""
    path = config_dir() / "seal.key"
    if create and not path.is_file():
        _create_key(path)
    return path.read_bytes() if path.is_file() else None


def _create_key(path: Path) -> None:
    """A new key in a file only this user can read from its first byte (created 0600, never chmod-ed later).

    It is written under a temporary name, then linked into place: linking fails where another process
    made its key first, and that key is kept (replacing it would break the seals made with it).
    """
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{path.name}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(32))
                handle.flush()
                os.fsync(handle.fileno())
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write the sealing key ({exc.strerror or exc})", path) from exc


def sealed_files(root: Path) -> list[Path]:
    """What the seal covers: every file under ``configs/`` (macros may read any of them), then every ``.py``."""
    configs = root / "configs"
    inside = sorted(p for p in configs.rglob("*") if p.is_file() and p.name != SEAL.name)
    code = sorted(p for p in root.rglob("*.py") if p.is_file() and not p.is_relative_to(configs))
    return inside + code


def _digest(root: Path, key: bytes) -> str:
    """HMAC over every sealed file's name and bytes, so adding, removing or editing one breaks it."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for path in sealed_files(root):
        name = path.relative_to(root / "configs") if path.is_relative_to(root / "configs") else path.relative_to(root)
        mac.update(name.as_posix().encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
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


def find_code(node: Any, key: str = "", top: bool = True) -> tuple[str, str] | None:
    """The first place in config data that MONAI's ``ConfigParser`` would not read as a plain value.

    Returns ``(key, what it is)`` (``key`` as ``a#b#0``), or None for pure data. Every depth is
    searched, lists and keys included, so a value nested anywhere cannot become code once a reference
    (``@_meta_#...``) reaches it or MONAI's import pass (every ``$import`` of a config runs) sees it.
    """
    def at(name: Any) -> str:
        return f"{key}#{name}" if key else str(name)

    if isinstance(node, str):
        return (key or "(value)", f"is {SIGNS[node[0]]} ({node})") if node[:1] in SIGNS else None
    if isinstance(node, dict):
        special = next((k for k in COMPONENT_KEYS if k in node), None)
        if special:
            what = f"builds a component ({node[special]})" if special == "_target_" else f"holds MONAI's {special} key"
            return key or "(root)", what
        for name, value in node.items():
            name = str(name)
            if name[:1] in SIGNS or (top and (name.startswith("+") or "#" in name or "::" in name)):
                return at(name), "is a key MONAI could read as an instruction"
            found = find_code(value, at(name), False)
            if found:
                return found
    if isinstance(node, list):
        return next((found for i, value in enumerate(node) if (found := find_code(value, at(i), False))), None)
    return None


def check_metadata(path: Path, metadata: Any) -> None:
    """Refuse a bundle whose ``metadata.json`` holds anything MONAI would evaluate: metadata is data."""
    found = find_code(metadata)
    if found:
        key, what = found
        raise BundleError(f"{key!r} {what}; metadata is data and medseg evaluates nothing in it (rerun with "
                          "--trust to run the bundle as its author wrote it)", path)
