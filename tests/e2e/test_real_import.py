"""Real BraTS 2018 cases imported from three layouts: data check passes and one epoch trains on each."""

import json

import nibabel as nib
import numpy as np
import pytest

from medseg.data.manifest import load_manifest
from medseg.transforms.conform import ConformCased
from tests.cli_helpers import override_args, run
from tests.conftest import TINY

CASES = ["Brats18_2013_2_1", "Brats18_TCIA05_396_1"]
MODS_2018 = ["t1", "t1ce", "t2", "flair"]


def _recode(source, target, mapping):
    image = nib.load(source)
    array = np.asarray(image.dataobj)
    out = array.copy()
    for src, dst in mapping.items():
        out[array == src] = dst
    nib.save(nib.Nifti1Image(out.astype(np.uint8), image.affine, image.header), str(target))


def _layout(brats, root, kind):
    """``brats`` as is, or renamed into the BraTS 2023 or nnU-Net v2 layout (images linked, labels recoded)."""
    if kind == "brats":
        return brats
    root.mkdir()
    if kind == "nnunet":
        (root / "imagesTr").mkdir()
        (root / "labelsTr").mkdir()
        channels = ["flair", "t1", "t1ce", "t2"]  # deliberately not the bundle's order
        for case in CASES:
            for i, mod in enumerate(channels):
                (root / "imagesTr" / f"{case}_{i:04d}.nii.gz").symlink_to(brats / case / f"{case}_{mod}.nii.gz")
            _recode(brats / case / f"{case}_seg.nii.gz", root / "labelsTr" / f"{case}.nii.gz", {2: 1, 1: 2, 4: 3})
        (root / "dataset.json").write_text(json.dumps({
            "channel_names": {"0": "FLAIR", "1": "T1", "2": "T1ce", "3": "T2"},
            "labels": {"background": 0, "edema": 1, "non-enhancing tumor": 2, "enhancing tumor": 3},
            "numTraining": 2, "file_ending": ".nii.gz"}))
        return root
    for case in CASES:
        new = case.replace("Brats18_", "BraTS-GLI-")
        (root / new).mkdir()
        for old_mod, new_mod in zip(MODS_2018, ["t1n", "t1c", "t2w", "t2f"]):
            (root / new / f"{new}-{new_mod}.nii.gz").symlink_to(brats / case / f"{case}_{old_mod}.nii.gz")
        _recode(brats / case / f"{case}_seg.nii.gz", root / new / f"{new}-seg.nii.gz", {4: 3})
    return root


@pytest.mark.real_data
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["brats", "brats2023", "nnunet"])
def test_import_check_and_train_one_epoch(shared_data, tmp_path, kind):
    brats = shared_data / "brats2018"
    fmt = "nnunet" if kind == "nnunet" else "brats"
    source = _layout(brats, tmp_path / "src", kind)
    manifest = tmp_path / "data_manifests" / f"{kind}.json"
    result = run("data", "import", fmt, source, "--task", "brain_tumor", "--output", manifest, "--folds", 2)
    assert result.exit_code == 0, result.output
    raw = json.loads(manifest.read_text())
    assert raw["format"] == kind and len(raw["training"]) == 2 and raw["folds"] == 2
    result = run("data", "check", manifest, "--bundle", "brain_tumor")
    assert result.exit_code == 0 and "no problems found" in result.output, result.output

    # After conforming, every layout gives the original BraTS 2018 label and modality order.
    loaded = load_manifest(manifest, modalities=MODS_2018)
    case = next(c for c in loaded.cases("training") if "2013_2_1" in c.case_id)
    item = ConformCased()({"label": nib.load(case.label).get_fdata(), **{
        k: v for k, v in loaded.item(case).items() if k == "label_map"}})
    truth = np.asarray(nib.load(brats / CASES[0] / f"{CASES[0]}_seg.nii.gz").dataobj)
    np.testing.assert_array_equal(np.asarray(item["label"]), truth)
    assert [p.resolve().name for p in case.images] == [f"{CASES[0]}_{m}.nii.gz" for m in MODS_2018]

    overrides = {**TINY, "roi_size": [128, 128, 128], "val_overlap": 0.0}
    args = override_args(overrides)
    result = run("train", "brain_tumor", "--data", manifest, "--output-dir", tmp_path / "run", "--epochs", 1,
                 "--fold", 1, "--cache", "none", "--device", "cpu", *args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "models" / "model.pt").is_file()
