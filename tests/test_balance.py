"""kd_balance auto and epoch, their parts on values worked out by hand: the gradient norm they measure, and the
multipliers set from those norms (clamped, a bad batch skipped, measured anew at each epoch)."""

from __future__ import annotations

import math

import pytest
import torch

from yolodistill.balance import AutoBalance, gradient_norm


def test_gradient_norm_by_hand_and_leaves_grad_alone():
    x = torch.ones(4, requires_grad=True)
    y = torch.ones(2, requires_grad=True)
    loss = (3 * x).sum() + (4 * y).sum()  # d/dx = 3 on 4 values, d/dy = 4 on 2: sqrt(4 * 9 + 2 * 16)
    assert gradient_norm(loss, [x, y]) == pytest.approx(math.sqrt(68))
    assert gradient_norm(loss, [x]) == pytest.approx(6.0)
    assert x.grad is None  # the trainer's backward pass is still to come, on the same graph
    loss.backward()
    assert x.grad.tolist() == [3.0] * 4
    assert gradient_norm(torch.tensor(2.0), [x]) == 0.0  # a constant term pulls on nothing


def pulls(x: torch.Tensor, detection: float, **terms: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Losses linear in x, whose gradient norms on x (one value) are the numbers given."""
    return detection * x.sum(), {k: v * x.sum() for k, v in terms.items()}


def test_multipliers_are_summed_ratios_clamped_and_skip_a_bad_batch():
    x = torch.ones(1, requires_grad=True)
    balance = AutoBalance(("kd_cls", "kd_box", "kd_feat"), batches=2)
    balance.update(*pulls(x, 2.0, kd_cls=1.0, kd_box=1e-5, kd_feat=0.0), [x])
    assert balance.measuring and balance.seen == 1
    balance.update(*pulls(x, float("nan"), kd_cls=1.0, kd_box=1.0, kd_feat=1.0), [x])  # a NaN step: not counted
    balance.update(*pulls(x, 0.0, kd_cls=1.0, kd_box=1.0, kd_feat=1.0), [x])  # no labelled image: not counted
    assert balance.seen == 1
    balance.update(*pulls(x, 4.0, kd_cls=2.0, kd_box=1e-5, kd_feat=0.0), [x])
    assert not balance.measuring
    assert balance("kd_cls") == pytest.approx(6.0 / 3.0)  # sums over batches, then the ratio: (2 + 4) / (1 + 2)
    assert balance("kd_box") == 1e3  # 6 / 2e-5, clamped
    assert balance("kd_feat") == 1.0  # no gradient at all: left at its weight
    restored = AutoBalance(("kd_cls",), multipliers={"kd_cls": 0.5})
    assert not restored.measuring and restored("kd_cls") == 0.5  # from a checkpoint: not measured again


def test_restart_measures_anew_and_keeps_the_multipliers_in_force_until_then():
    """kd_balance epoch: each epoch's multipliers come from that epoch's batches alone, and the previous ones hold
    while none of the new batches has been measured."""
    x = torch.ones(1, requires_grad=True)
    balance = AutoBalance(("kd_cls",), batches=2, every_epoch=True)
    for _ in range(2):
        balance.update(*pulls(x, 4.0, kd_cls=1.0), [x])
    assert not balance.measuring and balance("kd_cls") == 4.0
    balance.restart()
    assert balance.measuring and balance("kd_cls") == 4.0
    balance.update(*pulls(x, 1.0, kd_cls=2.0), [x])  # the detection gradient fell: the old sums would say 5 / 3
    assert balance("kd_cls") == 0.5
    balance.update(*pulls(x, 2.0, kd_cls=2.0), [x])
    assert not balance.measuring and balance("kd_cls") == pytest.approx(3.0 / 4.0)
