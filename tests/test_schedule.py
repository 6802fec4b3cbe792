"""The distillation schedule: warm-up, then a decay that ends at kd_final, by epoch."""

from __future__ import annotations

import math

import pytest

from yolodistill.config import DistillConfig
from yolodistill.schedule import decay, kd_factor


def test_decays_start_at_1_and_end_at_final():
    for schedule in ("linear", "cosine"):
        assert decay(schedule, 0.0, 0.1) == pytest.approx(1.0)
        assert decay(schedule, 1.0, 0.1) == pytest.approx(0.1)
    assert decay("cosine", 0.5, 0.1) == pytest.approx(0.55)  # halfway down a cosine
    assert decay("linear", 0.25, 0.2) == pytest.approx(0.8)
    assert decay("constant", 0.9, 0.1) == 1.0


def test_cosine_never_rises_over_a_run():
    factors = [kd_factor("cosine", 0.1, 0.0, e, 60) for e in range(60)]
    assert all(b <= a for a, b in zip(factors, factors[1:]))
    assert factors[0] == 1.0 and factors[-1] == pytest.approx(0.1)


def test_warmup_then_decay():
    # warm-up over 3 epochs: 1/4, 2/4, 3/4, then full; times a linear decay from 1 to 0 over 5 epochs
    assert [kd_factor("linear", 0.0, 3.0, e, 5) for e in range(5)] == pytest.approx(
        [0.25 * 1.0, 0.5 * 0.75, 0.75 * 0.5, 1.0 * 0.25, 0.0])
    cfg = DistillConfig(kd_warmup=3, kd_schedule="constant")
    assert [cfg.weight_scale(e, 10) for e in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    assert DistillConfig(kd_warmup=0, kd_schedule="cosine").weight_scale(0, 10) == 1.0
    assert math.isclose(kd_factor("cosine", 0.1, 0.0, 0, 1), 1.0)  # a one-epoch run: no division by zero


def test_a_warmup_as_long_as_the_run_still_reaches_the_weights_given():
    """--epochs 2 --kd-warmup 10 distilled at 1/11 and 2/11 of the weights, and a one-epoch run at the default
    recipe's warm-up (1) at half of them, while the help promised "all of it"."""
    assert [kd_factor("constant", 1.0, 10.0, e, 2) for e in range(2)] == pytest.approx([0.5, 1.0])
    assert kd_factor("constant", 1.0, 1.0, 0, 1) == 1.0
    assert [kd_factor("constant", 1.0, 3.0, e, 3) for e in range(3)] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert [kd_factor("constant", 1.0, 1.0, e, 3) for e in range(3)] == pytest.approx([0.5, 1.0, 1.0])  # as before


def test_decay_holds_its_end_values_outside_the_run():
    """Progress is clamped to [0, 1]: past the end a cosine would climb back up (0.55 at 1.5) and a linear decay to
    0 would turn negative (-1 at 2), flipping the sign of every distillation term; before the start it stays 1."""
    assert decay("cosine", 1.5, 0.1) == pytest.approx(0.1)
    assert decay("linear", 2.0, 0.0) == pytest.approx(0.0)
    assert decay("linear", -0.5, 0.2) == pytest.approx(1.0)  # unclamped: 1 + 0.8 * 0.5 = 1.4
    assert decay("cosine", -0.5, 0.1) == pytest.approx(1.0)  # unclamped: 0.1 + 0.9 * (1 + cos(-pi/2)) / 2 = 0.55


def test_an_unknown_schedule_is_an_error_not_a_constant():
    """A misspelt kd_schedule must fail loudly rather than silently train with no decay at all."""
    with pytest.raises(ValueError, match="cosine"):
        decay("cosin", 0.5, 0.1)
    with pytest.raises(ValueError, match="unknown kd_schedule"):
        kd_factor("step", 0.1, 0.0, 3, 10)


def test_a_fractional_warmup_ramps_from_1_over_w_plus_1():
    """kd_warmup is a float: W = 1.5 ramps 1/2.5, 2/2.5, then full (not the 1/2, 1 of a warm-up truncated to 1)."""
    assert [kd_factor("constant", 0.1, 1.5, e, 10) for e in range(3)] == pytest.approx([0.4, 0.8, 1.0])
