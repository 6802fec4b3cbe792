"""Feature losses: hand values on standardised features, blind to a channel's scale and shift, and calibrated so that
the same `kd_feat` pulls about as hard for every loss (the gradient share, measured on a real batch)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from ultralytics.nn.tasks import DetectionModel

from yolodistill.balance import gradient_share
from yolodistill.config import DistillConfig
from yolodistill.features import (CALIBRATION, ChannelWiseKD, FeatureKD, MaskedGenerativeKD, ScoreWeightedL2,
                                  standardize)
from yolodistill.model import KDModel
from yolodistill.start import select_weights

from .test_model import make_batch, make_student

LOG3 = math.log(3.0)


def test_standardize_is_per_channel():
    f = torch.randn(2, 3, 4, 4) * torch.tensor([1.0, 50.0, 0.5]).view(1, 3, 1, 1) + 7
    z = standardize(f)
    assert z.mean(dim=(0, 2, 3)).abs().max().item() < 1e-4
    assert z.var(dim=(0, 2, 3), unbiased=False).tolist() == pytest.approx([1.0] * 3, rel=1e-3)


def test_standardize_keeps_the_gradient_and_takes_one_value_per_channel():
    """The fused batch_norm must give the gradient of the formula spelt out; one value per channel, which batch_norm
    refuses (a 1-image batch at a 32-stride level of a 32 px image), standardises to 0."""
    f = (torch.randn(3, 4, 5, 5) * 3 + 1).requires_grad_()
    w = torch.randn(3, 4, 5, 5)
    (grad,) = torch.autograd.grad((standardize(f) * w).sum(), f)
    mean, var = f.mean(dim=(0, 2, 3), keepdim=True), f.var(dim=(0, 2, 3), keepdim=True, unbiased=False)
    (expected,) = torch.autograd.grad((((f - mean) / (var + 1e-5).sqrt()) * w).sum(), f)
    assert torch.allclose(grad, expected, atol=1e-5)
    assert standardize(torch.randn(1, 4, 1, 1)).abs().sum().item() == 0


def test_cwd_by_hand():
    # One channel, two locations. Student constant: standardised to 0, a uniform softmax. Teacher [3, -1]:
    # standardised [1, -1], softmax [e/(e+1/e), ...]. CWD = tau^2 KL(p || uniform) / (N C) = KL.
    s, t = torch.zeros(1, 1, 1, 2), torch.tensor([3.0, -1.0]).view(1, 1, 1, 2)
    p = [math.e / (math.e + 1 / math.e), (1 / math.e) / (math.e + 1 / math.e)]
    expected = sum(pi * math.log(pi / 0.5) for pi in p)
    assert ChannelWiseKD(1.0)(s, t).item() == pytest.approx(expected, rel=1e-4)


def test_cwd_by_hand_over_channels_and_temperature():
    # Two channels, both as above, tau 2: each channel's KL at tau, times tau^2, summed and divided by N C = 2.
    s, t = torch.zeros(1, 2, 1, 2), torch.tensor([3.0, -1.0] * 2).view(1, 2, 1, 2)
    p = softmax_pair(1 / 2)
    expected = 4 * sum(pi * math.log(pi / 0.5) for pi in p)
    assert ChannelWiseKD(2.0)(s, t).item() == pytest.approx(expected, rel=1e-4)


def test_cwd_divides_by_images_and_channels():
    # Two images, both as above (standardised over the batch: still [1, -1] each): the KL twice, over N C = 2.
    s, t = torch.zeros(2, 1, 1, 2), torch.tensor([3.0, -1.0] * 2).view(2, 1, 1, 2)
    p = softmax_pair(1.0)
    assert ChannelWiseKD(1.0)(s, t).item() == pytest.approx(sum(pi * math.log(pi / 0.5) for pi in p), rel=1e-4)


def softmax_pair(x: float) -> list[float]:
    """softmax([x, -x])."""
    return [math.exp(x) / (math.exp(x) + math.exp(-x)), math.exp(-x) / (math.exp(x) + math.exp(-x))]


def test_mgd_rebuilds_the_standardised_teacher():
    # No mask, an identity generator: MSE(student, standardised teacher) = mean((0 - [1, -1])^2) = 1.
    s, t = torch.zeros(1, 1, 1, 2), torch.tensor([3.0, -1.0]).view(1, 1, 1, 2)
    assert MaskedGenerativeKD(0.0)(s, t, nn.Identity()).item() == pytest.approx(1.0, rel=1e-4)


def test_mgd_masks_whole_locations_of_the_student():
    """ratio 1 hides every location of the student: the generator sees zeros, whatever the student; ratio 0 hides
    none; between, a location is hidden in every channel or in none (one mask over the channels)."""
    s, t = torch.tensor([2.0, 5.0]).view(1, 1, 1, 2), torch.tensor([3.0, -1.0]).view(1, 1, 1, 2)
    assert MaskedGenerativeKD(1.0)(s, t, nn.Identity()).item() == pytest.approx(1.0, rel=1e-4)
    assert MaskedGenerativeKD(0.0)(s, t, nn.Identity()).item() == pytest.approx(((2 - 1) ** 2 + (5 + 1) ** 2) / 2,
                                                                                rel=1e-4)
    seen = []
    torch.manual_seed(0)
    MaskedGenerativeKD(0.5)(torch.ones(2, 3, 8, 8), torch.randn(2, 3, 8, 8), lambda x: seen.append(x) or x)
    hidden = seen[0] == 0
    assert (hidden == hidden[:, :1]).all() and 0 < hidden.float().mean().item() < 1


def test_score_weighted_l2_divides_by_channels():
    # The channel above beside one where student and teacher agree: half the loss.
    s = torch.tensor([1.0, -1.0, 1.0, -1.0] * 2).view(1, 2, 1, 4)
    t = torch.tensor([1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0]).view(1, 2, 1, 4)
    assert ScoreWeightedL2()(s, t, torch.tensor([[0.0, 0.0, 1.0, 1.0]])).item() == pytest.approx(2.0, rel=1e-4)


def test_score_weighted_l2_by_hand():
    # One channel, four locations, both already standardised (mean 0, variance 1): student [1, -1, 1, -1], teacher
    # [1, -1, -1, 1]. They differ by 2 at the last two locations: L = sum w (2^2) / (C sum w).
    s = torch.tensor([1.0, -1.0, 1.0, -1.0]).view(1, 1, 1, 4)
    t = torch.tensor([1.0, -1.0, -1.0, 1.0]).view(1, 1, 1, 4)
    loss = ScoreWeightedL2()
    assert loss(s, t, torch.tensor([[1.0, 1.0, 0.0, 0.0]])).item() == pytest.approx(0.0, abs=1e-4)  # where they agree
    assert loss(s, t, torch.tensor([[0.0, 0.0, 1.0, 1.0]])).item() == pytest.approx(4.0, rel=1e-4)
    assert loss(s, t, torch.tensor([[1.0, 1.0, 1.0, 1.0]])).item() == pytest.approx(2.0, rel=1e-4)
    assert loss(s, t, torch.tensor([[0.0, 0.0, 0.0, 3.0]])).item() == pytest.approx(4.0, rel=1e-4)


@pytest.mark.parametrize("loss", [ScoreWeightedL2(), ChannelWiseKD(1.0)])
def test_feature_losses_ignore_a_channels_scale_and_shift(loss):
    """Raw neck activations differ in scale between models; standardised, only the pattern counts: a teacher that is
    the student times 40 plus 3, channel by channel, is a match."""
    s = torch.randn(2, 4, 5, 5)
    t = s * torch.tensor([40.0, 0.1, 2.0, 7.0]).view(1, 4, 1, 1) + 3
    w = torch.rand(2, 25)
    assert loss(s, t, w).item() == pytest.approx(0.0, abs=1e-5)
    assert loss(torch.randn(2, 4, 5, 5), t, w).item() > 0.05


def with_batch_statistics(model: nn.Module) -> nn.Module:
    """An untrained checkpoint's BatchNorms hold their initial running statistics, which shrink activations to 1e-9
    by P5; one pass in train mode over random images gives them a trained model's scale."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # a cumulative average: one pass sets them
    model.train()
    with torch.no_grad():
        model(torch.rand(8, 3, 96, 96))
    return model.eval()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_feature_loss_pulls_about_as_hard_at_weight_1(seed):
    """The gradient each feature loss at kd_feat 1 puts on the student's neck, over the detection loss's. Uncalibrated
    they differed 2000 times; on the trained BCCD teacher they are within 4.3 times (scripts/bench_feature_shares.py).
    On an untrained, seeded teacher: l2, cwd and mgd within 5 times; cross, through that teacher's head, of the
    detection loss's order."""
    torch.manual_seed(seed)
    teacher = with_batch_statistics(DetectionModel("yolo26s.yaml", nc=3, verbose=False))
    shares = {}
    for feat_loss in ("l2", "cwd", "mgd", "cross"):
        student = make_student()
        select_weights(teacher, student)
        torch.manual_seed(0)
        model = KDModel(teacher, student, DistillConfig(kd_feat=1.0, feat_loss=feat_loss)).train()
        shares[feat_loss] = gradient_share(model, make_batch(b=4, size=96))
    print("gradient share at kd_feat=1:", {k: round(v, 3) for k, v in shares.items()})
    standardised = [shares[k] for k in ("l2", "cwd", "mgd")]
    assert max(standardised) / min(standardised) < 5, shares
    assert all(0.05 < v < 20 for v in shares.values()), shares


class FixedHead(nn.Module):
    """A stand-in for the teacher's Detect head in CrossKD: returns the given cross-head predictions and records the
    features it was fed."""

    one2many: dict = {}

    def __init__(self, scores: torch.Tensor, boxes: torch.Tensor):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))  # FeatureKD reads the head's dtype from its parameters
        self.scores, self.boxes, self.fed = scores, boxes, None

    def forward_head(self, x: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        self.fed = x
        return {"scores": self.scores.clone(), "boxes": self.boxes.clone()}


def identity_projector(levels: int, generator: bool = False) -> nn.ModuleList:
    parts = {"align": nn.Identity(), **({"generator": nn.Identity()} if generator else {})}
    return nn.ModuleList(nn.ModuleDict(parts) for _ in range(levels))


GAINS = {"box": 2.0, "dfl": 1.0, "cls": 0.5}


def feature_kd(name: str) -> FeatureKD:
    return FeatureKD(name, teacher_reg_max=1, gains=GAINS, temperature=2.0, cwd_tau=2.0, mgd_mask_ratio=0.0)


def test_feature_kd_l2_weights_each_level_by_the_teachers_top_class_probability():
    """l2 over two levels: each location's weight is max_c sigmoid of the teacher's (one2many) class logits, the
    anchors split over the levels in order; CALIBRATION l2 = 1. Level 0 (4 locations, one channel, both sides already
    standardised): student (1, -1, 1, -1), teacher (1, -1, -1, 1), weights (0.75, 0.75, 0.75, 0.25): squared
    differences 4 at the last two, 4 (0.75 + 0.25) / 2.5 = 1.6. Level 1 (2 locations): student (1, -1), teacher
    (-1, 1), weights (0.5, 0.5): 4. A mean over classes would give other weights, raw logits a negative one."""
    s = [torch.tensor([1.0, -1.0, 1.0, -1.0]).view(1, 1, 2, 2), torch.tensor([1.0, -1.0]).view(1, 1, 1, 2)]
    t = [torch.tensor([1.0, -1.0, -1.0, 1.0]).view(1, 1, 2, 2), torch.tensor([-1.0, 1.0]).view(1, 1, 1, 2)]
    scores = torch.tensor([[[LOG3, -LOG3, LOG3, -LOG3, 0.0, 0.0],
                            [-LOG3, LOG3, -LOG3, -LOG3, -LOG3, -LOG3]]])
    teacher = {"feats": t, "scores": scores}
    loss = feature_kd("l2")(identity_projector(2), s, teacher, None, torch.zeros(1, 6), torch.tensor(1.0))
    assert loss.item() == pytest.approx(CALIBRATION["l2"] * (1.6 + 4.0), rel=1e-4)


def test_feature_kd_cwd_and_mgd_carry_their_calibration_and_settings():
    """cwd at kd_feat 1 is CALIBRATION cwd x CWD at the configured tau (2): one channel, the student constant
    (uniform), the teacher (3, -1) standardised to (1, -1): tau^2 KL(softmax(1/2, -1/2) || uniform). mgd is
    CALIBRATION mgd x the generator's MSE to the standardised teacher: with no mask and identity parts,
    mean((0 - (1, -1))^2) = 1."""
    s, t = [torch.zeros(1, 1, 1, 2)], [torch.tensor([3.0, -1.0]).view(1, 1, 1, 2)]
    teacher = {"feats": t, "scores": torch.zeros(1, 1, 2)}
    p = softmax_pair(0.5)
    cwd = feature_kd("cwd")(identity_projector(1), s, teacher, None, torch.zeros(1, 2), torch.tensor(1.0))
    assert cwd.item() == pytest.approx(CALIBRATION["cwd"] * 4 * sum(pi * math.log(pi / 0.5) for pi in p), rel=1e-4)
    mgd = feature_kd("mgd")(identity_projector(1, generator=True), s, teacher, None, torch.zeros(1, 2),
                            torch.tensor(1.0))
    assert mgd.item() == pytest.approx(CALIBRATION["mgd"] * 1.0, rel=1e-4)


def test_feature_kd_cross_by_hand_with_a_single_cls_fold():
    """cross = CALIBRATION cross x (cls gain x DenseClassKD + box gain x CIoU), through the teacher's head, here a
    stand-in. A single_cls student of a 3-class teacher head: the cross-head logits (0, 5, log 3) are folded to one
    class by their largest after the classes left out (class 1) are set to background: log 3, q = 0.75 against the
    teacher's p = 0.5: BCE = -(0.5 log 0.75 + 0.5 log 0.25), factor 0.25. Box: sides 1 against 2 at one anchor of
    weight 1, IoU 1/4. N = 2. Without a class left out, the fold takes 5."""
    head = FixedHead(torch.tensor([[[0.0], [5.0], [LOG3]]]), torch.ones(1, 4, 1))
    teacher = {"scores": torch.zeros(1, 1, 1), "boxes": torch.full((1, 4, 1), 2.0), "excluded": [1]}
    student = [torch.randn(1, 2, 1, 1)]
    loss = feature_kd("cross")(identity_projector(1), student, teacher, head, torch.ones(1, 1), torch.tensor(2.0))
    cls = -(0.5 * math.log(0.75) + 0.5 * math.log(0.25)) * 0.25
    assert loss.item() == pytest.approx(CALIBRATION["cross"] * (0.5 * cls + 2.0 * 0.75) / 2.0, rel=1e-5)
    assert torch.equal(head.fed[0], student[0])  # the student's aligned features are what the teacher head reads
    del teacher["excluded"]
    q = sigmoid(5.0)
    cls5 = -(0.5 * math.log(q) + 0.5 * math.log(1 - q)) * abs(q - 0.5)
    loss = feature_kd("cross")(identity_projector(1), student, teacher, head, torch.ones(1, 1), torch.tensor(2.0))
    assert loss.item() == pytest.approx(CALIBRATION["cross"] * (0.5 * cls5 + 2.0 * 0.75) / 2.0, rel=1e-5)


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))
