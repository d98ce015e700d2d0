"""``bundle new`` reads 3D masks by the rule it reads 2D masks by (``medseg.io.coding.code_values``)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from medseg.bundle.create import mask_label_map
from medseg.errors import InputError
from medseg.io.coding import infer_coding


def _pair(tmp_path, values):
    """The same mask as a PNG and as a NIfTI volume (a few slices)."""
    array = np.zeros((16, 16), np.uint8)
    for i, value in enumerate(values):
        array[2 + 3 * i: 4 + 3 * i, 2:10] = value
    png = tmp_path / "m.png"
    Image.fromarray(array).save(png)
    volume = tmp_path / "m.nii.gz"
    nib.save(nib.Nifti1Image(np.repeat(array[:, :, None], 9, axis=2), np.eye(4)), volume)
    return png, volume


@pytest.mark.parametrize("values", [[255, 254, 130, 40], [255], [1], [40, 80]])
def test_volumes_and_images_are_coded_alike(tmp_path, values):
    png, volume = _pair(tmp_path, values)
    labels = [("a", None)] if len(values) != 2 else [("a", None), ("b", None)]
    coding = infer_coding([png], labels).coding
    mapping = mask_label_map([volume], len(labels), 3)
    for value in range(256):
        if value in (0, *values):
            coded = int(coding.apply(np.array([[value]]))[0, 0])
            assert mapping.get(value, value) == coded, value


def test_a_volume_whose_values_fit_no_rule_names_the_volume_option(tmp_path):
    _, volume = _pair(tmp_path, [40, 80, 120])
    with pytest.raises(InputError, match=r"3 non-zero values \(40, 80, 120\), which do not map onto 2 .*--label-map"):
        mask_label_map([volume], 2, 3)


def test_bundle_new_writes_a_folder_of_its_own_that_its_name_finds_and_a_rerun_names(tmp_path, monkeypatch):
    """The README's em/ walk-through: data in em/train, em/test; the bundle must not land in the data folder."""
    from medseg.bundle.create import new_bundle
    from medseg.bundle.find import find_bundle
    from medseg.errors import OutputError

    monkeypatch.chdir(tmp_path)
    for case in ("s1", "s2"):
        for folder, value in (("images", 90), ("masks", 255)):
            array = np.zeros((16, 16), np.uint8)
            array[4:12, 4:12] = value
            (tmp_path / "em" / "train" / folder).mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(tmp_path / "em" / "train" / folder / f"{case}.png")
    result = new_bundle("em", "em/train/images", "em/train/masks", ["membrane"])
    assert result.root == Path("my_bundles") / "em"
    assert sorted(p.name for p in (tmp_path / "em").iterdir()) == ["train"]  # the data folder is left as it was
    assert find_bundle("em").root == (tmp_path / "my_bundles" / "em").resolve()  # `medseg train em` finds it
    with pytest.raises(OutputError, match=r"^my_bundles/em: bundle 'em' already exists here"):
        new_bundle("em", "em/train/images", "em/train/masks", ["membrane"])
