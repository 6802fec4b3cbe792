"""The teacher start: a student built from a yaml begins from the teacher's own weights, thinned by weight selection.

Xu et al., ICLR 2024, "Initializing Models with Larger Ones". In the BCCD studies this start is most of what a yaml
student gains from its teacher; it costs nothing per step. `DistillationTrainer.get_model` applies it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from ultralytics.nn.modules.block import Attention


def evenly_spaced(
    tensor: torch.Tensor, shape: torch.Size, chosen: dict[int, torch.Tensor] | None = None
) -> torch.Tensor:
    """The sub-tensor of `shape` that keeps indices floor(i * T / S) along every dimension where T != S (callers give
    T > S), or the indices `chosen` gives for a dimension."""
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


def transferred(student: torch.nn.Module, weights: Any) -> tuple[int, int]:
    """How many of the student's tensors Ultralytics' `load` took from `weights` (a checkpoint dict or a model): the
    ones of the same name and shape, as its 'Transferred N/M items' line counts them."""
    from ultralytics.utils.torch_utils import intersect_dicts

    source = (weights.get("ema") or weights["model"]) if isinstance(weights, dict) else weights
    theirs, own = source.state_dict(), student.state_dict()
    taken = intersect_dicts(theirs, own)
    first = "model.0.conv.weight"  # filled in part where only its widths differ, and counted
    part = first not in taken and first in own and first in theirs and own[first].shape[2:] == theirs[first].shape[2:]
    return len(taken) + part, len(own)


def has_own_weights(student: Any, pretrained: Any = None) -> bool:
    """Whether the student starts from trained weights of its own: a .pt, or a yaml with `pretrained=PATH`. A .pt
    with pretrained=False has none: Ultralytics builds its architecture with random weights."""
    if pretrained is False:
        return False
    return str(student).lower().endswith(".pt") or isinstance(pretrained, (str, Path))


def starts_from_teacher(init_from_teacher: bool, student: Any, pretrained: Any = None, resume: Any = None) -> bool:
    """Whether a run's student gets the teacher start: one with no weights of its own, not resumed, and the setting
    on."""
    return bool(init_from_teacher and not has_own_weights(student, pretrained) and not resume)
