"""Truth folders read as ``medseg data import`` reads datasets: layouts, label maps, case ids, real collisions."""

import json
import os

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from medseg.bundle.find import find_bundle
from medseg.errors import InputError
from medseg.evaluation import evaluate_predictions, read_truths

STRUCTURES = ("right_lung", "left_lung", "heart", "right_clavicle", "left_clavicle")


def _nifti(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(data, np.uint8), np.eye(4)), path)
    return path


def _png(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(data, np.uint8)).save(path)
    return path


def _tumour(with_label_3: bool = False) -> np.ndarray:
    label = np.zeros((8, 8, 8), np.uint8)
    label[2:6, 2:6, 2:6] = 2
    label[3:5, 3:5, 3:5] = 3 if with_label_3 else 1
    label[4, 4, 4] = 4
    return label


def _brats_case(folder, case, label, sequences=("flair", "t1ce")):
    for sequence in sequences:
        _nifti(folder / case / f"{case}_{sequence}.nii.gz", np.ones((8, 8, 8)))
    return _nifti(folder / case / f"{case}_seg.nii.gz", label)


def test_linked_brats_case_folders_are_read_as_data_import_reads_them(tmp_path):
    """A case folder linked into the truth folder counts (data import brats takes it too)."""
    _brats_case(tmp_path / "store", "pat1", _tumour())
    _brats_case(tmp_path / "truth", "pat2", _tumour())
    os.symlink(tmp_path / "store" / "pat1", tmp_path / "truth" / "pat1", target_is_directory=True)
    truths = read_truths(tmp_path / "truth", find_bundle("brain_tumor"))
    assert truths.layout == "brats" and sorted(truths.labels) == ["pat1", "pat2"]
    assert truths.labels["pat1"].name == "pat1_seg.nii.gz"


def test_linked_folders_are_followed_in_a_plain_folder_of_label_files(tmp_path):
    _nifti(tmp_path / "store" / "c1_seg.nii.gz", _tumour())
    (tmp_path / "truth").mkdir()
    os.symlink(tmp_path / "store", tmp_path / "truth" / "more", target_is_directory=True)
    truths = read_truths(tmp_path / "truth", find_bundle("brain_tumor").schema)
    assert truths.layout == "files" and list(truths.labels) == ["c1"]


def test_brats_2015_label_3_scores_as_the_importer_maps_it(tmp_path):
    """BraTS 2012-2016 label 3 (non-enhancing tumour) is the bundle's 1, as `data import brats` maps it."""
    _brats_case(tmp_path / "truth", "brats_2013_pat0001_1", _tumour(with_label_3=True))
    _nifti(tmp_path / "pred" / "brats_2013_pat0001_1_seg.nii.gz", _tumour())
    bundle = find_bundle("brain_tumor")
    assert read_truths(tmp_path / "truth", bundle).label_map == {1: 1, 2: 2, 3: 1, 4: 4}
    result = evaluate_predictions(tmp_path / "pred", tmp_path / "truth", bundle)
    assert [result.rows[0][name] for name in ("WT", "TC", "ET", "necrotic tumour core")] == [1.0] * 4


def test_case_folders_of_a_task_that_is_not_brats_are_plain_label_files(tmp_path):
    _nifti(tmp_path / "truth" / "a" / "a_seg.nii.gz", np.zeros((8, 8, 8)))
    bundle = find_bundle("chest_xray")
    truths = read_truths(tmp_path / "truth", bundle)
    assert truths.layout == "files" and truths.label_map == {}


def _structure_masks(folder, ids, names=STRUCTURES, shape=(16, 16)):
    for name in names:
        for case in ids:
            mask = np.zeros(shape, np.uint8)
            mask[4:12, 4:12] = 255
            _png(folder / name / f"{case}.png", mask)


@pytest.mark.parametrize("given", ["masks", "."])
def test_one_mask_folder_per_structure_is_one_case_per_id_not_a_collision(tmp_path, given):
    """jsrt_scr/masks (and jsrt_scr itself) hold JPCLN001.png in every structure's folder: one case, five masks."""
    _png(tmp_path / "images" / "JPCLN001.png", np.zeros((32, 32)))
    _structure_masks(tmp_path / "masks", ["JPCLN001", "JPCNN002"])
    truths = read_truths(tmp_path / given, find_bundle("chest_xray"))
    assert truths.layout == "structures" and sorted(truths.labels) == ["JPCLN001", "JPCNN002"]
    assert [p.parent.name for p in truths.labels["JPCLN001"]] == list(STRUCTURES)  # the bundle's channel order


def test_a_structure_without_a_case_s_mask_is_named(tmp_path):
    _structure_masks(tmp_path / "masks", ["JPCLN001", "JPCNN002"])
    (tmp_path / "masks" / "heart" / "JPCNN002.png").unlink()
    with pytest.raises(InputError, match=r"case 'JPCNN002' has no mask for structure\(s\) \['heart'\]"):
        read_truths(tmp_path / "masks", find_bundle("chest_xray"))


def test_structure_masks_score_each_structure_once(tmp_path):
    """Scored from the per-structure masks: one row per structure, under the structure's name."""
    _structure_masks(tmp_path / "masks", ["c1"], shape=(16, 16))
    pred = np.zeros((16, 16), np.uint8)
    pred[4:12, 4:12] = 5  # the label map shows the last painted structure where all overlap
    _png(tmp_path / "pred" / "c1_seg.png", pred)
    result = evaluate_predictions(tmp_path / "pred", tmp_path / "masks", find_bundle("chest_xray"))
    assert result.structures == list(STRUCTURES)
    assert result.rows[0]["left_clavicle"] == 1.0 and result.rows[0]["heart"] == 0.0


def test_an_image_folder_beside_a_mask_folder_pairs_by_the_importers_name_rule(tmp_path):
    _png(tmp_path / "images" / "s1.png", np.zeros((8, 8)))
    _png(tmp_path / "masks" / "s1_mask.png", np.zeros((8, 8)))
    _png(tmp_path / "masks" / "s2.png", np.zeros((8, 8)))
    truths = read_truths(tmp_path, find_bundle("chest_xray").schema)
    assert truths.layout == "pairs" and sorted(truths.labels) == ["s1", "s2"]


def test_an_msd_task_folder_maps_its_label_names(tmp_path):
    description = {"modality": {"0": "FLAIR", "1": "T1w", "2": "t1gd", "3": "T2w"},
                   "labels": {"0": "background", "1": "edema", "2": "non-enhancing tumor", "3": "enhancing tumour"},
                   "training": [{"image": "./imagesTr/BRATS_001.nii.gz", "label": "./labelsTr/BRATS_001.nii.gz"}],
                   "test": []}
    (tmp_path / "task").mkdir()
    (tmp_path / "task" / "dataset.json").write_text(json.dumps(description))
    _nifti(tmp_path / "task" / "labelsTr" / "BRATS_001.nii.gz", np.zeros((8, 8, 8)))
    truths = read_truths(tmp_path / "task", find_bundle("brain_tumor"))
    assert truths.layout == "msd" and list(truths.labels) == ["BRATS_001"]
    assert truths.label_map == {1: 2, 2: 1, 3: 4}


def test_two_files_for_one_case_in_an_unknown_layout_ask_for_the_manifest(tmp_path):
    _nifti(tmp_path / "truth" / "rater1" / "x_seg.nii.gz", np.zeros((4, 4, 4)))
    _nifti(tmp_path / "truth" / "rater2" / "x_seg.nii.gz", np.zeros((4, 4, 4)))
    with pytest.raises(InputError) as error:
        read_truths(tmp_path / "truth", find_bundle("chest_xray"))
    message = str(error.value)
    assert "two truth files have the case id 'x'" in message and "rater1" in message and "rater2" in message
    assert "--truth MANIFEST.json" in message and "right_lung" in message


def test_two_files_for_one_case_in_one_folder_are_a_real_collision(tmp_path):
    _nifti(tmp_path / "truth" / "x_seg.nii.gz", np.zeros((4, 4, 4)))
    _png(tmp_path / "truth" / "x_seg.png", np.zeros((4, 4)))
    with pytest.raises(InputError, match=r"'x' \(x_seg\.nii\.gz and x_seg\.png\); keep one of them") as error:
        read_truths(tmp_path / "truth", find_bundle("brain_tumor").schema)
    assert "manifest" not in str(error.value)


@pytest.mark.real_data
def test_real_truth_folders_read_as_the_importers_read_them(shared_data, tmp_path):
    """brats2015_partial (label 3, linked in) and jsrt_scr/masks (a folder per structure), as they are stored."""
    brain = find_bundle("brain_tumor")
    (tmp_path / "linked").mkdir()
    for case in sorted((shared_data / "brats2015_partial").iterdir())[:2]:
        os.symlink(case, tmp_path / "linked" / case.name, target_is_directory=True)
    truths = read_truths(tmp_path / "linked", brain)
    assert len(truths.labels) == 2 and truths.label_map[3] == 1
    scr = read_truths(shared_data / "jsrt_scr" / "masks", find_bundle("chest_xray"))
    assert scr.layout == "structures" and len(scr.labels) == 50
    assert all(len(files) == 5 for files in scr.labels.values())
