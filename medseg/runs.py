"""Run directories: a copy of the bundle with the user's overrides baked into its configs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from medseg.bundles import Bundle
from medseg.errors import BundleError, OutputError
from medseg.io.atomic import copy_file_atomic, write_text_atomic
from medseg.trust import seal

CONFIG_FILES = ("inference", "train")
LAST = Path("models") / "checkpoint_last.pt"  # written every epoch; what ``--resume`` continues from


def default_run_dir(bundle: Bundle) -> Path:
    return Path("runs") / bundle.name / time.strftime("%Y%m%d-%H%M%S")


def _set_key(config: dict[str, Any], key: str, value: Any) -> bool:
    """Set ``a#b#c`` in a nested config dict; False if the path does not exist there."""
    parts = key.split("#")
    node: Any = config
    for part in parts[:-1]:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False
    last = parts[-1]
    if isinstance(node, dict) and last in node:
        node[last] = value
        return True
    if isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = value
        return True
    return False


def create_run_bundle(bundle: Bundle, run_dir: Path, overrides: dict[str, Any]) -> Bundle:
    """Copy the bundle into ``run_dir`` and write each override into the config that defines it.

    Refuses a directory that already holds a trained model, so a finished run is never overwritten.
    """
    run_dir = Path(run_dir)
    if (run_dir / "models" / "model.pt").exists():
        raise OutputError("run directory already holds a trained model; choose another --output-dir", run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create run directory ({exc.strerror})", run_dir) from exc
    configs = {}
    for name in CONFIG_FILES:
        configs[name] = json.loads(bundle.config_files(name)[0].read_text())
    for key, value in overrides.items():
        # train.json is read after inference.json, so a key it defines wins there too.
        targets = [name for name in reversed(CONFIG_FILES) if _set_key(configs[name], key, value)]
        if not targets:
            raise BundleError(f"unknown --override key {key!r}", bundle.root / "configs")
    for name, config in configs.items():
        write_text_atomic(run_dir / "configs" / f"{name}.json", json.dumps(config, indent=2) + "\n")
    for extra in ("configs/metadata.json", "docs/README.md", "LICENSE"):
        if (bundle.root / extra).is_file():
            copy_file_atomic(bundle.root / extra, run_dir / extra)
    seal(run_dir)  # medseg wrote these configs: later runs of this folder need no --trust
    return Bundle(run_dir.resolve())
