"""Distillation losses: small modules, one idea each, in the style of torchdistill's `losses/`.

Shapes follow Ultralytics' Detect head in training mode: class logits `(B, C, A)` and box outputs `(B, 4 * reg_max, A)`
over the `A` anchor points of the stride-8/16/32 grid, neck features `(B, C, H, W)`. Every loss computes in float32
(AMP-safe) and returns a scalar. Anchor weights `w` of shape `(B, A)` come from `teacher_confidence`, so that the
thousands of background anchors do not drown the few that hold objects.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def teacher_confidence(teacher_logits: torch.Tensor) -> torch.Tensor:
    """Per-anchor weight w_a = max_c sigmoid(t_ac), shape (B, A); detached, it is a weight, not a target."""
    return teacher_logits.detach().float().sigmoid().amax(dim=1)


def weighted_mean(per_anchor: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """sum_a w_a * l_a / sum_a w_a, the normalisation every anchor loss here shares."""
    return (per_anchor * weight).sum() / weight.sum().clamp_min(1e-6)


def decode_distances(boxes: torch.Tensor, reg_max: int) -> torch.Tensor:
    """Box outputs to (B, 4, A) left/top/right/bottom distances in grid units, for either head family.

    DFL heads (reg_max > 1) give the expectation of the softmax over bins, as Ultralytics' `bbox_decode` does;
    YOLO26 heads (reg_max == 1) already give distances.
    """
    if reg_max <= 1:
        return boxes.float()
    b, _, a = boxes.shape
    prob = boxes.float().view(b, 4, reg_max, a).softmax(2)
    bins = torch.arange(reg_max, device=boxes.device, dtype=prob.dtype).view(1, 1, reg_max, 1)
    return (prob * bins).sum(2)


class BinaryScoreKL(nn.Module):
    """KL between the teacher's and the student's per-class Bernoulli scores, at temperature 1.

    l_a = sum_c [ BCE(s_ac, p_ac) - H(p_ac) ],  p = sigmoid(t).

    This is the soft-target BCE of sigmoid detectors with its floor, the teacher's entropy H(p), taken off, so it reads
    as a divergence (zero when the student matches the teacher). It stays at T = 1 on purpose: sigmoid(t / T) with
    T > 1 pulls every background logit towards 0.5 and teaches the student to fire everywhere.
    Returns per-anchor values (B, A).
    """

    def forward(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
        s, t = student_logits.float(), teacher_logits.detach().float()
        p = t.sigmoid()
        bce = F.binary_cross_entropy_with_logits(s, p, reduction="none")
        entropy = F.binary_cross_entropy_with_logits(t, p, reduction="none")
        return (bce - entropy).sum(1)


class ClassDistributionKL(nn.Module):
    """Hinton et al. (2015) KD over the class dimension at each anchor: which class, relative to the others.

    l_a = T^2 * KL( softmax(t_a / T) || softmax(s_a / T) ).

    The softmax makes the temperature sound here: it softens the ranking of classes without inflating any absolute
    score. Returns per-anchor values (B, A); zero for a single-class head.
    """

    def __init__(self, temperature: float = 2.0):
        super().__init__()
        self.temperature = temperature

    def forward(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
        t_ = self.temperature
        log_q = F.log_softmax(student_logits.float() / t_, dim=1)
        log_p = F.log_softmax(teacher_logits.detach().float() / t_, dim=1)
        return (log_p.exp() * (log_p - log_q)).sum(1) * t_**2


class ClassScoreKD(nn.Module):
    """Class-score (logit) distillation per anchor point, weighted by teacher confidence.

    L = sum_a w_a * (BinaryScoreKL_a + ClassDistributionKL_a) / sum_a w_a,  w_a = max_c sigmoid(t_ac).

    The Bernoulli term carries "is there an object of class c here" at T = 1; the softmax term carries the
    teacher's dark knowledge between classes at temperature T.
    """

    def __init__(self, temperature: float = 2.0):
        super().__init__()
        self.binary = BinaryScoreKL()
        self.distribution = ClassDistributionKL(temperature)

    def forward(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
        w = teacher_confidence(teacher_logits)
        per_anchor = self.binary(student_logits, teacher_logits) + self.distribution(student_logits, teacher_logits)
        return weighted_mean(per_anchor, w)


class DFLDistributionKD(nn.Module):
    """Localization distillation (Zheng et al., CVPR 2022, "Localization Distillation for Dense Object Detection").

    L = sum_a w_a * sum_side T^2 * KL( softmax(t_side,a / T) || softmax(s_side,a / T) ) / sum_a w_a

    over the reg_max bins of each box side's DFL distribution. Needs both heads to share reg_max > 1.
    """

    def __init__(self, reg_max: int, temperature: float = 2.0):
        super().__init__()
        self.reg_max = reg_max
        self.temperature = temperature

    def forward(self, student_boxes: torch.Tensor, teacher_boxes: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        b, _, a = student_boxes.shape
        t_ = self.temperature
        log_q = F.log_softmax(student_boxes.float().view(b, 4, self.reg_max, a) / t_, dim=2)
        log_p = F.log_softmax(teacher_boxes.detach().float().view(b, 4, self.reg_max, a) / t_, dim=2)
        per_anchor = (log_p.exp() * (log_p - log_q)).sum((1, 2)) * t_**2
        return weighted_mean(per_anchor, weight)


class BoxIoUKD(nn.Module):
    """Box distillation on decoded distances: 1 - IoU of the two boxes drawn around the same anchor point.

    With ltrb distances d = (l, t, r, b) from one shared anchor point, both boxes contain that point, so
    I = (min(l_s,l_t) + min(r_s,r_t)) * (min(t_s,t_t) + min(b_s,b_t)),  IoU = I / (area_s + area_t - I),
    L = sum_a w_a * (1 - IoU_a) / sum_a w_a.

    Scale-free and family-free: it works for YOLO26 (reg_max = 1) and between DFL and non-DFL heads, where a KL over
    bins does not exist (the DFL side is decoded to its expected distance first).
    """

    def forward(self, student_dist: torch.Tensor, teacher_dist: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        s, t = student_dist.float(), teacher_dist.detach().float().clamp_min(0)
        inter_w = (torch.minimum(s[:, 0], t[:, 0]) + torch.minimum(s[:, 2], t[:, 2])).clamp_min(0)
        inter_h = (torch.minimum(s[:, 1], t[:, 1]) + torch.minimum(s[:, 3], t[:, 3])).clamp_min(0)
        inter = inter_w * inter_h
        area_s = (s[:, 0] + s[:, 2]).clamp_min(0) * (s[:, 1] + s[:, 3]).clamp_min(0)
        area_t = (t[:, 0] + t[:, 2]) * (t[:, 1] + t[:, 3])
        iou = inter / (area_s + area_t - inter).clamp_min(1e-6)
        return weighted_mean(1 - iou, weight)


def box_kd(student_reg_max: int, teacher_reg_max: int, temperature: float = 2.0) -> nn.Module:
    """The box loss a pair of heads allows: DFL KL where both share reg_max > 1, decoded-box IoU otherwise."""
    if student_reg_max == teacher_reg_max > 1:
        return DFLDistributionKD(student_reg_max, temperature)
    return BoxIoUKD()


class ScoreWeightedL2(nn.Module):
    """Ultralytics' built-in feature loss (`DistillationModel.loss_sl2`): MSE weighted per location.

    L = sum_{c,x} w_x * (f^s_cx - f^t_cx)^2 / (C * sum_x w_x),  w_x = teacher confidence at location x.
    """

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        n, c = student.shape[:2]
        mse = (student.float() - teacher.detach().float()).pow(2).view(n, c, -1)
        w = weight.view(n, 1, -1)
        return (mse * w).sum() / (w.sum() * c).clamp_min(1e-6)


class ChannelWiseKD(nn.Module):
    """Channel-wise distillation (Shu et al., ICCV 2021, "Channel-wise Knowledge Distillation for Dense Prediction").

    Each channel is turned into a distribution over spatial locations, then matched:
    L = tau^2 / (N * C) * sum_{n,c} KL( softmax_x(f^t_nc / tau) || softmax_x(f^s_nc / tau) ).

    It asks the student to put its activation mass where the teacher does, channel by channel, and ignores scale.
    `weight` is accepted for a common signature and not used.
    """

    def __init__(self, tau: float = 1.0):
        super().__init__()
        self.tau = tau

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        n, c = student.shape[:2]
        log_q = F.log_softmax(student.float().view(n, c, -1) / self.tau, dim=2)
        log_p = F.log_softmax(teacher.detach().float().view(n, c, -1) / self.tau, dim=2)
        return (log_p.exp() * (log_p - log_q)).sum() * self.tau**2 / (n * c)


class MaskedGenerativeKD(nn.Module):
    """Masked generative distillation (Yang et al., ECCV 2022, "Masked Generative Distillation").

    A random share `mask_ratio` of the student's (aligned) feature locations is zeroed, and a small generator G must
    rebuild the teacher's full feature map from what is left:
    L = mean_{n,c,x} ( G(f^s * M)_ncx - f^t_ncx )^2,  M_x ~ Bernoulli(1 - mask_ratio).

    The paper sums and scales by alpha = 2e-5; the mean here keeps the weight comparable with the other feature
    losses. G is passed in, not owned: trainable parts live in the distiller's `projector` so that Ultralytics' EMA,
    NaN recovery and checkpoints cover them.
    """

    def __init__(self, mask_ratio: float = 0.65):
        super().__init__()
        self.mask_ratio = mask_ratio

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, generator: nn.Module) -> torch.Tensor:
        n, _, h, w = student.shape
        keep = (torch.rand(n, 1, h, w, device=student.device) >= self.mask_ratio).to(student.dtype)
        return F.mse_loss(generator(student * keep).float(), teacher.detach().float())


class CrossHeadKD(nn.Module):
    """CrossKD (Wang et al., CVPR 2024, "CrossKD: Cross-Head Knowledge Distillation for Object Detection").

    The student's (aligned) neck features go through the teacher's frozen head H_t, and those cross-head predictions
    are matched to the teacher's own:
    L = ClassScoreKD(H_t^cls(A(f^s)), H_t^cls(f^t)) + BoxKD(H_t^box(A(f^s)), H_t^box(f^t)).

    Why: mimicking the teacher with the student's own head pulls that head two ways at once (towards the ground
    truth the detection loss assigns, and towards the teacher's differently placed scores). Through the teacher's
    head, the distillation gradient reaches the student's features only, while its head learns from the ground
    truth alone. Both sides are in the teacher's output space, so any family of teacher works (DFL KL when the
    teacher's reg_max > 1, box IoU otherwise). Takes the two head outputs as {"boxes", "scores"} dicts.
    """

    def __init__(self, reg_max: int, temperature: float = 2.0):
        super().__init__()
        self.cls = ClassScoreKD(temperature)
        self.box = box_kd(reg_max, reg_max, temperature)  # the teacher's head on both sides; reg_max 1: distances

    def forward(self, cross: dict[str, torch.Tensor], teacher: dict[str, torch.Tensor]) -> torch.Tensor:
        w = teacher_confidence(teacher["scores"])
        return self.cls(cross["scores"], teacher["scores"]) + self.box(cross["boxes"], teacher["boxes"], w)


FEATURE_LOSSES = ("l2", "cwd", "mgd", "cross")
