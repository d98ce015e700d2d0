"""Find bundles (in the repo, installed, or a path), read their metadata, build their configs."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from medseg.bundle.sealed_imports import check_includes, parser_for
from medseg.bundle.trust import SEAL, check_metadata, check_trusted, seal
from medseg.errors import BundleError, OutputError
from medseg.io.atomic import copy_file_atomic, write_text_atomic
from medseg.labels import LabelSchema
from medseg.locations import USER_BUNDLES, bundle_dirs, default_cache_dir

METADATA_SCHEMA = Path(__file__).resolve().parent / "schemas" / "bundle_metadata.schema.json"
_MISSING = object()


def list_bundles() -> list[str]:
    """Names of the bundles shipped with medseg."""
    names = {p.parent.parent.name for d in bundle_dirs() for p in d.glob("*/configs/metadata.json")}
    return sorted(names)


@dataclass(frozen=True)
class Bundle:
    """A MONAI bundle folder: ``configs/metadata.json``, ``configs/*.json``, optional ``models/``.

    The layout is declared here once, as data: what makes a bundle (``LAYOUT``: folders end in
    ``/``), its trained weights (``WEIGHTS``) and the configs that take ``--override`` keys
    (``EDITABLE``, in the order MONAI reads them). Run directories, exports and zips use it.
    """

    root: Path

    LAYOUT: ClassVar[tuple[str, ...]] = ("configs/", "docs/", "LICENSE")
    WEIGHTS: ClassVar[Path] = Path("models") / "model.pt"
    EDITABLE: ClassVar[tuple[str, ...]] = ("inference", "train")

    @cached_property
    def metadata(self) -> dict[str, Any]:
        path = self.root / "configs" / "metadata.json"
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise BundleError(f"cannot read bundle metadata ({exc})", path) from exc

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", self.root.name))

    @cached_property
    def schema(self) -> LabelSchema:
        return LabelSchema.from_metadata(self.metadata, self.root / "configs" / "metadata.json")

    @property
    def modalities(self) -> list[str]:
        return list(self.metadata.get("medseg", {}).get("modalities", ["image"]))

    @property
    def model_path(self) -> Path:
        return self.root / self.WEIGHTS

    def files(self, weights: bool = False) -> list[Path]:
        """The bundle's files (relative paths, sorted) under ``LAYOUT``, and ``WEIGHTS`` when asked and present.

        What is copied or exported stays the bundle's: a link leading out of its folder is refused, never followed.
        """
        found = []
        for member in self.LAYOUT:
            path = self.root / member
            found += sorted(p for p in path.rglob("*") if p.is_file()) if member.endswith("/") else [path]
        if weights:
            found.append(self.model_path)
        root = self.root.resolve()
        for path in found:
            if path.is_file() and not path.resolve().is_relative_to(root):
                raise BundleError(f"{path.relative_to(self.root).as_posix()} is a link to {path.resolve()}, outside "
                                  "the bundle; medseg does not follow links out of a bundle", path)
        return [p.relative_to(self.root) for p in found if p.is_file()]

    def copy_to(self, target: str | Path, overrides: dict[str, Any] | None = None) -> Bundle:
        """Copy the layout into ``target``, write each override into the config that defines it, and seal the copy.

        medseg wrote the copy's configs, so later runs of it need no ``--trust`` (see ``medseg.bundle.trust``).
        """
        target, files = Path(target), self.files()
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create run directory ({exc.strerror})", target) from exc
        edited = self._edited_configs(overrides or {})
        for relative in files:
            if relative == SEAL:
                continue  # the copy gets its own seal below
            if relative in edited:
                write_text_atomic(target / relative, json.dumps(edited[relative], indent=2) + "\n")
            else:
                copy_file_atomic(self.root / relative, target / relative)
        seal(target)
        return Bundle(target.resolve())

    def _edited_configs(self, overrides: dict[str, Any]) -> dict[Path, Any]:
        """``EDITABLE`` configs with the overrides set by MONAI's parser where each config defines the key."""
        from monai.bundle import ConfigParser

        if not overrides:
            return {}
        parsers = {Path("configs") / f"{name}.json": ConfigParser(json.loads(path.read_text()))
                   for name, path in zip(self.EDITABLE, self.config_files(*self.EDITABLE))}
        for key, value in overrides.items():
            # train.json is read after inference.json, so a key it defines wins there too: set it in both.
            hits = [parser for parser in parsers.values() if _set(parser, key, value)]
            if not hits:
                raise BundleError(f"unknown --override key {key!r}", self.root / "configs")
        return {relative: parser.get() for relative, parser in parsers.items()}

    def config_files(self, *names: str) -> list[Path]:
        paths = [self.root / "configs" / f"{name}.json" for name in names]
        for path in paths:
            if not path.is_file():
                raise BundleError("bundle config not found", path)
        return paths

    def parser(self, *names: str, overrides: dict[str, Any] | None = None, trust: bool = False):
        """A MONAI ``ConfigParser`` over the named configs, with ``bundle_root`` and overrides set.

        Configs are code, so a bundle from outside medseg and the user's own runs is refused unless
        ``trust`` (see ``medseg.bundle.trust``); without ``trust`` its metadata must be plain data, and a sealed
        bundle may pull in nothing its seal does not cover (``medseg.bundle.sealed_imports``).
        """
        check_trusted(self.root, trust)
        meta_file = self.root / "configs" / "metadata.json"
        if not trust:
            check_metadata(meta_file, self.metadata)
        parser = parser_for(self.root, trust)
        parser.read_config([str(p) for p in self.config_files(*names)])
        parser.read_meta(str(meta_file))
        check_includes(self.root, parser.get(), trust)  # macros and imports reach beyond the sealed configs
        parser["bundle_root"] = str(self.root)
        for key, value in (overrides or {}).items():
            if not _set(parser, key, value):
                raise BundleError(f"unknown --override key {key!r}", self.config_files(*names)[-1])
        return parser


def _set(parser, key: str, value: Any) -> bool:
    """Set ``a#b#c`` through MONAI's parser where the config defines it; False where it does not."""
    if parser.get(key, _MISSING) is _MISSING:
        return False
    parser[key] = copy.deepcopy(value)  # a later nested override must not edit the caller's dict
    return True


def find_bundle(name_or_path: str | Path) -> Bundle:
    """Resolve a bundle name (``brain_tumor``, or one ``bundle new`` wrote to ``./my_bundles/``), a bundle/run
    directory, or a bundle zip."""
    path = Path(name_or_path)
    if path.suffix == ".zip" and path.is_file():
        return Bundle(unpack_bundle(path).resolve())
    if (path / "configs" / "metadata.json").is_file():
        return Bundle(path.resolve())
    for directory in (USER_BUNDLES, *bundle_dirs()):
        candidate = directory / str(name_or_path)
        if (candidate / "configs" / "metadata.json").is_file():
            return Bundle(candidate.resolve())
    known = ", ".join(list_bundles()) or "none"
    raise BundleError(f"no bundle or run directory of that name (known bundles: {known})", name_or_path)


def unpack_bundle(archive_path: str | Path, cache_dir: str | Path | None = None) -> Path:
    """Extract a bundle zip once into the cache (keyed by its content hash); return the bundle root."""
    archive_path = Path(archive_path)
    digest = hashlib.sha256(archive_path.read_bytes()).hexdigest()[:16]
    target = Path(cache_dir or default_cache_dir() / "bundles") / digest
    try:
        with zipfile.ZipFile(archive_path) as archive:
            names = archive.namelist()
            if any(name.startswith("/") or ".." in Path(name).parts for name in names):
                raise BundleError("zip holds paths outside its own folder; refusing to extract", archive_path)
            if not target.is_dir():
                staging = target.with_name(f".{digest}.partial")
                archive.extractall(staging)
                staging.rename(target)
    except zipfile.BadZipFile as exc:
        raise BundleError(f"not a readable zip ({exc})", archive_path) from exc
    roots = sorted(p.parent.parent for p in target.rglob("configs/metadata.json"))
    if len(roots) != 1:
        raise BundleError("zip does not hold exactly one bundle (configs/metadata.json)", archive_path)
    return roots[0]


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``key=value`` strings to a dict; values are JSON when they parse as JSON, else strings."""
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise BundleError(f"override {item!r} is not of the form key=value")
        try:
            overrides[key] = json.loads(raw)
        except json.JSONDecodeError:
            overrides[key] = raw
    return overrides


@contextmanager
def monai_logs_quiet() -> Iterator[None]:
    """MONAI's bundle scripts (download, verify_metadata) log each step at INFO to stdout whatever the root logger
    says; they are internals, held at warnings unless medseg's own log is at DEBUG (the CLI's ``--debug``)."""
    if logging.getLogger("medseg").isEnabledFor(logging.DEBUG):
        yield
        return
    names = [n for n in list(logging.root.manager.loggerDict) if n == "monai" or n.startswith("monai.")]
    loggers = [logging.getLogger(n) for n in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def verify_bundle(bundle: Bundle) -> None:
    """Check metadata against the offline schema (through MONAI) and the label schema against it."""
    from monai.bundle import verify_metadata

    meta_file = bundle.root / "configs" / "metadata.json"
    try:
        with monai_logs_quiet():
            verify_metadata(meta_file=str(meta_file), filepath=str(METADATA_SCHEMA))
    except ValueError as exc:
        reason = " ".join(str(exc).split())
        raise BundleError(f"metadata does not match the bundle schema: {reason}", meta_file) from exc
    schema = bundle.schema
    outputs = bundle.metadata["network_data_format"]["outputs"]
    pred = next(iter(outputs.values()))
    if pred["num_channels"] != schema.num_channels or len(pred["channel_def"]) != schema.num_channels:
        raise BundleError(
            f"network_data_format declares {pred['num_channels']} output channels, "
            f"the label schema needs {schema.num_channels}",
            meta_file,
        )
    bundle.config_files("inference")
