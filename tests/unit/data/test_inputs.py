"""Every form ``--input`` takes (``medseg.data.inputs``): one table, one function."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from medseg.data.inputs import resolve_inputs
from medseg.errors import InputError
from tests.dicom_helpers import write_ct_slice
from tests.xray_helpers import write_dicom

MODALITIES = ["t1", "t2"]


def _nifti(path: Path, shape=(5, 5, 4)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.ones(shape, np.float32), np.eye(4)), path)
    return path


def _ct_series(folder: Path, slices: int = 3) -> Path:
    """A tiny CT series, slices written in reverse order along the normal."""
    folder.mkdir(parents=True)
    for index in range(slices):
        write_ct_slice(folder / f"slice{index}.dcm", "1.2.3", [0, 0, 2 - index], index, value=index)
    return folder


def _case_folder(root: Path) -> Path:
    for m in MODALITIES:
        _nifti(root / "Case_01" / f"Case_01_{m}.nii.gz")
    return root / "Case_01"


def _manifest(root: Path) -> Path:
    _nifti(root / "a.nii.gz", (5, 5, 4, 2))
    _nifti(root / "b.nii.gz", (5, 5, 4, 2))
    path = root / "data.json"
    path.write_text(json.dumps({"channel_order": [1, 0], "training": [{"image": "a.nii.gz", "label": "a.nii.gz"}],
                                "test": [{"image": "b.nii.gz"}]}))
    return path


def _png_folder(root: Path) -> Path:
    for name in ("x1", "x2"):
        (root / "photos").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((6, 8), np.uint8)).save(root / "photos" / f"{name}.png")
    (root / "photos" / "notes.txt").write_text("not an image")
    return root / "photos"


def _xray_export(root: Path) -> Path:
    """A CR export: DICOM X-rays without a suffix, beside a DICOMDIR."""
    (root / "export").mkdir(parents=True)
    for name in ("IM0001", "IM0002"):
        write_dicom(root / "export" / name, np.ones((6, 8)))
    (root / "export" / "DICOMDIR").write_bytes(b"\0" * 128 + b"DICM")
    return root / "export"


def _png(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((6, 8), np.uint8)).save(root / "road_seg.png")
    return root / "road_seg.png"


# form -> (make the input under tmp_path, per_image, expected (case id, image names, channel order) per case)
TABLE = {
    "case folder": (_case_folder, False, [("Case_01", ["Case_01_t1.nii.gz", "Case_01_t2.nii.gz"], None)]),
    "DICOM series folder": (lambda r: _ct_series(r / "ct_study"), False, [("ct_study", ["ct_study.nii.gz"], None)]),
    "4D NIfTI file": (lambda r: _nifti(r / "p07_t1.nii.gz", (5, 5, 4, 2)), False, [("p07", ["p07_t1.nii.gz"], None)]),
    "X-ray DICOM": (lambda r: write_dicom(r / "chest.dcm", np.zeros((6, 8))), False, [("chest", ["chest.dcm"], None)]),
    "X-ray PNG": (lambda r: _png(r), False, [("road", ["road_seg.png"], None)]),
    "manifest (its test cases)": (_manifest, False, [("b", ["b.nii.gz"], (1, 0))]),
    "2D bundle: folder of images": (_png_folder, True, [("x1", ["x1.png"], None), ("x2", ["x2.png"], None)]),
    "2D bundle: folder of DICOM X-rays": (_xray_export, True, [("IM0001", ["IM0001"], None),
                                                              ("IM0002", ["IM0002"], None)]),
    "2D bundle: one image": (lambda r: _png(r), True, [("road_seg", ["road_seg.png"], None)]),
    "2D bundle: 2D NIfTI": (lambda r: _nifti(r / "slice_seg.nii.gz", (6, 8, 1)), True,
                            [("slice_seg", ["slice_seg.nii.gz"], None)]),
    "2D bundle: manifest": (_manifest, True, [("b", ["b.nii.gz"], (1, 0))]),
}


@pytest.mark.parametrize("form", list(TABLE))
def test_input_forms(form, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDSEG_CACHE", str(tmp_path / "cache"))
    make, per_image, expected = TABLE[form]
    cases = resolve_inputs([make(tmp_path)], MODALITIES, per_image=per_image)
    assert [(c.case_id, [p.name for p in c.images], c.channel_order) for c in cases] == expected
    if form == "DICOM series folder":  # the slices, in the order along the normal, for the DICOM SEG
        assert [p.name for p in cases[0].dicom_series] == ["slice2.dcm", "slice1.dcm", "slice0.dcm"]
        assert nib.load(cases[0].images[0]).shape == (4, 4, 3)


ERRORS = {
    "missing path": (lambda r: r / "nowhere.nii.gz", False, "input not found"),
    "unknown file type": (lambda r: (r / "notes.txt", (r / "notes.txt").write_text("x"))[0], False,
                          "expected a case folder, a .nii/.nii.gz file or an X-ray"),
    "case folder without a modality": (lambda r: _nifti(r / "c" / "c_t1.nii.gz").parent, False,
                                       "no file for modality 't2'"),
    "X-rays are not a volume series": (_xray_export, False, "projection X-rays, CR/DX"),
    "2D bundle: folder without images": (lambda r: (r / "empty").mkdir() or r / "empty", True, "no 2D images"),
    "2D bundle: not an image": (lambda r: (r / "notes.txt", (r / "notes.txt").write_text("x"))[0], True,
                                "expected a 2D image file"),
}


@pytest.mark.parametrize("form", list(ERRORS))
def test_input_errors_name_the_input(form, tmp_path):
    make, per_image, message = ERRORS[form]
    path = make(tmp_path)
    with pytest.raises(InputError, match=message) as error:
        resolve_inputs([path], MODALITIES, per_image=per_image)
    assert error.value.path == str(path)


def test_several_inputs_keep_their_order(tmp_path):
    first = _nifti(tmp_path / "z_t1.nii.gz")
    second = _case_folder(tmp_path)
    assert [c.case_id for c in resolve_inputs([first, second], MODALITIES)] == ["z", "Case_01"]
