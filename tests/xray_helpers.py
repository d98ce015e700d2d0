"""Tiny DICOM X-rays and chest phantoms written by the tests themselves (no real data needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

STRUCTURES = ("right_lung", "left_lung", "heart", "right_clavicle", "left_clavicle")
# a chest_xray network small enough to train in seconds on 64 x 64 phantoms
TINY_XRAY = {"network_def#channels": [4, 8, 16], "network_def#strides": [2, 2], "network_def#num_res_units": 1,
             "roi_size": [64, 64], "batch_size": 2, "val_interval": 1}


def write_dicom(path: Path, pixels: np.ndarray, photometric: str = "MONOCHROME2", bits: int = 12, **tags) -> Path:
    """A single-frame grey DICOM (explicit VR little endian) with ``pixels`` as (rows, cols) uint16."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"  # CR image storage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "CR"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, bits, bits - 1, 0
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.PixelData = np.ascontiguousarray(pixels, dtype=np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def seg_frames(path: Path) -> dict[str, np.ndarray]:
    """DICOM SEG segment label → (rows, columns) mask, read with pydicom alone (bit-packed BINARY frames)."""
    import pydicom

    seg = pydicom.dcmread(path)
    pixels = seg.pixel_array.reshape(-1, seg.Rows, seg.Columns)
    names = {s.SegmentNumber: s.SegmentLabel for s in seg.SegmentSequence}
    return {names[f.SegmentIdentificationSequence[0].ReferencedSegmentNumber]: pixels[i].astype(bool)
            for i, f in enumerate(seg.PerFrameFunctionalGroupsSequence)}


def chest_phantom(rows: int, cols: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A crude PA chest: dark lungs (image left = patient right), a heart, bright clavicles; 8-bit grey."""
    y, x = np.mgrid[0:rows, 0:cols] / np.array([rows, cols])[:, None, None]
    jitter = rng.uniform(-0.03, 0.03, size=4)
    masks = {
        "right_lung": ((x - 0.3 - jitter[0]) / 0.15) ** 2 + ((y - 0.5) / 0.3) ** 2 < 1,
        "left_lung": ((x - 0.7 - jitter[1]) / 0.15) ** 2 + ((y - 0.5) / 0.3) ** 2 < 1,
        "heart": ((x - 0.58 - jitter[2]) / 0.14) ** 2 + ((y - 0.68) / 0.12) ** 2 < 1,
        "right_clavicle": (np.abs(y - 0.25 - 0.2 * (x - 0.3) - jitter[3]) < 0.025) & (x > 0.12) & (x < 0.45),
        "left_clavicle": (np.abs(y - 0.25 + 0.2 * (x - 0.7) - jitter[3]) < 0.025) & (x > 0.55) & (x < 0.88),
    }
    image = np.full((rows, cols), 170.0)
    image[masks["right_lung"] | masks["left_lung"]] = 60
    image[masks["heart"]] = 190
    image[masks["right_clavicle"] | masks["left_clavicle"]] = 235
    image += rng.normal(0, 5, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), masks


def write_structure_folder(root: Path, n_cases: int, size: tuple[int, int] = (96, 80), seed: int = 0) -> Path:
    """A JSRT/SCR-like folder: palette PNG images (inverted palette) and half-size masks per structure."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    for i in range(n_cases):
        image, masks = chest_phantom(*size, rng)
        palette = Image.fromarray(255 - image, mode="L").convert("P")  # index i shows as grey 255 - i
        palette.putpalette([v for g in range(256) for v in (255 - g,) * 3])
        palette.save(root / "images" / f"case{i:02d}.png")
        for name, mask in masks.items():
            (root / "masks" / name).mkdir(parents=True, exist_ok=True)
            half = Image.fromarray((mask * 255).astype(np.uint8)).resize((size[1] // 2, size[0] // 2), Image.NEAREST)
            half.save(root / "masks" / name / f"case{i:02d}.png")
    return root


def import_xray(root, output, layout="structures", test_fraction=0.0, seed=0):
    """What ``medseg data import-xray`` runs: the folder importer with a chest X-ray layout."""
    from medseg.data.importers import import_dataset

    return import_dataset("folder", root, "chest_xray", output, layout=layout, test_fraction=test_fraction, seed=seed)
