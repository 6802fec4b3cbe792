"""Each loss against values worked out by hand on tiny tensors, plus the pitfalls peers hit."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from yolodistill.losses import (
    BinaryScoreKL,
    BoxIoUKD,
    ChannelWiseKD,
    ClassDistributionKL,
    ClassScoreKD,
    CrossHeadKD,
    DFLDistributionKD,
    MaskedGenerativeKD,
    ScoreWeightedL2,
    decode_distances,
    teacher_confidence,
)

LOG3 = math.log(3.0)


def kl(p: list[float], q: list[float]) -> float:
    """KL(p || q) of two discrete distributions, by hand."""
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))


def softmax(x: list[float]) -> list[float]:
    e = [math.exp(v) for v in x]
    return [v / sum(e) for v in e]


def test_binary_score_kl_is_bernoulli_kl():
    # One anchor, one class: teacher p = sigmoid(log 3) = 0.75, student q = sigmoid(0) = 0.5.
    s, t = torch.zeros(1, 1, 1), torch.full((1, 1, 1), LOG3)
    expected = kl([0.75, 0.25], [0.5, 0.5])  # 0.1308...
    assert BinaryScoreKL()(s, t).item() == pytest.approx(expected, rel=1e-5)
    assert BinaryScoreKL()(t.clone(), t).item() == pytest.approx(0.0, abs=1e-6)


def test_class_distribution_kl_with_temperature():
    s, t = torch.zeros(1, 2, 1), torch.tensor([[[LOG3], [0.0]]])
    assert ClassDistributionKL(1.0)(s, t).item() == pytest.approx(kl([0.75, 0.25], [0.5, 0.5]), rel=1e-5)
    p2 = softmax([LOG3 / 2, 0.0])
    assert ClassDistributionKL(2.0)(s, t).item() == pytest.approx(4 * kl(p2, [0.5, 0.5]), rel=1e-5)


def test_class_score_kd_weights_anchors_by_teacher_confidence():
    # Two anchors, one class each: anchor 0 teacher p=0.75 vs student 0.5; anchor 1 teacher p=0.25 matched exactly.
    t = torch.tensor([[[LOG3, -LOG3]]])
    s = torch.tensor([[[0.0, -LOG3]]])
    w0, w1 = 0.75, 0.25
    expected = (w0 * kl([0.75, 0.25], [0.5, 0.5]) + w1 * 0.0) / (w0 + w1)
    assert ClassScoreKD(temperature=2.0)(s, t).item() == pytest.approx(expected, rel=1e-5)
    assert teacher_confidence(torch.tensor([[[0.0], [LOG3]]])).item() == pytest.approx(0.75)


@pytest.mark.parametrize("temperature", [1.0, 4.0, 10.0])
def test_temperature_does_not_inflate_background_scores(temperature):
    """A sigmoid target at T>1 (sigmoid(t/T)) would drag background logits from -6 towards -6/T.

    Trained on our loss alone, the student must converge to the teacher's own background level at every T.
    """
    torch.manual_seed(0)
    t = torch.full((2, 3, 50), -6.0)
    t[:, 0, :5] = 4.0  # a few confident anchors
    s = torch.zeros_like(t, requires_grad=True)
    opt = torch.optim.Adam([s], lr=0.1)
    loss_fn = ClassScoreKD(temperature)
    for _ in range(600):
        opt.zero_grad()
        loss_fn(s, t).backward()
        opt.step()
    background = s.detach()[:, 1:, :].sigmoid()
    assert background.max().item() < 0.01  # sigmoid(-6) = 0.0025; sigmoid(-6/4) would be 0.18
    # and the loss is stationary exactly at the teacher
    s_eq = t.clone().requires_grad_(True)
    loss_fn(s_eq, t).backward()
    assert s_eq.grad.abs().max().item() < 1e-6


def test_dfl_distribution_kd_by_hand():
    # reg_max = 2: each side has bins [0, 1]; teacher logits [log 3, 0], student uniform.
    t = torch.tensor([LOG3, 0.0] * 4).view(1, 8, 1)
    s = torch.zeros(1, 8, 1)
    w = torch.ones(1, 1)
    expected = 4 * kl([0.75, 0.25], [0.5, 0.5])
    assert DFLDistributionKD(reg_max=2, temperature=1.0)(s, t, w).item() == pytest.approx(expected, rel=1e-5)
    assert DFLDistributionKD(reg_max=2, temperature=1.0)(t.clone(), t, w).item() == pytest.approx(0.0, abs=1e-6)


def test_decode_distances_both_families():
    dfl = torch.tensor([0.0, LOG3] * 4).view(1, 8, 1)  # bins [0, 1] with p = [0.25, 0.75]: expectation 0.75
    assert decode_distances(dfl, reg_max=2).flatten().tolist() == pytest.approx([0.75] * 4)
    raw = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 4, 1)
    assert torch.equal(decode_distances(raw, reg_max=1), raw)


def test_box_iou_kd_by_hand():
    # Anchor 0: student box 2x2, teacher box 4x4 around the same point -> IoU 4/16; anchor 1 identical boxes.
    s = torch.tensor([[[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]])
    t = torch.full((1, 4, 2), 2.0)
    w = torch.tensor([[1.0, 3.0]])
    assert BoxIoUKD()(s, t, w).item() == pytest.approx((0.75 * 1 + 0.0 * 3) / 4, rel=1e-5)


def test_score_weighted_l2_matches_ultralytics_builtin():
    from ultralytics.nn.distill_model import DistillationModel

    torch.manual_seed(0)
    s, t = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    w = torch.rand(2, 9)
    ours = ScoreWeightedL2()(s, t, w)
    builtin = DistillationModel.loss_sl2(None, s, t, feat_idx=0, teacher_scores=(w.view(2, 1, 9),))
    assert ours.item() == pytest.approx(builtin.item(), rel=1e-5)
    # by hand: a unit error on the weighted location only
    s2, t2 = torch.zeros(1, 2, 1, 2), torch.zeros(1, 2, 1, 2)
    s2[..., 0], s2[..., 1] = 1.0, 3.0
    assert ScoreWeightedL2()(s2, t2, torch.tensor([[1.0, 0.0]])).item() == pytest.approx(1.0)


def test_channel_wise_kd_by_hand():
    t = torch.tensor([LOG3, 0.0]).view(1, 1, 1, 2)
    s = torch.zeros(1, 1, 1, 2)
    assert ChannelWiseKD(tau=1.0)(s, t).item() == pytest.approx(kl([0.75, 0.25], [0.5, 0.5]), rel=1e-5)
    p2 = softmax([LOG3 / 2, 0.0])
    assert ChannelWiseKD(tau=2.0)(s, t).item() == pytest.approx(4 * kl(p2, [0.5, 0.5]), rel=1e-5)
    # scale-free: multiplying both maps' logits identically changes nothing when they match
    assert ChannelWiseKD()(t * 5, t * 5).item() == pytest.approx(0.0, abs=1e-6)


def test_masked_generative_kd():
    identity = nn.Identity()
    s, t = torch.ones(1, 2, 4, 4), torch.zeros(1, 2, 4, 4)
    assert MaskedGenerativeKD(mask_ratio=0.0)(s, t, identity).item() == pytest.approx(1.0)
    # With an identity generator and s == t == 1, the loss is the masked share of locations.
    torch.manual_seed(0)
    big = torch.ones(4, 2, 64, 64)
    assert MaskedGenerativeKD(mask_ratio=0.65)(big, big, identity).item() == pytest.approx(0.65, abs=0.02)


def test_losses_compute_in_float32_and_stay_finite_with_extreme_logits():
    s = torch.full((1, 3, 8), -80.0, dtype=torch.bfloat16, requires_grad=True)
    t = torch.full((1, 3, 8), 80.0, dtype=torch.bfloat16)
    out = ClassScoreKD(4.0)(s, t)
    assert out.dtype == torch.float32 and torch.isfinite(out)
    out.backward()
    assert torch.isfinite(s.grad.float()).all()


def test_cross_head_kd_is_class_plus_box_kd_in_the_teachers_output_space():
    torch.manual_seed(0)
    teacher = {"scores": torch.randn(2, 3, 5), "boxes": torch.rand(2, 4, 5) * 4 + 0.5}  # YOLO26: ltrb distances
    cross = {"scores": torch.randn(2, 3, 5), "boxes": torch.rand(2, 4, 5) * 4 + 0.5}
    kd = CrossHeadKD(reg_max=1, temperature=2.0)
    assert isinstance(kd.box, BoxIoUKD)
    w = teacher_confidence(teacher["scores"])
    expected = ClassScoreKD(2.0)(cross["scores"], teacher["scores"]) + BoxIoUKD()(cross["boxes"], teacher["boxes"], w)
    assert kd(cross, teacher).item() == pytest.approx(expected.item(), rel=1e-6) and expected.item() > 0
    assert kd(teacher, teacher).item() == pytest.approx(0.0, abs=1e-5)  # the teacher's own features: nothing to learn
    dfl = CrossHeadKD(reg_max=16)  # a YOLO11/v8 teacher: its head speaks in DFL bins
    assert isinstance(dfl.box, DFLDistributionKD) and dfl.box.reg_max == 16
    bins = {"scores": teacher["scores"], "boxes": torch.randn(2, 64, 5)}
    assert dfl(bins, bins).item() == pytest.approx(0.0, abs=1e-5)
