"""Phantoms look like MRI of a glioma and are placed in world space, whatever their grid."""

import nibabel as nib
import numpy as np
import pytest

from medseg.data.synthetic import GEOMETRIES, make_phantom, write_demo_dataset


def _mean(phantom, modality, mask):
    return float(phantom.images[modality][mask].mean())


def test_reproducible():
    a, b = make_phantom(3, "oblique", 4.0), make_phantom(3, "oblique", 4.0)
    np.testing.assert_array_equal(a.label, b.label)
    np.testing.assert_array_equal(a.images["flair"], b.images["flair"])


def test_label_values_and_contrasts():
    p = make_phantom(0, "ras")
    assert set(np.unique(p.label)) == {0, 1, 2, 4}
    brain = (p.images["t1"] > 0) & (p.label == 0)
    oedema, enhancing, necrosis = p.label == 2, p.label == 4, p.label == 1
    assert _mean(p, "flair", oedema) > 1.4 * _mean(p, "flair", brain)  # oedema bright on FLAIR
    assert _mean(p, "t2", oedema) > 1.3 * _mean(p, "t2", brain)  # ... and on T2
    assert _mean(p, "t1ce", enhancing) > 1.3 * _mean(p, "t1ce", brain)  # enhancing rim bright on T1ce
    assert _mean(p, "t1ce", necrosis) < 0.6 * _mean(p, "t1ce", enhancing)  # necrotic core dark on T1ce


@pytest.mark.parametrize("kind", GEOMETRIES)
def test_tumour_sits_at_the_same_world_position_on_every_grid(kind):
    """Same seed, different grids: tumour centroid and volume in scanner space agree."""

    def centroid_and_volume(p):
        ijk = np.argwhere(p.label > 0).mean(0)
        voxel_ml = abs(np.linalg.det(p.affine[:3, :3])) / 1000
        return p.affine[:3, :3] @ ijk + p.affine[:3, 3], (p.label > 0).sum() * voxel_ml

    centre_ras, volume_ras = centroid_and_volume(make_phantom(5, "ras", 2.0))
    centre, volume = centroid_and_volume(make_phantom(5, kind, 2.0))
    assert np.linalg.norm(centre - centre_ras) < 2.0  # mm
    assert volume == pytest.approx(volume_ras, rel=0.1)


def test_geometries_exercise_lps_oblique_and_anisotropic():
    codes = {kind: nib.aff2axcodes(make_phantom(0, kind, 4.0).affine) for kind in GEOMETRIES}
    assert codes["ras"] == ("R", "A", "S")
    assert codes["lps"] == ("L", "P", "S")
    oblique = make_phantom(0, "oblique", 4.0).affine[:3, :3]
    assert np.count_nonzero(np.abs(oblique) > 1e-6) > 3
    zooms = np.sqrt((make_phantom(0, "anisotropic", 4.0).affine[:3, :3] ** 2).sum(0))
    assert zooms[2] > 1.5 * zooms[0]


def test_demo_dataset_manifest_is_reused(tmp_path):
    manifest = write_demo_dataset(tmp_path, n_train=1, n_val=1, n_test=1, spacing=6.0)
    stamp = manifest.stat().st_mtime_ns
    assert write_demo_dataset(tmp_path, n_train=1, n_val=1, n_test=1, spacing=6.0).stat().st_mtime_ns == stamp
    image = nib.load(tmp_path / "phantom_000_ras" / "phantom_000_ras_t1.nii.gz")
    assert int(image.header["qform_code"]) == 1 and int(image.header["sform_code"]) == 1
