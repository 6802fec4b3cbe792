"""Neck-feature distillation losses, calibrated so that the same `kd_feat` means about the same pull for each.

The Detect head's inputs (P3-P5, `(B, C, H, W)`) go through a learned adapter per level (student width to teacher
width). Both sides are then standardised per channel over batch and space, as the references do (DAMO-YOLO and
mmrazor's RTMDet pass both through a non-affine BatchNorm, PP-YOLOE standardises per channel): raw neck activations
differ in scale by orders of magnitude between models and levels, and a loss on raw values measures that scale more
than any disagreement. On standardised features each loss below is O(1) per location, and its constant `CALIBRATION`
(measured on a yolo26s-to-n batch, `tests/test_features.py` keeps it honest) evens out the rest: at weight 1 every one
of them pulls on the student's neck with about the strength of the detection loss.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .losses import BoxKD, DenseClassKD, fold_classes

FEATURE_LOSSES = ("l2", "cwd", "mgd", "cross")


def standardize(f: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Per-channel standardisation over batch and space: a BatchNorm without affine parameters or running stats.

    Through `F.batch_norm`'s fused kernel, about twice as fast forward and backward as the same sums spelt out."""
    f = f.float()
    if f.numel() // f.shape[1] < 2:  # one value per channel: batch_norm refuses it, and it standardises to 0
        return f - f
    return F.batch_norm(f, None, None, training=True, eps=eps)


def adapter(c_in: int, c_out: int, feat_loss: str) -> nn.Module:
    """Trainable student-to-teacher adapter of one level: torch modules only, so checkpoints stay portable.

    `align` is Ultralytics' projector (1x1 conv, ReLU, 1x1 conv); MGD adds its generator (3x3 conv, ReLU, 3x3 conv).
    """
    parts = {"align": nn.Sequential(nn.Conv2d(c_in, c_out, 1), nn.ReLU(inplace=True), nn.Conv2d(c_out, c_out, 1))}
    if feat_loss == "mgd":
        parts["generator"] = nn.Sequential(
            nn.Conv2d(c_out, c_out, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(c_out, c_out, 3, padding=1)
        )
    return nn.ModuleDict(parts)


class ScoreWeightedL2(nn.Module):
    """Ultralytics' built-in feature loss (`DistillationModel.loss_sl2`) on standardised features.

    L = sum_{c,x} w_x * (f^s_cx - f^t_cx)^2 / (C * sum_x w_x),  w_x = teacher confidence at location x,

    here max_c sigmoid of the teacher's one-to-many logits (`FeatureKD`); Ultralytics takes max_c sigmoid of the mean
    of both YOLO26 branches' logits, one2one included, which the validated one-to-many predictions do not use.
    """

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        n, c = student.shape[:2]
        mse = (standardize(student) - standardize(teacher.detach())).pow(2).view(n, c, -1)
        w = weight.view(n, 1, -1)
        return (mse * w).sum() / (w.sum() * c).clamp_min(1e-6)


class ChannelWiseKD(nn.Module):
    """Channel-wise distillation (Shu et al., ICCV 2021, "Channel-wise Knowledge Distillation for Dense Prediction").

    Each standardised channel becomes a distribution over spatial locations, then they are matched:
    L = tau^2 / (N * C) * sum_{n,c} KL( softmax_x(f^t_nc / tau) || softmax_x(f^s_nc / tau) ).

    It asks the student to put its activation mass where the teacher does, channel by channel. `weight` is accepted
    for a common signature and not used.
    """

    def __init__(self, tau: float = 1.0):
        super().__init__()
        self.tau = tau

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        n, c = student.shape[:2]
        log_q = F.log_softmax(standardize(student).view(n, c, -1) / self.tau, dim=2)
        with torch.no_grad():
            log_p = F.log_softmax(standardize(teacher).view(n, c, -1) / self.tau, dim=2)
        return F.kl_div(log_q, log_p, reduction="sum", log_target=True) * self.tau**2 / (n * c)


class MaskedGenerativeKD(nn.Module):
    """Masked generative distillation (Yang et al., ECCV 2022, "Masked Generative Distillation").

    A random share `mask_ratio` of the student's (aligned) feature locations is zeroed, and a small generator G must
    rebuild the teacher's standardised feature map from what is left:
    L = mean_{n,c,x} ( G(f^s * M)_ncx - std(f^t)_ncx )^2,  M_x ~ Bernoulli(1 - mask_ratio).

    G is passed in, not owned: trainable parts live in the distiller's `projector`, so Ultralytics' EMA, NaN recovery
    and checkpoints cover them.
    """

    def __init__(self, mask_ratio: float = 0.65):
        super().__init__()
        self.mask_ratio = mask_ratio

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, generator: nn.Module) -> torch.Tensor:
        n, _, h, w = student.shape
        keep = (torch.rand(n, 1, h, w, device=student.device) >= self.mask_ratio).to(student.dtype)
        return F.mse_loss(generator(student * keep).float(), standardize(teacher.detach()))


class CrossHeadKD(nn.Module):
    """CrossKD (Wang et al., CVPR 2024, "CrossKD: Cross-Head Knowledge Distillation for Object Detection").

    The student's aligned neck features go through the teacher's frozen head H_t, and those cross-head predictions are
    matched to the teacher's own with the head losses:
    L = DenseClassKD(H_t^cls(A(f^s)), H_t^cls(f^t)) + BoxKD(H_t^box(A(f^s)), H_t^box(f^t)),
    normalised by the student's target score sum like the head terms.

    Why: the distillation gradient reaches the student's features only, while its own head learns from the ground
    truth alone. Both sides are in the teacher's output space, so any family of teacher works.

    Not the paper's exact form: it feeds the student's intermediate head features into the teacher head's later
    layers, without an adapter, and matches them with its own losses (a quality-focal class term; GIoU, or a
    distribution KL for DFL heads). Here the student's neck features go through an adapter A into the teacher's whole
    head, since a student and teacher of different widths (or families) share no head layer, and the head terms of
    `losses.py` are reused so that `kd_feat cross` is normalised as they are.
    """

    def __init__(self, reg_max: int, box_gain: float, dfl_gain: float, cls_gain: float, temperature: float = 2.0):
        super().__init__()
        self.cls = DenseClassKD()
        self.cls_gain = cls_gain
        self.box = BoxKD(reg_max, reg_max, box_gain, dfl_gain, temperature)

    def forward(self, cross: dict[str, torch.Tensor], teacher: dict[str, torch.Tensor], box_weight: torch.Tensor,
                norm: torch.Tensor) -> torch.Tensor:
        return (self.cls_gain * self.cls(cross["scores"], teacher["scores"], norm)
                + self.box(cross["boxes"], teacher["boxes"], box_weight, norm))


# Multiplier of each loss at kd_feat = 1, chosen so that its gradient on the student's neck features is about that of
# the detection loss (one2many branch) on a yolo26s -> yolo26n batch; cross is already normalised like the head terms.
CALIBRATION = {"l2": 1.0, "cwd": 2.5, "mgd": 400.0, "cross": 3.0}


class FeatureKD(nn.Module):
    """The chosen feature loss over the head's input levels, each student level through its adapter, times its
    calibration constant. Location weights (l2) are the teacher's confidence."""

    def __init__(self, feat_loss: str, teacher_reg_max: int, gains: dict[str, float], temperature: float,
                 cwd_tau: float, mgd_mask_ratio: float):
        super().__init__()
        self.name = feat_loss
        self.scale = CALIBRATION[feat_loss]
        self.loss = {
            "l2": lambda: ScoreWeightedL2(),
            "cwd": lambda: ChannelWiseKD(cwd_tau),
            "mgd": lambda: MaskedGenerativeKD(mgd_mask_ratio),
            "cross": lambda: CrossHeadKD(teacher_reg_max, gains["box"], gains["dfl"], gains["cls"], temperature),
        }[feat_loss]()

    def forward(self, projector: nn.ModuleList, student_feats: list[torch.Tensor], teacher: dict[str, Any],
                teacher_head: nn.Module | None, box_weight: torch.Tensor, norm: torch.Tensor) -> torch.Tensor:
        if self.name == "cross":
            dtype = next(teacher_head.parameters()).dtype  # the teacher may be held in the autocast dtype
            aligned = [parts["align"](fs.float()).to(dtype) for parts, fs in zip(projector, student_feats)]
            cross = teacher_head.forward_head(aligned, **teacher_head.one2many)
            if cross["scores"].shape[1] > teacher["scores"].shape[1]:  # a single_cls student: folded as the teacher's
                scores = cross["scores"].clone()
                scores[:, teacher.get("excluded") or []] = -1e4  # classes= left out: background before the fold
                cross["scores"] = fold_classes(scores)
            return self.scale * self.loss(cross, teacher, box_weight, norm)
        sizes = [f.shape[-2] * f.shape[-1] for f in teacher["feats"]]
        weights = ([None] * len(sizes) if self.name != "l2"  # only l2 weights locations
                   else teacher["scores"].detach().float().sigmoid().amax(1).split(sizes, dim=-1))
        total = 0.0
        for parts, fs, ft, w in zip(projector, student_feats, teacher["feats"], weights):
            aligned = parts["align"](fs.float())
            total = total + self.loss(aligned, ft, parts["generator"] if "generator" in parts else w)
        return self.scale * total
