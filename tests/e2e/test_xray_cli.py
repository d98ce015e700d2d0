"""End to end through the CLI on tiny chest phantoms: import → train chest_xray → infer on a DICOM."""

import json

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner

from medseg.cli import main
from tests.cli_helpers import override_args, run
from tests.xray_helpers import STRUCTURES, TINY_XRAY, chest_phantom, seg_frames, write_dicom, write_structure_folder


@pytest.mark.slow
def test_import_train_infer_on_dicom(tmp_path):
    root = write_structure_folder(tmp_path / "scr", 5)
    manifest = tmp_path / "scr.json"
    assert run("data", "import-xray", root, "--output", manifest, "--test-fraction", 0.2).exit_code == 0

    overrides = override_args(TINY_XRAY)
    result = run("train", "chest_xray", "--data", manifest, "--output-dir", tmp_path / "run", "--epochs", 2,
                 "--device", "cpu", *overrides)
    assert result.exit_code == 0, result.output
    header = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {f"dice_{name}" for name in STRUCTURES} <= set(header)

    pixels, _ = chest_phantom(90, 70, np.random.default_rng(5))
    stored = (4095 - pixels.astype(np.uint16) * 16)  # MONOCHROME1: low stored values are displayed white
    dicom = write_dicom(tmp_path / "cxr.dcm", stored, "MONOCHROME1", PixelSpacing=[0.4, 0.3])
    result = run("infer", tmp_path / "run", "--input", dicom, "--output-dir", tmp_path / "out", "--device", "cpu")
    assert result.exit_code == 0, result.output
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"cxr_seg.nii.gz", "cxr_overlay.png", *(f"cxr_{s}.nii.gz" for s in STRUCTURES)} <= names
    label = nib.load(tmp_path / "out" / "cxr_seg.nii.gz")
    assert label.shape == (70, 90, 1)  # columns, rows, 1: the DICOM's own pixel grid
    np.testing.assert_allclose(label.header.get_zooms()[:2], (0.3, 0.4))
    assert label.header.get_qform(coded=True)[1] == label.header.get_sform(coded=True)[1] == 1
    assert set(np.unique(np.asarray(label.dataobj))) <= {0, 1, 2, 3, 4, 5}
    # DICOM in, DICOM SEG out: one segment per structure found, each the structure's own NIfTI mask
    masks = {s: np.asarray(nib.load(tmp_path / "out" / f"cxr_{s}.nii.gz").dataobj)[..., 0].T.astype(bool)
             for s in STRUCTURES}
    found = {s.replace("_", " "): m for s, m in masks.items() if m.any()}
    assert found, "the tiny model found nothing: the SEG check below would be empty"
    frames = seg_frames(tmp_path / "out" / "cxr_seg.dcm")
    assert set(frames) == set(found)
    for name, mask in found.items():
        np.testing.assert_array_equal(frames[name], mask)
    # measurements in mm² on the pixel grid, so `medseg report` takes the X-ray folder
    rows = {r["structure"]: r for r in json.loads((tmp_path / "out" / "cxr_measurements.json").read_text())[
        "structures"]}
    for structure, mask in masks.items():
        assert rows[structure]["voxels"] == int(mask.sum())
        assert rows[structure]["area_mm2"] == pytest.approx(mask.sum() * 0.3 * 0.4, rel=1e-4)
        assert (rows[structure]["centroid_ras"] is None) == (not mask.any())
    result = run("report", tmp_path / "out")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "out" / "report" / "index.html").read_text()
    assert "area (mm²)" in page and '<img src="cxr_overlay.png"' in page
    assert (tmp_path / "out" / "report" / "cxr_overlay.png").is_file()

    # a CR export (DICOM files without a suffix, a DICOMDIR) is a batch: one mask per X-ray, each on its grid
    export = tmp_path / "export"
    export.mkdir()
    for name, (rows, columns) in (("IM0001", (90, 70)), ("IM0002", (60, 80))):
        write_dicom(export / name, chest_phantom(rows, columns, np.random.default_rng(1))[0].astype(np.uint16) * 16)
    (export / "DICOMDIR").write_bytes(b"\0" * 128 + b"DICM")
    result = run("infer", tmp_path / "run", "--input", export, "--output-dir", tmp_path / "batch", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert nib.load(tmp_path / "batch" / "IM0001_seg.nii.gz").shape == (70, 90, 1)
    assert nib.load(tmp_path / "batch" / "IM0002_seg.nii.gz").shape == (80, 60, 1)


    from PIL import Image

    rgb = np.zeros((8, 8, 3), dtype=np.uint8)
    rgb[..., 1] = 255
    Image.fromarray(rgb).save(tmp_path / "colour.png")
    result = CliRunner().invoke(main, ["infer", str(tmp_path / "run"), "--input", str(tmp_path / "colour.png"),
                                       "--output-dir", str(tmp_path / "out2"), "--device", "cpu"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "colour image" in lines[0] and "colour.png" in lines[0], result.output


def test_lung_only_pairs_cannot_train_five_structures_one_line(tmp_path):
    from PIL import Image

    for folder in ("images", "masks"):
        (tmp_path / "pairs" / folder).mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "pairs" / "images" / f"p{i}.png")
        Image.fromarray(np.full((32, 32), 255, np.uint8)).save(tmp_path / "pairs" / "masks" / f"p{i}.png")
    manifest = tmp_path / "pairs.json"
    assert run("data", "import-xray", tmp_path / "pairs", "--layout", "pairs", "--output", manifest).exit_code == 0
    result = CliRunner().invoke(main, ["train", "chest_xray", "--data", str(manifest), "--output-dir",
                                       str(tmp_path / "run"), "--epochs", "1", "--device", "cpu"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert "3 problem(s) in the data, nothing was trained" in lines[0], result.output
    assert [line.split(":")[0].strip() for line in lines[1:]] == ["p0", "p1", "p2"]
    assert all("1 mask file(s) for this case, the bundle needs 5" in line for line in lines[1:])
