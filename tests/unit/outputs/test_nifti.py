"""Written labels carry the reference's exact grid: shape, qform, sform and their codes."""

import nibabel as nib
import numpy as np
import pytest

from medseg.errors import OutputError
from medseg.io.atomic import ensure_not_input
from medseg.outputs.nifti import write_label_like


def _oblique(spacing=(1.0, 1.0, 1.0)):
    angle = np.deg2rad(23.0)
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag(spacing)
    affine[:3, 3] = [-40.5, 12.25, 7.0]
    return affine


AFFINES = {
    "ras": np.diag([1.0, 1.0, 1.0, 1.0]),
    "lps": np.diag([-0.9, -0.9, 1.1, 1.0]),
    "oblique": _oblique(),
    "anisotropic": np.diag([0.7, 0.7, 5.0, 1.0]),
}


def _reference(tmp_path, affine, shape=(9, 8, 7), qform_code=1, sform_code=2, qform=None):
    image = nib.Nifti1Image(np.random.default_rng(0).random(shape).astype(np.float32), affine)
    image.header.set_qform(affine if qform is None else qform, code=qform_code)
    image.header.set_sform(affine, code=sform_code)
    path = tmp_path / "reference.nii.gz"
    nib.save(image, path)
    return path


def _assert_same_grid(out_path, ref_path):
    out, ref = nib.load(out_path), nib.load(ref_path)
    assert out.shape == ref.shape[:3]
    np.testing.assert_allclose(out.affine, ref.affine, atol=1e-6)
    np.testing.assert_allclose(out.get_qform(), ref.get_qform(), atol=1e-6)
    np.testing.assert_allclose(out.get_sform(), ref.get_sform(), atol=1e-6)
    assert int(out.header["qform_code"]) == int(ref.header["qform_code"])
    assert int(out.header["sform_code"]) == int(ref.header["sform_code"])
    assert np.issubdtype(out.get_data_dtype(), np.integer)


@pytest.mark.parametrize("kind", sorted(AFFINES))
def test_label_keeps_reference_geometry(tmp_path, kind):
    ref = _reference(tmp_path, AFFINES[kind])
    label = np.zeros((9, 8, 7), np.uint8)
    label[1:3, 2:5, 6] = 4
    out = write_label_like(label, ref, tmp_path / "out" / "case_seg.nii.gz")
    _assert_same_grid(out, ref)
    np.testing.assert_array_equal(np.asarray(nib.load(out).dataobj), label)


def test_qform_different_from_sform_is_kept_verbatim(tmp_path):
    ref = _reference(tmp_path, AFFINES["oblique"], qform=AFFINES["lps"], qform_code=1, sform_code=1)
    out = write_label_like(np.zeros((9, 8, 7), np.uint8), ref, tmp_path / "seg.nii.gz")
    _assert_same_grid(out, ref)
    for field in ("quatern_b", "quatern_c", "quatern_d", "qoffset_x", "srow_x", "srow_y", "srow_z", "pixdim"):
        np.testing.assert_array_equal(nib.load(out).header[field], nib.load(ref).header[field])


def test_four_d_reference_gives_three_d_label(tmp_path):
    ref = _reference(tmp_path, AFFINES["lps"], shape=(9, 8, 7, 4))
    out = write_label_like(np.ones((9, 8, 7), np.uint8), ref, tmp_path / "seg.nii.gz")
    _assert_same_grid(out, ref)


def test_two_d_label_is_saved_as_x_y_1(tmp_path):
    ref = _reference(tmp_path, np.diag([0.14, 0.14, 1.0, 1.0]), shape=(12, 10, 1))
    out = write_label_like(np.ones((12, 10), np.uint8), ref, tmp_path / "seg.nii.gz")
    assert nib.load(out).shape == (12, 10, 1)
    _assert_same_grid(out, ref)


def test_shape_mismatch_writes_nothing(tmp_path):
    ref = _reference(tmp_path, AFFINES["ras"])
    with pytest.raises(OutputError, match="does not match the input grid"):
        write_label_like(np.zeros((9, 8, 6), np.uint8), ref, tmp_path / "seg.nii.gz")
    assert not (tmp_path / "seg.nii.gz").exists()


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    ref = _reference(tmp_path, AFFINES["ras"])

    def broken_save(image, path):
        with open(path, "wb") as handle:
            handle.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(nib, "save", broken_save)
    with pytest.raises(OutputError, match="disk full"):
        write_label_like(np.zeros((9, 8, 7), np.uint8), ref, tmp_path / "seg.nii.gz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reference.nii.gz"]


def test_output_equal_to_input_is_refused(tmp_path):
    ref = _reference(tmp_path, AFFINES["ras"])
    with pytest.raises(OutputError, match="refusing to overwrite"):
        ensure_not_input(ref, [ref])
