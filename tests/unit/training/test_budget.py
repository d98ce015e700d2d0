"""``--time-limit`` as a budget to spend, on a fake clock: the learning rate follows the share of the budget
spent, the stop leaves room for the last validation and checkpoint, and the report says what it bought."""

import time

import pytest

from medseg.errors import InputError
from medseg.training.budget import BudgetReport, TimeBudget


class FakeClock:
    def __init__(self, start: float = 100.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _iterate(budget: TimeBudget, clock: FakeClock, seconds: float) -> None:
    budget.start_lap()
    clock.now += seconds
    budget.iteration_done()


def test_learning_rate_follows_the_share_of_the_budget_spent():
    clock = FakeClock()
    budget = TimeBudget(1.0, clock=clock, margin_s=0.0)  # 60 s
    assert budget.learning_rate_factor() == 1.0
    clock.now += 30
    assert budget.learning_rate_factor() == pytest.approx(0.5**0.9)
    clock.now += 29.9
    assert budget.learning_rate_factor() == pytest.approx((0.1 / 60) ** 0.9)
    clock.now += 5
    assert budget.learning_rate_factor() == 0.0  # spent: never negative


def test_the_decay_ends_where_training_must_end_not_at_the_limit():
    clock = FakeClock()
    budget = TimeBudget(1.0, clock=clock, margin_s=0.0)
    with budget.timing("validation"):
        clock.now += 10  # the last validation will need 10 s: training ends at 50 s
    assert budget.training_end() == pytest.approx(50.0)
    clock.now = 100 + 25
    assert budget.learning_rate_factor() == pytest.approx(0.5**0.9)


def test_stops_when_the_next_iteration_would_leave_no_room_for_validation_and_checkpoint():
    clock = FakeClock()
    budget = TimeBudget(1.0, clock=clock, margin_s=0.5)
    assert not budget.out_of_time()  # nothing is decided before an iteration has been timed
    with budget.timing("probe", cases=2):
        clock.now += 2.0  # one case of two: a validation is guessed at 2 x 2 x 1.25 = 5 s
    with budget.timing("checkpoint"):
        clock.now += 1.0
    assert budget.reserve() == pytest.approx(5.0 + 1.0 + 0.5)
    while not budget.out_of_time():
        _iterate(budget, clock, 4.0)
    # elapsed + one more iteration would pass 60 - 6.5: stop with room left for the end
    assert budget.elapsed() + 4.0 > 53.5 >= budget.elapsed()
    assert budget.out_of_time(upcoming_s=0.0) and not TimeBudget(None).out_of_time()


def test_a_measured_validation_replaces_the_guess_from_one_case():
    clock = FakeClock()
    budget = TimeBudget(10.0, clock=clock, margin_s=0.0)
    with budget.timing("probe", cases=4):
        clock.now += 3.0
    assert budget.validation_s == pytest.approx(15.0)
    with budget.timing("validation"):
        clock.now += 8.0
    assert budget.validation_s == pytest.approx(8.0)
    with budget.timing("probe", cases=4):  # a later probe does not undo a measurement
        clock.now += 3.0
    with budget.timing("validation"):  # and the slowest validation is what the end keeps room for
        clock.now += 6.0
    assert budget.validation_s == pytest.approx(8.0)


def test_a_resumed_budget_starts_from_what_was_spent():
    clock = FakeClock()
    budget = TimeBudget(2.0, clock=clock, spent_s=90.0, margin_s=0.0)
    assert budget.elapsed() == pytest.approx(90.0)
    assert budget.learning_rate_factor() == pytest.approx(0.25**0.9)


def test_the_clock_is_injectable_so_a_benchmark_can_budget_cpu_time():
    budget = TimeBudget(1.0, clock=time.process_time)
    start = budget.elapsed()
    time.sleep(0.2)  # sleeping costs no CPU time
    assert budget.elapsed() - start < 0.1


def test_epochs_allowed_at_the_measured_speed():
    clock = FakeClock()
    budget = TimeBudget(1.0, clock=clock, margin_s=0.0)
    assert budget.epochs_allowed(0, 10, 1) is None  # no speed measured yet
    for _ in range(10):
        _iterate(budget, clock, 1.0)  # epoch 1: 10 s
    with budget.timing("validation"):
        clock.now += 2.0
    # 58 - 12 = 46 s left before the last validation; an epoch costs 10 s + half a validation (1 s)
    assert budget.epochs_allowed(1, 10, 2) == 1 + int(46 // 11)


@pytest.mark.parametrize("minutes", [0, -1, float("nan"), float("inf")])
def test_a_budget_must_be_a_positive_number_of_minutes(minutes):
    with pytest.raises(InputError, match="positive number of minutes"):
        TimeBudget(minutes)


def test_no_limit_changes_nothing():
    budget = TimeBudget(None)
    _iterate(budget, FakeClock(), 1e9)
    assert budget.learning_rate_factor() == 1.0 and not budget.out_of_time() and not budget.limited
    assert budget.epochs_allowed(3, 10, 1) is None


def test_the_report_says_what_the_budget_bought():
    history = [{"epoch": 1, "iterations": 50, "train_loss": 0.9},
               {"epoch": 2, "iterations": 50, "train_loss": 0.5, "dice_mean": 0.71},
               {"epoch": 3, "iterations": 17, "train_loss": 0.4, "dice_mean": 0.69}]
    report = BudgetReport.from_history(3.0, 171.0, history, best_epoch=2)
    assert report.line() == ("time budget 3 min: used 2.9 min for 3 epochs (117 iterations); "
                             "best validation Dice 0.7100 at epoch 2")
    assert report.markdown().startswith("### Time budget") and "`--time-limit 3`" in report.markdown()
    no_validation = BudgetReport.from_history(3.0, 60.0, history[:1], best_epoch=1)
    assert no_validation.bought() == "1 epoch (50 iterations); no validation cases"
    final = BudgetReport.from_history(3.0, 171.0, history, best_epoch=3, kept="final")
    assert final.bought() == "3 epochs (117 iterations); final model: validation Dice 0.6900 at epoch 3"
