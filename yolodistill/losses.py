"""Head distillation losses: small modules, one idea each, in the style of torchdistill's `losses/`.

Shapes follow Ultralytics' Detect head in training mode: class logits `(B, C, A)` and box outputs `(B, 4 * reg_max, A)`
over the `A` anchor points of the stride-8/16/32 grid. Every loss computes in float32 (AMP-safe) and returns a scalar
divided by `norm`, the student's target score sum: the divisor of Ultralytics' own class and box losses, so that a
distillation weight of 1 pulls about as hard as the detection term it sits beside.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from ultralytics.utils.metrics import bbox_iou


def fold_classes(scores: torch.Tensor) -> torch.Tensor:
    """(B, nc, A) class logits as one class, for a `single_cls` student: the largest logit, the logit of the box's
    highest class probability (sigmoid is monotonic), as Ultralytics' NMS scores a box."""
    return scores.amax(1, keepdim=True)


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


class DenseClassKD(nn.Module):
    """Class-score distillation for sigmoid heads on every anchor, background included (BCKD: Yang et al., ICCV 2023,
    "Bridging Cross-task Protocol Inconsistency for Distillation in Dense Object Detection").

    L = sum_{a,c} BCE(s_ac, p_ac) * |p_ac - q_ac|^beta / N,   p = sigmoid(t), q = sigmoid(s),

    the modulating factor detached (a weight, as in focal loss), N the student's target score sum. Each class is its
    own binary question, as in the detector's own loss, so no softmax pushes background logits up. The gradient on a
    logit is (q - p) |q - p|^beta / N: zero where the student matches the teacher, and largest where they disagree
    most, so a student false positive on the teacher's background (q 0.9, p 0) gets almost the full pull of a
    detection-loss negative. No weighting by teacher confidence: that would silence exactly those anchors. `gate`
    (B, C, A) in {0, 1} multiplies the factor: the teacher-bounded form (`label_gates`).
    """

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = beta

    def forward(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor, norm: torch.Tensor,
                gate: torch.Tensor | None = None) -> torch.Tensor:
        s, t = student_logits.float(), teacher_logits.detach().float()
        p = t.sigmoid()
        factor = (p - s.detach().sigmoid()).abs().pow(self.beta)
        if gate is not None:  # (B, C, A): the teacher-bounded gate of `label_gates`
            factor = factor * gate
        return (F.binary_cross_entropy_with_logits(s, p, reduction="none") * factor).sum() / norm


def distance_boxes(dist: torch.Tensor) -> torch.Tensor:
    """(N, 4) ltrb distances from one anchor point to xyxy boxes around that point: IoU does not depend on where the
    point is, so student and teacher boxes at the same anchor compare directly."""
    return torch.cat([-dist[:, :2], dist[:, 2:]], dim=1)


class BoxIoUKD(nn.Module):
    """Box distillation by IoU where the boxes are: the student's box at each weighted anchor against the teacher's box
    at the same anchor (decoded distances, so it works for YOLO26's reg_max 1 and across head families).

    L = sum_a w_a * (1 - CIoU(b^s_a, b^t_a)) / N,

    w_a the assigner's target score on the student's positives (the weight of Ultralytics' box loss) plus the ring
    weight around them, N the target score sum: Ultralytics' box loss with the teacher's box as the target. CIoU as in
    Ultralytics' `BboxLoss`; PP-YOLOE's distiller uses GIoU on positives the same way. The teacher's distances are
    clamped at 0, so that its target is a box (YOLO26's raw distances can be negative); the student's are not, as in
    Ultralytics' box loss.
    """

    def forward(self, student_dist: torch.Tensor, teacher_dist: torch.Tensor, weight: torch.Tensor,
                norm: torch.Tensor) -> torch.Tensor:
        b, a = weight.nonzero(as_tuple=True)
        if not len(b):
            return student_dist.float().sum() * 0.0  # keeps the graph whole
        s = distance_boxes(student_dist.float()[b, :, a])
        t = distance_boxes(teacher_dist.detach().float()[b, :, a].clamp_min(0))
        iou = bbox_iou(s, t, xywh=False, CIoU=True).squeeze(-1)
        return ((1 - iou) * weight[b, a]).sum() / norm


class LocalizationKD(nn.Module):
    """Localization distillation (Zheng et al., CVPR 2022, "Localization Distillation for Dense Object Detection"):
    the KL between the teacher's and the student's DFL distributions of each box side, averaged over the four sides.

    L = sum_a w_a * (1/4) sum_side T^2 * KL( softmax(t_side,a / T) || softmax(s_side,a / T) ) / N,

    weights and N as in `BoxIoUKD`. Needs both heads to share reg_max > 1.
    """

    def __init__(self, reg_max: int, temperature: float = 2.0):
        super().__init__()
        self.reg_max = reg_max
        self.temperature = temperature

    def forward(self, student_boxes: torch.Tensor, teacher_boxes: torch.Tensor, weight: torch.Tensor,
                norm: torch.Tensor) -> torch.Tensor:
        b, a = weight.nonzero(as_tuple=True)
        if not len(b):
            return student_boxes.float().sum() * 0.0
        t_ = self.temperature
        s = student_boxes.float()[b, :, a].view(-1, 4, self.reg_max)
        t = teacher_boxes.detach().float()[b, :, a].view(-1, 4, self.reg_max)
        log_q, log_p = F.log_softmax(s / t_, dim=-1), F.log_softmax(t / t_, dim=-1)
        kl = (log_p.exp() * (log_p - log_q)).sum(-1).mean(-1) * t_**2
        return (kl * weight[b, a]).sum() / norm


class BoxKD(nn.Module):
    """The box loss a pair of heads allows, with Ultralytics' gains: `box` x CIoU always, plus `dfl` x LD where both
    heads share reg_max > 1 (the teacher's distribution then carries more than its expected distance)."""

    def __init__(self, student_reg_max: int, teacher_reg_max: int, box_gain: float, dfl_gain: float,
                 temperature: float = 2.0):
        super().__init__()
        self.reg_max = (student_reg_max, teacher_reg_max)
        self.gains = (box_gain, dfl_gain)
        self.iou = BoxIoUKD()
        self.ld = LocalizationKD(student_reg_max, temperature) if student_reg_max == teacher_reg_max > 1 else None

    def forward(self, student_boxes: torch.Tensor, teacher_boxes: torch.Tensor, weight: torch.Tensor,
                norm: torch.Tensor) -> torch.Tensor:
        s_dist, t_dist = (decode_distances(x, r) for x, r in zip((student_boxes, teacher_boxes), self.reg_max))
        loss = self.gains[0] * self.iou(s_dist, t_dist, weight, norm)
        if self.ld is not None:
            loss = loss + self.gains[1] * self.ld(student_boxes, teacher_boxes, weight, norm)
        return loss


def box_weights(scores: torch.Tensor, fg: torch.Tensor, inside: torch.Tensor, teacher_logits: torch.Tensor,
                ring: float) -> torch.Tensor:
    """Per-anchor box-KD weight (B, A): the assigner's target score on positives; on the ring (anchors inside a
    ground-truth box that the assigner did not pick) `ring` x the teacher's confidence there; 0 elsewhere.

    The sum is divided by the positives' target scores, as box_loss is: the ring's share grows with an object's area
    in anchors (imgsz squared), a few per cent of the positives' weight on BCCD at 192-320 px, about a third at 640 px
    (hunt of 2026-12-08, a 192 px teacher). The study chose `ring` at 192 px."""
    confidence = teacher_logits.detach().float().sigmoid().amax(1)
    return torch.where(fg, scores, torch.where(inside, ring * confidence, torch.zeros_like(scores)))


def label_gates(student: tuple[torch.Tensor, torch.Tensor], teacher: tuple[torch.Tensor, torch.Tensor],
                targets: torch.Tensor, boxes: torch.Tensor, fg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher-bounded gates, after the teacher-bounded regression loss of Chen et al. (NeurIPS 2017, "Learning
    Efficient Object Detection Models with Knowledge Distillation"): distill only where the labels say the teacher is
    closer to the truth than the student. The paper bounds regression only, with a margin m, and there the bound
    switches on a pull toward the ground truth, never toward the teacher; here both gates (class and box, no margin)
    switch on the pull toward the teacher.

    class (B, C, A): |p - y| < |q - y|, y the class loss's target score, p and q the teacher's and student's
    probabilities; box (B, A): the student's positives where IoU(teacher box, target) > IoU(student box, target).
    Where the class gate is open the pull toward the teacher points the way the label's does (q - p has the sign of
    q - y), so the class term never pulls a trained student away from its labels. The box gate is looser: a teacher
    box that overlaps the target more may still lie on the wrong side of it in one coordinate, so a step toward it
    can lower the student's IoU a little (104 of 2357 open cases in a random search of boxes). What the gates
    add is the teacher's softer target and its ranking of which anchors a detector can get right.
    `student`, `teacher`: (scores (B, A, C) in [0, 1], xyxy boxes (B, A, 4) in pixels), as
    `model.branch_predictions` decodes a branch.
    """
    (q, s_box), (p, t_box) = student, teacher
    cls = (p - targets).abs() < (q - targets).abs()
    iou_s, iou_t = (bbox_iou(b, boxes.float(), xywh=False).squeeze(-1) for b in (s_box.float(), t_box.float()))
    return cls.permute(0, 2, 1).float(), fg & (iou_t > iou_s)
