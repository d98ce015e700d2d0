"""Helpers shared by the benchmark scripts: inputs, fresh-process workers, tables."""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED_BRATS = REPO.parent / "shared" / "data" / "brats2018" / "Brats18_2013_2_1"
MODALITIES = ["t1", "t1ce", "t2", "flair"]


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def benchmark_parser(doc: str | None) -> argparse.ArgumentParser:
    """Options every benchmark shares: ``--json`` for the figures, hidden ones for its worker processes."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--worker", choices=["plain", "medseg"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return parser


def run_worker(script: Path, args: list[str]) -> dict:
    """Run one measurement in a fresh Python process (so peak RSS is its own) and parse its JSON."""
    done = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"worker failed: {' '.join(args)}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def brats_size_phantom(folder: Path) -> Path:
    """A 240x240x155, 1 mm, LPS four-modality phantom case (BraTS layout) with its label."""
    import nibabel as nib

    from medseg.data.synthetic import make_phantom

    phantom = make_phantom(7, "lps", spacing=1.0)
    shape = (240, 240, 155)
    offset = [(s - p) // 2 for s, p in zip(shape, phantom.label.shape)]
    box = tuple(slice(o, o + p) for o, p in zip(offset, phantom.label.shape))
    affine = phantom.affine.copy()
    affine[:3, 3] -= affine[:3, :3] @ np.array(offset, float)
    folder.mkdir(parents=True, exist_ok=True)
    volumes = {**phantom.images, "seg": phantom.label}
    for name, data in volumes.items():
        full = np.zeros(shape, data.dtype)
        full[box] = data
        image = nib.Nifti1Image(full, affine)
        image.header.set_qform(affine, 1)
        image.header.set_sform(affine, 1)
        nib.save(image, folder / f"{folder.name}_{name}.nii.gz")
    return folder


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A GitHub-markdown table (readable in a terminal too)."""
    cells = [headers] + [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
