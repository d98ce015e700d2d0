"""A MONAI Model Zoo bundle folder for tests: the zoo's real brats configs (tests/fixtures/zoo) plus weights
built here, with the network forced so each output channel is a known copy of one input channel."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch

FIXTURES = Path(__file__).parent / "fixtures" / "zoo"
FIXTURE = FIXTURES / "brats_mri_segmentation"
ZOO_INPUTS = ("T1c", "T1", "T2", "FLAIR")  # the zoo's input channel order (its metadata.json)
ZOO_OUTPUTS = ("TC", "WT", "ET")  # the zoo's output channel order
# Each zoo output channel copies one zoo input channel: TC <- T1c, WT <- T1, ET <- FLAIR (T2 feeds nothing).
ROUTES = {0: 0, 1: 1, 2: 3}


def zoo_folder(tmp_path: Path, network: dict | None = None) -> Path:
    """Copy the fixture into ``tmp_path/brats_mri_segmentation`` (``network``: network_def arguments to change)."""
    root = tmp_path / "brats_mri_segmentation"
    shutil.copytree(FIXTURE, root)
    if network:
        path = root / "configs" / "inference.json"
        config = json.loads(path.read_text())
        config["network_def"].update(network)
        path.write_text(json.dumps(config, indent=4))
    return root


def build_zoo_network(root: Path) -> torch.nn.Module:
    from medseg.bundle.zoo.configs import ZooConfig
    from medseg.bundle.zoo.translate import build_network, network_def

    return build_network(network_def(ZooConfig(root)))


def copying_weights(network: torch.nn.Module, routes: dict[int, int] = ROUTES, threshold: float = 2.0) -> dict:
    """SegResNet weights whose logit for output ``o`` is ``group_norm(input i) - threshold`` (``routes[o] = i``).

    Every convolution is zeroed, so each residual block is the identity and the deeper levels add
    nothing; the first convolution copies input ``i`` into feature ``2k`` (its own GroupNorm group),
    and the final 1x1 convolution reads that feature back into output ``o``.
    """
    state = {k: v.clone() for k, v in network.state_dict().items()}
    for value in state.values():
        if value.dim() > 1:
            value.zero_()
    centre = tuple(s // 2 for s in state["convInit.conv.weight"].shape[2:])
    for k, (out_channel, in_channel) in enumerate(sorted(routes.items())):
        state["convInit.conv.weight"][(2 * k, in_channel, *centre)] = 1.0
        state["conv_final.2.conv.weight"][(out_channel, 2 * k, 0, 0, 0)] = 1.0
    state["conv_final.2.conv.bias"][:] = -threshold
    return state


def write_zoo_weights(root: Path, routes: dict[int, int] = ROUTES) -> dict:
    network = build_zoo_network(root)
    state = copying_weights(network, routes)
    (root / "models").mkdir(exist_ok=True)
    torch.save(state, root / "models" / "model.pt")
    return state


CUBES = {"t1": (6, 14), "t1ce": (16, 24), "t2": (26, 34), "flair": (36, 44)}  # medseg modality -> x range


def write_cube_case(folder: Path, affine: np.ndarray) -> Path:
    """A 50x24x24 case: a head of 1s in every modality, and each modality bright (6) in its own cube."""
    import nibabel as nib

    folder.mkdir(parents=True, exist_ok=True)
    for modality, (start, stop) in CUBES.items():
        data = np.zeros((50, 24, 24), np.float32)
        data[3:47, 3:21, 3:21] = 1.0
        data[start:stop, 8:16, 8:16] = 6.0
        image = nib.Nifti1Image(data, affine)
        image.set_qform(affine, code=1)
        image.set_sform(affine, code=1)
        nib.save(image, folder / f"{folder.name}_{modality}.nii.gz")
    return folder


def expected_labels() -> np.ndarray:
    """What the routed network must give: t1ce's cube as TC (1), t1's as WT (2), flair's as ET (4), t2's none."""
    out = np.zeros((50, 24, 24), np.uint8)
    for modality, value in (("t1", 2), ("t1ce", 1), ("flair", 4)):
        start, stop = CUBES[modality]
        out[start:stop, 8:16, 8:16] = value
    return out
