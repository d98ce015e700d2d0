"""What a run was trained on, and what it measured, written into the run directory.

``training_data.json``: the manifest (path and SHA-256 of its bytes), the training and validation
case ids, the fold, and a fingerprint of the case files (SHA-256 over each file's name and size:
cheap on a 1000-case set, and it changes when a case is added, dropped or replaced; it is not a
hash of the voxels).

``docs/README.md`` of a run is the bundle's README with its "Measured" section replaced by the
run's own validation Dice: a run never quotes the bundle's figures as if they were its own.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medseg.bundle.trust import shipped_roots
from medseg.io.atomic import write_text_atomic
from medseg.io.read import CaseFiles

DATA_RECORD = "training_data.json"
MEASURED_HEADING = "## Measured"


def _files(case: CaseFiles) -> list[Path]:
    label = case.label if isinstance(case.label, tuple) else (case.label,) if case.label else ()
    return [*case.images, *label]


def files_fingerprint(cases: Sequence[CaseFiles]) -> str:
    digest = hashlib.sha256()
    for case in sorted(cases, key=lambda c: c.case_id):
        for path in _files(case):
            size = Path(path).stat().st_size if Path(path).is_file() else -1
            digest.update(f"{case.case_id}\t{Path(path).name}\t{size}\n".encode())
    return digest.hexdigest()


def record_training_data(run_dir: Path, manifest: Path, training: Sequence[CaseFiles],
                         validation: Sequence[CaseFiles], fold: int | None = None) -> Path:
    """Write ``training_data.json`` into the run directory."""
    record = {
        "manifest": str(Path(manifest).resolve()),
        "manifest_sha256": hashlib.sha256(Path(manifest).read_bytes()).hexdigest(),
        "fold": fold,
        "training": [c.case_id for c in training],
        "validation": [c.case_id for c in validation],
        "missing_sequences": {c.case_id: list(c.missing) for c in [*training, *validation] if c.missing},
        "files_fingerprint": files_fingerprint([*training, *validation]),
        "fingerprint_of": "SHA-256 over (case id, file name, size) of every image and label file",
    }
    return write_text_atomic(Path(run_dir) / DATA_RECORD, json.dumps(record, indent=2) + "\n")


def measured_section(history: Sequence[dict[str, Any]], best_epoch: int, data: dict[str, Any] | None) -> str:
    """The run's own figures: validation Dice per channel at the epoch whose weights were kept."""
    row = next((r for r in history if r.get("epoch") == best_epoch and "dice_mean" in r), None)
    lines = [f"{MEASURED_HEADING} (this run)"]
    n_val = len(data.get("validation", [])) if data else None
    if row is None:
        lines.append("This run validated on no case, so it has no measured Dice; `models/model.pt` holds the "
                     "weights of its last epoch. Score it with `medseg evaluate` on held-out cases before use.")
    else:
        dice = {k[len("dice_"):]: v for k, v in row.items()
                if k.startswith("dice_") and k not in ("dice_mean", "dice_ema")}  # per channel only
        header = " | ".join(dice)
        cells = " | ".join("n/a" if math.isnan(float(v)) else f"{float(v):.3f}" for v in dice.values())
        lines += [f"Validation Dice of the kept weights (epoch {best_epoch}), on {n_val} validation case(s) "
                  f"listed in `{DATA_RECORD}`:", "", f"| {header} | mean |", "|" + "---|" * (len(dice) + 1),
                  f"| {cells} | {float(row['dice_mean']):.3f} |"]
    if data:
        lines += ["", f"Trained on {len(data['training'])} case(s) of `{data['manifest']}` "
                      f"(SHA-256 {data['manifest_sha256'][:12]}…); see `{DATA_RECORD}`."]
    lines += ["", "Figures in the bundle's own documentation describe the bundle's reference training, not this "
                  "run; they were removed from this copy."]
    return "\n".join(lines) + "\n"


def write_run_readme(run_dir: Path, bundle_root: Path, history: Sequence[dict[str, Any]],
                     best_epoch: int) -> Path | None:
    """``docs/README.md`` of the run: the bundle's text, its "Measured" section replaced by the run's.

    A run trained inside a shipped bundle's own folder (``monai.bundle run`` with its defaults)
    leaves the shipped README alone."""
    run_dir = Path(run_dir).resolve()
    if any(run_dir.is_relative_to(root) for root in shipped_roots()):
        return None
    bundle_readme = Path(bundle_root) / "docs" / "README.md"
    text = bundle_readme.read_text() if bundle_readme.is_file() else f"# {run_dir.name}\n"
    start = text.find(MEASURED_HEADING)
    if start >= 0:
        end = text.find("\n## ", start + len(MEASURED_HEADING))
        text = text[:start] + (text[end + 1:] if end >= 0 else "")
    record = run_dir / DATA_RECORD
    data = json.loads(record.read_text()) if record.is_file() else None
    return write_text_atomic(run_dir / "docs" / "README.md",
                             text.rstrip() + "\n\n" + measured_section(history, best_epoch, data))


def append_to_run_readme(run_dir: Path, text: str) -> Path:
    """Add a ``## heading`` section to the run's README, replacing an earlier one of that heading (a
    resumed run chooses again: the README keeps the latest choice only)."""
    path = Path(run_dir) / "docs" / "README.md"
    current = path.read_text() if path.is_file() else ""
    heading = text.splitlines()[0]
    start = current.find(heading)
    if start >= 0:
        end = current.find("\n## ", start + len(heading))
        current = current[:start] + (current[end + 1:] if end >= 0 else "")
    return write_text_atomic(path, current.rstrip() + "\n\n" + text.rstrip() + "\n")
