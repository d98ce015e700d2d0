"""Ensembles: several trained runs of one task (e.g. its k folds) whose probabilities are averaged.

Every member predicts on the case's own grid (its preprocessing inverted), so runs with different
preprocessing still average voxel for voxel; the first run's post-processing, thresholds and writers
apply to the mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medseg.errors import BundleError
from medseg.io.read import CaseFiles


def check_members(first: Any, others: Sequence[Any], names: Sequence[str | Path] = ()) -> None:
    """Refuse a member whose output channels and labels (colours may differ) or input modalities are not the first's."""
    for index, other in enumerate(others):
        name = names[index] if index < len(names) else f"ensemble member {index + 1}"
        differences = other.schema.output_differences(first.schema)
        if other.modalities != first.modalities:
            differences.append(f"modalities {other.modalities} vs {first.modalities}")
        if differences:
            raise BundleError(f"cannot ensemble: its outputs or inputs differ from the first run's: "
                              f"{'; '.join(differences)}", name)


def mean_probabilities(probabilities: np.ndarray, members: Sequence[Any], case: CaseFiles) -> np.ndarray:
    """The mean of the first run's ``probabilities`` and every member's, on the case's grid (in place)."""
    for member in members:
        probabilities += member.grid_probabilities(case)
    probabilities /= 1 + len(members)
    return probabilities
