"""The teacher-student wrapper: Ultralytics' `DistillationModel` with class-score, box and feature losses.

Subclassing `DistillationModel` keeps what Ultralytics' trainer already does for it: the teacher is frozen and left
out of the EMA, NaN recovery restores `student_model` and `projector`, `strip_optimizer` unwraps the final checkpoint
to a plain student, and DDP runs with `find_unused_parameters`. What changes is construction (no hooks: the Detect
head's training output already carries its input features) and the loss, which reads as a list of terms: each loss
lives in `losses.py` or `features.py`, where it acts in `assign.py`, how strong it is over time in `schedule.py`, and
`balance.py` sets its strength from gradients when asked.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from ultralytics.nn.distill_model import DistillationModel
from ultralytics.nn.modules.head import Detect
from ultralytics.nn.tasks import load_checkpoint
from ultralytics.utils.tal import dist2bbox, make_anchors
from ultralytics.utils.torch_utils import autocast, copy_attr

from .assign import Assigned, ensure_assignment, one2many_gain, take
from .balance import AutoBalance, BackboneCap, backbone_parameters, make_balance, neck_tensors
from .config import DistillConfig
from .features import FeatureKD, adapter
from .losses import BoxKD, DenseClassKD, box_weights, decode_distances, fold_classes, label_gates
from .unlabeled import pseudo_labels

KD_TERMS = ("kd_cls", "kd_box", "kd_feat")
UNLABELED_TERMS = ("kd_cls_u", "kd_box_u", "kd_feat_u")  # the same terms on the batch's unlabelled images


def detect_head(model: nn.Module) -> Detect:
    """The model's Detect head (its last layer in every Ultralytics detection yaml)."""
    head = model.model[-1]
    if not isinstance(head, Detect):
        raise TypeError(f"last layer is {type(head).__name__}, not a Detect head")
    return head


def neck_channels(model: nn.Module) -> list[int]:
    """Channels of each feature level the Detect head reads (P3, P4, P5)."""
    return [branch[0].conv.in_channels for branch in detect_head(model).cv2]


def head_branches(output: Any) -> dict[str, dict[str, Any]]:
    """Normalise a Detect output to {"one2many": {...}} plus "one2one" for YOLO26-style end-to-end heads.

    Training mode returns the raw dict; eval mode returns (decoded, raw dict).
    """
    raw = output[1] if isinstance(output, tuple) else output
    return raw if "one2many" in raw else {"one2many": raw}


def load_teacher(teacher: str | Path | nn.Module, ch: int) -> nn.Module:
    """Teacher as a module; a checkpoint path is loaded once here (and rebuilt for the student's input channels)."""
    if isinstance(teacher, nn.Module):
        return teacher
    model = load_checkpoint(teacher)[0]
    if model.yaml.get("channels", 3) != ch:
        rebuilt = type(model)(model.yaml.copy(), ch=ch, nc=model.yaml["nc"], verbose=False)
        rebuilt.load(model)
        model = rebuilt
    return model


def branch_predictions(branch: dict[str, Any], stride: torch.Tensor, reg_max: int) -> tuple[torch.Tensor, ...]:
    """A branch (the teacher's, or the student's detached) as the assigner reads predictions: scores (B, A, C) in
    [0, 1], xyxy boxes (B, A, 4) in pixels."""
    anchors, strides = make_anchors(branch["feats"], stride, 0.5)
    dist = decode_distances(branch["boxes"].detach(), reg_max).permute(0, 2, 1)
    return branch["scores"].detach().float().sigmoid().permute(0, 2, 1), dist2bbox(dist, anchors, xywh=False) * strides


class KDModel(DistillationModel):
    """Teacher-student pair whose loss adds class-score, box and neck-feature distillation to the detection loss.

    The terms act on the student's one-to-many branch (the one YOLO26 validates and exports with NMS, and the only one
    whose loss reaches the backbone); `kd_one2one` adds its one-to-one branch, taught from the teacher's.
    """

    def __init__(self, teacher_model: str | Path | nn.Module, student_model: nn.Module, settings: DistillConfig,
                 balance: dict[str, float] | None = None):
        nn.Module.__init__(self)  # not DistillationModel.__init__: it builds hooks and L2-only projectors we replace
        device = next(student_model.parameters()).device
        self.teacher_model = load_teacher(teacher_model, student_model.yaml.get("channels", 3)).to(device)
        self._freeze_teacher()
        self.student_model = student_model
        self.feats_idx, self.teacher_feats_idx = [], []  # no hooks (the base class pickling expects these fields)
        self._teacher_feats, self._student_feats, self._teacher_hooks, self._student_hooks = {}, {}, [], []
        copy_attr(self, student_model)
        self.settings = settings
        self.teacher_digest: str | None = None  # sha256 of the teacher's file, set by the trainer, checked on resume
        self.data_fingerprint: dict | None = None  # the images of its train and val splits (data.fingerprint), too
        self.kd_scale = 1.0  # the schedule's factor, set by the trainer each epoch (schedule.kd_factor)
        self.grad_scale = 1.0  # the trainer's fp16 loss scale, which the balance measures at (callbacks.mirror_loss_scale)
        s_ch, t_ch = neck_channels(student_model), neck_channels(self.teacher_model)
        self.projector = nn.ModuleList(adapter(s, t, settings.feat_loss) for s, t in zip(s_ch, t_ch)).to(device)
        self.s_reg_max = detect_head(student_model).reg_max
        self.t_reg_max = detect_head(self.teacher_model).reg_max
        from .recipe import gains as loss_gains  # here: recipe's check_pair imports this module

        gains = {k: float(v) for k, v in loss_gains(student_model.args).items()}
        self.cls_gain = gains["cls"]
        self.cls_kd = DenseClassKD()
        self.box_kd = BoxKD(self.s_reg_max, self.t_reg_max, gains["box"], gains["dfl"], settings.temperature)
        self.feat_kd = FeatureKD(settings.feat_loss, self.t_reg_max, gains, settings.temperature, settings.cwd_tau,
                                 settings.mgd_mask_ratio)
        self.weights = {k: float(getattr(settings, k)) for k in KD_TERMS}
        self.terms = KD_TERMS + (UNLABELED_TERMS if settings.unlabeled else ())
        # no term, nothing to balance: a cap would measure the backbone's gradient every batch, waiting for terms
        terms_on = any(self.weights.values())
        self.balance = make_balance(settings.kd_balance, self.weights, balance) if terms_on else None
        # the teacher runs for a loss term, for LAD, or to label unlabelled images (pseudo, both): with every weight
        # at 0 LAD still ranks the student's anchors by it, as distill.yaml's kd_assign: teacher says
        self.teacher_runs = (terms_on or settings.kd_assign == "teacher"
                             or (bool(settings.unlabeled) and settings.unlabeled_mode != "soft"))
        if not self.teacher_runs:  # a recipe of the teacher start alone: the teacher's work is done, free its memory
            self.teacher_model = None

    def loss(self, batch: dict, preds: Any = None):
        """Detection loss of the student with the weighted distillation terms appended (one column each).

        A batch's unlabelled images (`batch["unlabeled"]`, after the labelled ones) get distillation terms of their
        own and, unless `unlabeled_mode` asks for the teacher's pseudo-labels, no detection loss.
        """
        if not self.training or not self.teacher_runs:  # validation, or the teacher start alone: no teacher pass
            regular, items = self.student_model.loss(batch, preds)
            zeros = torch.zeros(len(self.terms), device=regular.device, dtype=regular.dtype)
            return torch.cat([regular, zeros]), {**items, **{k: torch.zeros((), device=regular.device) for k in self.terms}}
        img = batch["img"]
        teacher = self.teacher_pass(img)
        output = self.student_model(img)
        student = head_branches(output)
        n_u = int(batch["unlabeled"].sum()) if "unlabeled" in batch else 0
        labelled = slice(0, img.shape[0] - n_u)
        det_batch, det_output, det_teacher = self.detection_inputs(batch, output, teacher, labelled)
        assigned = self.assign(det_teacher)
        try:
            regular, items = self.student_model.loss(det_batch, det_output)  # records where the positives are
        finally:  # a copy of this model (the EMA Ultralytics rebuilds after a NaN) must not rank its batches by these
            for recorder in assigned.values():
                recorder.teacher = None
        with torch.autocast(img.device.type, enabled=False):  # distillation math in float32
            terms = self.distill_terms(take(student, labelled), take(teacher, labelled),
                                       {k: a.last.first(labelled.stop) for k, a in assigned.items()})
            if n_u:
                terms.update(self.unlabeled_terms(take(student, slice(labelled.stop, None)),
                                                  take(teacher, slice(labelled.stop, None))))
        if self.balance is not None and self.balance.due():  # once per training batch
            self.balance.update(regular.sum(), {k: v * labelled.stop for k, v in terms.items()  # the columns' scale
                                                if k in KD_TERMS and self.weights[k]},
                                backbone_parameters(self.student_model) if self.balance.on_backbone
                                else neck_tensors(self.student_model, student["one2many"]["feats"]),
                                scale=self.grad_scale)
        weighted = {k: terms.get(k, regular.new_zeros(())) * self.weights[k[:-2] if k.endswith("_u") else k]
                    * self.scale(k[:-2] if k.endswith("_u") else k) for k in self.terms}
        sizes = {k: n_u if k.endswith("_u") else labelled.stop for k in self.terms}
        stacked = torch.stack([weighted[k] * sizes[k] for k in self.terms]).to(regular.dtype)
        items.update({k: weighted[k].detach() for k in self.terms})
        return torch.cat([regular, stacked]), items

    def detection_inputs(self, batch: dict, output: Any, teacher: dict, labelled: slice) -> tuple[dict, Any, dict]:
        """What the student's detection loss sees: the labelled images alone, or (`unlabeled_mode` pseudo or both)
        every image, the unlabelled ones labelled with the teacher's detections."""
        n = batch["img"].shape[0]
        if labelled.stop == n:
            return batch, output, teacher
        if self.settings.unlabeled_mode == "soft":
            return {**batch, "img": batch["img"][labelled]}, take(output, labelled), take(teacher, labelled)
        unlabelled = take(teacher["one2many"], slice(labelled.stop, None))
        scores, boxes = branch_predictions(unlabelled, self.student_model.stride, self.t_reg_max)
        pseudo = pseudo_labels(scores, boxes, self.settings.unlabeled_conf, 0.7, labelled.stop,
                               tuple(batch["img"].shape[2:]))
        merged = {k: torch.cat([batch[k].to(pseudo[k].dtype), pseudo[k]]) for k in ("batch_idx", "cls", "bboxes")}
        return {**batch, **merged}, output, teacher

    def unlabeled_terms(self, student: dict[str, dict], teacher: dict[str, dict]) -> dict[str, torch.Tensor]:
        """The terms on unlabelled images (one-to-many branch), where no assigner has picked positives: the class
        term on every anchor; the box term where the teacher is confident (>= `unlabeled_conf`, weighted by that
        confidence); the feature term as on labelled images, since it needs no boxes (cross-head's box part is gated
        like the box term). Head terms are divided by the sum of those confidences. That is no count of objects,
        and it runs below the labelled terms' divisor (the assigner's target score sum): on BCCD batches with the
        trained teacher, 2.3 to 3.2 times below, so an unlabelled image's terms pull that much harder than a labelled
        one's at the same weight (the unlabelled records were made so). Pseudo mode alone trains on the teacher's
        detections through the detection loss instead."""
        cfg = self.settings
        zero = student["one2many"]["scores"].new_zeros(()).float()
        if cfg.unlabeled_mode == "pseudo":
            return dict.fromkeys(UNLABELED_TERMS, zero)
        s_b, t_b = student["one2many"], teacher["one2many"]
        confidence = t_b["scores"].detach().float().sigmoid().amax(1)
        w = confidence * (confidence >= cfg.unlabeled_conf)
        norm, gain = w.sum().clamp(min=1), one2many_gain(self.student_model)
        out = {"kd_cls_u": gain * self.cls_gain * self.cls_kd(s_b["scores"], t_b["scores"], norm) if cfg.kd_cls else zero,
               "kd_box_u": gain * self.box_kd(s_b["boxes"], t_b["boxes"], w, norm) if cfg.kd_box else zero,
               "kd_feat_u": zero}
        if cfg.kd_feat:
            head = detect_head(self.teacher_model) if cfg.feat_loss == "cross" else None
            out["kd_feat_u"] = gain * self.feat_kd(self.projector, s_b["feats"], t_b, head, w, norm)
        return out

    def scale(self, term: str) -> float:
        """The schedule's factor times the automatic balance's multiplier (1 with fixed weights)."""
        return self.kd_scale * (self.balance(term) if self.balance is not None else 1.0)

    def assign(self, teacher: dict[str, dict]) -> dict[str, Any]:
        """The recorders on the student's assigners, fed the teacher's predictions under LAD (`kd_assign: teacher`)."""
        out = {"one2many": ensure_assignment(self.student_model)}
        if self.settings.kd_one2one and "one2one" in teacher and hasattr(self.student_model.criterion, "one2one"):
            out["one2one"] = ensure_assignment(self.student_model, "one2one")
        for branch, recorder in out.items():
            recorder.teacher = (branch_predictions(teacher[branch], self.student_model.stride, self.t_reg_max)
                                if self.settings.kd_assign == "teacher" else None)
        return out

    def distill_terms(self, student: dict[str, dict], teacher: dict[str, dict],
                      assigned: dict[str, Assigned]) -> dict[str, torch.Tensor]:
        """Unweighted terms (kd_cls, kd_box, kd_feat) of one batch, before the batch-size factor.

        Each branch's terms carry the weight Ultralytics gives that branch's detection loss (YOLO26's o2m/o2o gains),
        so the ratio of distillation to detection gradient stays what the weights say through the whole run.
        """
        cfg, zero = self.settings, student["one2many"]["scores"].new_zeros(()).float()
        cls = box = feat = zero
        gains = {"one2many": one2many_gain(self.student_model)}
        gains["one2one"] = float(getattr(self.student_model.criterion, "o2o", 0.0))
        for branch, a in assigned.items():
            s_b, t_b = student[branch], teacher[branch]
            cls_gate = box_gate = None
            if cfg.kd_gate:  # no ring: off the positives no label says whether the teacher's box is better
                stride = self.student_model.stride  # under LAD the assigner has decoded the teacher's branch already
                t_pred = a.teacher if a.teacher is not None else branch_predictions(t_b, stride, self.t_reg_max)
                cls_gate, box_gate = label_gates(branch_predictions(s_b, stride, self.s_reg_max), t_pred, a.targets,
                                                 a.boxes, a.fg)
            if cfg.kd_cls:
                cls = cls + gains[branch] * self.cls_gain * self.cls_kd(s_b["scores"], t_b["scores"], a.norm, cls_gate)
            if cfg.kd_box or cfg.kd_feat:
                w = (a.scores * box_gate if box_gate is not None
                     else box_weights(a.scores, a.fg, a.inside, t_b["scores"], cfg.kd_box_ring))
            if cfg.kd_box:
                box = box + gains[branch] * self.box_kd(s_b["boxes"], t_b["boxes"], w, a.norm)
            if cfg.kd_feat and branch == "one2many":
                head = detect_head(self.teacher_model) if cfg.feat_loss == "cross" else None
                feat = gains[branch] * self.feat_kd(self.projector, s_b["feats"], t_b, head, w, a.norm)
        return {"kd_cls": cls, "kd_box": box, "kd_feat": feat}

    def fit_adapters(self, images: Iterable[torch.Tensor], lr: float = 1e-3,
                     amp: bool | torch.dtype = False) -> list[float]:
        """Train the feature adapters alone on `images`, the student frozen (FitNets' hint stage, Romero et al. 2015).

        Freshly initialised adapters are random projections: pulled through them from the first step, a trained
        student's neck is pushed towards whatever a random map makes of the teacher (on BCCD a 30-epoch fine-tune's
        first epoch fell from 0.41 to 0.23 mAP50-95). Fitted first, the adapters absorb the mapping between the two
        feature spaces, and the pull that remains is what the student's features lack: the first epoch kept 0.42, but
        the run ended no higher, so `kd_prefit` is off by default. The student runs in the mode its caller set (the
        trainer's: train, with BatchNorm of `freeze=` layers in eval); its parameters and BatchNorm statistics are
        left as they were. `amp`: what the trainer hands Ultralytics' `autocast` (False: off, True: half, or a dtype).
        Returns the feature loss of each step taken; a step whose loss is not finite is skipped, so one overflow cannot
        ruin the adapters before training.
        """
        student, losses = self.student_model, []
        state = {k: v.clone() for k, v in student.state_dict().items()}  # BatchNorm running stats move in train mode
        optimizer = torch.optim.Adam(self.projector.parameters(), lr=lr)
        for img in images:
            with autocast(amp, device=img.device.type):
                teacher = self.teacher_pass(img)["one2many"]
                with torch.no_grad():
                    feats = head_branches(student(img))["one2many"]["feats"]  # FeatureKD aligns them in float32
            loss = self.feat_kd(self.projector, feats, teacher, None, None, None)
            if not torch.isfinite(loss):
                continue
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        student.load_state_dict(state)
        return losses

    def teacher_pass(self, img: torch.Tensor) -> dict[str, dict[str, Any]]:
        """The teacher's head branches for `img`, without gradients, under the caller's autocast (the student's)."""
        self.match_teacher_precision(img)
        with torch.no_grad():
            branches = head_branches(self.teacher_model(img))
            excluded, fold = self.excluded_classes(), self.folds_classes()
            for branch in branches.values():
                if excluded:  # background to the student's labels, so to its targets too
                    branch["scores"][:, excluded] = -1e4
                if fold:
                    branch["scores"] = fold_classes(branch["scores"])
                    branch["excluded"] = excluded  # CrossKD folds its cross-head scores alike (features.py)
        return branches

    def folds_classes(self) -> bool:
        """Ultralytics' `single_cls=True` trains a one-class student on a dataset of several classes; a teacher of
        those classes is then read as one class (`fold_classes`)."""
        return detect_head(self.student_model).nc == 1 < detect_head(self.teacher_model).nc

    def excluded_classes(self) -> list[int]:
        """The classes Ultralytics' `classes=` leaves out of the labels (it trains the rest, the others as
        background); without it none. Read from the student's train args, which resume and DDP workers restore.
        Counted over the teacher's classes, which are the dataset's: under `single_cls` the student has one."""
        classes = getattr(getattr(self.student_model, "args", None), "classes", None)
        if classes is None:
            return []
        keep = {int(c) for c in ([classes] if isinstance(classes, (int, float)) else classes)}
        return [c for c in range(detect_head(self.teacher_model).nc) if c not in keep]

    def match_teacher_precision(self, img: torch.Tensor) -> None:
        """Under autocast, hold the frozen teacher in the autocast dtype (and channels-last on CUDA).

        Autocast caches its casts only for weights that require grad, so a float32 teacher would have every weight
        re-cast at every step. Halving it once removes that work; its outputs are upcast in `distill_terms`.
        """
        device = img.device.type
        if not torch.is_autocast_enabled(device):
            return
        dtype = torch.get_autocast_dtype(device)
        if next(self.teacher_model.parameters()).dtype != dtype:
            fmt = torch.channels_last if device == "cuda" else torch.preserve_format
            self.teacher_model.to(dtype=dtype, memory_format=fmt)

    def portable(self, balance: AutoBalance | BackboneCap | None = None) -> DistillationModel:
        """This pair as Ultralytics' own `DistillationModel` (student, adapters, settings as a plain dict).

        Checkpoints hold this object, so `YOLO("last.pt")` loads, validates and exports a mid-training checkpoint
        where yolodistill is not installed; resume reads the adapters, the `yolodistill` settings and the automatic
        balance's multipliers (`balance`: the training model's, which measured them) back from it.
        """
        m = DistillationModel.__new__(DistillationModel)
        nn.Module.__init__(m)
        m.teacher_model = None
        self.student_model.task = "detect"  # Ultralytics reads it on whichever module it ends up holding
        m.student_model = self.student_model
        m.projector = self.projector
        m.feats_idx, m.teacher_feats_idx = [], []
        m._teacher_feats, m._student_feats, m._teacher_hooks, m._student_hooks = {}, {}, [], []
        copy_attr(m, self.student_model)
        m.dis = 0.0
        m.yolodistill = self.settings.to_dict()
        m.yolodistill_teacher = getattr(self, "teacher_digest", None)
        m.yolodistill_data = getattr(self, "data_fingerprint", None)
        balance = balance or self.balance
        m.yolodistill_balance = balance.state() if balance is not None else None
        return m


class ProfiledPair(nn.Module):
    """What Ultralytics' AutoBatch (batch=-1) should measure for a KDModel: `KDModel(images)` runs the student alone,
    while every training step also runs the teacher, whose activations share the GPU with the student's."""

    def __init__(self, pair: KDModel):
        super().__init__()
        student = pair.student_model  # what AutoBatch and its profiler read of a model: input channels (yaml),
        self.pair, self.yaml, self.stride, self.names = pair, student.yaml, student.stride, student.names  # anchors,
        # and on a GPU the class count of the loss memory it adds

    def forward(self, x: torch.Tensor):
        if not self.pair.teacher_runs:  # the teacher start alone: the teacher was released, and never runs
            return self.pair.student_model(x)
        teacher = self.pair.teacher_pass(x)
        return self.pair.student_model(x), [branch["scores"] for branch in teacher.values()]

