"""Read a MONAI Model Zoo bundle's configs as data, never as code.

A zoo config is a MONAI bundle config: ``_target_`` components and ``$`` expressions that
``monai.bundle`` would instantiate and ``eval``. medseg never hands these files to a
``ConfigParser``. It lists every expression and component (what running the bundle would run),
resolves ``@`` references within ``inference.json`` to literal values, and takes from them only a
MONAI network definition and the pre- and post-processing steps it knows (``medseg.bundle.zoo.importer``).
Whatever it takes must be plain data at every depth (``medseg.bundle.trust.find_code``): no expression,
macro, reference leaving the file or component. Every file is read inside the zoo folder: a link
leading out of it is refused, never followed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medseg.bundle.trust import find_code
from medseg.errors import BundleError

REF, EXPR, SEP = "@", "$", "#"


@dataclass(frozen=True)
class Expression:
    """One piece of code a zoo config would run: a ``$`` expression or a ``_target_`` component."""

    file: str
    key: str
    kind: str  # "$" or "_target_"
    text: str

    def line(self) -> str:
        return f"{self.file} {self.key}: {self.kind} {self.text}" if self.kind == "_target_" else \
            f"{self.file} {self.key}: {self.text}"


def _walk(node: Any, key: str, file: str, found: list[Expression]) -> None:
    if isinstance(node, dict):
        if "_target_" in node:
            found.append(Expression(file, key or "(root)", "_target_", str(node["_target_"])))
        for name, value in node.items():
            if name != "_target_":
                _walk(value, f"{key}{SEP}{name}" if key else str(name), file, found)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _walk(value, f"{key}{SEP}{i}" if key else str(i), file, found)
    elif isinstance(node, str) and node.startswith(EXPR):
        found.append(Expression(file, key or "(root)", EXPR, node))


class ZooConfig:
    """An unpacked zoo bundle: ``configs/metadata.json``, ``configs/inference.json``, ``models/model.pt``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.metadata = self._read("metadata.json")
        self.inference = self._read("inference.json")

    def file(self, relative: str | Path) -> Path:
        """``root/relative``, refused when it is a link (or lies in a linked folder) leading out of the zoo folder."""
        path = self.root / relative
        real = path.resolve()
        if not real.is_relative_to(self.root):
            raise BundleError(f"{Path(relative).as_posix()} is a link to {real}, outside the zoo folder; medseg "
                              "does not follow links out of a bundle it imports", path)
        return path

    def _read(self, name: str) -> dict[str, Any]:
        path = self.file(Path("configs") / name)
        if not path.is_file():
            raise BundleError(f"not an unpacked MONAI zoo bundle: no configs/{name}", self.root)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise BundleError(f"cannot read zoo config ({exc})", path) from exc
        if not isinstance(data, dict):
            raise BundleError("zoo config is not a JSON object", path)
        return data

    @property
    def weights(self) -> Path:
        return self.file(Path("models") / "model.pt")

    def expressions(self) -> list[Expression]:
        """Every ``$`` expression and ``_target_`` in every ``configs/*.json`` (what ``monai.bundle run`` runs)."""
        found: list[Expression] = []
        for path in sorted((self.root / "configs").glob("*.json")):
            self.file(path.relative_to(self.root))
            try:
                _walk(json.loads(path.read_text()), "", path.name, found)
            except (OSError, json.JSONDecodeError):
                found.append(Expression(path.name, "(file)", EXPR, "unreadable JSON: not imported"))
        return found

    def get(self, key: str) -> Any:
        """``a#b#0`` in inference.json, ``@`` references resolved; KeyError when absent."""
        node: Any = self.inference
        for part in key.split(SEP):
            node = node[int(part)] if isinstance(node, list) else node[part]
        return self.literal(node, key)

    def literal(self, value: Any, key: str) -> Any:
        """``value`` with every ``@ref`` replaced by what it refers to in inference.json; refused unless the
        result is plain data (no expression, macro, reference out of the file or component at any depth)."""
        value = self._resolve(value, key)
        found = find_code(value, key, top=False)
        if found:
            raise BundleError(f"zoo config {found[0]!r} {found[1]}; medseg imports literal values only",
                              self.root / "configs" / "inference.json")
        return value

    def _resolve(self, value: Any, key: str, seen: tuple[str, ...] = ()) -> Any:
        if isinstance(value, str) and value.startswith(REF):
            ref = value[1:].replace("::", SEP)  # MONAI's separator, or the older '#'
            if ref in seen:
                raise BundleError(f"zoo config reference cycle at {key!r}", self.root / "configs" / "inference.json")
            try:
                node: Any = self.inference
                for part in ref.split(SEP):
                    node = node[int(part)] if isinstance(node, list) else node[part]
            except (KeyError, IndexError, ValueError, TypeError) as exc:
                raise BundleError(f"zoo config {key!r} refers to {value!r}, which is not a value of inference.json",
                                  self.root / "configs" / "inference.json") from exc
            return self._resolve(node, key, (*seen, ref))
        if isinstance(value, dict):
            return {k: self._resolve(v, f"{key}{SEP}{k}", seen) for k, v in value.items()}
        if isinstance(value, list):
            return [self._resolve(v, f"{key}{SEP}{i}", seen) for i, v in enumerate(value)]
        return value

    def transforms(self, key: str) -> list[tuple[str, dict[str, Any]]]:
        """The steps of a ``Compose`` (``preprocessing``/``postprocessing``) as (short name, raw arguments)."""
        node = self.inference.get(key)
        if node is None:
            return []
        if isinstance(node, dict) and "transforms" in node:
            node = node["transforms"]
        if not isinstance(node, list):
            raise BundleError(f"zoo config {key!r} is not a list of transforms",
                              self.root / "configs" / "inference.json")
        steps = []
        for i, step in enumerate(node):
            if not isinstance(step, dict) or "_target_" not in step:
                raise BundleError(f"zoo config {key}#{i} is not a transform", self.root / "configs" / "inference.json")
            target = str(self.literal(step["_target_"], f"{key}#{i}#_target_"))
            steps.append((target.rsplit(".", 1)[-1], {k: v for k, v in step.items() if k != "_target_"}))
        return steps

    def channel_names(self, which: str) -> list[str]:
        """``network_data_format`` input (``inputs``) or output (``outputs``) channel names in channel order."""
        section = self.metadata.get("network_data_format", {}).get(which, {})
        first = next(iter(section.values()), {}) if isinstance(section, dict) else {}
        channel_def = first.get("channel_def", {}) if isinstance(first, dict) else {}
        try:
            return [str(channel_def[k]) for k in sorted(channel_def, key=int)]
        except ValueError as exc:
            raise BundleError(f"network_data_format {which} channel_def keys must be channel numbers",
                              self.root / "configs" / "metadata.json") from exc
