"""Shared fixtures: tiny phantoms, a briefly trained tiny model, and the real data folder."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MEDSEG_SHARED_DATA", REPO.parent / "shared" / "data"))

# A network small enough to train in seconds: a 3-level DynUNet with deep supervision, as the planner
# builds, replacing whatever network the plan or the bundle chose; patches and windows to match; one
# pass over the cases per epoch instead of the plan's iterations.
TINY = {
    "network_def": {"_target_": "monai.networks.nets.DynUNet", "spatial_dims": 3, "in_channels": 4, "out_channels": 3,
                    "kernel_size": [3, 3, 3], "strides": [1, 2, 2], "upsample_kernel_size": [2, 2],
                    "filters": [4, 8, 16], "norm_name": "instance", "deep_supervision": True, "deep_supr_num": 1,
                    "res_block": False},
    "iterations_per_epoch": None,
    "patch_size": [32, 32, 32],
    "roi_size": [48, 48, 48],
    "batch_size": 2,
    "samples_per_case": 1,
    "val_interval": 1,
}


def pytest_configure(config):
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)


@pytest.fixture(scope="session", autouse=True)
def _user_config(tmp_path_factory):
    """Keep the tests' run-sealing key (``medseg.bundle.trust``) and preprocessing cache out of the real home."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDSEG_CONFIG", str(tmp_path_factory.mktemp("medseg_config")))
        patch.setenv("MEDSEG_CACHE", str(tmp_path_factory.mktemp("medseg_cache")))
        yield


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """Eight small phantoms (4 mm voxels) covering RAS, LPS, oblique and anisotropic grids."""
    from medseg.data.synthetic import write_demo_dataset

    root = tmp_path_factory.mktemp("phantoms")
    return write_demo_dataset(root, n_train=4, n_val=2, n_test=4, seed=1, spacing=4.0)


@pytest.fixture(scope="session")
def tiny_run(tiny_dataset, tmp_path_factory) -> Path:
    """A run directory trained for two epochs on the tiny phantoms through the Python API."""
    import medseg

    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    medseg.train("brain_tumor", data=tiny_dataset, output_dir=run_dir, epochs=2, device="cpu",
                 overrides=TINY, progress=False)
    return run_dir
