"""Geometry properties over random grids: what comes out lies exactly where what went in lay.

Hypothesis draws rotations, axis flips and permutations, anisotropic spacing, LPS or RAS, 2D
(X x Y x 1) and 3D shapes, and headers whose qform differs from the sform. For each grid an image
that encodes a label map (one intensity per label) goes through the real read -> inference chain
(``inference_transforms``: load, reorient to RAS, normalise) -> ``Invertd`` -> ``write_label_like``;
the written header must equal the input's field for field, and the label decoded in the network's
space and moved back must equal the original voxel for voxel.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medseg.bundle.find import find_bundle
from medseg.data.inputs import resolve_case
from medseg.inference.predictor import Predictor
from medseg.outputs.nifti import write_label_like
from medseg.transforms.volume import inference_transforms

CODES = {0: 1.0, 2: 2.0, 1: 3.0, 4: 4.0}  # label -> intensity; WT >= 2, TC >= 3, ET >= 4 in intensity
GEOMETRY_FIELDS = ("dim", "pixdim", "qform_code", "sform_code", "quatern_b", "quatern_c", "quatern_d",
                   "qoffset_x", "qoffset_y", "qoffset_z", "srow_x", "srow_y", "srow_z", "xyzt_units")
PROPERTY = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _rotation(quaternion: tuple[float, float, float, float]) -> np.ndarray:
    w, x, y, z = np.asarray(quaternion) / np.linalg.norm(quaternion)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


unit = st.floats(-1, 1, allow_nan=False)
quaternions = st.tuples(unit, unit, unit, unit).filter(lambda q: np.linalg.norm(q) > 0.2)


@st.composite
def grids(draw, two_d: bool | None = None) -> dict:
    """A random voxel grid: shape, the sform affine, and a qform that may differ from it."""
    two_d = draw(st.booleans()) if two_d is None else two_d
    shape = (draw(st.integers(8, 12)), draw(st.integers(8, 12)), 1 if two_d else draw(st.integers(8, 12)))  # MIN_VOXELS
    spacing = np.array([draw(st.floats(0.3, 5.0)) for _ in range(3)])
    flips = np.array([draw(st.sampled_from([-1.0, 1.0])) for _ in range(3)])
    permutation = np.eye(3)[list(draw(st.permutations([0, 1, 2])))]
    lps = np.diag([-1.0, -1.0, 1.0]) if draw(st.booleans()) else np.eye(3)
    linear = lps @ _rotation(draw(quaternions)) @ permutation @ np.diag(flips * spacing)
    affine = np.eye(4)
    affine[:3, :3] = linear
    affine[:3, 3] = [draw(st.floats(-200, 200)) for _ in range(3)]
    qform = affine.copy()
    if draw(st.booleans()):  # qform != sform: another rotation, as scanners and converters sometimes write
        qform[:3, :3] = _rotation(draw(quaternions)) @ np.diag(spacing)
        qform[:3, 3] += [draw(st.floats(-20, 20)) for _ in range(3)]
    codes = draw(st.sampled_from([(1, 1), (1, 2), (2, 1), (0, 1)]))  # (qform_code, sform_code)
    return {"shape": shape, "affine": affine, "qform": qform, "codes": codes, "seed": draw(st.integers(0, 2**16))}


def _labels(grid: dict) -> np.ndarray:
    label = np.random.default_rng(grid["seed"]).choice(list(CODES), size=grid["shape"]).astype(np.uint8)
    label.flat[0], label.flat[-1] = 0, 4  # both ends of the intensity scale are present
    return label


def _save(data: np.ndarray, grid: dict, path: Path) -> Path:
    image = nib.Nifti1Image(data, grid["affine"])
    image.header.set_qform(grid["qform"], code=grid["codes"][0])
    image.header.set_sform(grid["affine"], code=grid["codes"][1])
    nib.save(image, path)
    return path


def _encode(label: np.ndarray) -> np.ndarray:
    return np.vectorize(CODES.get)(label).astype(np.float32)


def _assert_same_grid(written: Path, reference: Path) -> None:
    out, ref = nib.load(written).header, nib.load(reference).header
    for name in GEOMETRY_FIELDS:
        assert np.array_equal(out[name], ref[name]), name
    assert np.array_equal(nib.load(written).affine, nib.load(reference).affine)


@PROPERTY
@given(grid=grids())
def test_read_chain_invert_write_keeps_grid_and_every_voxel(grid):
    from monai.data import MetaTensor
    from monai.transforms import Invertd

    label = _labels(grid)
    with tempfile.TemporaryDirectory() as tmp:
        image_path = _save(_encode(label), grid, Path(tmp) / "image.nii.gz")
        chain = inference_transforms()
        data = chain({"image": str(image_path)})
        # decode the label in the network's (RAS, normalised) space: intensities keep their order
        normalised = data["image"][0].numpy()
        levels = np.unique(normalised)
        present = sorted({CODES[v] for v in np.unique(label)})
        assert len(levels) == len(present)
        decoded_codes = np.asarray(present)[np.searchsorted(levels, normalised)]
        by_code = {code: value for value, code in CODES.items()}
        decoded = np.vectorize(by_code.get)(decoded_codes).astype(np.float32)
        data["pred"] = MetaTensor(torch.from_numpy(decoded)[None], meta=dict(data["image"].meta))
        back = Invertd("pred", transform=chain, orig_keys="image", nearest_interp=True)(data)["pred"]
        back = back[0].numpy().astype(np.uint8)

        assert back.shape == label.shape
        assert np.array_equal(back, label)
        written = write_label_like(back, image_path, Path(tmp) / "image_seg.nii.gz")
        _assert_same_grid(written, image_path)
        assert np.array_equal(np.asarray(nib.load(written).dataobj), label)


def _threshold_network(normalise_low: float, normalise_high: float) -> torch.nn.Module:
    """1x1x1 convolution firing WT/TC/ET above intensity 1.5/2.5/3.5, in the normalised space.

    ``normalise_low``/``_high`` are where intensities 1 and 4 land after normalisation.
    """
    scale = (normalise_high - normalise_low) / 3.0
    net = torch.nn.Conv3d(1, 3, kernel_size=1)
    with torch.no_grad():
        net.weight.fill_(50.0)
        for channel, threshold in enumerate((1.5, 2.5, 3.5)):
            net.bias[channel] = -50.0 * (normalise_low + (threshold - 1.0) * scale)
    return net


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grid=grids(two_d=False))
def test_predictor_writes_the_mask_on_the_input_grid(grid):
    """The whole Predictor (sliding window, sigmoid, schema, Invertd, NIfTI writer) on random 3D grids."""
    from monai.transforms import NormalizeIntensity

    label = _labels(grid)
    encoded = _encode(label)
    normalised = np.asarray(NormalizeIntensity(nonzero=True, channel_wise=True)(encoded[None]))[0]
    low, high = float(normalised.flat[0]), float(normalised.flat[-1])
    with tempfile.TemporaryDirectory() as tmp:
        _save(encoded, grid, Path(tmp) / "case_image.nii.gz")
        predictor = Predictor(_threshold_network(low, high), find_bundle("brain_tumor").schema,
                              inference_transforms(), roi_size=(16, 16, 16), modalities=["image"], device="cpu")
        case = resolve_case(Path(tmp) / "case_image.nii.gz", ["image"])
        (written,) = predictor.predict_to_files(case, Path(tmp) / "out")
        _assert_same_grid(written, case.reference)
        assert np.array_equal(np.asarray(nib.load(written).dataobj), label)
