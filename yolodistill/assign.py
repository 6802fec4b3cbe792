"""Where the student's own detection loss puts its positives, for the distillation terms to use the same anchors.

Ultralytics' `v8DetectionLoss` runs a task-aligned assigner and keeps its result to itself. `Assignment` wraps that
assigner on the student's criterion (the one-to-many criterion of a YOLO26 `E2ELoss`) and records, per batch:
`fg` (positive anchors), `scores` (the assigner's target score per anchor, the weight of Ultralytics' box loss),
`norm` (the target score sum, the divisor of Ultralytics' class and box losses), `inside` (anchors whose centre lies
in a ground-truth box, the ring around the positives), and the detection loss's own targets (`targets`, `boxes`), which
the teacher-bounded gate (`kd_gate`) compares student and teacher against. With `teacher` set, it is label-assignment
distillation: the assigner is handed the teacher's predictions, scores and boxes, instead of the student's. It ranks
anchors by them, and its soft targets (align metric scaled to the best IoU per object) come from the teacher's boxes'
IoUs too, so they also set the student's class-loss targets, the box-loss weights and the divisor every term shares.
LAD (Nguyen et al. 2022) takes only the assignment from the teacher; the BCCD recipe study measured this form.

The wrapper lives on the training model's criterion. Ultralytics drops the criterion from every checkpoint it
writes, and builds a fresh one on resume (`ensure_assignment` wraps it again), so no checkpoint ever holds it. A copy
of the training model can: after a NaN, Ultralytics rebuilds its EMA from it, criterion and all, and validates with
that. So the teacher's predictions are set for one batch's loss only (`KDModel.loss` clears them after it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


def take(tree: Any, index: slice) -> Any:
    """The images `index` of a head output or batch: every tensor (and list of tensors) sliced on its batch dim."""
    if isinstance(tree, dict):
        return {k: take(v, index) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(take(v, index) for v in tree)
    return tree[index] if isinstance(tree, torch.Tensor) else tree


@dataclass
class Assigned:
    """One batch's assignment, anchors in the head's order: fg, inside (B, A) bool; scores (B, A); norm a scalar;
    targets (B, A, C), the class loss's target scores; boxes (B, A, 4), the box loss's targets (xyxy pixels);
    teacher, under LAD, the teacher's decoded predictions the assigner ranked by (the gate reuses them)."""

    fg: torch.Tensor
    scores: torch.Tensor
    norm: torch.Tensor
    inside: torch.Tensor
    targets: torch.Tensor | None = None
    boxes: torch.Tensor | None = None
    teacher: tuple[torch.Tensor, torch.Tensor] | None = None

    def first(self, n: int) -> Assigned:
        """The assignment of the batch's first `n` images (the labelled ones), its divisor theirs alone."""
        if n == len(self.fg):
            return self
        part = slice(0, n)
        scores = self.scores[part]
        return Assigned(fg=self.fg[part], scores=scores, norm=scores.sum().clamp(min=1), inside=self.inside[part],
                        targets=take(self.targets, part), boxes=take(self.boxes, part), teacher=take(self.teacher, part))


class Assignment:
    """Callable stand-in for a `TaskAlignedAssigner` that records its result (and can rank by the teacher: LAD).

    LAD: Nguyen et al., WACV 2022, "Improving Object Detection by Label Assignment Distillation".
    """

    def __init__(self, assigner: nn.Module):
        self.assigner = assigner
        self.teacher: tuple[torch.Tensor, torch.Tensor] | None = None  # (scores (B,A,C) in [0,1], boxes (B,A,4) px)
        self.last: Assigned | None = None

    def __getattr__(self, name):  # Ultralytics reads the assigner's settings (topk, ...) through the criterion
        if "assigner" not in self.__dict__:  # mid-copy
            raise AttributeError(name)
        return getattr(self.__dict__["assigner"], name)

    def __call__(self, pd_scores, pd_bboxes, anc_points, gt_labels, gt_bboxes, mask_gt, **extra):
        if self.teacher is not None:
            pd_scores, pd_bboxes = self.teacher[0].to(pd_scores.dtype), self.teacher[1].to(pd_bboxes.dtype)
        out = self.assigner(pd_scores, pd_bboxes, anc_points, gt_labels, gt_bboxes, mask_gt, **extra)
        target_boxes, target_scores, fg = out[1], out[2], out[3]
        inside = torch.zeros_like(fg)
        if gt_bboxes.shape[1]:
            inside = (self.assigner.select_candidates_in_gts(anc_points, gt_bboxes, mask_gt) & mask_gt.bool()).any(1)
        self.last = Assigned(fg=fg, scores=target_scores.sum(-1).float(), norm=target_scores.sum().float().clamp(min=1),
                             inside=inside, targets=target_scores.detach(), boxes=target_boxes.detach(),
                             teacher=self.teacher)
        return out


def branch_criterion(model: nn.Module, branch: str = "one2many"):
    """The detection criterion of a head branch: YOLO26's `E2ELoss` holds one per branch; other heads have one."""
    if getattr(model, "criterion", None) is None:
        model.criterion = model.init_criterion()
    criterion = model.criterion
    return getattr(criterion, branch, criterion)


def ensure_assignment(model: nn.Module, branch: str = "one2many") -> Assignment:
    """The recorder on a branch's assigner, wrapped now if the criterion is new (first batch, resume)."""
    criterion = branch_criterion(model, branch)
    if not isinstance(criterion.assigner, Assignment):
        criterion.assigner = Assignment(criterion.assigner)
    return criterion.assigner


def one2many_gain(model: nn.Module) -> float:
    """The weight Ultralytics gives the one-to-many detection loss now: YOLO26's `E2ELoss` moves it from 0.8 to 0.1
    over the run; 1 for single-branch heads. Only that branch reaches the backbone (one2one's input is detached)."""
    return float(getattr(getattr(model, "criterion", None), "o2m", 1.0))
