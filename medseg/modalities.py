"""Which subsets of a bundle's input sequences (modalities) a model can segment from.

Clinical MRI studies often lack a sequence (T1 or T2 most of all). A bundle that was trained with
modality dropout declares in its metadata which subsets it supports::

    "medseg": {"modalities": ["t1", "t1ce", "t2", "flair"],
               "modality_subsets": {"require_any": ["t1ce", "flair"]}}

meaning any subset that contains FLAIR or T1ce. A missing sequence is filled with zeros after the
per-channel z-score, i.e. the brain's mean intensity, exactly as modality dropout blanks a channel
in training (``medseg.transforms.modality``). A bundle without the key needs every modality.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medseg.errors import InputError


@dataclass(frozen=True)
class ModalitySubsets:
    """The bundle's modalities (in channel order) and the ones of which a study needs at least one."""

    modalities: tuple[str, ...]
    require_any: tuple[str, ...] = ()  # empty: every modality is required

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> ModalitySubsets:
        section = metadata.get("medseg", {})
        return cls.build(section.get("modalities", ["image"]), section.get("modality_subsets", {}).get("require_any"))

    @classmethod
    def build(cls, modalities: Sequence[str], require_any: Iterable[str] | None = None) -> ModalitySubsets:
        required = tuple(require_any or ())
        unknown = sorted(set(required) - set(modalities))
        if unknown:
            raise InputError(f"modality_subsets names unknown modalities {unknown} (bundle modalities: "
                             f"{list(modalities)})")
        return cls(tuple(modalities), required)

    @property
    def allows_missing(self) -> bool:
        return bool(self.require_any)

    def describe(self) -> str:
        """``any subset containing t1ce or flair`` (or ``all of t1, t1ce, t2, flair``)."""
        if not self.allows_missing:
            return "all of " + ", ".join(self.modalities)
        return "any subset containing " + " or ".join(self.require_any)

    def supports(self, present: Iterable[str]) -> bool:
        present = set(present)
        if not self.allows_missing:
            return present >= set(self.modalities)
        return bool(present & set(self.require_any))

    def missing(self, present: Iterable[str]) -> tuple[str, ...]:
        present = set(present)
        return tuple(m for m in self.modalities if m not in present)

    def check(self, present: Iterable[str], where: str | Path | None = None) -> tuple[str, ...]:
        """The missing modalities of a supported subset; an ``InputError`` for an unsupported one."""
        present = list(present)
        missing = self.missing(present)
        if missing and not self.supports(present):
            raise InputError(f"missing sequences {', '.join(missing)}; the bundle needs {self.describe()}", where)
        return missing

    def channel_indices(self, names: Iterable[str]) -> list[int]:
        return [self.modalities.index(name) for name in names]


def missing_sequences_message(case_id: str, missing: Sequence[str], subsets: ModalitySubsets) -> str:
    """The warning line for a study segmented without some sequences."""
    return (f"{case_id}: missing sequences {', '.join(missing)} (segmented from "
            f"{', '.join(m for m in subsets.modalities if m not in missing)}; the bundle supports "
            f"{subsets.describe()}, missing ones filled as in training's modality dropout)")
