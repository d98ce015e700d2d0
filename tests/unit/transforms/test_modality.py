"""Modality dropout blanks only supported subsets; missing sequences are filled in their own channel."""

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from medseg.transforms.modality import FillMissingChannelsd, RandModalityDropoutd

MODALITIES = ["t1", "t1ce", "t2", "flair"]


def _image(channels: int = 4) -> MetaTensor:
    values = torch.arange(1, channels + 1, dtype=torch.float32)[:, None, None, None] * torch.ones(channels, 4, 4, 4)
    return MetaTensor(values, affine=torch.eye(4))


def test_fill_puts_zero_channels_where_the_missing_sequences_belong():
    data = {"image": _image(2), "missing_channels": [0, 2]}  # the study has t1ce (1.0) and flair (2.0)
    out = FillMissingChannelsd("image")(data)
    assert "missing_channels" not in out  # batches collate as before
    assert out["image"].shape == (4, 4, 4, 4)
    assert [float(out["image"][c].mean()) for c in range(4)] == [0.0, 1.0, 0.0, 2.0]
    assert isinstance(out["image"], MetaTensor) and torch.equal(out["image"].affine, data["image"].affine)


def test_blanked_channels_reach_the_network_as_missing_ones_do():
    """A sequence the run leaves out (read, then blanked) looks exactly like the study without its file."""
    fill = FillMissingChannelsd("image")
    full = _image()
    blanked = fill({"image": full, "blank_channels": [0, 2]})
    assert "blank_channels" not in blanked
    study_without = fill({"image": _image()[[1, 3]], "missing_channels": [0, 2]})
    assert [float(blanked["image"][c].mean()) for c in range(4)] == [0.0, 2.0, 0.0, 4.0]
    assert torch.equal(blanked["image"].as_tensor(), study_without["image"].as_tensor())
    assert float(full[0].mean()) == 1.0  # the input is not changed in place
    both = fill({"image": _image(3), "missing_channels": [0], "blank_channels": [2]})  # t1 missing, t2 left out
    assert [float(both["image"][c].mean()) for c in range(4)] == [0.0, 1.0, 0.0, 3.0]


def test_fill_leaves_complete_studies_alone():
    image = _image()
    assert FillMissingChannelsd("image")({"image": image})["image"] is image


def test_dropout_keeps_a_supported_subset_and_draws_them_all():
    dropout = RandModalityDropoutd("image", MODALITIES, require_any=["t1ce", "flair"], prob=1.0)
    dropout.set_random_state(0)
    seen = set()
    for _ in range(300):
        image = dropout({"image": _image()})["image"]
        kept = tuple(c for c in range(4) if float(image[c].abs().sum()) > 0)
        assert {1, 3} & set(kept), kept  # T1ce or FLAIR always stays
        assert len(kept) < 4  # a dropout always drops something
        for c in kept:  # what is kept is untouched
            assert float(image[c].mean()) == c + 1
        seen.add(kept)
    # every proper subset that holds T1ce or FLAIR: 2^4 - 1 (full) - 4 (without both) = 11
    assert len(seen) == 11


def test_dropout_probability_and_input_untouched():
    never = RandModalityDropoutd("image", MODALITIES, require_any=["flair"], prob=0.0)
    image = _image()
    assert torch.equal(never({"image": image})["image"], image)
    always = RandModalityDropoutd("image", MODALITIES, require_any=["flair"], prob=1.0)
    always.set_random_state(1)
    before = image.clone()
    always({"image": image})
    assert torch.equal(image, before)  # the cached input is not modified in place


@pytest.mark.parametrize("prob", [0.3, 0.7])
def test_dropout_rate_follows_prob(prob):
    dropout = RandModalityDropoutd("image", MODALITIES, require_any=["t1ce", "flair"], prob=prob)
    dropout.set_random_state(2)
    dropped = [float(dropout({"image": _image()})["image"].abs().amin(dim=(1, 2, 3)).min()) == 0 for _ in range(400)]
    assert abs(np.mean(dropped) - prob) < 0.08


def test_dropout_among_present_sequences_draws_whole_subsets_the_study_can_make():
    """A FLAIR+T1ce study (T1, T2 missing: zero channels) is seen as FLAIR alone or T1ce alone, never
    with nothing dropped or with both dropped; a full study can be seen as any supported proper subset."""
    image = torch.zeros((4, 4, 4, 4))
    image[1], image[3] = 1.0, 2.0  # t1ce, flair
    dropout = RandModalityDropoutd("image", ["t1", "t1ce", "t2", "flair"], require_any=["t1ce", "flair"], prob=1.0,
                                   among="present")
    dropout.set_random_state(0)

    def kept_channels(volume: torch.Tensor) -> tuple[int, ...]:
        out = dropout({"image": volume.clone()})["image"]
        return tuple(c for c in range(4) if bool(out[c].any()))

    assert {kept_channels(image) for _ in range(40)} == {(1,), (3,)}
    seen = {kept_channels(torch.ones((4, 4, 4, 4))) for _ in range(400)}
    assert seen == set(dropout.subsets) and (0, 1, 2, 3) not in seen and len(seen) == 11
