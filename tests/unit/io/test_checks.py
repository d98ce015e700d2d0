"""One set of case rules: inference raises the first problem, the data check lists them all, and they agree."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from medseg.data.check import CaseChecker
from medseg.data.manifest import Manifest
from medseg.errors import InputError
from medseg.io.checks import CaseRules, case_problems, check_case_headers
from medseg.io.read import CaseFiles
from medseg.labels import LabelSchema

SCHEMA = LabelSchema.from_metadata({"medseg": {"mode": "exclusive", "labels": [
    {"name": "a", "value": 1, "color": [255, 0, 0]}]}})


def _nifti(path: Path, shape=(6, 6, 5), affine=None) -> Path:
    nib.save(nib.Nifti1Image(np.ones(shape, np.float32), np.eye(4) if affine is None else affine), path)
    return path


def _cases(tmp: Path) -> dict[str, tuple[CaseFiles, int, int, str]]:
    """name -> (case, channels, spatial dims, the problem both callers must report first)."""
    a, b = _nifti(tmp / "a_t1.nii.gz"), _nifti(tmp / "a_t2.nii.gz")
    moved = _nifti(tmp / "m_t2.nii.gz", affine=np.diag([2.0, 1, 1, 1]))
    other = _nifti(tmp / "o_t2.nii.gz", (6, 6, 4))
    flat = _nifti(tmp / "f_t1.nii.gz", (6, 6, 1))
    label = _nifti(tmp / "l_seg.nii.gz", (6, 5, 5))
    Image.fromarray(np.zeros((4, 7), np.uint8)).save(tmp / "p.png")
    return {
        "shape": (CaseFiles("s", (a, other)), 2, 3, "shape (6, 6, 4) differs from a_t1.nii.gz (6, 6, 5)"),
        "affine": (CaseFiles("m", (a, moved)), 2, 3, "affine differs from a_t1.nii.gz"),
        "channels": (CaseFiles("c", (a, b)), 4, 3, "found 2 image channel(s), the bundle needs 4"),
        "2D to 3D": (CaseFiles("f", (flat,)), 1, 3, "image is 2D (shape (6, 6, 1)), the bundle needs 3D volumes"),
        "3D to 2D": (CaseFiles("t", (a,)), 1, 2, "image is 3D (shape (6, 6, 5)), the bundle needs 2D images"),
        "label grid": (CaseFiles("l", (a,), label), 1, 3, "label shape (6, 5, 5) differs from the image shape"),
        "PNG channels": (CaseFiles("p", (tmp / "p.png",)), 3, 2, "found 1 image channel(s), the bundle needs 3"),
        "missing file": (CaseFiles("x", (tmp / "nope.nii.gz",)), 1, 3, "file not found"),
    }


@pytest.mark.parametrize("name", ["shape", "affine", "channels", "2D to 3D", "3D to 2D", "label grid",
                                  "PNG channels", "missing file"])
def test_inference_and_data_check_report_the_same_first_problem(name, tmp_path):
    case, channels, dims, message = _cases(tmp_path)[name]
    with pytest.raises(InputError) as raised:
        check_case_headers(case, channels, dims)
    checker = CaseChecker(Manifest(tmp_path / "m.json"), SCHEMA, channels, dims)
    checker.check(case, needs_label=False)
    first = checker.problems[0]
    assert message in raised.value.message and raised.value.message == first.message
    assert raised.value.path == (first.file or None)


def test_every_problem_is_listed_and_a_good_case_returns_its_shape(tmp_path):
    a = _nifti(tmp_path / "a_t1.nii.gz")
    other = _nifti(tmp_path / "o_t2.nii.gz", (6, 6, 4))
    label = _nifti(tmp_path / "l_seg.nii.gz", (6, 5, 5))
    problems = list(case_problems(CaseFiles("s", (a, other), label), CaseRules(3, needs_label=True)))
    assert [(p.path.name, p.message) for p in problems] == [
        ("o_t2.nii.gz", "shape (6, 6, 4) differs from a_t1.nii.gz (6, 6, 5) (sequences on their own grids: "
                        "use medseg infer --register)"),
        ("a_t1.nii.gz", "found 2 image channel(s), the bundle needs 3"),
        ("l_seg.nii.gz", "label shape (6, 5, 5) differs from the image shape (6, 6, 5)")]
    assert check_case_headers(CaseFiles("a", (a,)), 1) == (6, 6, 5)
