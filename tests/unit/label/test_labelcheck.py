"""A submitted label is stored only when it is a NIfTI label map on the shown image's grid with the bundle's values."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from medseg.bundle.find import find_bundle
from medseg.errors import InputError
from medseg.label.labelcheck import checked_label

OBLIQUE = np.array([[1.9, -0.3, 0.1, -80.0], [0.3, 1.9, 0.2, 95.5], [-0.1, -0.2, 2.0, -60.25], [0, 0, 0, 1]])
SHAPE = (12, 10, 8)


@pytest.fixture
def schema():
    return find_bundle("brain_tumor").schema  # values 1, 2, 4


@pytest.fixture
def shown(tmp_path):
    image = nib.Nifti1Image(np.random.default_rng(0).random(SHAPE, dtype=np.float32), OBLIQUE)
    image.set_qform(OBLIQUE, code=1)
    nib.save(image, tmp_path / "c1_t1ce.nii.gz")
    return tmp_path / "c1_t1ce.nii.gz"


def _label(tmp_path, data, affine=OBLIQUE, name="upload.nii.gz", dtype=np.int16):
    image = nib.Nifti1Image(np.asarray(data, dtype=dtype), affine)
    image.set_qform(affine, code=1)
    nib.save(image, tmp_path / name)
    return tmp_path / name


def _valid():
    data = np.zeros(SHAPE, np.int16)
    data[2:5, 2:5, 2:5], data[6:8, 6:8, 3:5], data[3, 3, 3] = 2, 1, 4
    return data


def test_a_label_on_the_shown_grid_with_schema_values_is_returned(tmp_path, shown, schema):
    label = checked_label(_label(tmp_path, _valid()), shown, schema, "label for study 'c1'")
    assert label.dtype == np.uint8 and np.array_equal(label, _valid())


def test_slicers_float32_rounding_of_the_grid_and_a_trailing_axis_are_accepted(tmp_path, shown, schema):
    rounded = OBLIQUE.astype(np.float32).astype(np.float64) + 2e-5
    label = checked_label(_label(tmp_path, _valid()[..., None], rounded), shown, schema, "label")
    assert label.shape == SHAPE


@pytest.mark.parametrize("change, message", [
    (lambda d: d - (d == 4), "label values [3] are not in the schema [1, 2, 4]"),  # 4 -> 3: not a bundle value
    (lambda d: d[:, :, :-1], "label is 12 x 10 x 7 voxels, the image it labels (c1_t1ce.nii.gz) is 12 x 10 x 8"),
])
def test_wrong_values_or_shape_are_refused_in_one_line(tmp_path, shown, schema, change, message):
    with pytest.raises(InputError) as error:
        checked_label(_label(tmp_path, change(_valid())), shown, schema, "label for study 'c1'")
    text = str(error.value)
    assert text.startswith("label for study 'c1': ") and "\n" not in text
    assert message in text


def test_a_label_on_another_grid_is_refused(tmp_path, shown, schema):
    shifted = OBLIQUE.copy()
    shifted[:3, 3] += OBLIQUE[:3, 0]  # one voxel along i
    with pytest.raises(InputError, match="not on the grid of c1_t1ce.nii.gz"):
        checked_label(_label(tmp_path, _valid(), shifted), shown, schema, "label")


def test_non_integer_values_and_other_formats_are_refused(tmp_path, shown, schema):
    with pytest.raises(InputError, match="non-integer values"):
        checked_label(_label(tmp_path, _valid() * 0.5, dtype=np.float32), shown, schema, "label")
    nrrd = tmp_path / "upload.seg.nrrd"
    nrrd.write_bytes(b"NRRD0004\n")
    with pytest.raises(InputError, match="expected a NIfTI label map"):
        checked_label(nrrd, shown, schema, "label")
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"not gzip")
    with pytest.raises(InputError, match="^label: not a readable NIfTI"):
        checked_label(broken, shown, schema, "label")
