"""The preprocessing cache: decoded once, keyed by file content stats and transform parameters."""

import os

import nibabel as nib
import numpy as np
from monai import transforms as mt

from medseg.data.cache import item_hash, make_dataset, transform_hash


class Counting(mt.Transform):
    """A deterministic transform that counts how often the chain really runs."""

    calls = 0

    def __call__(self, data):
        Counting.calls += 1
        return data


def _items(tmp_path, n=3):
    items = []
    for i in range(n):
        path = tmp_path / f"c{i}.nii.gz"
        nib.save(nib.Nifti1Image(np.full((6, 5, 4), float(i), np.float32), np.eye(4)), str(path))
        items.append({"image": str(path)})
    return items


def _chain(nonzero=False):
    return mt.Compose([mt.LoadImaged("image", ensure_channel_first=True, image_only=True), Counting(),
                       mt.NormalizeIntensityd("image", nonzero=nonzero), mt.RandFlipd("image", prob=0.5)])


def test_disk_cache_preprocesses_each_item_once_across_epochs_and_datasets(tmp_path):
    items = _items(tmp_path)
    Counting.calls = 0
    for _ in range(2):  # two epochs
        dataset = make_dataset(items, _chain(), "disk", tmp_path / "cache")
        for i in range(len(dataset)):
            assert dataset[i]["image"].shape == (1, 6, 5, 4)
    assert Counting.calls == len(items)
    assert len(list((tmp_path / "cache").glob("*.pt"))) == len(items)


def test_cache_misses_when_a_file_or_a_transform_parameter_changes(tmp_path):
    items = _items(tmp_path, n=1)
    assert transform_hash(_chain().transforms[:3]) == transform_hash(_chain().transforms[:3])
    assert transform_hash(_chain().transforms[:3]) != transform_hash(_chain(nonzero=True).transforms[:3])
    before = item_hash(items[0])
    nib.save(nib.Nifti1Image(np.ones((6, 5, 4), np.float32) * 7, np.eye(4)), items[0]["image"])
    os.utime(items[0]["image"], ns=(1, 1))
    assert item_hash(items[0]) != before
    Counting.calls = 0
    make_dataset(items, _chain(), "disk", tmp_path / "cache")[0]
    make_dataset(items, _chain(nonzero=True), "disk", tmp_path / "cache")[0]
    assert Counting.calls == 2


def test_no_cache_decodes_every_time(tmp_path):
    items = _items(tmp_path, n=2)
    Counting.calls = 0
    dataset = make_dataset(items, _chain(), "none")
    for _ in range(2):
        [dataset[i] for i in range(len(dataset))]
    assert Counting.calls == 4


def test_auto_keeps_small_data_in_memory_and_large_data_on_disk(tmp_path, monkeypatch):
    from monai.data import CacheDataset, PersistentDataset

    from medseg.data import cache

    items = _items(tmp_path)
    assert cache.decoded_bytes(items) == 2 * 3 * 4 * (6 * 5 * 4)  # float32 voxels, doubled for targets/indices
    assert isinstance(make_dataset(items, _chain(), "auto", tmp_path / "c"), CacheDataset)
    monkeypatch.setattr(cache, "MEMORY_SHARE", 0.0)
    assert isinstance(make_dataset(items, _chain(), "auto", tmp_path / "c"), PersistentDataset)


def test_cached_volumes_batch_through_loader_workers(tmp_path):
    """The foreground crop records its box in applied_operations only, so worker processes can collate."""
    from monai.data import DataLoader

    from medseg.transforms.volume import inference_transforms

    items = []
    for i in range(4):  # a bright block in a zero background, so the foreground crop has work to do
        volume = np.zeros((8, 7, 6), np.float32)
        volume[2:6, 1:5, 1 + i % 2:5] = np.random.default_rng(i).random((4, 4, 4 - i % 2)) + 1
        nib.save(nib.Nifti1Image(volume, np.eye(4)), str(tmp_path / f"v{i}.nii.gz"))
        items.append({"image": str(tmp_path / f"v{i}.nii.gz")})
    chain = mt.Compose([*inference_transforms(crop_margin=0).transforms, mt.SpatialPadd("image", (8, 7, 6))])
    loader = DataLoader(make_dataset(items, chain, "disk", tmp_path / "c"), batch_size=2, num_workers=1)
    batches = list(loader)
    assert len(batches) == 2 and batches[0]["image"].shape[0] == 2
    assert "foreground_start_coord" not in batches[0]
