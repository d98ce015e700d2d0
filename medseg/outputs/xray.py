"""Outputs for X-ray inputs (DICOM, PNG), which have no NIfTI header to copy.

The NIfTI is built from the X-ray's pixel grid and spacing: X×Y×1, integer, qform = sform with code
1, so 3D Slicer and nibabel place it identically, on the grid Slicer gives the DICOM itself.
Overlapping structures stay recoverable: one binary NIfTI per structure, plus the painted label
map (schema precedence) for quick viewing, plus an overlay PNG a reader checks at a glance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medseg.errors import OutputError
from medseg.io.atomic import atomic_path, ensure_not_input
from medseg.io.xray import grid_affine, read_xray, read_xray_grid
from medseg.outputs.prediction import Prediction


def xray_label_image(label: np.ndarray, reference: str | Path, description: str = "medseg label map"):
    """A ``Nifti1Image`` (X×Y×1, integer) on the pixel grid of an X-ray file; ``label`` is indexed (x, y)."""
    import nibabel as nib

    shape, spacing = read_xray_grid(reference)
    label = np.asarray(label)
    if label.shape != shape:
        raise OutputError(f"label shape {label.shape} does not match the X-ray grid {shape} (columns, rows)", reference)
    dtype = np.uint8 if label.max(initial=0) < 256 else np.int16
    image = nib.Nifti1Image(label.astype(dtype)[..., None], grid_affine(spacing))
    image.set_qform(grid_affine(spacing), code=1)
    image.set_sform(grid_affine(spacing), code=1)
    header = image.header
    header.set_xyzt_units("mm")
    header["cal_min"], header["cal_max"] = 0, float(label.max(initial=0))
    header["intent_code"] = 1002  # NIFTI_INTENT_LABEL
    header["descrip"] = description.encode()[:79]
    return image


def _save(image, output: Path, prediction: Prediction) -> Path:
    import nibabel as nib

    ensure_not_input(output, list(prediction.case.images))
    with atomic_path(output) as tmp:
        nib.save(image, tmp)
    return output


class XRayLabelWriter:
    """``<case>_seg.nii.gz``: the painted label map (later channels win where structures overlap)."""

    def __init__(self, suffix: str = "_seg") -> None:
        self.suffix = suffix

    def __call__(self, prediction: Prediction, output_dir: Path) -> list[Path]:
        case = prediction.case
        image = xray_label_image(prediction.label, case.reference)
        return [_save(image, Path(output_dir) / f"{case.case_id}{self.suffix}.nii.gz", prediction)]


class StructureMaskWriter:
    """``<case>_<structure>.nii.gz``: one binary mask per channel, overlaps kept."""

    def __call__(self, prediction: Prediction, output_dir: Path) -> list[Path]:
        case = prediction.case
        written = []
        for name, mask in zip(prediction.schema.channel_names, prediction.region_masks()):
            image = xray_label_image(mask.astype(np.uint8), case.reference, f"medseg mask: {name}")
            written.append(_save(image, Path(output_dir) / f"{case.case_id}_{name}.nii.gz", prediction))
        return written


class OverlayWriter:
    """``<case>_overlay.png``: the X-ray as displayed, each structure outlined and tinted, with a legend."""

    def __init__(self, max_pixels: int = 1024, alpha: float = 0.3) -> None:
        self.max_pixels, self.alpha = max_pixels, alpha

    def __call__(self, prediction: Prediction, output_dir: Path) -> list[Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch

        case, schema = prediction.case, prediction.schema
        pixels = read_xray(case.reference).pixels
        step = max(1, int(np.ceil(max(pixels.shape) / self.max_pixels)))
        image = pixels[::step, ::step]
        masks = prediction.region_masks()[:, ::step, ::step].transpose(0, 2, 1)  # (C, rows, cols)
        low, high = np.percentile(image, (0.5, 99.5))
        figure, axis = plt.subplots(figsize=(8, 8 * image.shape[0] / image.shape[1]), dpi=120)
        axis.imshow(image, cmap="gray", vmin=low, vmax=high, interpolation="antialiased")
        handles = []
        for channel, mask in zip(schema.channels, masks):
            color = np.array(schema.color_of(channel.paint)) / 255.0
            if mask.any():
                tint = np.zeros((*mask.shape, 4))
                tint[mask] = (*color, self.alpha)
                axis.imshow(tint, interpolation="nearest")
                axis.contour(mask, levels=[0.5], colors=[color], linewidths=1.2)
            label = next(lab.name for lab in schema.labels if lab.value == channel.paint)
            handles.append(Patch(facecolor=color, edgecolor=color, label=label + ("" if mask.any() else " (none)")))
        axis.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.8)
        axis.set_title(f"{case.case_id}  (image left = patient right)", fontsize=9)
        axis.set_axis_off()
        output = Path(output_dir) / f"{case.case_id}_overlay.png"
        ensure_not_input(output, list(case.images))
        with atomic_path(output) as tmp:
            figure.savefig(tmp, format="png", bbox_inches="tight")
        plt.close(figure)
        return [output]
