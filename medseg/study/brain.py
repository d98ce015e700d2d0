"""Is a sequence brain-extracted? BraTS-trained networks have only ever seen skull-stripped brains.

medseg does not strip skulls; it refuses input that still has one, so a network is never run on
a head it has not learnt. The test is the background: after brain extraction everything outside
the brain is one constant value (0, or a negative constant after z-scoring), which covers most of
the field of view (measured: 81–91 % of voxels on every real BraTS 2013/2015/2018 volume in
``../shared/data``, 90–91 % after re-gridding them at clinical resolutions), while a scanner image
with the head in it has a noisy, non-constant background (measured: ≤ 1 % of voxels at the
minimum on a real sagittal MPRAGE, 0 % on real spinal-cord MRI). The non-background volume must
also be brain-sized (at most 2.5 L; the real BraTS brains are 1.1–1.7 L, the MPRAGE head 3.1 L).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medseg.errors import InputError
from medseg.io.read import load_nifti_header

MIN_BACKGROUND_FRACTION = 0.3
MAX_BRAIN_ML = 2500.0


def background_fraction(array: np.ndarray) -> float:
    """Share of voxels at the volume's minimum (the constant background left by brain extraction)."""
    return float(np.mean(array == array.min())) if array.size else 0.0


def check_sequence_voxels(path: str | Path, name: str | Path, allow_skull: bool = False) -> None:
    """Refuse NaN/Inf voxels (registration and the z-score would spread them), then a sequence that is not
    brain-extracted unless ``allow_skull``; ``name`` is the series named in the error."""
    image = load_nifti_header(path)
    array = np.asanyarray(image.dataobj)
    finite = np.isfinite(array)
    if not finite.all():
        first = tuple(int(i) for i in np.argwhere(~finite)[0])
        nan, inf = int(np.isnan(array).sum()), int(np.isinf(array).sum())
        raise InputError(f"{nan} NaN and {inf} infinite voxel(s) (the first at voxel {first}); replace them "
                         "(e.g. numpy.nan_to_num) before segmenting", name)
    if allow_skull:
        return
    fraction = background_fraction(array)
    volume_ml = float(np.sum(array > array.min())) * abs(np.linalg.det(image.affine[:3, :3])) / 1000.0
    if fraction < MIN_BACKGROUND_FRACTION or volume_ml > MAX_BRAIN_ML:
        raise InputError(
            f"not brain-extracted (the skull seems to be on: {fraction:.0%} of voxels are constant background, "
            f"{volume_ml:.0f} mL of tissue); run brain extraction first (e.g. HD-BET, FSL BET), or pass "
            "--allow-skull to segment it anyway (BraTS-trained networks expect brain-extracted input)", name)
