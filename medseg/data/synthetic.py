"""Built-in brain-tumour phantoms: reproducible, multi-modal, with real-world geometry.

Anatomy is defined analytically in scanner (RAS, mm) coordinates and sampled on each case's voxel
grid through its affine, so RAS, LPS, oblique and anisotropic cases show the same anatomy and a
geometry bug (a flip, a shift, a dropped rotation) shows up as a misplaced mask.

Tissue contrasts follow real MRI: oedema bright on T2/FLAIR, an enhancing rim bright on T1ce
around a necrotic core that is dark on T1ce; labels use BraTS values (1 necrotic core,
2 oedema, 4 enhancing tumour).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medseg.io.atomic import atomic_path, write_text_atomic

MODALITIES = ("t1", "t1ce", "t2", "flair")
GEOMETRIES = ("ras", "lps", "oblique", "anisotropic")

# Mean intensity per tissue and modality (t1, t1ce, t2, flair).
TISSUES = {
    "scalp": (0.90, 0.90, 0.50, 0.60),
    "csf": (0.20, 0.20, 1.00, 0.15),
    "grey": (0.50, 0.52, 0.62, 0.58),
    "white": (0.72, 0.72, 0.45, 0.46),
    "oedema": (0.45, 0.47, 0.88, 0.95),
    "enhancing": (0.52, 1.05, 0.70, 0.72),
    "necrosis": (0.25, 0.18, 0.98, 0.62),
}


def _rotation(z_deg: float, x_deg: float) -> np.ndarray:
    z, x = np.deg2rad(z_deg), np.deg2rad(x_deg)
    rz = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
    return rz @ rx


def phantom_affine(kind: str, rng: np.random.Generator, spacing: float = 2.0) -> tuple[np.ndarray, tuple[int, ...]]:
    """Affine and shape of a grid covering the head (≈ 136 × 152 × 112 mm), centred near the origin."""
    fov = np.array([136.0, 152.0, 112.0])
    if kind == "ras":
        linear, zooms = np.eye(3), np.array([spacing] * 3)
    elif kind == "lps":
        linear, zooms = np.diag([-1.0, -1.0, 1.0]), np.array([spacing] * 3)
    elif kind == "oblique":
        linear, zooms = _rotation(rng.uniform(15, 30), rng.uniform(8, 15)), np.array([spacing] * 3)
        fov = fov + 24.0
    elif kind == "anisotropic":
        linear, zooms = np.diag([-1.0, 1.0, 1.0]), np.array([spacing, spacing, spacing * 1.75])
    else:
        raise ValueError(f"unknown geometry {kind!r}; choose from {GEOMETRIES}")
    shape = tuple(int(n) for n in np.ceil(fov / zooms))
    affine = np.eye(4)
    affine[:3, :3] = linear * zooms
    centre_voxel = (np.array(shape) - 1) / 2.0
    affine[:3, 3] = -affine[:3, :3] @ centre_voxel + rng.uniform(-4, 4, size=3)
    return affine, shape


def _world_coordinates(affine: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    ijk = np.stack(np.meshgrid(*[np.arange(n, dtype=np.float32) for n in shape], indexing="ij"), axis=-1)
    return ijk @ affine[:3, :3].T.astype(np.float32) + affine[:3, 3].astype(np.float32)


def _ellipsoid(xyz: np.ndarray, centre, radii, wobble: np.ndarray | None = None) -> np.ndarray:
    """Normalised ellipsoid distance (< 1 inside), optionally with a smooth irregular boundary."""
    d = np.sqrt((((xyz - np.asarray(centre, np.float32)) / np.asarray(radii, np.float32)) ** 2).sum(-1))
    return d if wobble is None else d + wobble


def _smooth_field(xyz: np.ndarray, rng: np.random.Generator, amplitude: float, scale_mm: float) -> np.ndarray:
    """A sum of random low-frequency cosines in world space (boundary wobble, bias field)."""
    field = np.zeros(xyz.shape[:-1], np.float32)
    for _ in range(4):
        k = rng.normal(size=3).astype(np.float32)
        k *= 2 * np.pi / scale_mm / np.linalg.norm(k)
        field += np.cos(xyz @ k + rng.uniform(0, 2 * np.pi)).astype(np.float32)
    return amplitude * field / 4


@dataclass(frozen=True)
class Phantom:
    images: dict[str, np.ndarray]  # modality → float32 volume
    label: np.ndarray  # uint8 BraTS label map
    affine: np.ndarray


def make_phantom(seed: int, geometry: str = "ras", spacing: float = 2.0) -> Phantom:
    """One reproducible case: four modalities and a BraTS label map on a ``geometry`` grid."""
    from scipy.ndimage import gaussian_filter

    # Separate streams: the same seed gives the same anatomy in scanner space on every grid.
    affine, shape = phantom_affine(geometry, np.random.default_rng([seed, 0]), spacing)
    rng = np.random.default_rng([seed, 1])
    xyz = _world_coordinates(affine, shape)

    head = _ellipsoid(xyz, (0, 0, 0), (62, 70, 52)) < 1
    brain = _ellipsoid(xyz, (0, 0, 0), (55, 63, 45), _smooth_field(xyz, rng, 0.03, 40)) < 1
    white = _ellipsoid(xyz, (0, 0, 0), (40, 48, 32), _smooth_field(xyz, rng, 0.08, 25)) < 1
    ventricles = (_ellipsoid(xyz, (-7, 2, 6), (5, 17, 8)) < 1) | (_ellipsoid(xyz, (7, 2, 6), (5, 17, 8)) < 1)

    direction = rng.normal(size=3)
    centre = direction / np.linalg.norm(direction) * rng.uniform(10, 26) * np.array([1.0, 1.1, 0.7])
    r_oedema = rng.uniform(22, 30)
    r_core = r_oedema * rng.uniform(0.6, 0.75)
    r_necrosis = r_core * rng.uniform(0.55, 0.7)
    stretch = rng.uniform(0.8, 1.2, size=3)
    oedema = _ellipsoid(xyz, centre, r_oedema * stretch, _smooth_field(xyz, rng, 0.15, 30)) < 1
    core = _ellipsoid(xyz, centre, r_core * stretch, _smooth_field(xyz, rng, 0.08, 20)) < 1
    necrosis = _ellipsoid(xyz, centre, r_necrosis * stretch, _smooth_field(xyz, rng, 0.08, 15)) < 1
    oedema &= brain
    core &= brain
    necrosis &= core

    tissue = np.full(shape, "", dtype=object)
    tissue[head] = "scalp"
    tissue[brain] = "grey"
    tissue[brain & white] = "white"
    tissue[brain & ventricles & ~oedema] = "csf"
    tissue[oedema] = "oedema"
    tissue[core] = "enhancing"
    tissue[necrosis] = "necrosis"

    label = np.zeros(shape, np.uint8)
    label[oedema] = 2
    label[core] = 4
    label[necrosis] = 1

    images = {}
    bias = np.exp(_smooth_field(xyz, rng, 0.15, 150))
    for m, modality in enumerate(MODALITIES):
        volume = np.zeros(shape, np.float32)
        for name, means in TISSUES.items():
            volume[tissue == name] = means[m]
        volume = gaussian_filter(volume, sigma=0.5)
        volume *= bias * rng.uniform(0.8, 1.2)
        volume += rng.normal(0, 0.03, size=shape).astype(np.float32)
        volume[~head] = 0
        images[modality] = np.clip(volume * 1000, 0, None).astype(np.float32)
    return Phantom(images, label, affine)


def save_phantom(phantom: Phantom, folder: Path, case_id: str) -> dict[str, object]:
    """Write a case in BraTS layout; return its manifest entry (paths relative to ``folder.parent``)."""
    import nibabel as nib

    folder.mkdir(parents=True, exist_ok=True)
    entry: dict[str, object] = {"id": case_id, "image": []}
    for modality, volume in phantom.images.items():
        path = folder / f"{case_id}_{modality}.nii.gz"
        image = nib.Nifti1Image(volume, phantom.affine)
        image.header.set_qform(phantom.affine, code=1)
        image.header.set_sform(phantom.affine, code=1)
        with atomic_path(path) as tmp:
            nib.save(image, tmp)
        entry["image"].append(f"{folder.name}/{path.name}")
    label_path = folder / f"{case_id}_seg.nii.gz"
    label = nib.Nifti1Image(phantom.label, phantom.affine)
    label.header.set_qform(phantom.affine, code=1)
    label.header.set_sform(phantom.affine, code=1)
    with atomic_path(label_path) as tmp:
        nib.save(label, tmp)
    entry["label"] = f"{folder.name}/{label_path.name}"
    return entry


def write_demo_dataset(
    root: str | Path, n_train: int = 16, n_val: int = 2, n_test: int = 4, seed: int = 0, spacing: float = 2.0
) -> Path:
    """Write phantoms (all four geometries in turn) and an MSD-style manifest; return the manifest path.

    Re-running with the same arguments reuses a complete earlier dataset.
    """
    root = Path(root)
    manifest_path = root / "dataset.json"
    settings = {"n_train": n_train, "n_val": n_val, "n_test": n_test, "seed": seed, "spacing": spacing}
    if manifest_path.is_file():
        existing = json.loads(manifest_path.read_text())
        if existing.get("phantom_settings") == settings:
            return manifest_path
    sections: dict[str, list] = {"training": [], "validation": [], "test": []}
    counts = {"training": n_train, "validation": n_val, "test": n_test}
    index = 0
    for section, count in counts.items():
        for _ in range(count):
            case_id = f"phantom_{index:03d}_{GEOMETRIES[index % len(GEOMETRIES)]}"
            phantom = make_phantom(seed * 10_000 + index, GEOMETRIES[index % len(GEOMETRIES)], spacing)
            sections[section].append(save_phantom(phantom, root / case_id, case_id))
            index += 1
    manifest = {"name": "brain_tumor_phantoms", "bundle": "brain_tumor", "phantom_settings": settings, **sections}
    write_text_atomic(manifest_path, json.dumps(manifest, indent=2))
    return manifest_path
