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
