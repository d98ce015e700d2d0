import torch

from medseg.bundle.find import find_bundle
from medseg.training.losses import DiceBCELoss, build_loss


def test_overlapping_schema_gets_per_channel_sigmoid_loss():
    assert isinstance(build_loss(find_bundle("brain_tumor").schema), DiceBCELoss)
    assert isinstance(build_loss(find_bundle("brain_tumor").schema, deep_supervision=True).loss, DiceBCELoss)


def test_overlapping_channels_do_not_compete():
    """The gradient on channel 0 must not depend on channel 1's logits (no softmax coupling)."""
    torch.manual_seed(0)
    loss = DiceBCELoss()
    target = (torch.rand(1, 2, 8, 8, 8) > 0.5).float()
    base = torch.randn(1, 2, 8, 8, 8)
    grads = []
    for other in (0.0, 5.0):
        logits = base.clone()
        logits[:, 1] += other
        logits.requires_grad_(True)
        loss(logits, target).backward()
        grads.append(logits.grad[:, 0].clone())
    torch.testing.assert_close(grads[0], grads[1])


def test_overlapping_loss_rewards_both_overlapping_structures():
    """A voxel inside two nested regions is pushed up in both channels."""
    loss = DiceBCELoss()
    target = torch.ones(1, 2, 4, 4, 4)
    logits = torch.zeros(1, 2, 4, 4, 4, requires_grad=True)
    loss(logits, target).backward()
    assert (logits.grad < 0).all()


def _road_schema():
    from medseg.labels import LabelSchema

    return LabelSchema.from_metadata({"medseg": {"mode": "exclusive", "background": False, "void": 255, "labels": [
        {"name": "sky", "value": 0, "color": [1, 1, 1]}, {"name": "road", "value": 1, "color": [2, 2, 2]}]}})


def test_void_schema_gets_the_masked_loss():
    from medseg.training.losses import MaskedDiceCELoss

    assert isinstance(build_loss(_road_schema()), MaskedDiceCELoss)


def test_void_pixels_take_no_part_in_either_term():
    """Whatever the network says on void pixels, the loss and its gradient there are unchanged (zero)."""
    torch.manual_seed(0)
    schema = _road_schema()
    label = torch.randint(0, 2, (1, 8, 8))
    label[0, :3] = 255  # three unannotated rows
    target = torch.from_numpy(schema.label_map_to_channels(label.numpy()))[None]
    loss = build_loss(schema)
    base = torch.randn(1, 2, 8, 8)
    values = []
    for noise in (0.0, 7.0):
        logits = base.clone()
        logits[:, :, :3] += noise * torch.randn(1, 2, 3, 8)
        logits.requires_grad_(True)
        value = loss(logits, target)
        value.backward()
        assert torch.all(logits.grad[:, :, :3] == 0)
        values.append(float(value))
    assert abs(values[0] - values[1]) < 1e-6


def test_masked_loss_matches_monai_dice_ce_without_void():
    """With every pixel annotated the masked loss is MONAI's DiceCELoss (softmax)."""
    from monai.losses import DiceCELoss

    from medseg.training.losses import MaskedDiceCELoss

    torch.manual_seed(1)
    logits = torch.randn(2, 3, 6, 6)
    target = torch.nn.functional.one_hot(torch.randint(0, 3, (2, 6, 6)), 3).movedim(-1, 1).float()
    expected = DiceCELoss(softmax=True, smooth_nr=1e-5, smooth_dr=1e-5)(logits, target)
    torch.testing.assert_close(MaskedDiceCELoss()(logits, target), expected)


def test_masked_loss_on_a_void_only_patch_is_zero_with_a_gradient():
    from medseg.training.losses import MaskedDiceCELoss

    logits = torch.randn(1, 2, 4, 4, requires_grad=True)
    value = MaskedDiceCELoss()(logits, torch.zeros(1, 2, 4, 4))
    value.backward()
    assert torch.isfinite(value) and logits.grad is not None
