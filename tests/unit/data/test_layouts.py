"""Chest X-ray layouts of the folder importer: per-structure mask folders (JSRT/SCR) and image/mask pairs."""

import json

import numpy as np
import pytest
from PIL import Image

from medseg.data.manifest import case_to_dict, load_manifest
from medseg.errors import InputError
from tests.xray_helpers import STRUCTURES, import_xray, write_structure_folder


def test_structure_folders_become_one_mask_list_per_case(tmp_path):
    root = write_structure_folder(tmp_path / "scr", 5)
    path = import_xray(root, tmp_path / "m.json", test_fraction=0.4, seed=3)
    raw = json.loads(path.read_text())
    assert len(raw["training"]) == 3 and len(raw["test"]) == 2
    assert not {e["id"] for e in raw["training"]} & {e["id"] for e in raw["test"]}
    manifest = load_manifest(path)
    case = manifest.cases("training")[0]
    assert [p.parent.name for p in case.label] == list(STRUCTURES)
    assert all(p.is_file() for p in (*case.images, *case.label))
    assert case_to_dict(case)["label"] == [str(p) for p in case.label]
    again = json.loads(import_xray(root, tmp_path / "m2.json", test_fraction=0.4, seed=3).read_text())
    assert again["test"] == raw["test"]  # seeded


def test_image_mask_pairs(tmp_path):
    for folder in ("images", "masks"):
        (tmp_path / "pairs" / folder).mkdir(parents=True)
    for name in ("MCUCXR_0001_0", "MCUCXR_0002_1"):
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "pairs" / "images" / f"{name}.png")
        Image.fromarray(np.full((8, 8), 255, np.uint8)).save(tmp_path / "pairs" / "masks" / f"{name}.png")
    manifest = load_manifest(import_xray(tmp_path / "pairs", tmp_path / "p.json", layout="pairs"))
    assert [c.case_id for c in manifest.cases("training")] == ["MCUCXR_0001_0", "MCUCXR_0002_1"]
    assert manifest.cases("training")[0].label.name == "MCUCXR_0001_0.png"


def test_missing_mask_names_the_folder(tmp_path):
    root = write_structure_folder(tmp_path / "scr", 2)
    (root / "masks" / "heart" / "case01.png").unlink()
    with pytest.raises(InputError, match="no mask for image case01.png"):
        import_xray(root, tmp_path / "m.json")


@pytest.mark.real_data
def test_real_jsrt_and_montgomery_layouts(shared_data, tmp_path):
    jsrt = load_manifest(import_xray(shared_data / "jsrt_scr", tmp_path / "j.json", test_fraction=0.2))
    assert len(jsrt.cases("training")) == 40 and len(jsrt.cases("test")) == 10
    pairs = load_manifest(import_xray(shared_data / "montgomery_shenzhen", tmp_path / "m.json", layout="pairs"))
    assert len(pairs.all_cases()) == 200


def test_zero_validation_fraction_trains_on_every_case(tmp_path):
    manifest = load_manifest(import_xray(write_structure_folder(tmp_path / "scr", 4), tmp_path / "m.json"))
    training, validation = manifest.train_validation_split(0.0)
    assert len(training) == 4 and validation == []
    assert len(manifest.train_validation_split(0.25)[1]) == 1
