"""Each reader's placement of a NIfTI file, checked against SimpleITK itself; mixed placements refused."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medseg.errors import InputError
from medseg.io.checks import check_case_headers
from medseg.io.placement import itk_affine, placement_problem, reader_affines, slicer_affine
from medseg.io.read import CaseFiles

AFFINE = np.array([[-1.0, 0, 0, 120], [0, -1.0, 0, 100], [0, 0, 1.2, -60], [0, 0, 0, 1]])
SHIFTED = AFFINE + np.array([[0, 0, 0, 10.0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])  # 10 mm along x


def _file(path: Path, qform: np.ndarray, qform_code: int, sform: np.ndarray, sform_code: int) -> Path:
    image = nib.Nifti1Image(np.arange(12 * 10 * 8, dtype=np.int16).reshape(12, 10, 8), None)
    image.set_qform(qform, code=qform_code)
    image.set_sform(sform, code=sform_code)
    nib.save(image, path)
    return path


@pytest.mark.parametrize("codes", [(1, 2), (2, 2), (1, 3), (0, 2), (1, 1), (2, 1), (1, 0), (0, 0)])
def test_itk_rule_is_what_simpleitk_reads(codes, tmp_path):
    import SimpleITK as sitk

    path = _file(tmp_path / "x.nii.gz", SHIFTED, codes[0], AFFINE, codes[1])
    read = sitk.ReadImage(str(path))
    lps = np.eye(4)
    lps[:3, :3] = np.asarray(read.GetDirection()).reshape(3, 3) * np.asarray(read.GetSpacing())
    lps[:3, 3] = read.GetOrigin()
    np.testing.assert_allclose(itk_affine(nib.load(path)), np.diag([-1.0, -1, 1, 1]) @ lps, atol=1e-4)


@pytest.mark.parametrize(("codes", "slicer_reads"), [((1, 2), "qform"), ((2, 2), "qform"), ((0, 2), "sform"),
                                                     ((1, 1), "sform"), ((2, 1), "sform"), ((1, 0), "qform")])
def test_slicer_rule(codes, slicer_reads, tmp_path):
    image = nib.load(_file(tmp_path / "x.nii.gz", SHIFTED, codes[0], AFFINE, codes[1]))
    expected = SHIFTED if slicer_reads == "qform" else AFFINE
    np.testing.assert_allclose(slicer_affine(image), expected, atol=1e-4)


def test_a_study_with_one_shifted_qform_is_refused_naming_the_file(tmp_path):
    """The T2 has qform_code 1 (10 mm away) and sform_code 2, the others qform_code 0: nibabel lines them up
    (sforms), 3D Slicer and ITK read the T2's qform."""
    t1 = _file(tmp_path / "case_t1.nii.gz", AFFINE, 0, AFFINE, 2)
    t1ce = _file(tmp_path / "case_t1ce.nii.gz", AFFINE, 0, AFFINE, 2)
    t2 = _file(tmp_path / "case_t2.nii.gz", SHIFTED, 1, AFFINE, 2)
    images = [nib.load(p) for p in (t1, t1ce, t2)]
    assert all(np.allclose(i.affine, AFFINE) for i in images)  # nibabel: one grid
    assert np.allclose(reader_affines(images[2])["3D Slicer"], SHIFTED)
    with pytest.raises(InputError) as err:
        check_case_headers(CaseFiles("case", (t1, t1ce, t2)), 3)
    message = str(err.value)
    assert message.startswith(f"{t2}: 3D Slicer places it 10.0 mm away from where nibabel does relative to "
                              "case_t1.nii.gz (3D Slicer reads its qform (code 1), nibabel its sform (code 2))")
    assert "\n" not in message
    # the same files with the shifted one first: the T2 is still the one named
    index, line = placement_problem(["case_t2.nii.gz", "case_t1.nii.gz"], [images[2], images[0]])
    assert index == 0 and "relative to case_t1.nii.gz" in line


def test_placements_every_reader_shares_are_accepted(tmp_path):
    """Every file shifted the same way (one qform offset for all) moves the mask with the images: no problem;
    qform = sform with any codes: no problem."""
    same = [nib.load(_file(tmp_path / f"s{i}.nii.gz", SHIFTED, 1, AFFINE, 2)) for i in range(2)]
    assert placement_problem(["s0", "s1"], same) is None
    plain = [nib.load(_file(tmp_path / f"p{i}.nii.gz", AFFINE, code, AFFINE, 2 - code)) for i, code in
             enumerate((0, 1, 2))]
    assert placement_problem(["p0", "p1", "p2"], plain) is None


def test_sequences_on_their_own_grids_are_compared_relative_to_the_reference(tmp_path):
    """A registered study: the FLAIR on a 5 mm grid elsewhere. Readers agree when its forms agree, and a
    shifted qform that Slicer reads is found just the same."""
    reference = nib.load(_file(tmp_path / "t1ce.nii.gz", AFFINE, 1, AFFINE, 1))
    other = AFFINE @ np.diag([1.0, 1.0, 4.0, 1.0])
    other[:3, 3] += (5.0, -3.0, 2.0)
    good = nib.load(_file(tmp_path / "flair.nii.gz", other, 1, other, 1))
    assert placement_problem(["t1ce", "flair"], [reference, good]) is None
    moved = other.copy()
    moved[1, 3] += 4.0
    bad = nib.load(_file(tmp_path / "flair2.nii.gz", moved, 1, other, 2))
    index, line = placement_problem(["t1ce", "flair"], [reference, bad])
    assert index == 1 and line.startswith("3D Slicer places it 4.0 mm away")
