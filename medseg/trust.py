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

A config can pull in more than its own text: a MONAI ``%file.json::key`` macro reads another file,
and ``$import x`` or ``"_target_": "x.Y"`` imports a module. The seal therefore covers every file
under ``configs/`` and every ``.py`` file of the bundle, and a sealed bundle that pulls in anything
else (a macro file outside ``configs/``, a module outside the installed packages) is refused
(``check_includes``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def _strings(node: Any) -> Iterator[tuple[str | None, str]]:
    """Every string in a config, with the key it sits under."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str):
                yield str(key), value
            else:
                yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from ((None, value),) if isinstance(value, str) else _strings(value)


_IMPORTS = re.compile(r"(?:\bimport\s+|\bfrom\s+|import_module\(\s*['\"]|__import__\(\s*['\"])([A-Za-z_][\w.]*)")


def _installed_roots() -> list[Path]:
    """Where importing a module runs code the user installed (not code lying beside a bundle or in the cwd)."""
    import site
    import sysconfig

    paths = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths |= set(site.getsitepackages()) | {site.getusersitepackages(), str(Path(__file__).resolve().parent)}
    return [Path(p).resolve() for p in paths if p]


def _module_files(name: str) -> list[Path]:
    """Where a top-level module would be imported from (nothing is executed to find out)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if spec.has_location and spec.origin:
        return [Path(spec.origin).resolve()]
    return [Path(p).resolve() for p in (spec.submodule_search_locations or [])]


def check_includes(root: str | Path, config: Any, trust: bool = False) -> None:
    """Refuse a sealed bundle whose config pulls in a file the seal does not cover.

    ``%path.json::key`` macros must name a file under the bundle's ``configs/`` (MONAI reads the
    path as given, relative to the working directory); modules imported by ``$`` expressions or
    named by ``_target_`` must come from the installed packages or be ``.py`` files of the bundle.
    Shipped bundles and ``--trust`` skip the check.
    """
    from monai.bundle import ConfigParser

    root = Path(root).resolve()
    if trust or any(root.is_relative_to(base) for base in shipped_roots()):
        return
    sealed = {p.resolve() for p in sealed_files(root)}
    allowed = _installed_roots()
    # what a macro may bring in is scanned too: every config-like file under configs/
    included = [ConfigParser.load_config_file(p) for p in sorted(sealed)
                if p.suffix.lower() in (".json", ".yaml", ".yml") and p.name != "metadata.json"]
    for key, text in (item for node in (config, *included) for item in _strings(node)):
        if text.startswith("%"):
            path, _ = ConfigParser.split_path_id(text[1:])
            if path and Path(path).resolve() not in sealed:
                raise BundleError(f"a config pulls in {path} through a MONAI '%' macro, which the seal does not "
                                  "cover (only files under configs/ are sealed); move it there and reseal, or "
                                  "rerun with --trust", root / "configs")
        modules = _IMPORTS.findall(text) if text.startswith("$") else []
        if key == "_target_" and "." in text:
            modules.append(text)
        for module in modules:
            for origin in _module_files(module.split(".")[0]):
                if origin not in sealed and not any(origin.is_relative_to(base) for base in allowed) \
                        and not (origin.is_relative_to(root) and origin.is_dir()):
                    raise BundleError(f"a config imports '{module}' from {origin}, outside the installed packages "
                                      "and the sealed bundle; install it, or rerun with --trust", root / "configs")
