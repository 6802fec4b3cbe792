"""The teacher start: weight selection takes evenly spaced teacher weights, whole attention heads, and only layers
that match."""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn
from ultralytics.nn.modules.block import Attention, C2f, C3k2
from ultralytics.nn.tasks import DetectionModel

from yolodistill.start import ancestors, evenly_spaced, head_channels, select_weights, starts_from_teacher


def model_of(cfg: str, seed: int = 0) -> DetectionModel:
    torch.manual_seed(seed)
    return DetectionModel(cfg, nc=3, verbose=False)


class Layers(nn.Module):
    """The smallest model select_weights reads: top-level layers under `model.<i>`, like a DetectionModel's."""

    def __init__(self, *layers: nn.Module, seed: int = 0):
        super().__init__()
        self.model = nn.Sequential(*layers)
        torch.manual_seed(seed)
        for tensor in self.state_dict().values():  # distinct values everywhere, BatchNorm statistics included
            if tensor.is_floating_point():
                tensor.copy_(torch.rand_like(tensor) + 0.5)


def test_weight_selection_takes_evenly_spaced_teacher_weights():
    teacher, student = model_of("yolo26s.yaml", 1), model_of("yolo26n.yaml")
    assert select_weights(teacher, student) == (18, 18)  # same layers at half the width: every layer
    first_t, first_s = teacher.model[0].conv.weight, student.model[0].conv.weight  # (32, 3, 3, 3) -> (16, 3, 3, 3)
    assert torch.equal(first_s, first_t[::2])
    second_t, second_s = teacher.model[1].conv.weight, student.model[1].conv.weight  # (64, 32, ..) -> (32, 16, ..)
    assert torch.equal(second_s, second_t[::2, ::2])
    assert torch.equal(student.model[0].bn.running_var, teacher.model[0].bn.running_var[::2])
    cls_t, cls_s = teacher.model[-1].cv3[0][-1], student.model[-1].cv3[0][-1]  # class outputs: nc on both sides
    assert torch.equal(cls_s.bias, cls_t.bias) and cls_s.weight.shape[0] == 3


def test_weight_selection_takes_whole_attention_heads():
    """4 teacher heads of [q32, k32, v64] to 2 student heads: heads 0 and 2 whole, never every other channel."""
    teacher, student = model_of("yolo26s.yaml", 1), model_of("yolo26n.yaml")
    select_weights(teacher, student)
    t, s = teacher.model[10].m[0].attn, student.model[10].m[0].attn
    assert (t.num_heads, s.num_heads, s.key_dim, s.head_dim) == (4, 2, 32, 64)
    t_qkv, s_qkv = t.qkv.conv.weight.view(4, 128, 256), s.qkv.conv.weight.view(2, 128, 128)  # head, channel, input
    assert torch.equal(s_qkv[0], t_qkv[0][:, ::2]) and torch.equal(s_qkv[1], t_qkv[2][:, ::2])
    assert torch.equal(s.qkv.bn.running_mean.view(2, 128)[1], t.qkv.bn.running_mean.view(4, 128)[2])
    t_pe, s_pe = t.pe.conv.weight.view(4, 64, 9), s.pe.conv.weight.view(2, 64, 9)  # depthwise over v, head by head
    assert torch.equal(s_pe[0], t_pe[0]) and torch.equal(s_pe[1], t_pe[2])
    t_proj = t.proj.conv.weight.view(256, 4, 64)[::2]  # output: every other channel, like the block around it
    assert torch.equal(s.proj.conv.weight.view(128, 2, 64), t_proj[:, [0, 2]])


def test_weight_selection_leaves_layers_of_another_structure_random():
    """yolo26m builds its early C3k2 layers from C3k blocks where yolo26n has Bottlenecks: those start random."""
    student, untouched = model_of("yolo26n.yaml"), model_of("yolo26n.yaml")
    assert select_weights(model_of("yolo26m.yaml", 1), student) == (16, 18)
    same = [i for i, (a, b) in enumerate(zip(student.model, untouched.model))
            if a.state_dict() and all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                                       b.state_dict().values()))]
    assert same == [2, 4] and type(student.model[2]).__name__ == "C3k2"


def test_weight_selection_never_widens():
    student, untouched = model_of("yolo26s.yaml"), model_of("yolo26s.yaml")
    assert select_weights(model_of("yolo26n.yaml", 1), student) == (0, 18)
    assert all(torch.equal(a, b) for a, b in zip(student.state_dict().values(), untouched.state_dict().values()))


def test_starts_from_teacher_only_for_a_fresh_yaml_student():
    assert starts_from_teacher(True, "yolo26n.yaml")
    assert not starts_from_teacher(False, "yolo26n.yaml")
    assert not starts_from_teacher(True, "runs/x/weights/best.PT")  # a .pt keeps its own weights
    assert not starts_from_teacher(True, "yolo26n.yaml", pretrained="mine.pt")
    assert starts_from_teacher(True, "yolo26n.yaml", pretrained=True)  # Ultralytics' flag, not weights
    assert not starts_from_teacher(True, "yolo26n.yaml", resume="last.pt")
    # pretrained=False: Ultralytics builds the .pt's architecture with random weights, so the teacher start applies
    # (it got neither, under the trained student's recipe and a log line saying it kept its weights)
    assert starts_from_teacher(True, "best.pt", pretrained=False)
    from yolodistill.config import resolve

    assert resolve(None, student="best.pt", pretrained=False)[0] == resolve(None, student="yolo26n.yaml")[0]
    assert resolve(None, student="best.pt")[0].kd_gate  # the trained student's block, with its weights


def test_evenly_spaced_keeps_floor_of_i_t_over_s():
    """5 -> 3 keeps floor(0), floor(5/3), floor(10/3) = 0, 1, 3 (not 0, 1, 2 at the whole ratio, nor 0, 2, 4 from
    the ends); 4 -> 2 keeps 0 and 2; a `chosen` dimension takes exactly the indices given."""
    grid = torch.arange(20).view(5, 4)
    assert evenly_spaced(torch.arange(5), torch.Size([3])).tolist() == [0, 1, 3]
    assert evenly_spaced(grid, torch.Size([3, 2])).tolist() == [[0, 2], [4, 6], [12, 14]]
    assert evenly_spaced(grid, torch.Size([3, 2]), {1: torch.tensor([1, 3])}).tolist() == [[1, 3], [5, 7], [13, 15]]
    assert evenly_spaced(grid, torch.Size([5, 4])) is grid  # nothing narrower: the tensor as it is


def test_ancestors_run_from_the_top_to_the_module_itself():
    assert ancestors("model.2.m.0.cv1") == ["model", "model.2", "model.2.m", "model.2.m.0", "model.2.m.0.cv1"]


def test_weight_selection_takes_attention_batchnorms_head_by_head():
    """The BatchNorms after qkv and pe follow their convolution's heads: all four of weight, bias, running mean and
    running variance are teacher heads 0 and 2 whole (4 heads of [q32, k32, v64] to 2); proj's output channels are
    evenly spaced like the block around it."""
    teacher, student = Layers(Attention(256, num_heads=4), seed=1), Layers(Attention(128, num_heads=2))
    assert select_weights(teacher, student) == (1, 1)
    t, s = teacher.model[0], student.model[0]
    for stat in ("weight", "bias", "running_mean", "running_var"):
        t_qkv, s_qkv = getattr(t.qkv.bn, stat).view(4, 128), getattr(s.qkv.bn, stat).view(2, 128)
        assert torch.equal(s_qkv, t_qkv[[0, 2]]), f"qkv.bn.{stat}"
        t_pe, s_pe = getattr(t.pe.bn, stat).view(4, 64), getattr(s.pe.bn, stat).view(2, 64)
        assert torch.equal(s_pe, t_pe[[0, 2]]), f"pe.bn.{stat}"
        assert torch.equal(getattr(s.proj.bn, stat), getattr(t.proj.bn, stat)[::2]), f"proj.bn.{stat}"


def test_attention_heads_of_another_size_are_not_taken_whole():
    """Two heads of 128 channels against two of 64: no head fits, so plain evenly spaced channels (q, k, v layout
    unknown to the student); taking the teacher's first 2 x 128 qkv channels as 'heads' would be wrong."""
    teacher, student = Layers(Attention(256, num_heads=2), seed=1), Layers(Attention(128, num_heads=2))
    assert head_channels(teacher.model[0], student.model[0]) == {}
    assert select_weights(teacher, student) == (1, 1)
    assert torch.equal(student.model[0].qkv.conv.weight, teacher.model[0].qkv.conv.weight[::2, ::2])


def test_weight_selection_needs_the_same_class_not_a_subclass():
    """C3k2 subclasses C2f and has the same tensors: a C3k2 teacher layer is still another class than a C2f student
    layer, so that layer keeps its random start."""
    teacher, student, untouched = Layers(C3k2(64, 64), seed=1), Layers(C2f(32, 32)), Layers(C2f(32, 32))
    assert select_weights(teacher, student) == (0, 1)
    assert all(torch.equal(a, b) for a, b in zip(student.state_dict().values(), untouched.state_dict().values()))


def test_a_pathlib_pretrained_is_the_students_own_weights():
    assert not starts_from_teacher(True, "yolo26n.yaml", pretrained=Path("runs/x/weights/best.pt"))


def test_the_recorded_start_is_what_the_student_got(teacher26, synth_data, tmp_path):
    """A student larger than its teacher (weight selection: 0 layers) and pretrained= of another architecture (the
    teacher's own checkpoint, 'to start from the teacher') trained from random weights while distill.yaml said
    `start: teacher` and the log 'Student keeps its own trained weights'."""
    from ultralytics.nn.tasks import load_checkpoint

    from tests.conftest import logged_by_ultralytics, save_checkpoint
    from yolodistill.checks import preflight
    from yolodistill.config import resolve
    from yolodistill.train import DistillationTrainer

    def trainer(teacher, student, name, **kw):
        distill, args = resolve(None, epochs=1, imgsz=64, batch=8, workers=0, device="cpu", plots=False,
                                project=str(tmp_path), name=name, **kw)
        plan = preflight(teacher, student, synth_data, args)
        return DistillationTrainer(overrides=plan.args, distill=distill, teacher=plan.teacher)

    small = save_checkpoint("yolo26n.yaml", tmp_path / "n.pt")
    larger = trainer(small, "yolo26s.yaml", "larger")
    larger.get_model(cfg="yolo26s.yaml")
    assert larger.recipe()["start"] == "random"
    assert trainer(teacher26, "yolo26n.yaml", "fits").get_model(cfg="yolo26n.yaml") is not None
    for weights, said in ((teacher26, "fits {} of the student's {} tensors: the student starts mostly random. "
                                      "Leave pretrained= out for the teacher start, which it turns off"),
                          (small, "Student keeps its own trained weights")):
        run = trainer(teacher26, "yolo26n.yaml", f"pre-{weights.stem}", pretrained=str(weights))
        with logged_by_ultralytics() as logged:
            run.get_model(cfg="yolo26n.yaml", weights=load_checkpoint(weights)[0])
        counts = next(re.search(r"Transferred (\d+)/(\d+) items", m) for m in logged if "Transferred" in m).groups()
        assert run.recipe()["start"] == "own weights" and any(said.format(*counts) in m for m in logged), logged
        assert (counts[0] == counts[1]) == (weights == small)  # the teacher's weights fit a few layers of the nano
