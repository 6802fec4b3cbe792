"""The teacher-student wrapper: Ultralytics' `DistillationModel` with class-score, box and feature losses.

Subclassing `DistillationModel` keeps what Ultralytics' trainer already does for it: the teacher is frozen and left
out of the EMA, NaN recovery restores `student_model` and `projector`, `strip_optimizer` unwraps the final checkpoint
to a plain student, and DDP runs with `find_unused_parameters`. What changes is construction (no hooks: the Detect
head's training output already carries its input features) and the loss.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from ultralytics.nn.distill_model import DistillationModel
from ultralytics.nn.modules.block import Attention
from ultralytics.nn.modules.head import Detect
from ultralytics.nn.tasks import load_checkpoint
from ultralytics.utils.torch_utils import copy_attr

from .config import DistillConfig
from .losses import (
    ChannelWiseKD,
    ClassScoreKD,
    CrossHeadKD,
    DFLDistributionKD,
    MaskedGenerativeKD,
    ScoreWeightedL2,
    box_kd,
    decode_distances,
    teacher_confidence,
)

KD_TERMS = ("kd_cls", "kd_box", "kd_feat")


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


def evenly_spaced(
    tensor: torch.Tensor, shape: torch.Size, chosen: dict[int, torch.Tensor] | None = None
) -> torch.Tensor:
    """The sub-tensor of `shape` that keeps indices floor(i * T / S) along every dimension where T > S, or the
    indices `chosen` gives for a dimension."""
    out = tensor
    for dim, (t, s) in enumerate(zip(tensor.shape, shape)):
        index = (chosen or {}).get(dim)
        if index is None and t != s:
            index = torch.arange(s) * t // s
        if index is not None:
            out = out.index_select(dim, index.to(tensor.device))
    return out


def ancestors(name: str) -> list[str]:
    """'model.2.m.0.cv1' -> ['model', 'model.2', 'model.2.m', 'model.2.m.0', 'model.2.m.0.cv1']."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def head_channels(teacher: Attention, student: Attention) -> dict[str, dict[int, torch.Tensor]]:
    """Whole heads for an attention block: its channels are laid out head by head (qkv as [q, k, v] per head, v
    and the output as one block per head), so every other channel would mix q with k and one head with the next.
    Takes evenly spaced teacher heads whole where the heads have the same size (across the yolo26 scales only
    their number changes); {} otherwise, leaving plain evenly spaced channels."""
    same_heads = (teacher.head_dim, teacher.key_dim) == (student.head_dim, student.key_dim)
    if not same_heads or teacher.num_heads < student.num_heads:
        return {}
    heads = torch.arange(student.num_heads) * teacher.num_heads // student.num_heads
    qkv, v = 2 * student.key_dim + student.head_dim, student.head_dim
    qkv_index = torch.cat([torch.arange(h * qkv, (h + 1) * qkv) for h in heads.tolist()])
    v_index = torch.cat([torch.arange(h * v, (h + 1) * v) for h in heads.tolist()])
    chosen = {"qkv.conv.weight": {0: qkv_index}, "pe.conv.weight": {0: v_index}, "proj.conv.weight": {1: v_index}}
    for conv, index in (("qkv", qkv_index), ("pe", v_index)):
        for stat in ("weight", "bias", "running_mean", "running_var"):
            chosen[f"{conv}.bn.{stat}"] = {0: index}
    return chosen


def select_weights(teacher: nn.Module, student: nn.Module) -> tuple[int, int]:
    """Weight selection (Xu et al., ICLR 2024, "Initializing Models with Larger Ones"): start the student from the
    teacher by taking evenly spaced elements of each teacher tensor along every dimension where it is wider.

    W_s[i, j, ...] = W_t[floor(i * T_0 / S_0), floor(j * T_1 / S_1), ...]

    Why: a nano student trained from scratch spends its first epochs finding what the teacher already knows; the same
    family at another width has the same layers, so the teacher's weights, thinned evenly, are a far better start than
    random ones. Where every width shrinks by one ratio (yolo26s to yolo26n: one half), the same indices on both
    sides of each layer keep channels consistent through Concat and split; attention blocks take whole heads
    (`head_channels`). Other ratios (m, l, x teachers cap their widths differently) give a rougher start. Works
    layer by layer: a top-level layer is selected only when every tensor in it has a teacher counterpart in a module
    of the same class, at least as wide; other layers (a C3k2 with C3k blocks in a yolo26m teacher against Bottlenecks
    in a yolo26n student, say) keep their random start. Returns (layers selected, layers in the student).
    """
    t_state, t_modules, s_modules = teacher.state_dict(), dict(teacher.named_modules()), dict(student.named_modules())
    chosen = {f"{name}.{key}": index for name, module in s_modules.items() if isinstance(module, Attention)
              and isinstance(t_modules.get(name), Attention)
              for key, index in head_channels(t_modules[name], module).items()}
    layers: dict[str, dict[str, torch.Tensor] | None] = {}  # model.<i> -> its selected tensors, None if one misfits
    for key, value in student.state_dict().items():
        layer, owner = ".".join(key.split(".")[:2]), key.rsplit(".", 1)[0]
        if layers.get(layer, {}) is None:
            continue
        source = t_state.get(key)
        if (
            source is not None
            and all(type(t_modules.get(m)) is type(s_modules[m]) for m in ancestors(owner))
            and source.ndim == value.ndim
            and all(t >= s for t, s in zip(source.shape, value.shape))
        ):
            layers.setdefault(layer, {})[key] = evenly_spaced(source, value.shape, chosen.get(key)).to(value.dtype)
        else:
            layers[layer] = None
    kept = [tensors for tensors in layers.values() if tensors]
    student.load_state_dict({k: v for tensors in kept for k, v in tensors.items()}, strict=False)
    return len(kept), len(layers)


class KDModel(DistillationModel):
    """Teacher-student pair whose loss adds class-score, box and neck-feature distillation to the detection loss.

    Pairs of head branches: the student's one2many learns from the teacher's one2many (or its only branch); on
    YOLO26 pairs the one2one branches are distilled too. A YOLO26 one2one branch is not taught from a dense teacher
    branch of another family, whose many-boxes-per-object targets would fight the one-to-one assignment.
    """

    def __init__(self, teacher_model: str | Path | nn.Module, student_model: nn.Module, settings: DistillConfig):
        nn.Module.__init__(self)  # not DistillationModel.__init__: it builds hooks and L2-only projectors we replace
        device = next(student_model.parameters()).device
        self.teacher_model = load_teacher(teacher_model, student_model.yaml.get("channels", 3)).to(device)
        self._freeze_teacher()
        self.student_model = student_model
        self.feats_idx, self.teacher_feats_idx = [], []  # no hooks (the base class pickling expects these fields)
        self._teacher_feats, self._student_feats, self._teacher_hooks, self._student_hooks = {}, {}, [], []
        copy_attr(self, student_model)
        self.settings = settings
        self.kd_scale = 1.0  # warm-up factor, set by the trainer each epoch
        s_ch, t_ch = neck_channels(student_model), neck_channels(self.teacher_model)
        self.projector = nn.ModuleList(adapter(s, t, settings.feat_loss) for s, t in zip(s_ch, t_ch)).to(device)
        self.s_reg_max = detect_head(student_model).reg_max
        self.t_reg_max = detect_head(self.teacher_model).reg_max
        self.cls_kd = ClassScoreKD(settings.temperature)
        self.box_kd = box_kd(self.s_reg_max, self.t_reg_max, settings.temperature)
        self.feat_kd = {
            "l2": ScoreWeightedL2(),
            "cwd": ChannelWiseKD(settings.cwd_tau),
            "mgd": MaskedGenerativeKD(settings.mgd_mask_ratio),
            "cross": CrossHeadKD(self.t_reg_max, settings.temperature),
        }[settings.feat_loss]
        self.losses_on = any(getattr(settings, k) for k in KD_TERMS)
        if not self.losses_on:  # a recipe of the teacher start alone: the teacher's work is done, free its memory
            self.teacher_model = None

    def loss(self, batch: dict, preds: Any = None):
        """Detection loss of the student with the weighted distillation terms appended (one column each)."""
        if not self.training or not self.losses_on:  # validation, or the teacher start alone: no teacher pass
            regular, items = self.student_model.loss(batch, preds)
            zeros = torch.zeros(len(KD_TERMS), device=regular.device, dtype=regular.dtype)
            return torch.cat([regular, zeros]), {**items, **{k: torch.zeros((), device=regular.device) for k in KD_TERMS}}
        img = batch["img"]
        self.match_teacher_precision(img)
        with torch.no_grad():
            teacher_out = self.teacher_model(img)  # same autocast as the student: the trainer's forward context
        preds = self.student_model(img)
        regular, items = self.student_model.loss(batch, preds)
        with torch.autocast(img.device.type, enabled=False):  # distillation math in float32
            terms = self.distill_terms(preds, teacher_out)
        stacked = torch.stack([terms[k] for k in KD_TERMS]).to(regular.dtype)
        items.update({k: terms[k].detach() for k in KD_TERMS})
        return torch.cat([regular, stacked * img.shape[0]]), items

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

    def distill_terms(self, student_out: Any, teacher_out: Any) -> dict[str, torch.Tensor]:
        """Weighted distillation terms (kd_cls, kd_box, kd_feat) for one batch, before the batch-size factor."""
        s, t = head_branches(student_out), head_branches(teacher_out)
        pairs = [(s[k], t[k]) for k in ("one2many", "one2one") if k in s and k in t]
        cfg, scale = self.settings, self.kd_scale
        zero = s["one2many"]["scores"].new_zeros(()).float()
        cls = box = zero
        for s_b, t_b in pairs:
            w = teacher_confidence(t_b["scores"])
            if cfg.kd_cls:
                cls = cls + self.cls_kd(s_b["scores"], t_b["scores"])
            if cfg.kd_box:
                if isinstance(self.box_kd, DFLDistributionKD):
                    box = box + self.box_kd(s_b["boxes"], t_b["boxes"], w)
                else:
                    box = box + self.box_kd(
                        decode_distances(s_b["boxes"], self.s_reg_max), decode_distances(t_b["boxes"], self.t_reg_max), w
                    )
        feat = self.feature_term(s["one2many"]["feats"], t) if cfg.kd_feat else zero
        return {
            "kd_cls": cls / len(pairs) * cfg.kd_cls * scale,
            "kd_box": box / len(pairs) * cfg.kd_box * scale,
            "kd_feat": feat * cfg.kd_feat * scale,
        }

    def feature_term(self, student_feats: list[torch.Tensor], teacher: dict[str, dict]) -> torch.Tensor:
        """Feature loss summed over the head's input levels, student features through the adapters.

        Location weights are the teacher's confidence, averaged over its branches as Ultralytics does.
        """
        if isinstance(self.feat_kd, CrossHeadKD):
            return self.cross_head_term(student_feats, teacher["one2many"])
        teacher_feats = teacher["one2many"]["feats"]
        scores = sum(b["scores"].detach().float() for b in teacher.values()) / len(teacher)
        sizes = [f.shape[-2] * f.shape[-1] for f in teacher_feats]
        weights = [teacher_confidence(p) for p in scores.split(sizes, dim=-1)]
        total = 0.0
        for level, (fs, ft, w) in enumerate(zip(student_feats, teacher_feats, weights)):
            parts = self.projector[level]
            aligned = parts["align"](fs.float())
            if "generator" in parts:
                total = total + self.feat_kd(aligned, ft, parts["generator"])
            else:
                total = total + self.feat_kd(aligned, ft, w)
        return total

    def cross_head_term(self, student_feats: list[torch.Tensor], teacher_branch: dict[str, Any]) -> torch.Tensor:
        """CrossKD: the aligned student features through the teacher's frozen one-to-many head, matched to its output.

        The teacher's weights need no grad, so the gradient passes through the head to the adapters and the student.
        """
        head = detect_head(self.teacher_model)
        dtype = next(head.parameters()).dtype  # the teacher may be held in the autocast dtype
        aligned = [parts["align"](fs.float()).to(dtype) for parts, fs in zip(self.projector, student_feats)]
        return self.feat_kd(head.forward_head(aligned, **head.one2many), teacher_branch)

    def portable(self) -> DistillationModel:
        """This pair as Ultralytics' own `DistillationModel` (student, adapters, settings as a plain dict).

        Checkpoints hold this object, so `YOLO("last.pt")` loads, validates and exports a mid-training checkpoint
        where yolodistill is not installed; resume reads the adapters and `yolodistill` settings back from it.
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
        return m
