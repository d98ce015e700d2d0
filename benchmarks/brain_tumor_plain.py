"""The textbook plain-MONAI brain tumour recipe that ``brain_tumor_accuracy.py`` sets beside medseg.

DESIGN.md ("Real brain tumours, plain reference to beat"): a MONAI 3D UNet (16…256, 2 residual
units) on FLAIR alone → whole tumour, at 2 mm, random 64³ patches (half centred on tumour),
Dice + BCE, Adam with poly decay over the time budget, batch 2; Gaussian sliding window at test,
the mask brought back to the study's grid with ``Invertd``. One step is not textbook: a constant
non-zero background (BraTS 2015 as shipped z-scored, SOURCES.md §7) is set to 0 first, else
"non-zero" cropping and normalisation take the whole volume.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def _background_to_zero(image):
    """The corner value, when the eight corners share it and it is not 0, becomes 0 (SOURCES.md §7)."""
    from itertools import product

    channel = image[0]
    corners = {float(channel[index]) for index in product(*[(0, -1)] * 3)}
    if len(corners) == 1 and (value := corners.pop()) != 0 and float((channel == value).float().mean()) > 0.1:
        image[0][channel == value] = 0
    return image


def _transforms(train: bool):
    from monai import transforms as mt

    keys = ["image", "label"] if train else ["image"]
    chain = [
        mt.LoadImaged(keys, ensure_channel_first=True, image_only=True),
        mt.Lambdad("image", _background_to_zero),
        mt.Orientationd(keys, axcodes="RAS"),
        mt.Spacingd(keys, pixdim=(2.0, 2.0, 2.0), mode=("bilinear", "nearest")[: len(keys)]),
        mt.CropForegroundd(keys, source_key="image", margin=4, allow_smaller=True),
        mt.NormalizeIntensityd("image", nonzero=True, channel_wise=True),
        mt.EnsureTyped(keys, dtype="float32"),
    ]
    if train:
        chain += [
            mt.Lambdad("label", lambda label: (label > 0).float()),  # whole tumour = every tumour label
            mt.SpatialPadd(keys, spatial_size=(64, 64, 64)),
            mt.RandCropByPosNegLabeld(keys, "label", spatial_size=(64, 64, 64), pos=1, neg=1, num_samples=2),
            mt.RandFlipd(keys, prob=0.5, spatial_axis=0),
            mt.RandFlipd(keys, prob=0.5, spatial_axis=1),
            mt.RandFlipd(keys, prob=0.5, spatial_axis=2),
            mt.RandScaleIntensityd("image", factors=0.1, prob=0.5),
            mt.RandShiftIntensityd("image", offsets=0.1, prob=0.5),
        ]
    return mt.Compose(chain)


def network():
    from monai.networks.nets import UNet

    return UNet(3, 1, 1, channels=(16, 32, 64, 128, 256), strides=(2, 2, 2, 2), num_res_units=2)


def train(cases: list[dict], minutes: float, out: Path, seed: int = 0, clock=time.perf_counter) -> dict:
    """Train on ``[{"image": flair, "label": seg}]`` until the time budget ends (on ``clock``); returns a log."""
    import torch
    from monai.data import CacheDataset, DataLoader
    from monai.losses import DiceLoss
    from monai.utils import set_determinism

    set_determinism(seed)
    start = clock()
    dataset = CacheDataset(cases, _transforms(train=True), progress=False)
    loader = DataLoader(dataset, batch_size=2, shuffle=True, num_workers=0)
    net = network()
    dice, bce = DiceLoss(sigmoid=True), torch.nn.BCEWithLogitsLoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-5)
    budget = minutes * 60.0
    steps, epochs, losses = 0, 0, []
    while clock() - start < budget:
        net.train()
        for batch in loader:
            progress = min(1.0, (clock() - start) / budget)
            for group in optimizer.param_groups:  # poly decay over the wall-clock budget
                group["lr"] = 1e-3 * (1 - progress) ** 0.9
            image, label = batch["image"].as_tensor(), batch["label"].as_tensor()
            optimizer.zero_grad()
            logits = net(image)
            loss = dice(logits, label) + bce(logits, label)
            loss.backward()
            optimizer.step()
            losses.append(float(loss))
            steps += 1
            if clock() - start >= budget:
                break
        epochs += 1
    out.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), out / "plain_unet.pt")
    return {"steps": steps, "epochs": epochs, "train_minutes": (clock() - start) / 60.0,
            "last_loss": float(np.mean(losses[-10:])) if losses else float("nan")}


def predict_wt(flair: str, weights: Path) -> np.ndarray:
    """Whole-tumour mask of one study on the study's own grid."""
    import torch
    from monai.data import MetaTensor
    from monai.inferers import sliding_window_inference
    from monai.transforms import Invertd

    net = network()
    net.load_state_dict(torch.load(weights, weights_only=True))
    net.eval()
    chain = _transforms(train=False)
    data = chain({"image": flair})
    with torch.inference_mode():
        logits = sliding_window_inference(data["image"].as_tensor()[None], (64, 64, 64), 2, net, overlap=0.5,
                                          mode="gaussian")[0]
    data["pred"] = MetaTensor((torch.sigmoid(logits) > 0.5).float(), meta=dict(data["image"].meta))
    inverted = Invertd("pred", transform=chain, orig_keys="image", nearest_interp=True)(data)
    return np.asarray(inverted["pred"][0].cpu().numpy()) > 0.5
