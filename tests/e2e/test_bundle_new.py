"""``medseg bundle new``: an image/mask folder becomes a bundle that trains and infers end to end."""

import json
import warnings

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from medseg.cli import main
from medseg.errors import InputError, MedsegWarning
from medseg.newbundle import mask_label_map

TINY_2D = {"image_size": [32, 32], "roi_size": [32, 32], "network_def#channels": [4, 8, 16],
           "network_def#strides": [2, 2], "val_interval": 1, "batch_size": 2}
COLOURS = np.array([[120, 170, 230], [80, 80, 80], [200, 30, 30], [190, 190, 160]], np.uint8)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _overrides(settings, cache):
    pairs = {**settings, "cache_dir": str(cache)}
    return [a for k, v in pairs.items() for a in ("--override", f"{k}={json.dumps(v)}")]


def _road_scenes(root, n=6):
    """RGB street photos in miniature: sky, road (1), a car (2), sidewalks (3)."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(n):
        mask = np.zeros((48, 64), np.uint8)
        mask[30:, :] = 1
        mask[30:, :10] = mask[30:, 54:] = 3
        x = int(rng.integers(10, 40))
        mask[25:38, x : x + 14] = 2
        image = COLOURS[mask] + rng.integers(0, 20, (48, 64, 3)).astype(np.uint8)
        Image.fromarray(image, "RGB").save(root / "images" / f"scene{i}.png")
        Image.fromarray(mask, "L").save(root / "masks" / f"scene{i}.png")
    return root


@pytest.mark.slow
def test_rgb_folder_becomes_a_bundle_that_trains_and_infers(tmp_path, monkeypatch):
    monkeypatch.chdir(_road_scenes(tmp_path))
    result = run("bundle", "new", "roads", "--from-folder", "images", "masks", "--labels", "road,car,sidewalk")
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "roads" / "configs" / "metadata.json").read_text())
    assert [(lab["name"], lab["value"]) for lab in meta["medseg"]["labels"]] == [
        ("road", 1), ("car", 2), ("sidewalk", 3)]
    assert meta["network_data_format"]["inputs"]["image"]["num_channels"] == 3
    assert run("bundle", "verify", "roads").exit_code == 0
    assert run("data", "check", "roads/dataset.json", "--bundle", "roads", "--deep").exit_code == 0

    result = run("train", "roads", "--output-dir", "run", "--epochs", 1, "--device", "cpu",
                 *_overrides(TINY_2D, tmp_path / "cache"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "models" / "model.pt").is_file()

    result = run("infer", "run", "--input", "images", "--output-dir", "pred", "--device", "cpu")
    assert result.exit_code == 0, result.output
    written = sorted((tmp_path / "pred").glob("*_seg.png"))
    assert [p.name for p in written] == [f"scene{i}_seg.png" for i in range(6)]
    for path in written:
        mask = Image.open(path)
        assert mask.size == (64, 48) and mask.mode == "L"  # the input's own size
        assert set(np.unique(np.asarray(mask))) <= {0, 1, 2, 3}


def test_mask_values_are_mapped_onto_labels(tmp_path):
    def masks(values, name):
        folder = tmp_path / name
        folder.mkdir()
        for i, value in enumerate(values):
            array = np.zeros((8, 8), np.uint8)
            array[2:5, 2:5] = value
            Image.fromarray(array, "L").save(folder / f"m{i}.png")
        return sorted(folder.iterdir())

    assert mask_label_map(masks([1, 2, 3], "indices"), 3, 2) == {}
    assert mask_label_map(masks([255], "binary"), 1, 2) == {255: 1}
    assert mask_label_map(masks([50, 100, 150], "grey"), 3, 2) == {50: 1, 100: 2, 150: 3}
    with pytest.raises(InputError, match=r"3 non-zero values \(50, 100, 150\), which do not map onto 2 label"):
        mask_label_map(masks([50, 100, 150], "bad"), 2, 2)
    resized = mask_label_map(masks([255, 254, 12, 200], "resized"), 1, 2)  # edge values of a resized mask
    assert resized[255] == resized[128] == 1 and resized[127] == resized[12] == 0


@pytest.mark.slow
@pytest.mark.real_data
def test_volume_bundle_segments_a_dicom_series_on_its_own_grid(shared_data, tmp_path, monkeypatch):
    """A 3D bundle from a NIfTI folder, trained one epoch, segments the CT DICOM series in place."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEDSEG_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    for folder in ("vols", "segs"):
        (tmp_path / folder).mkdir()
    for i in range(4):
        seg = np.zeros((24, 24, 12), np.uint8)
        seg[6:16, 8:18, 3:9] = 1
        volume = np.where(seg > 0, 60.0, -800.0) + rng.normal(0, 20, seg.shape)
        affine = np.diag([3.0, 3.0, 3.0, 1])
        nib.save(nib.Nifti1Image(volume.astype(np.float32), affine), tmp_path / "vols" / f"c{i}.nii.gz")
        nib.save(nib.Nifti1Image(seg, affine), tmp_path / "segs" / f"c{i}.nii.gz")
    assert run("bundle", "new", "body", "--from-folder", "vols", "segs", "--labels", "body").exit_code == 0
    tiny = {"roi_size": [64, 64, 16], "patch_size": [16, 16, 8], "network_def#channels": [4, 8],
            "network_def#strides": [2], "val_interval": 1, "samples_per_case": 1}
    result = run("train", "body", "--output-dir", "run", "--epochs", 1, "--device", "cpu",
                 *_overrides(tiny, tmp_path / "cache"))
    assert result.exit_code == 0, result.output

    series = shared_data / "dicom" / "ct_totalseg_example" / "series"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MedsegWarning)
        result = run("infer", "run", "--input", series, "--output-dir", "pred", "--device", "cpu",
                     "--override", "roi_size=[128,128,16]", "--override", "sw_overlap=0")
    assert result.exit_code == 0, result.output
    out = nib.load(tmp_path / "pred" / "series_seg.nii.gz")
    companion = nib.load(series.parent / "example_seg_dicom_MODEL_PREDICTION.nii.gz")
    assert out.shape == companion.shape
    np.testing.assert_allclose(out.affine, companion.affine, atol=1e-4)
