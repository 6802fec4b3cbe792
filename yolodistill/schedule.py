"""How strong distillation is at each epoch: a warm-up, then a decay towards the end of training.

The published detector recipes put distillation early and take it away late (YOLOv6: cosine to 0.01; DAMO-YOLO:
cosine to 0.1; RTMDet: off for the last 20 of 300 epochs): late in a run the student should settle on the ground
truth, and a constant imitation term keeps pulling it towards a teacher it may already match. On top of this factor,
`KDModel` ties every term to the weight Ultralytics gives the detection loss that reaches the backbone (YOLO26's
one-to-many branch, 0.8 down to 0.1), so that weight's fall no longer grows the KD/detection gradient ratio on the
backbone (about eight-fold over a run before). What remains is the student's own drift (record
drift-bccd-train.json: level on the training batches, up 3.4 times on validation images); `kd_balance: cap`
bounds it by construction.
"""

from __future__ import annotations

import math

SCHEDULES = ("constant", "linear", "cosine")


def decay(schedule: str, progress: float, final: float) -> float:
    """The decay factor at `progress` in [0, 1] of training: 1 at the start, `final` at the end.

    constant: 1;  linear: 1 - (1 - final) x;  cosine: final + (1 - final) (1 + cos(pi x)) / 2.
    """
    x = min(max(progress, 0.0), 1.0)
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        return 1.0 - (1.0 - final) * x
    if schedule == "cosine":
        return final + (1.0 - final) * (1.0 + math.cos(math.pi * x)) / 2.0
    raise ValueError(f"unknown kd_schedule {schedule!r}: one of {', '.join(SCHEDULES)}")


def kd_factor(schedule: str, final: float, warmup: float, epoch: int, epochs: int) -> float:
    """Factor of every distillation weight at a 0-based `epoch` of `epochs`: the linear warm-up, from 1/(W+1) to 1
    over W epochs (at most epochs - 1: a warm-up as long as the run never reached the weights given, and a one-epoch
    run distilled at half of them), times the decay at the epoch's place in the run (by epoch, never by batch index
    within an epoch, so it cannot restart each epoch)."""
    warm = min(1.0, (epoch + 1) / (min(warmup, epochs - 1) + 1))
    return warm * decay(schedule, epoch / max(epochs - 1, 1), final)
