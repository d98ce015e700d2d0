"""The epoch line shows what a time budget allows, not the bundle's epoch count, and what is left of it."""

from medseg.training.epoch_log import epoch_line, epoch_total

ROW = {"epoch": 3, "train_loss": 0.41234, "dice_mean": 0.78101, "seconds": 12.34}


def test_without_a_budget_the_line_counts_to_the_epochs():
    assert epoch_line(ROW, epoch_total(60, budgeted=False)) == "epoch 3/60: loss 0.4123, validation Dice 0.7810, 12.3 s"


def test_under_a_budget_the_line_counts_to_what_it_allows_and_says_what_is_left():
    assert epoch_total(100, budgeted=True) == "~?"  # before any iteration was timed
    line = epoch_line(ROW, epoch_total(100, budgeted=True, allowed=41), budget_left_s=1032.0)
    assert line == "epoch 3/~41: loss 0.4123, validation Dice 0.7810, 12.3 s, 17.2 min left"
