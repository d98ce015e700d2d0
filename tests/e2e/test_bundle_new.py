"""``medseg bundle new``: an image/mask folder becomes a bundle that trains and infers end to end."""

import json
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from medseg.bundle.create import mask_label_map
from medseg.cli import main
from medseg.errors import InputError, MedsegWarning
from tests.cli_helpers import override_args, run

TINY_2D = {"image_size": [32, 32], "roi_size": [32, 32], "network_def#channels": [4, 8, 16],
           "network_def#strides": [2, 2], "val_interval": 1, "batch_size": 2}
COLOURS = np.array([[120, 170, 230], [80, 80, 80], [200, 30, 30], [190, 190, 160]], np.uint8)


def _ct_folders(root: Path, cases: int, spacing: tuple[float, float, float], air: float) -> None:
    """``vols/`` and ``segs/`` of noisy CT-like boxes (tissue 60 HU in ``air``) for ``bundle new --from-folder``."""
    rng = np.random.default_rng(0)
    for folder in ("vols", "segs"):
        (root / folder).mkdir()
    affine = np.diag([*spacing, 1.0])
    for i in range(cases):
        seg = np.zeros((24, 24, 12), np.uint8)
        seg[6:16, 8:18, 3:9] = 1
        volume = np.where(seg > 0, 60.0, air) + rng.normal(0, 20, seg.shape)
        nib.save(nib.Nifti1Image(volume.astype(np.float32), affine), root / "vols" / f"c{i}.nii.gz")
        nib.save(nib.Nifti1Image(seg, affine), root / "segs" / f"c{i}.nii.gz")


def _overrides(settings, cache):
    pairs = {**settings, "cache_dir": str(cache)}
    return override_args(pairs)


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
    meta = json.loads((tmp_path / "my_bundles" / "roads" / "configs" / "metadata.json").read_text())
    assert [(lab["name"], lab["value"]) for lab in meta["medseg"]["labels"]] == [
        ("road", 1), ("car", 2), ("sidewalk", 3)]
    assert meta["network_data_format"]["inputs"]["image"]["num_channels"] == 3
    assert run("bundle", "verify", "roads").exit_code == 0
    assert run("data", "check", "my_bundles/roads/dataset.json", "--deep").exit_code == 0

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
        assert mask.size == (64, 48) and mask.mode == "P"  # the input's own size, a palette PNG
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
    _ct_folders(tmp_path, 4, spacing=(3.0, 3.0, 3.0), air=-800.0)
    assert run("bundle", "new", "body", "--from-folder", "vols", "segs", "--labels", "body").exit_code == 0
    tiny = {"roi_size": [64, 64, 16], "patch_size": [16, 16, 8], "network_def#channels": [4, 8],
            "network_def#strides": [2], "val_interval": 1, "samples_per_case": 1}
    result = run("train", "body", "--output-dir", "run", "--epochs", 1, "--device", "cpu", "--no-plan",
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


def _pairs(root, n, image_fn, mask_fn, mask_size=None):
    """n image/mask pairs; ``mask_size`` (w, h) stores the masks at another size than the images."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(1)
    for i in range(n):
        structure = np.zeros((40, 48), bool)
        y, x = 2 * int(rng.integers(3, 10)), 2 * int(rng.integers(3, 12))  # even: exact at half size
        structure[y : y + 12, x : x + 16] = True
        image_fn(structure, rng).save(root / "images" / f"c{i}.png")
        mask = mask_fn(structure)
        if mask_size:
            mask = mask.resize(mask_size, Image.NEAREST)
        mask.save(root / "masks" / f"c{i}.png")
    return root


def _grey(structure, rng):
    return Image.fromarray((structure * 120 + 60 + rng.integers(0, 20, structure.shape)).astype(np.uint8), "L")


def _new_and_check(tmp_path, monkeypatch, *labels):
    monkeypatch.chdir(tmp_path)
    result = run("bundle", "new", "task", "--from-folder", "images", "masks", *labels)
    assert result.exit_code == 0, result.output
    assert run("data", "check", "my_bundles/task/dataset.json", "--bundle", "task", "--deep").exit_code == 0
    return result.output


def _train_batch(bundle="task"):
    """The first training batch as the bundle's own chain builds it (masks read through the coding)."""
    from medseg.bundle.find import find_bundle
    from medseg.data.manifest import load_manifest

    parser = find_bundle(bundle).parser("inference", "train")
    manifest = load_manifest(f"my_bundles/{bundle}/dataset.json")
    case = manifest.cases("training")[0]
    return parser.get_parsed_content("val_transforms")(manifest.item(case)), case


@pytest.mark.parametrize("form", ["binary", "structure_zero", "half_size"])
def test_grey_mask_forms_are_read_and_said(tmp_path, monkeypatch, form):
    mask_fn = {
        "binary": lambda s: Image.fromarray((s * 255).astype(np.uint8)),
        "structure_zero": lambda s: Image.fromarray(((~s) * 255).astype(np.uint8)),  # ISBI: 0 = membrane
        "half_size": lambda s: Image.fromarray((s * 255).astype(np.uint8)),
    }[form]
    _pairs(tmp_path, 4, _grey, mask_fn, (24, 20) if form == "half_size" else None)
    output = _new_and_check(tmp_path, monkeypatch, "--labels", "thing=0" if form == "structure_zero" else "thing")
    assert "masks: grey/palette values in 4 mask(s): 0 (" in output
    assert ("0 → 1 (thing), 255 → 0" if form == "structure_zero" else "128–255 → 1 (thing)") in output
    assert "plan: native resolution" in output
    data, case = _train_batch()
    structure = np.asarray(Image.open(case.images[0])) > 100  # the image shows the structure bright
    np.testing.assert_array_equal(data["label"][1].numpy().T.astype(bool), structure)  # on the image grid


def test_palette_masks_keep_their_indices(tmp_path, monkeypatch):
    def palette(structure):
        image = Image.fromarray(structure.astype(np.uint8), "L").convert("P")
        image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
        return image

    _pairs(tmp_path, 3, _grey, palette)
    output = _new_and_check(tmp_path, monkeypatch, "--labels", "thing")
    assert "values are the label values (1 = thing)" in output


def test_rgb_colour_coded_masks_through_labels_or_a_colour_table(tmp_path, monkeypatch):
    def colours(structure):
        rgb = np.zeros((*structure.shape, 3), np.uint8)
        rgb[structure] = (128, 64, 128)
        rgb[:5] = (0, 0, 142)
        return Image.fromarray(rgb, "RGB")

    def photo(structure, rng):
        rgb = np.stack([structure * 100 + 50] * 3, -1) + rng.integers(0, 20, (*structure.shape, 3))
        return Image.fromarray(rgb.astype(np.uint8), "RGB")

    _pairs(tmp_path, 3, photo, colours)
    monkeypatch.chdir(tmp_path)
    refused = CliRunner().invoke(main, ["bundle", "new", "task", "--from-folder", "images", "masks",
                                        "--labels", "road,car"])
    assert refused.exit_code == 1 and "RGB colour-coded" in refused.output
    output = _new_and_check(tmp_path, monkeypatch, "--labels", "road=128,64,128", "--labels", "car=0,0,142")
    assert "(128, 64, 128) → 1 (road), (0, 0, 142) → 2 (car)" in output
    assert "RGB photographs: z-score per colour channel" in output and "colour jitter" in output
    data, _ = _train_batch()
    assert data["label"].shape[0] == 3 and data["label"][2][:, :5].all() and data["image"].shape[0] == 3

    (tmp_path / "colours.txt").write_text("road 128 64 128\ncar 0 0 142\n")
    result = run("bundle", "new", "task2", "--from-folder", "images", "masks", "--colour-table", "colours.txt")
    assert result.exit_code == 0 and "→ 2 (car)" in result.output


def test_photographs_with_thin_structures_plan_native_resolution(tmp_path, monkeypatch):
    """565×584 RGB photographs with vessel-like masks: no resize to 256, patches and a sliding window."""
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    rng = np.random.default_rng(2)
    for i in range(2):
        vessels = np.zeros((584, 565), bool)
        for row in rng.integers(20, 560, 12):
            vessels[row : row + 2, 20:540] = True  # two-pixel-wide lines
        photo = np.stack([vessels * 80 + 100] * 3, -1) + rng.integers(0, 30, (584, 565, 3))
        Image.fromarray(photo.astype(np.uint8), "RGB").save(tmp_path / "images" / f"{i:02d}_training.tif")
        Image.fromarray((vessels * 255).astype(np.uint8)).save(tmp_path / "masks" / f"{i:02d}_training.tif")
    monkeypatch.chdir(tmp_path)
    result = run("bundle", "new", "vessels", "--from-folder", "images", "masks", "--labels", "vessel")
    assert result.exit_code == 0, result.output
    assert "plan: native resolution (spacing 1 × 1 px, no resize); patches 256×256, sliding window" in result.output
    assert "elastic deformation (thin structures)" in result.output
    inference = json.loads((tmp_path / "my_bundles" / "vessels" / "configs" / "inference.json").read_text())
    assert inference["image_size"] is None and inference["patch_size"] == [256, 256]
    metadata = json.loads((tmp_path / "my_bundles" / "vessels" / "configs" / "metadata.json").read_text())
    plan = metadata["medseg"]["plan"]
    assert plan["spacing"] == [1.0, 1.0] and plan["resize"] is None and plan["elastic"]
    from medseg.planning.planar import stored_plan

    assert stored_plan(metadata).lines() == [line for line in result.output.splitlines() if line.split(":")[0] in (
        "data", "plan", "normalisation", "training", "augmentation")]


@pytest.mark.slow
def test_volume_bundle_normalises_ct_by_its_hounsfield_window_and_prints_the_plan(tmp_path, monkeypatch):
    """3D: CT (air at -1000 HU) is clipped to its labelled window and z-scored; the planner's plan is printed."""
    monkeypatch.chdir(tmp_path)
    _ct_folders(tmp_path, 3, spacing=(2.0, 2.0, 3.0), air=-1000.0)
    result = run("bundle", "new", "spleen", "--from-folder", "vols", "segs", "--labels", "spleen")
    assert result.exit_code == 0, result.output
    assert "normalisation: CT: clip to [" in result.output and "patch size" in result.output
    inference = json.loads((tmp_path / "my_bundles" / "spleen" / "configs" / "inference.json").read_text())
    low, high = inference["intensity"]["clip"]
    assert inference["intensity"]["kind"] == "ct" and 0 < low < 60 < high < 130
    metadata = json.loads((tmp_path / "my_bundles" / "spleen" / "configs" / "metadata.json").read_text())
    assert metadata["medseg"]["lateral_labels"] is False  # "spleen" names no side: mirrors allowed
    result = run("train", "spleen", "--output-dir", "run", "--epochs", 1, "--device", "cpu",
                 "--override", "iterations_per_epoch=2", "--override", f"cache_dir={json.dumps(str(tmp_path / 'c'))}")
    assert result.exit_code == 0, result.output
    trained = json.loads((tmp_path / "run" / "configs" / "train.json").read_text())
    network = json.loads((tmp_path / "run" / "configs" / "inference.json").read_text())["network_def"]
    assert trained["plan"]["patch_size"] and network["_target_"] == "monai.networks.nets.DynUNet"
    assert run("infer", "run", "--input", "vols/c0.nii.gz", "--output-dir", "pred", "--device", "cpu").exit_code == 0
    out = nib.load(tmp_path / "pred" / "c0_seg.nii.gz")
    np.testing.assert_allclose(out.affine, nib.load(tmp_path / "vols" / "c0.nii.gz").affine)


def test_plan_command_works_on_any_bundle(tmp_path, monkeypatch):
    """A 2D bundle from bundle new prints its stored plan; a bundle without a plan prints its recipe."""
    _pairs(tmp_path, 3, _grey, lambda s: Image.fromarray((s * 255).astype(np.uint8)))
    output = _new_and_check(tmp_path, monkeypatch, "--labels", "thing")
    result = run("plan", "task")
    assert result.exit_code == 0 and result.output.splitlines() == [
        line for line in output.splitlines() if line.split(":")[0] in ("data", "plan", "normalisation", "training",
                                                                       "augmentation")]
    assert json.loads(run("plan", "task", "--json").output)["patch_size"] == [48, 48]
    result = run("plan", "chest_xray")
    assert result.exit_code == 0 and "no plan" in result.output and "120 epochs, batch 4" in result.output


def _binary(structure):
    return Image.fromarray((structure * 255).astype(np.uint8))


@pytest.mark.parametrize("bad, message", [
    ("tiny", r"c1\.png: image is only 1 x 1 voxels; at least 8 per axis"),
    ("cmyk", r"c1\.jpg: is a CMYK image .* convert it to RGB first"),
    ("animated", r"c1\.png: holds 3 frames \(an animated or multi-page image\)"),
])
def test_new_refuses_images_training_would_refuse_or_misread(tmp_path, bad, message):
    from medseg.bundle.create import new_bundle

    _pairs(tmp_path, 3, _grey, _binary)
    image = tmp_path / "images" / "c1.png"
    if bad == "tiny":
        Image.fromarray(np.full((1, 1), 90, np.uint8)).save(image)
    elif bad == "cmyk":
        Image.open(image).convert("RGB").convert("CMYK").save(tmp_path / "images" / "c1.jpg")
        image.unlink()
    else:
        frames = [Image.open(image).point(lambda v, k=k: (v + 40 * k) % 256) for k in range(3)]
        frames[0].save(image, save_all=True, append_images=frames[1:])
    with pytest.raises(InputError, match=message):
        new_bundle("task", tmp_path / "images", tmp_path / "masks", ["thing"], output=tmp_path / "task")
    assert not (tmp_path / "task").exists()
    with pytest.raises(InputError, match="--image-size 4: at least 8 pixels per side"):
        new_bundle("task", tmp_path / "images", tmp_path / "masks", ["thing"], output=tmp_path / "task", image_size=4)


def test_new_says_which_files_it_leaves_out(tmp_path):
    from medseg.bundle.create import new_bundle

    _pairs(tmp_path, 4, _grey, _binary)
    frames = [Image.open(tmp_path / "images" / "c0.png").rotate(10 * k) for k in range(3)]
    frames[0].save(tmp_path / "images" / "clip.gif", save_all=True, append_images=frames[1:])
    (tmp_path / "masks" / "c3.png").rename(tmp_path / "masks" / "orphan.png")  # c3 has no mask, orphan no image
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        new_bundle("task", tmp_path / "images", tmp_path / "masks", ["thing"], output=tmp_path / "task")
    said = [str(w.message) for w in caught if issubclass(w.category, MedsegWarning)]
    assert any("1 file(s) skipped" in s and "clip.gif (an animated GIF, 3 frames)" in s for s in said), said
    assert any("1 mask(s) without an image of the same name, not used: orphan.png" in s for s in said), said
    assert any("1 image(s) without a mask: listed as test cases" in s and "c3.png" in s for s in said), said
    manifest = json.loads((tmp_path / "task" / "dataset.json").read_text())
    assert [e["id"] for e in manifest["test"]] == ["c3"] and len(manifest["training"]) == 3


def _void_road_scenes(root, n=6):
    """Street scenes where every pixel is a class (0 = sky is one) or void (11): the CamVid coding."""
    rng = np.random.default_rng(2)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(n):
        mask = np.zeros((48, 64), np.uint8)  # sky
        mask[30:, :] = 1  # road
        mask[30:, :10] = mask[30:, 54:] = 3  # pavements
        x = int(rng.integers(10, 40))
        mask[25:38, x : x + 14] = 2  # a car
        image = COLOURS[mask] + rng.integers(0, 20, (48, 64, 3)).astype(np.uint8)
        mask[27:30, :] = 11  # the horizon nobody labelled
        Image.fromarray(image, "RGB").save(root / "images" / f"scene{i}.png")
        Image.fromarray(mask, "L").save(root / "masks" / f"scene{i}.png")
    return root


@pytest.mark.slow
def test_scene_photographs_train_at_half_resolution_and_masks_come_back_on_each_photo_grid(tmp_path, monkeypatch):
    """300×270 street photos plan whole at 150×135; a mask comes back at its photo's own size, odd ones too."""
    rng = np.random.default_rng(3)
    for folder in ("images", "masks", "new"):
        (tmp_path / folder).mkdir()
    for i in range(4):
        mask = np.zeros((270, 300), np.uint8)  # sky
        mask[160:] = 1  # road
        x = int(rng.integers(20, 200))
        mask[130:200, x : x + 70] = 2  # a car
        image = COLOURS[mask] + rng.integers(0, 20, (270, 300, 3)).astype(np.uint8)
        Image.fromarray(image, "RGB").save(tmp_path / "images" / f"scene{i}.png")
        Image.fromarray(mask, "L").save(tmp_path / "masks" / f"scene{i}.png")
    odd = COLOURS[np.where(np.arange(251)[:, None] > 140, 1, 0).repeat(333, 1)]  # another camera: 333×251
    Image.fromarray(odd, "RGB").save(tmp_path / "new" / "odd.png")
    monkeypatch.chdir(tmp_path)
    result = run("bundle", "new", "streets", "--from-folder", "images", "masks", "--labels", "sky=0", "--labels",
                 "road=1", "--labels", "car=2")
    assert result.exit_code == 0, result.output
    assert "plan: resized to 150×135 (1/2 resolution: scene photographs train whole" in result.output
    inference = json.loads((tmp_path / "my_bundles" / "streets" / "configs" / "inference.json").read_text())
    assert inference["image_size"] == [150, 135] and inference["patch_size"] == [160, 144]
    tiny = {"network_def#channels": [4, 8, 16], "network_def#strides": [2, 2], "val_interval": 1}
    result = run("train", "streets", "--output-dir", "run", "--epochs", 1, "--device", "cpu",
                 *_overrides(tiny, tmp_path / "cache"))
    assert result.exit_code == 0, result.output
    result = run("infer", "run", "--input", "images", "--input", "new", "--output-dir", "pred", "--device", "cpu")
    assert result.exit_code == 0, result.output
    for name, size in (("scene0", (300, 270)), ("scene3", (300, 270)), ("odd", (333, 251))):
        mask = Image.open(tmp_path / "pred" / f"{name}_seg.png")
        assert mask.size == size and set(np.unique(np.asarray(mask))) <= {0, 1, 2}


@pytest.mark.slow
def test_road_scenes_with_a_void_value_train_infer_and_evaluate(tmp_path, monkeypatch):
    """No background, 0 a real class, 11 void: bundle new → train → infer → evaluate with pooled IoU."""
    monkeypatch.chdir(_void_road_scenes(tmp_path))
    result = run("bundle", "new", "roads", "--from-folder", "images", "masks", "--labels", "sky=0", "--labels",
                 "road=1", "--labels", "car=2", "--labels", "pavement=3", "--ignore", 11)
    assert result.exit_code == 0, result.output
    assert "void: 11 → not annotated" in result.output and "no background" in result.output
    assert "islands: pieces below half the smallest training piece are removed: sky <" in result.output
    meta = json.loads((tmp_path / "my_bundles" / "roads" / "configs" / "metadata.json").read_text())
    assert meta["medseg"]["background"] is False and meta["medseg"]["void"] == 255
    assert [(lab["name"], lab["value"]) for lab in meta["medseg"]["labels"]] == [
        ("sky", 0), ("road", 1), ("car", 2), ("pavement", 3)]
    assert meta["network_data_format"]["outputs"]["pred"]["num_channels"] == 4
    docs = (tmp_path / "my_bundles" / "roads" / "docs" / "README.md").read_text()
    assert "0 = sky, 1 = road, 2 = car, 3 = pavement (there is no background" in docs and "palette PNG" in docs
    inference = json.loads((tmp_path / "my_bundles" / "roads" / "configs" / "inference.json").read_text())
    assert set(inference["postprocessing"]["min_piece"]) == {"sky", "road", "car", "pavement"}
    assert run("data", "check", "my_bundles/roads/dataset.json", "--bundle", "roads", "--deep").exit_code == 0

    result = run("train", "roads", "--output-dir", "run", "--epochs", 1, "--device", "cpu",
                 *_overrides(TINY_2D, tmp_path / "cache"))
    assert result.exit_code == 0, result.output
    result = run("infer", "run", "--input", "images", "--output-dir", "pred", "--device", "cpu")
    assert result.exit_code == 0, result.output
    for path in sorted((tmp_path / "pred").glob("*_seg.png")):
        mask = Image.open(path)
        assert mask.mode == "P" and set(np.unique(np.asarray(mask))) <= {0, 1, 2, 3}  # void is never predicted
        assert mask.getpalette()[:3] == meta["medseg"]["labels"][0]["color"]  # index 0 shows sky's colour
    assert (tmp_path / "pred" / "scene0_overlay.png").is_file()
    measured = json.loads((tmp_path / "pred" / "scene0_measurements.json").read_text())
    assert [lab["name"] for lab in measured["labels"]] == ["sky", "road", "car", "pavement"]
    assert sum(row["voxels"] for row in measured["structures"]) == 64 * 48  # every pixel is some class
    result = run("report", "pred")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "pred" / "report" / "index.html").read_text()
    assert "scene0_overlay.png" in page and "pavement" in page
    result = run("evaluate", "--pred", "pred", "--truth", "masks", "--bundle", "run", "--json")
    assert result.exit_code == 0, result.output
    pooled = json.loads(result.output)["pooled"]
    assert set(pooled["iou"]) == set(pooled["dice"]) == {"sky", "road", "car", "pavement"}
    assert 0 <= pooled["miou"] <= 1


@pytest.mark.slow
def test_partially_annotated_volumes_train_with_unlabelled_slices_void(tmp_path, monkeypatch):
    """Only some slices outlined (the rest stored 255 = void): bundle new --ignore 255 trains on them."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEDSEG_CACHE", str(tmp_path / "cache"))
    _ct_folders(tmp_path, 4, spacing=(3.0, 3.0, 3.0), air=-800.0)
    for path in (tmp_path / "segs").iterdir():
        image = nib.load(path)
        seg = np.asarray(image.dataobj).copy()
        seg[:, :, ::2] = 255  # every other slice left unlabelled
        nib.save(nib.Nifti1Image(seg, image.affine), path)
    result = run("bundle", "new", "body", "--from-folder", "vols", "segs", "--labels", "body", "--ignore", 255)
    assert result.exit_code == 0, result.output
    assert "void: 255 → not annotated" in result.output
    meta = json.loads((tmp_path / "my_bundles" / "body" / "configs" / "metadata.json").read_text())
    assert meta["medseg"]["void"] == 255 and "background" not in meta["medseg"]
    manifest = json.loads((tmp_path / "my_bundles" / "body" / "dataset.json").read_text())
    assert manifest["label_map"] == {"1": 1, "255": 255}
    tiny = {"patch_size": [16, 16, 8], "network_def#channels": [4, 8], "network_def#strides": [2],
            "val_interval": 1, "samples_per_case": 1}
    result = run("train", "body", "--output-dir", "run", "--epochs", 1, "--device", "cpu", "--no-plan",
                 *_overrides(tiny, tmp_path / "cache"))
    assert result.exit_code == 0, result.output
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    header, last = rows[0].split(","), rows[-1].split(",")
    assert np.isfinite(float(last[header.index("train_loss")]))
