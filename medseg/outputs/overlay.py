"""Overlay montages of a label map on its source image, in radiological orientation.

Both volumes are reoriented to the closest canonical (RAS) axes, so axial, coronal and sagittal
views are what a radiologist expects whatever the file's voxel order: axial and coronal views show
the patient's right on the left of the image, superior at the top. Pixel aspect follows the voxel
spacing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medseg.io.atomic import atomic_path
from medseg.labels import LabelSchema

ALPHA = 0.45


def _canonical(path: str | Path) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Array (first channel of a 4D file) in closest-RAS voxel order, and its voxel sizes."""
    import nibabel as nib

    image = nib.as_closest_canonical(nib.load(str(path)))
    data = np.asanyarray(image.dataobj)
    while data.ndim > 3:
        data = data[..., 0]
    return np.asarray(data, dtype=np.float32), tuple(float(z) for z in image.header.get_zooms()[:3])


def _window(image: np.ndarray) -> tuple[float, float]:
    """Display window: 1st–99th percentile of the non-zero voxels (robust to background and hot spots)."""
    values = image[image != 0] if np.any(image != 0) else image.ravel()
    low, high = np.percentile(values, [1, 99])
    return float(low), float(max(high, low + 1e-6))


def _rgba(label: np.ndarray, schema: LabelSchema) -> np.ndarray:
    rgba = np.zeros((*label.shape, 4), np.float32)
    for item in schema.labels:
        mask = label == item.value
        rgba[mask, :3] = np.array(item.color) / 255.0
        rgba[mask, 3] = ALPHA
    return rgba


def _radiological(plane: np.ndarray) -> np.ndarray:
    """A RAS plane (a, b) as rows = b (high at the top), columns = a (high, i.e. R or A, on the left)."""
    return np.flipud(np.flipud(plane).T)


def _views(image: np.ndarray, label: np.ndarray, zooms, centre) -> list[tuple[str, np.ndarray, np.ndarray, float]]:
    """(title, image slice, label slice, pixel aspect) for axial, coronal, sagittal through ``centre``.

    Slices are returned as (rows, columns) ready for ``imshow(origin="upper")``.
    """
    x, y, z = centre
    sx, sy, sz = zooms

    return [
        ("axial", _radiological(image[:, :, z]), _radiological(label[:, :, z]), sy / sx),
        ("coronal", _radiological(image[:, y, :]), _radiological(label[:, y, :]), sz / sx),
        ("sagittal", _radiological(image[x, :, :]), _radiological(label[x, :, :]), sz / sy),
    ]


def _centre(label: np.ndarray) -> tuple[int, int, int]:
    """Centre of mass of the labelled voxels, else the middle of the volume."""
    hits = np.argwhere(label > 0)
    if not len(hits):
        return tuple(int(n // 2) for n in label.shape)
    return tuple(int(round(c)) for c in hits.mean(0))


def _axial_series(image: np.ndarray, label: np.ndarray, zooms, count: int) -> list:
    """``count`` axial slices evenly spread over the labelled slab (the whole volume when empty)."""
    slices = np.flatnonzero(label.any(axis=(0, 1)))
    first, last = (slices[0], slices[-1]) if len(slices) else (0, label.shape[2] - 1)
    picks = np.unique(np.linspace(first, last, count).round().astype(int))
    return [(f"axial {z + 1}/{label.shape[2]}", _radiological(image[:, :, z]), _radiological(label[:, :, z]),
             zooms[1] / zooms[0]) for z in picks]


def _draw(ax, panel, schema: LabelSchema, window: tuple[float, float]) -> None:
    name, pixels, mask, aspect = panel
    ax.imshow(pixels, cmap="gray", vmin=window[0], vmax=window[1], aspect=aspect, interpolation="nearest")
    ax.imshow(_rgba(mask, schema), aspect=aspect, interpolation="nearest")
    ax.set_title(name, color="white", fontsize=10)
    left, right = ("A", "P") if name == "sagittal" else ("R", "L")
    for x, text, align in ((0.02, left, "left"), (0.98, right, "right")):
        ax.text(x, 0.5, text, color="white", transform=ax.transAxes, va="center", ha=align, fontsize=9)
    ax.axis("off")


def _save_figure(panels: list, schema: LabelSchema, window, columns: int, output: str | Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    rows = int(np.ceil(len(panels) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 3.6 * rows + 0.6), facecolor="black",
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, panel in zip(axes.ravel(), panels):
        _draw(ax, panel, schema, window)
    handles = [Patch(color=np.array(item.color) / 255.0, label=item.name) for item in schema.labels]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, labelcolor="white")
    return _save(fig, title, output, rect=(0, 0.07, 1, 0.95))


def render_overlays(image_path: str | Path, label_path: str | Path, schema: LabelSchema, output_stem: str | Path,
                    title: str = "") -> list[Path]:
    """PNGs ``<stem>_views.png`` (3D: axial/coronal/sagittal through the segmentation's centre; 2D: the
    image) and, for 3D, ``<stem>_axial.png`` (ten axial slices across the segmented slab)."""
    image, zooms = _canonical(image_path)
    label, _ = _canonical(label_path)
    label = np.rint(label).astype(np.int32)
    window = _window(image)
    stem = str(output_stem)
    if image.shape[2] == 1:
        panel = ("image", _radiological(image[:, :, 0]), _radiological(label[:, :, 0]), zooms[1] / zooms[0])
        return [_save_figure([panel], schema, window, 1, f"{stem}_views.png", title)]
    views = _views(image, label, zooms, _centre(label))
    series = _axial_series(image, label, zooms, 10)
    return [_save_figure(views, schema, window, 3, f"{stem}_views.png", title),
            _save_figure(series, schema, window, 5, f"{stem}_axial.png", f"{title}: axial slices")]


def render_outlines(images: dict[str, str | Path], label_path: str | Path, schema: LabelSchema,
                    output: str | Path, title: str = "") -> Path:
    """One PNG: a row per image (sequences resampled onto the mask's grid), axial/coronal/sagittal
    through the segmentation's centre, with each label's outline drawn on it, so a reviewer sees at a
    glance whether every sequence sits on the same anatomy as the mask."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    label, _ = _canonical(label_path)
    label = np.rint(label).astype(np.int32)
    centre = _centre(label)
    fig, axes = plt.subplots(len(images), 3, figsize=(10.2, 3.5 * len(images) + 0.4), facecolor="black",
                             squeeze=False)
    for row, (name, path) in zip(axes, images.items()):
        image, zooms = _canonical(path)
        window = _window(image)
        for ax, (view, pixels, mask, aspect) in zip(row, _views(image, label, zooms, centre)):
            ax.imshow(pixels, cmap="gray", vmin=window[0], vmax=window[1], aspect=aspect, interpolation="nearest")
            for item in schema.labels:
                if np.any(mask == item.value):
                    ax.contour(mask == item.value, levels=[0.5], colors=[np.array(item.color) / 255.0],
                               linewidths=0.8)
            ax.set_title(f"{name}: {view}", color="white", fontsize=10)
            ax.axis("off")
    return _save(fig, title, output, rect=(0, 0, 1, 0.97))


def _save(fig, title: str, output: str | Path, rect: tuple[float, float, float, float]) -> Path:
    """Title, lay out and write a figure atomically (a half-written PNG never lands), then free it."""
    import matplotlib.pyplot as plt

    fig.suptitle(title, color="white", fontsize=12)
    fig.tight_layout(rect=rect)
    with atomic_path(output) as tmp:
        fig.savefig(tmp, format="png", dpi=80, facecolor="black")
    plt.close(fig)
    return Path(output)
