"""One post-processed label map feeds every output of a case: with a rule that removes pieces, the NIfTI,
the ``.seg.nrrd``, the measurements, the sanity figures and the DICOM SEG agree voxel for voxel (the
report draws from the NIfTI and the measurements).

The networks are fixed 1×1 convolutions that threshold one input channel at known levels, so the
pieces are known without training: a tumour (oedema around a core around enhancing tumour) and small
islands a rule must remove; on an X-ray, a lung with a clavicle over it, and stray islands.
"""

from __future__ import annotations

import json

import nibabel as nib
import nrrd
import numpy as np
import pydicom
import pytest
import torch

from medseg.bundle.find import find_bundle
from medseg.data.inputs import resolve_case
from medseg.inference.postprocessing import PostProcessing
from medseg.inference.predictor import Predictor
from medseg.labels import LabelSchema
from medseg.outputs.dicom_seg import DicomSegWriter
from medseg.outputs.measurements import MeasurementWriter, measure_label, reference_affine
from medseg.outputs.nifti import NiftiLabelWriter
from medseg.outputs.plausibility import count_components
from medseg.outputs.slicer import ColorTableWriter, SlicerSegWriter
from medseg.outputs.xray import StructureMaskWriter, XRayLabelWriter
from medseg.outputs.xray_seg import XRayDicomSegWriter
from medseg.transforms.planar import inference_transforms as planar_transforms
from medseg.transforms.volume import inference_transforms
from tests.dicom_helpers import write_ct_series
from tests.itk_reference import label_on_series
from tests.xray_helpers import seg_frames, write_dicom

MODALITIES = ["t1", "t1ce", "t2", "flair"]
LEVELS = {"brain": 100.0, "WT": 300.0, "TC": 500.0, "ET": 700.0}  # FLAIR intensity of each nested region
ISLANDS = [(slice(28, 31), slice(28, 31), slice(20, 23)),  # oedema only, 27 voxels (216 mm³)
           (slice(28, 30), slice(8, 10), slice(8, 10))]  # all three regions, 8 voxels (64 mm³)


def _threshold_network(dims: int, in_channels: int, source: int, thresholds: list[float | None]) -> torch.nn.Module:
    """Channel c: ``sigmoid(50 (x[source] - thresholds[c]))``, i.e. a sharp threshold; None: always empty."""
    conv = (torch.nn.Conv2d if dims == 2 else torch.nn.Conv3d)(in_channels, len(thresholds), kernel_size=1)
    with torch.no_grad():
        conv.weight.zero_()
        for c, threshold in enumerate(thresholds):
            conv.weight[c, source] = 50.0 if threshold is not None else 0.0
            conv.bias[c] = -50.0 * threshold if threshold is not None else -50.0
    return conv


def _brain_case(folder):
    """Four sequences on a 2 mm grid; FLAIR holds a nested tumour and the two ``ISLANDS``."""
    rng = np.random.default_rng(0)
    shape, affine = (40, 40, 32), np.diag([2.0, 2.0, 2.0, 1.0])
    brain = np.zeros(shape, bool)
    brain[4:36, 4:36, 4:28] = True
    flair = np.where(brain, LEVELS["brain"], 0.0)
    flair[8:22, 8:22, 8:20] = LEVELS["WT"]
    flair[11:19, 11:19, 10:18] = LEVELS["TC"]
    flair[13:17, 13:17, 12:16] = LEVELS["ET"]  # 64 voxels of enhancing tumour
    flair[ISLANDS[0]] = LEVELS["WT"]
    flair[ISLANDS[1]] = LEVELS["ET"]
    folder.mkdir()
    for name in MODALITIES:
        data = flair if name == "flair" else np.where(brain, 100 + rng.normal(0, 5, shape), 0.0)
        nib.save(nib.Nifti1Image(data.astype(np.float32), affine), folder / f"{folder.name}_{name}.nii.gz")
    z = (flair - flair[brain].mean()) / flair[brain].std()  # what NormalizeIntensityd(nonzero=True) gives
    return resolve_case(folder, MODALITIES), {name: float(z[flair == level][0]) for name, level in LEVELS.items()}


def _brain_predictor(z: dict[str, float], postprocessing: PostProcessing, writers=None) -> Predictor:
    middle = {name: (z[name] + z[inner]) / 2 for name, inner in (("brain", "WT"), ("WT", "TC"), ("TC", "ET"))}
    network = _threshold_network(3, 4, 3, [middle["brain"], middle["WT"], middle["TC"]])  # WT, TC, ET channels
    return Predictor(network, find_bundle("brain_tumor").schema, inference_transforms(), roi_size=(32, 32, 32),
                     modalities=MODALITIES, device="cpu", postprocessing=postprocessing, writers=writers)


def test_every_output_of_a_case_is_the_post_processed_label_map(tmp_path):
    case, z = _brain_case(tmp_path / "case")
    schema = find_bundle("brain_tumor").schema
    hierarchy = PostProcessing(region_hierarchy=True)
    rules = PostProcessing(region_hierarchy=True, min_island_mm3=1000,  # both islands go
                           small_components=[{"structure": "ET", "min_voxels": 100, "replace_with": 1}])
    plain = _brain_predictor(z, hierarchy).predict(case).label
    assert all((plain[island] > 0).all() for island in ISLANDS) and (plain == 4).sum() == 64 + 8

    writers = [NiftiLabelWriter(), SlicerSegWriter(), ColorTableWriter("brain_tumor"),
               MeasurementWriter(plausibility={"structure": "WT"})]
    predictor = _brain_predictor(z, rules, writers)
    prediction = predictor.predict(case)
    predictor.predict_to_files(case, tmp_path / "out")  # every output below, from the predictor's own loop
    label = np.asarray(nib.load(tmp_path / "out" / "case_seg.nii.gz").dataobj)
    np.testing.assert_array_equal(label, prediction.label)
    assert not any(label[island].any() for island in ISLANDS)  # the rule removed pieces...
    assert (label == 4).sum() == 0 and (label == 1).sum() == (plain == 1).sum() + 64  # ...and relabelled ET
    np.testing.assert_array_equal(prediction.masks, schema.label_map_to_masks(label))

    data, header = nrrd.read(str(tmp_path / "out" / "case.seg.nrrd"))
    np.testing.assert_array_equal(data[0], label)
    for index, region in enumerate(schema.regions):
        layer = int(header[f"Segment{len(schema.labels) + index}_Layer"])
        np.testing.assert_array_equal(data[layer] == 1, np.isin(label, region.values), err_msg=region.name)

    document = json.loads((tmp_path / "out" / "case_measurements.json").read_text())
    affine, _ = reference_affine(case.reference)
    assert document["structures"] == json.loads(json.dumps(measure_label(label, affine, schema)))
    rows = {row["structure"]: row["voxels"] for row in document["structures"]}
    assert rows["WT"] == int((label > 0).sum()) and rows["ET"] == 0
    sanity = document["sanity"]
    assert sanity["lesion_ml"] == pytest.approx((label > 0).sum() * 8 / 1000, abs=1e-3)
    for name, values in [*((r.name, r.values) for r in schema.regions), *((x.name, (x.value,)) for x in schema.labels)]:
        assert sanity["components"][name] == count_components(np.isin(label, values)), name


def test_the_dicom_seg_of_a_series_is_the_post_processed_label_map(tmp_path):
    """A CT series: the rule removes a small box; the SEG's frames are the written NIfTI on the source slices."""
    import highdicom as hd

    volume = np.random.default_rng(0).normal(-800.0, 10.0, (12, 24, 24))  # (slice, row, column), HU
    volume[3:9, 6:16, 8:18] = 60.0  # 600 voxels of 27 mm³
    volume[9:11, 18:20, 2:4] = 60.0  # an island of 8 voxels (216 mm³)
    uids = write_ct_series(tmp_path / "ct", volume)
    schema = LabelSchema.from_metadata({"medseg": {"mode": "exclusive", "labels": [
        {"name": "body", "value": 1, "color": [200, 120, 80]}]}})
    case = resolve_case(tmp_path / "ct", ["ct"])
    chain = inference_transforms()
    normalised = np.asarray(chain({"image": str(case.reference)})["image"][0])
    middle = float(normalised.min() + normalised.max()) / 2  # air and the boxes, 860 HU apart
    network = _threshold_network(3, 1, 0, [None, middle])
    with torch.no_grad():
        network.bias[0] = 0.0  # background logit 0: the argmax is body exactly where the intensity passes middle
    writers = [NiftiLabelWriter(), DicomSegWriter(algorithm="ct", version="1")]
    plain = Predictor(network, schema, chain, roi_size=(32, 32, 16), modalities=["ct"], device="cpu").predict(case)
    predictor = Predictor(network, schema, chain, roi_size=(32, 32, 16), modalities=["ct"], device="cpu",
                          postprocessing=PostProcessing(min_island_mm3=1000), writers=writers)
    predictor.predict_to_files(case, tmp_path / "out")

    label = np.asarray(nib.load(tmp_path / "out" / "ct_seg.nii.gz").dataobj)
    assert (plain.label == 1).sum() == 608 and (label == 1).sum() == 600  # the rule removed the island
    on_series, files = label_on_series(tmp_path / "ct", tmp_path / "out" / "ct_seg.nii.gz", outside=255)
    assert (on_series != 255).all()
    seg = hd.seg.segread(tmp_path / "out" / "ct_seg.dcm")
    by_uid = [pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in files]
    assert set(by_uid) == set(uids)
    frames = seg.get_pixels_by_source_instance(by_uid, combine_segments=True, relabel=False)
    np.testing.assert_array_equal(frames, on_series)
    assert frames.sum() == 600


XRAY_LEVELS = {"background": 200, "lung": 1500, "clavicle": 3500}


def test_overlapping_structures_a_label_map_cannot_hold_are_post_processed_as_masks(tmp_path):
    """Chest X-ray: a clavicle lies over the lung; the masks, not a label map, are post-processed."""
    pixels = np.full((40, 60), XRAY_LEVELS["background"], np.uint16)  # (rows, columns)
    pixels[5:35, 5:30] = XRAY_LEVELS["lung"]
    pixels[8:12, 5:30] = XRAY_LEVELS["clavicle"]  # a clavicle across the lung's top
    pixels[30:32, 45:47] = XRAY_LEVELS["clavicle"]  # a stray island of both (4 px)
    pixels[20:23, 50:53] = XRAY_LEVELS["lung"]  # a stray lung island (9 px)
    source = write_dicom(tmp_path / "cxr.dcm", pixels, bits=12, PixelSpacing=[0.5, 0.5])
    schema = LabelSchema.from_bundle("bundles/chest_xray")
    chain = planar_transforms(1, None, "radiograph")
    case = resolve_case(source, ["xray"])
    normalised = np.asarray(chain({"image": str(source)})["image"][0])  # (columns, rows)
    z = {name: float(normalised[level == pixels.T][0]) for name, level in XRAY_LEVELS.items()}
    lung, clavicle = (z["background"] + z["lung"]) / 2, (z["lung"] + z["clavicle"]) / 2
    network = _threshold_network(2, 1, 0, [lung, None, None, clavicle, None])  # right lung, right clavicle
    rules = PostProcessing(min_island_mm3=5.0)  # mm²: 4 px = 1 mm², 9 px = 2.25 mm²; the lung is far bigger
    writers = [XRayLabelWriter(), StructureMaskWriter(), MeasurementWriter(), XRayDicomSegWriter()]
    predictor = Predictor(network, schema, chain, roi_size=(64, 64), modalities=["xray"], device="cpu",
                          postprocessing=rules, writers=writers)

    raw = predictor.to_masks(predictor.grid_probabilities(case))  # before the rule
    prediction = predictor.predict(case)
    masks = prediction.masks
    assert raw[0, 50, 20] and raw[3, 45, 30] and not masks[0, 50, 20] and not masks[3, 45, 30]  # islands gone
    assert (masks[0] & masks[3]).sum() == 4 * 25  # the clavicle still overlaps the lung
    np.testing.assert_array_equal(prediction.label, schema.channels_to_label_map(masks))

    predictor.predict_to_files(case, tmp_path / "out")
    label = np.asarray(nib.load(tmp_path / "out" / "cxr_seg.nii.gz").dataobj)[..., 0]
    np.testing.assert_array_equal(label, prediction.label)
    for index, name in enumerate(schema.channel_names):
        written = np.asarray(nib.load(tmp_path / "out" / f"cxr_{name}.nii.gz").dataobj)[..., 0]
        np.testing.assert_array_equal(written > 0, masks[index], err_msg=name)
    rows = {row["structure"]: row["voxels"] for row in
            json.loads((tmp_path / "out" / "cxr_measurements.json").read_text())["structures"]}
    assert rows == {name: int(masks[i].sum()) for i, name in enumerate(schema.channel_names)}
    frames = seg_frames(tmp_path / "out" / "cxr_seg.dcm")
    assert sorted(frames) == ["right clavicle", "right lung"]
    np.testing.assert_array_equal(frames["right lung"], masks[0].T)
    np.testing.assert_array_equal(frames["right clavicle"], masks[3].T)
