"""What a sealed bundle's configs may pull in: only files the seal covers and modules the user installed.

A config reaches beyond its own text through a MONAI ``%file.json::key`` macro (another file is
read) and through imports (``$import x``, ``"_target_": "x.Y"``, or any import a ``$`` expression
makes). The seal (``medseg.bundle.trust``) covers every file under ``configs/`` and every ``.py`` of the
bundle, so for a sealed bundle run without ``--trust``:

* before anything runs, ``check_includes`` refuses a macro naming a file outside ``configs/`` and an
  import of a module that is neither installed nor a sealed file of the bundle, or that cannot be
  found at all (a config that changes ``sys.path`` first would find it later);
* while MONAI builds the config, ``SealedImports`` checks every module imported for the first time
  where Python actually finds it (whatever ``sys.path`` has become); from then on, in this process, a
  module under the bundle's root must be one of its sealed files and is compiled from that source: a
  ``__pycache__`` file, a sourceless ``.pyc`` or an extension module planted beside it never loads.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import re
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from medseg.bundle.trust import sealed_files, shipped_roots
from medseg.errors import BundleError
from medseg.locations import PACKAGE_ROOT

_IMPORTS = re.compile(r"(?:\bimport\s+|\bfrom\s+|import_module\(\s*['\"]|__import__\(\s*['\"])([A-Za-z_][\w.]*)")
_IMPORTERS = ("__import__", "import_module", "optional_import")  # calls whose first argument names a module


@cache
def _installed_roots() -> tuple[Path, ...]:
    """Where importing a module runs code the user installed (not code lying beside a bundle or in the cwd)."""
    import site
    import sysconfig

    paths = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths |= set(site.getsitepackages()) | {site.getusersitepackages(), str(PACKAGE_ROOT)}
    return tuple(Path(p).resolve() for p in paths if p)


def _strings(node: Any) -> list[tuple[str | None, str]]:
    """Every string in a config, with the key it sits under."""
    if isinstance(node, dict):
        return [item for key, value in node.items()
                for item in ([(str(key), value)] if isinstance(value, str) else _strings(value))]
    if isinstance(node, list):
        return [item for value in node for item in ([(None, value)] if isinstance(value, str) else _strings(value))]
    return []


def imported_modules(expression: str) -> list[str]:
    """Modules a ``$`` expression imports by a literal name (its import statements and import calls)."""
    code = re.sub(r"@[\w#:]*", "_ref", expression[1:])  # MONAI swaps each @ref for a variable before eval
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return _IMPORTS.findall(expression)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str) and ast.unparse(node.func).rsplit(".", 1)[-1] in _IMPORTERS:
            names.append(node.args[0].value)
    return names


def _origins(name: str, root: Path) -> list[Path] | None:
    """Where a top-level module would be imported from, on ``sys.path`` or (as ``monai.bundle run`` adds it)
    the bundle root; None where it cannot be found. Nothing is executed to find out."""
    try:
        spec = importlib.util.find_spec(name) or importlib.machinery.PathFinder.find_spec(name, [str(root)])
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return None
    if spec.has_location and spec.origin:
        return [Path(spec.origin).resolve()]
    return [Path(p).resolve() for p in (spec.submodule_search_locations or [])]


def _allowed(origin: Path, root: Path, sealed: set[Path]) -> bool:
    """A sealed file of the bundle, or installed code (anything else under the bundle root is not)."""
    if origin in sealed or any(origin.is_relative_to(base) for base in _installed_roots()):
        return True
    return origin.is_relative_to(root) and origin.is_dir()  # a namespace folder: its modules are checked one by one


def check_includes(root: str | Path, config: Any, trust: bool = False) -> None:
    """Refuse a sealed bundle whose config pulls in a file the seal does not cover (see the module docstring).

    ``config`` is the parser's whole content (metadata included); every config file under ``configs/``
    is scanned too, since a macro can bring any of them in. Shipped bundles and ``--trust`` skip this.
    """
    from monai.bundle import ConfigParser

    root = Path(root).resolve()
    if trust or any(root.is_relative_to(base) for base in shipped_roots()):
        return
    files = sealed_files(root)
    sealed = {p.resolve() for p in files}
    included = [ConfigParser.load_config_file(p) for p in files
                if p.suffix.lower() in (".json", ".yaml", ".yml") and p.is_relative_to(root / "configs")]
    for key, text in (item for node in (config, *included) for item in _strings(node)):
        if text.startswith("%"):
            path, _ = ConfigParser.split_path_id(text[1:])
            if path and Path(path).resolve() not in sealed:
                raise BundleError(f"a config pulls in {path} through a MONAI '%' macro, which the seal does not "
                                  "cover (only files under configs/ are sealed); move it there and reseal, or "
                                  "rerun with --trust", root / "configs")
        modules = imported_modules(text) if text.startswith("$") else []
        if key == "_target_" and "." in text and not text.startswith("$"):
            modules.append(text)
        for module in modules:
            origins = _origins(module.split(".")[0], root)
            if origins is None:
                raise BundleError(f"a config imports '{module}', which cannot be found (a config that changes "
                                  "sys.path first would import it from a place the seal does not cover); install "
                                  "it or put it in the bundle and reseal, or rerun with --trust", root / "configs")
            for origin in origins:
                if not _allowed(origin, root, sealed):
                    raise BundleError(f"a config imports '{module}' from {origin}, outside the installed packages "
                                      "and the sealed bundle; install it, or rerun with --trust", root / "configs")


class _SourceOnly(importlib.machinery.SourceFileLoader):
    """Compile a sealed module from its source every time: no bytecode cache is read or written."""

    def get_code(self, fullname: str):
        path = self.get_filename(fullname)
        return self.source_to_code(self.get_data(path), path)


class SealedImports(importlib.abc.MetaPathFinder):
    """The import check (one per process, first on ``sys.meta_path`` once a sealed bundle is built).

    For a module under a sealed bundle's root, always (a module of the bundle imported later, while
    predicting, too): it must be a sealed file, and a ``.py`` is compiled from its source. For any
    other module, while a config is being built (``building``): it must be installed.
    """

    def __init__(self) -> None:
        self.bundles: dict[Path, frozenset[Path]] = {}  # sealed root -> its sealed files
        self.building: list[tuple[Path, list[BundleError]]] = []  # (root, refusals) per config being built

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        spec = None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        if spec is None or not spec.has_location or not spec.origin:
            return spec  # not found (Python says so), built in, frozen, or a namespace folder: no file runs
        origin = Path(spec.origin).resolve()
        root = next((r for r in self.bundles if origin.is_relative_to(r)), None)
        if root is not None and origin in self.bundles[root]:
            if origin.suffix == ".py":
                spec.loader = _SourceOnly(fullname, spec.origin)
            return spec
        if any(origin.is_relative_to(base) for base in _installed_roots()):
            return spec
        if root is None and not self.building:
            return spec  # nothing of a sealed bundle, and no config being built: not medseg's to judge
        refused = BundleError(
            f"a config imports {fullname} from {origin}, which is neither installed nor a sealed file of the "
            "bundle (a changed sys.path, or a file planted beside the sealed ones); rerun with --trust to allow "
            "it", (root or self.building[-1][0]) / "configs")
        for _, refusals in self.building:
            refusals.append(refused)
        raise refused

    @contextlib.contextmanager
    def build(self, root: Path, sealed: frozenset[Path]) -> Iterator[list[BundleError]]:
        """Check imports while MONAI builds ``root``'s config; yields the refusals made meanwhile."""
        self.bundles[root] = sealed
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)
        frame: tuple[Path, list[BundleError]] = (root, [])
        self.building.append(frame)
        try:
            yield frame[1]
        finally:
            self.building.remove(frame)


GUARD = SealedImports()


@cache
def _sealed_parser_class() -> type:
    from monai.bundle import ConfigParser

    class SealedConfigParser(ConfigParser):
        """A ``ConfigParser`` that builds its content under ``GUARD`` (``sealed_root`` set by ``parser_for``)."""

        sealed_root: Path
        sealed: frozenset[Path]  # the sealed files, listed once (is_trusted has just checked them)

        def get_parsed_content(self, id: str = "", **kwargs: Any) -> Any:
            with GUARD.build(self.sealed_root, self.sealed) as refusals:
                try:
                    content = super().get_parsed_content(id, **kwargs)
                except Exception as exc:
                    if not refusals:
                        raise
                    raise refusals[0] from exc
                if refusals:  # refused inside MONAI's optional_import, which only defers the error
                    raise refusals[0]
                return content

    return SealedConfigParser


def parser_for(root: str | Path, trust: bool = False):
    """A MONAI ``ConfigParser`` for a bundle: guarded by ``GUARD`` unless shipped or ``--trust``."""
    from monai.bundle import ConfigParser

    root = Path(root).resolve()
    if trust or any(root.is_relative_to(base) for base in shipped_roots()):
        return ConfigParser()
    parser = _sealed_parser_class()()
    parser.sealed_root, parser.sealed = root, frozenset(p.resolve() for p in sealed_files(root))
    return parser
