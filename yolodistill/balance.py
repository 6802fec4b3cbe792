"""`kd_balance: auto`: set each distillation term's strength from the gradients it makes, not from its raw value.

Loss values say little about pull: a feature loss on 256 channels and a class loss over 8400 anchors differ by orders
of magnitude in gradient at the same weight. Over the first `batches` training batches, `AutoBalance` measures, on the
student's neck outputs (the Detect head's inputs, through which every term reaches the backbone; with freeze= up to
them, those that still train, or the head's own weights), the gradient norm of the detection loss and of each term,
and sets

    m_k = sum over batches of ||grad L_det|| / sum over batches of ||grad L_k||   (clamped to [1e-3, 1e3]),

where both losses are the columns the trainer sums (Ultralytics' detection loss carries the batch size; the terms
are passed in at the same scale), so that a term at weight w pulls w times as hard as the detection loss did at the
start. The multipliers are then fixed (a running target would chase the detection loss as it shrinks) and travel with the checkpoint.

`kd_balance: epoch` measures again over the first `batches` of every epoch (`restart`, called by the trainer at each
epoch start) and holds each term's pull on the neck at w times the detection loss's through the run, on the batches
it measures: the student's own drift (a feature term whose adapters learn, a detection gradient that shrinks as the
student fits) cannot make that grow. The pull on the backbone, on other images, still drifts (scripts/bench_drift.py).
The previous epoch's multipliers apply while the new ones are measured.

`kd_balance: cap` keeps the weights as given and caps their sum's pull on the backbone itself (`BackboneCap`): on
the first `batches` training batches, then on every `every`-th, it measures the gradient norm on the backbone's
weights of the detection loss and of the weighted terms together, and scales every term by

    c = min(1, r_0 / r),   r = EMA(||grad sum_k w_k L_k||) / EMA(||grad L_det||),   r_0 = r over the first batches,

so the KD/detection ratio at the schedule's factor 1 cannot rise above where the run started (point 3 of the recipe:
the ratio never grows); the schedule's warm-up and decay act on top. It measures the weights, not the backbone's
outputs the neck reads, and the two can differ: in an early BCCD .pt fine-tune (not kept as a record) the ratio on
the outputs held through the first 7 epochs while on the weights it rose 1.8 times. Each measured batch costs two
more backward passes.

Under DDP every rank measures its own images; the norms are averaged over the ranks (`rank_mean`) before they are
used, so every rank scales its terms by the same numbers and a checkpoint's (rank 0's) are everyone's.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

MEASURED = {"auto": 10, "epoch": 5}  # batches measured: once at the start (auto), at every epoch start (epoch)
MODES = ("fixed", *MEASURED, "cap")
BOUNDS = (1e-3, 1e3)  # an auto multiplier's range: a term beyond it pulls less (or more) than its weight says


def gradient_norm(loss: torch.Tensor, tensors: list[torch.Tensor], scale: float = 1.0) -> float:
    """||d loss / d tensors|| without touching any .grad (the graph is kept for the real backward pass).

    `scale`: the trainer's fp16 loss scale. Under fp16 autocast the gradients flow through half-precision activations,
    where a small term's gradient underflows to 0 in an unscaled backward pass; the loss is scaled as Ultralytics
    scales its own before backward, and the norm divided back."""
    if not loss.requires_grad:
        return 0.0
    grads = torch.autograd.grad(loss * scale if scale != 1 else loss, tensors, retain_graph=True, allow_unused=True)
    return float(sum(g.float().pow(2).sum() for g in grads if g is not None) ** 0.5) / scale


def rank_mean(values: list[float], device: torch.device | str = "cpu") -> list[float]:
    """The mean of each value over the DDP ranks (every rank must call it, at the same batch); unchanged outside DDP."""
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return (t / dist.get_world_size()).tolist()


def gradient_share(model, batch: dict, term: str = "kd_feat") -> float:
    """One batch's `term` gradient norm on the student's neck features over the detection loss's per image (one2many
    branch, as the loss columns log it): how hard the term pulls, by the measure features.CALIBRATION was set on.
    `model` is a KDModel in train mode; its settings give the term's weight-1 form."""
    from .model import head_branches  # model.py imports this module

    teacher = model.teacher_pass(batch["img"])
    output = model.student_model(batch["img"])
    student = head_branches(output)
    assigned = model.assign(teacher)
    detection, _ = model.student_model.loss(batch, output)
    terms = model.distill_terms(student, teacher, {k: a.last for k, a in assigned.items()})
    feats = student["one2many"]["feats"]
    return gradient_norm(terms[term], feats) / gradient_norm(detection.sum() / batch["img"].shape[0], feats)


class AutoBalance:
    """Per-term multipliers from the gradient ratios of the first batches (see the module docstring)."""

    on_backbone = False  # measured on the neck's outputs (the Detect head's inputs)

    def __init__(self, terms: tuple[str, ...], batches: int = 10, multipliers: dict[str, Any] | None = None,
                 every_epoch: bool = False):  # multipliers: a checkpoint's state(), either form
        self.batches = batches
        self.every_epoch = every_epoch
        self.reference = 0.0  # summed gradient norm of the detection loss over the measured batches
        self.norms: dict[str, float] = {k: 0.0 for k in terms}  # the same for each term
        partial = multipliers if multipliers and "norms" in multipliers else None  # state() while auto measured
        self.multipliers = {} if partial else dict(multipliers or {})
        self.seen = batches if multipliers is not None else 0  # restored from a checkpoint: measured already
        if partial:  # a checkpoint of an epoch shorter than the measured batches: go on with its sums
            self.seen, self.reference = int(partial["seen"]), float(partial["reference"])
            self.norms.update({k: float(g) for k, g in partial["norms"].items() if k in self.norms})
            self.settle()

    def settle(self) -> None:
        """Each term's multiplier from the sums so far, within BOUNDS; a term without a gradient keeps its weight."""
        self.multipliers = {k: min(max(self.reference / g, BOUNDS[0]), BOUNDS[1])
                            for k, g in self.norms.items() if g > 0}

    def restart(self) -> None:
        """Measure anew over the next `batches` batches (kd_balance epoch, at an epoch start); the multipliers in
        force stay until the first of them is measured."""
        self.reference, self.norms, self.seen = 0.0, dict.fromkeys(self.norms, 0.0), 0

    @property
    def measuring(self) -> bool:
        return self.seen < self.batches

    def update(self, detection: torch.Tensor, terms: dict[str, torch.Tensor], feats: list[torch.Tensor],
               scale: float = 1.0) -> None:
        """Measure one batch: `detection` and `terms` are scalars still in the graph that produced `feats`; `scale`:
        the fp16 loss scale (`gradient_norm`)."""
        keys = list(terms)
        measured = [gradient_norm(detection, feats, scale), *(gradient_norm(terms[k], feats, scale) for k in keys)]
        reference, *norms = rank_mean(measured, detection.device)
        if not all(map(math.isfinite, (reference, *norms))) or reference <= 0:
            return  # a NaN step (Ultralytics recovers from those) or no labelled image: measure another batch
        self.reference += reference
        for key, g in zip(keys, norms):
            self.norms[key] += g
        self.seen += 1
        self.settle()

    def __call__(self, key: str) -> float:
        return self.multipliers.get(key, 1.0)

    def will_measure(self) -> bool:
        """Whether the coming batch is measured, asked before it (nothing counted)."""
        return self.measuring

    def due(self) -> bool:
        """Whether the coming batch is measured (called once per training batch)."""
        return self.will_measure()

    def at_bounds(self) -> list[str]:
        """The terms whose multiplier is held at a bound: their pull is not `weight` times the detection loss's."""
        return [k for k, m in self.multipliers.items() if m in BOUNDS]

    def state(self) -> dict[str, Any] | None:
        """What a checkpoint keeps for a resume: the multipliers, once measured (epoch: the ones in force); while auto
        measures, the sums so far, which a resume goes on from (they were dropped, and a resume of an epoch shorter
        than the measured batches measured others, from x1, as "its first N batches")."""
        if self.measuring and not self.every_epoch:
            return {"seen": self.seen, "reference": self.reference, "norms": dict(self.norms)} if self.seen else None
        return dict(self.multipliers) or None


class BackboneCap:
    """kd_balance cap: one factor on every term, min(1, r_0 / r) of the pull ratio on the backbone (module docstring)."""

    on_backbone = True
    every_epoch = False

    def __init__(self, weights: dict[str, float], batches: int = 5, every: int = 10, smoothing: float = 0.3,
                 state: dict[str, float] | None = None):
        self.weights, self.batches, self.every, self.smoothing = weights, batches, every, smoothing
        self.calls = 0  # training batches seen (due() calls)
        self.seen = 0  # batches measured
        self.reference_det = self.reference_kd = 0.0  # sums over the first `batches` measured
        self.det = self.kd = 0.0  # exponential moving averages of the two norms since
        self.factor = 1.0
        if state:
            for key, value in state.items():
                setattr(self, key, value)

    @property
    def measuring(self) -> bool:
        return self.seen < self.batches

    def will_measure(self) -> bool:
        """Whether the coming batch is measured, asked before it (nothing counted)."""
        return self.measuring or (self.calls + 1) % self.every == 0

    def due(self) -> bool:
        """Whether the coming batch is measured, counting it (called once per training batch)."""
        measured = self.will_measure()
        self.calls += 1
        return measured

    def update(self, detection: torch.Tensor, terms: dict[str, torch.Tensor], tensors: list[torch.Tensor],
               scale: float = 1.0) -> None:
        """Measure one batch: `terms` (unweighted, at the columns' scale) still in the graph that produced `tensors`;
        `scale`: the fp16 loss scale (`gradient_norm`)."""
        if not tensors:
            return  # every backbone layer frozen (freeze=): no pull there to hold
        pulled = sum(self.weights[k] * v for k, v in terms.items())
        measured = [gradient_norm(detection, tensors, scale), gradient_norm(pulled, tensors, scale) if terms else 0.0]
        det, kd = rank_mean(measured, detection.device)
        if not (math.isfinite(det) and math.isfinite(kd)) or det <= 0:
            return  # a NaN step or no labelled image: measure another batch
        if self.measuring and kd <= 0:  # no pull yet (a student at its teacher, kd_box on boxless images): a zero
            return  # reference would hold the terms at 0 for the rest of the run once they pull
        if self.measuring:  # the averages start from the reference's means
            self.reference_det, self.reference_kd = self.reference_det + det, self.reference_kd + kd
            self.det, self.kd = self.reference_det / (self.seen + 1), self.reference_kd / (self.seen + 1)
        else:
            self.det += self.smoothing * (det - self.det)
            self.kd += self.smoothing * (kd - self.kd)
        self.seen += 1
        ratio, reference = self.kd / self.det, self.reference_kd / self.reference_det
        self.factor = min(1.0, reference / ratio) if ratio > 0 else 1.0

    def __call__(self, key: str) -> float:
        return self.factor

    def state(self) -> dict[str, float] | None:
        keys = ("calls", "seen", "reference_det", "reference_kd", "det", "kd", "factor")
        return {k: getattr(self, k) for k in keys} if self.seen else None


def make_balance(mode: str, weights: dict[str, float], state: dict[str, float] | None = None):
    """The balance of a kd_balance mode over the terms whose weight is not 0 (None for fixed); `state` restores a
    checkpoint's (`state()`)."""
    if mode == "cap":
        return BackboneCap(weights, state=state)  # the caller's weights, not a copy
    if mode in MEASURED:
        return AutoBalance(tuple(k for k, w in weights.items() if w), multipliers=state, batches=MEASURED[mode],
                           every_epoch=mode == "epoch")
    return None


def neck_tensors(model: nn.Module, feats: list[torch.Tensor]) -> list[torch.Tensor]:
    """Where auto and epoch measure: the Detect head's inputs that carry a gradient, or, where freeze= stops all of
    them (the terms reach only the head), the head's trainable weights."""
    return [f for f in feats if f.requires_grad] or [p for p in model.model[-1].parameters() if p.requires_grad]


def backbone_parameters(model: nn.Module) -> list[torch.Tensor]:
    """The trainable weights of an Ultralytics model's backbone: the layers its yaml lists under `backbone`."""
    n = len(model.yaml["backbone"])
    return [p for layer in model.model[:n] for p in layer.parameters() if p.requires_grad]
