"""KDModel: every distillation term is live (non-zero, with gradients to the student and adapters, none to the
teacher), also under DDP and autocast, for same-family and cross-family pairs."""

from __future__ import annotations

import socket

import pytest
import torch
from ultralytics.cfg import get_cfg
from ultralytics.nn.tasks import DetectionModel, load_checkpoint

from yolodistill.config import DistillConfig
from yolodistill.losses import BoxIoUKD, DFLDistributionKD
from yolodistill.model import KD_TERMS, KDModel, select_weights


def make_student(cfg: str = "yolo26n.yaml") -> DetectionModel:
    torch.manual_seed(0)
    student = DetectionModel(cfg, nc=3, verbose=False)
    student.args = get_cfg(overrides={"epochs": 2, "imgsz": 64})
    return student


def make_batch(b: int = 2, size: int = 64) -> dict:
    torch.manual_seed(1)
    return {
        "img": torch.rand(b, 3, size, size),
        "batch_idx": torch.tensor([0.0, 1.0]),
        "cls": torch.tensor([[0.0], [2.0]]),
        "bboxes": torch.tensor([[0.5, 0.5, 0.4, 0.4], [0.3, 0.6, 0.2, 0.3]]),
    }


def build(teacher_path, feat_loss="cwd", student_cfg="yolo26n.yaml", **weights) -> KDModel:
    settings = DistillConfig(feat_loss=feat_loss, kd_warmup=0, **{"kd_cls": 1.0, "kd_box": 1.0, "kd_feat": 1.0,
                                                                   **weights})  # every term on unless told
    model = KDModel(load_checkpoint(teacher_path)[0], make_student(student_cfg), settings)
    return model.train()


def grads(module: torch.nn.Module) -> float:
    return sum(p.grad.abs().sum().item() for p in module.parameters() if p.grad is not None)


@pytest.mark.parametrize("feat_loss", ["l2", "cwd", "mgd", "cross"])
def test_every_term_is_live_and_reaches_student_not_teacher(teacher26, feat_loss):
    model = build(teacher26, feat_loss)
    loss, items = model.loss(make_batch())
    assert set(KD_TERMS) <= set(items)
    for k in KD_TERMS:
        assert torch.isfinite(items[k]) and items[k].item() > 0, k
    assert loss.shape[0] == 3 + len(KD_TERMS)  # box, cls, l1 + one column per distillation term
    for term in KD_TERMS:  # each term on its own must move the student
        only = {k: (1.0 if k == term else 0.0) for k in KD_TERMS}
        m = build(teacher26, feat_loss, **only)
        m.loss(make_batch())[0][-3:].sum().backward()
        assert grads(m.student_model) > 0, term
        assert all(p.grad is None and not p.requires_grad for p in m.teacher_model.parameters())
        if term == "kd_feat":
            assert grads(m.projector) > 0
        else:
            assert grads(m.projector) == 0


def test_teacher_stays_frozen_in_eval_mode(teacher26):
    model = build(teacher26)
    model.train()
    assert not model.teacher_model.training
    bn = next(m for m in model.teacher_model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    before = bn.running_mean.clone()
    model.loss(make_batch())
    assert torch.equal(bn.running_mean, before)


def test_yolo26_distils_both_branches(teacher26):
    """kd_cls alone must train the one2one head too (it sees detached features, so only its own loss reaches it)."""
    model = build(teacher26, kd_box=0.0, kd_feat=0.0)
    model.loss(make_batch())[0][-3:].sum().backward()
    head = model.student_model.model[-1]
    assert grads(head.one2one_cv3) > 0 and grads(head.cv3) > 0


def test_box_loss_follows_the_head_families(teacher26, teacher11):
    assert isinstance(build(teacher11, student_cfg="yolo11n.yaml").box_kd, DFLDistributionKD)  # reg_max 16 both
    assert isinstance(build(teacher26).box_kd, BoxIoUKD)  # YOLO26, reg_max 1
    cross = build(teacher11)  # yolo11 teacher, yolo26 student
    assert isinstance(cross.box_kd, BoxIoUKD)
    _, items = cross.loss(make_batch())
    assert all(items[k].item() > 0 for k in KD_TERMS)


def test_distillation_math_runs_in_float32_under_autocast(teacher26):
    model = build(teacher26)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, items = model.loss(make_batch())
    assert next(model.teacher_model.parameters()).dtype == torch.bfloat16  # teacher held in the autocast dtype
    assert next(model.student_model.parameters()).dtype == torch.float32
    assert all(torch.isfinite(items[k]) and items[k].dtype == torch.float32 for k in KD_TERMS)
    loss.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.student_model.parameters() if p.grad is not None)


def test_eval_path_keeps_the_columns(teacher26):
    model = build(teacher26).eval()
    model.teacher_model = None  # as in the EMA copy used for validation
    loss, items = model.loss(make_batch())
    assert all(items[k].item() == 0 for k in KD_TERMS)
    assert loss.shape[0] == 3 + len(KD_TERMS)


def test_terms_survive_ddp_wrapping(teacher26):
    """Under DDP the model is reached through `module.`: the terms must still be non-zero with gradients."""
    import torch.distributed as dist

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    try:
        model = build(teacher26)
        ddp = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
        loss, items = ddp(make_batch())
        assert all(items[k].item() > 0 for k in KD_TERMS)
        loss.sum().backward()
        assert grads(model.projector) > 0 and grads(model.student_model) > 0
    finally:
        dist.destroy_process_group()


def test_warmup_scales_every_term(teacher26):
    model = build(teacher26, feat_loss="l2")
    img = make_batch()["img"]
    with torch.no_grad():
        t, s = model.teacher_model(img), model.student_model(img)
        full = model.distill_terms(s, t)
        model.kd_scale = DistillConfig(kd_warmup=3).weight_scale(0)
        warm = model.distill_terms(s, t)
    assert model.kd_scale == pytest.approx(0.25)
    for k in KD_TERMS:
        assert warm[k].item() == pytest.approx(full[k].item() * 0.25, rel=1e-5)


def model_of(cfg: str, seed: int = 0) -> DetectionModel:
    torch.manual_seed(seed)
    return DetectionModel(cfg, nc=3, verbose=False)


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


def test_no_teacher_pass_when_every_weight_is_off(teacher26):
    """A recipe of the teacher start alone trains at the plain student's speed and memory: the teacher is released
    (never run), and the columns stay."""
    model = build(teacher26, kd_cls=0.0, kd_box=0.0, kd_feat=0.0)
    assert model.teacher_model is None and not model.losses_on
    loss, items = model.loss(make_batch())
    assert all(items[k].item() == 0 for k in KD_TERMS) and loss[:3].sum() > 0
