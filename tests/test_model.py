"""KDModel: every distillation term is live (non-zero, with gradients to the student and adapters, none to the
teacher), also under DDP and autocast, for same-family and cross-family pairs."""

from __future__ import annotations

import copy
import socket

import pytest
import torch
from ultralytics.cfg import get_cfg
from ultralytics.nn.tasks import DetectionModel, load_checkpoint

from yolodistill.balance import gradient_norm
from yolodistill.config import DistillConfig
from yolodistill.model import KD_TERMS, KDModel, detect_head, head_branches


def make_student(cfg: str = "yolo26n.yaml") -> DetectionModel:
    torch.manual_seed(0)
    student = DetectionModel(cfg, nc=3, verbose=False)
    student.args = get_cfg(overrides={"epochs": 2, "imgsz": 64})
    return student


def make_batch(b: int = 2, size: int = 64, seed: int = 1) -> dict:
    torch.manual_seed(seed)
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


@pytest.mark.parametrize("assign", ["student", "teacher"])
def test_a_student_that_is_its_teacher_gets_zero_head_terms(teacher26, assign):
    """Zero at a match, through the whole wrapper: branches paired, boxes decoded and anchors weighted alike on both
    sides, so a student identical to its teacher has nothing to learn from it, while its detection loss is not 0."""
    import copy

    teacher = load_checkpoint(teacher26)[0]
    student = copy.deepcopy(teacher).float()
    student.args = get_cfg(overrides={"epochs": 2, "imgsz": 64})
    settings = DistillConfig(kd_cls=1.0, kd_box=1.0, kd_feat=0.0, kd_warmup=0, kd_assign=assign, kd_box_ring=1.0)
    model = KDModel(teacher, student, settings).train()
    for m in model.student_model.modules():  # the same normalisation as the frozen teacher, which runs in eval
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
    loss, items = model.loss(make_batch())
    assert loss[:3].sum().item() > 0
    assert [items[k].item() for k in ("kd_cls", "kd_box")] == pytest.approx([0.0, 0.0], abs=1e-5)
    different = build(teacher26, kd_feat=0.0, kd_assign=assign, kd_box_ring=1.0)  # the untrained nano
    assert all(different.loss(make_batch())[1][k].item() > 1e-4 for k in ("kd_cls", "kd_box"))


def test_teacher_stays_frozen_in_eval_mode(teacher26):
    model = build(teacher26)
    model.train()
    assert not model.teacher_model.training
    bn = next(m for m in model.teacher_model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    before = bn.running_mean.clone()
    model.loss(make_batch())
    assert torch.equal(bn.running_mean, before)


def test_yolo26_one2one_branch_is_distilled_only_when_asked(teacher26):
    """The one2one head sees detached features and validation uses one2many: by default its KD is off, and kd_cls
    trains the one2many head only; kd_one2one adds it."""
    head_grads = {}
    for one2one in (False, True):
        model = build(teacher26, kd_box=0.0, kd_feat=0.0, kd_one2one=one2one)
        model.loss(make_batch())[0][-3:].sum().backward()
        head = model.student_model.model[-1]
        head_grads[one2one] = (grads(head.cv3), grads(head.one2one_cv3))
    assert head_grads[False][0] > 0 and head_grads[False][1] == 0
    assert head_grads[True][0] > 0 and head_grads[True][1] > 0


def test_box_loss_follows_the_head_families(teacher26, teacher11):
    assert build(teacher11, student_cfg="yolo11n.yaml").box_kd.ld is not None  # reg_max 16 both: IoU + LD
    assert build(teacher26).box_kd.ld is None  # YOLO26, reg_max 1: IoU
    cross = build(teacher11)  # yolo11 teacher, yolo26 student
    assert cross.box_kd.ld is None
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


def logged_terms(model: KDModel) -> dict[str, float]:
    """The weighted terms one batch logs, the student's adapters and generator fixed by the seed."""
    torch.manual_seed(3)
    return {k: v.item() for k, v in model.loss(make_batch())[1].items() if k in KD_TERMS}


@pytest.mark.parametrize("feat_loss", ["l2", "cross"])
def test_weights_and_schedule_scale_their_terms(teacher26, feat_loss):
    """A weight of 2 doubles its term (and only its own); the schedule's factor scales every term."""
    one = logged_terms(build(teacher26, feat_loss))
    for term in KD_TERMS:
        doubled = logged_terms(build(teacher26, feat_loss, **{term: 2.0}))
        for k in KD_TERMS:
            assert doubled[k] == pytest.approx(one[k] * (2 if k == term else 1), rel=1e-4), (term, k)
    model = build(teacher26, feat_loss)
    model.kd_scale = DistillConfig(kd_warmup=3, kd_schedule="constant").weight_scale(0, 10)
    assert model.kd_scale == pytest.approx(0.25)
    warm = logged_terms(model)
    for k in KD_TERMS:
        assert warm[k] == pytest.approx(one[k] * 0.25, rel=1e-4)


def test_terms_follow_ultralytics_one2many_gain(teacher26):
    """YOLO26's E2ELoss moves the one2many weight from 0.8 to 0.1; the distillation terms move with it, so their
    ratio to the detection gradient on the backbone stays put."""
    model = build(teacher26)
    start = logged_terms(model)
    model.student_model.criterion.o2m = 0.1
    late = logged_terms(model)
    for k in KD_TERMS:
        assert late[k] == pytest.approx(start[k] * 0.1 / 0.8, rel=1e-4)


@pytest.mark.parametrize("feat_loss", ["cwd", "cross"])
def test_kd_to_detection_gradient_ratio_on_the_backbone_is_the_same_at_every_one2many_weight(teacher26, feat_loss):
    """The gradient itself, not the logged values: with one student and one batch, moving YOLO26's one2many weight
    from 0.8 to 0.1 must leave the ratio of the terms' backbone gradient to the detection loss's unchanged (before
    the terms followed that weight it grew 8 times; one2one's input is detached from the backbone)."""
    model = build(teacher26, feat_loss)
    backbone = [p for layer in model.student_model.model[:11] for p in layer.parameters()]
    batch = make_batch()
    ratios = []
    for o2m in (0.8, 0.45, 0.1):
        model.loss(batch)  # the first loss makes the criterion
        model.student_model.criterion.o2m, model.student_model.criterion.o2o = o2m, 1 - o2m
        torch.manual_seed(3)
        loss, _ = model.loss(batch)
        detection, distillation = (gradient_norm(part, backbone) for part in (loss[:3].sum(), loss[3:].sum()))
        assert detection > 0 and distillation > 0
        ratios.append(distillation / detection)
    assert ratios[1] == pytest.approx(ratios[0], rel=1e-3) and ratios[2] == pytest.approx(ratios[0], rel=1e-3), ratios


def test_label_assignment_distillation_ranks_anchors_by_the_teacher(teacher26):
    """kd_assign teacher: the student's assigner sees the teacher's predictions, so its positives follow the
    teacher; with the student's own ranking they differ (an untrained student and teacher disagree)."""
    positives = {}
    for assign in ("student", "teacher"):
        model = build(teacher26, kd_assign=assign, kd_feat=0.0)
        batch = make_batch()
        t = head_branches(model.teacher_model(batch["img"]))
        out = model.student_model(batch["img"])
        recorders = model.assign(t)
        model.student_model.loss(batch, out)
        positives[assign] = recorders["one2many"].last.fg.clone()
        assert (recorders["one2many"].teacher is not None) == (assign == "teacher")
    assert positives["student"].any() and positives["teacher"].any()
    assert not torch.equal(positives["student"], positives["teacher"])


def test_a_copy_made_after_a_lad_step_ranks_its_own_batches_by_the_student(teacher26):
    """After a NaN, Ultralytics rebuilds its EMA from the training model, criterion and all, and validates with it:
    that loss must rank anchors by the student's predictions, not by the last training batch's teacher (a batch of
    another size used to crash it with an IndexError)."""
    from ultralytics.utils.torch_utils import ModelEMA

    model = build(teacher26, kd_assign="teacher", kd_feat=0.0)
    model.loss(make_batch(2))[0].sum().backward()
    assert model.student_model.criterion.one2many.assigner.teacher is None
    ema = ModelEMA(model).ema
    batch = make_batch(4, seed=5)
    with torch.no_grad():
        preds = ema(batch["img"])
        loss, _ = ema.loss(batch, preds)
        fresh = copy.deepcopy(ema.student_model)
        fresh.criterion = None
        expected, _ = fresh.loss(batch, preds)
    assert expected.sum() > 0
    assert torch.allclose(loss[: len(expected)], expected)


def test_auto_balance_sets_each_term_to_the_detection_pull(teacher26):
    """kd_balance auto: measured on some batches, each term's column then pulls on the neck about as hard as the
    detection loss's columns on other batches (weight 1; both carry the batch size), and the multipliers travel with
    the checkpoint's portable form."""
    from yolodistill.balance import gradient_norm

    model = build(teacher26, kd_balance="auto")
    for i in range(model.balance.batches):
        model.loss(make_batch(seed=10 + i))
    assert not model.balance.measuring and set(model.balance.multipliers) == set(KD_TERMS)
    reference, pulls = 0.0, dict.fromkeys(KD_TERMS, 0.0)
    for seed in range(100, 106):  # images it did not measure, summed as the balance sums them
        seen = []  # the neck outputs, as the Detect head receives them
        hook = detect_head(model.student_model).register_forward_pre_hook(lambda m, args: seen.append(list(args[0])))
        loss, _ = model.loss(make_batch(seed=seed))  # the columns the trainer sums
        hook.remove()
        reference += gradient_norm(loss[:3].sum(), seen[0])
        for i, k in enumerate(KD_TERMS):
            pulls[k] += gradient_norm(loss[3 + i], seen[0])
    print("pull over the detection loss's:", {k: v / reference for k, v in pulls.items()})
    assert pulls["kd_box"] == pytest.approx(reference, rel=0.3)
    assert pulls["kd_feat"] == pytest.approx(reference, rel=0.3)
    # two untrained heads agree (both near the prior), so the class term has almost no gradient: it is capped at a
    # thousand times, not blown up to the detection loss's pull
    assert model.balance.multipliers["kd_cls"] == 1e3 and pulls["kd_cls"] < reference
    assert model.portable().yolodistill_balance == model.balance.multipliers


@pytest.mark.parametrize("frozen", [17, 23])  # freeze=17 stops one of the head's inputs (layer 16), 23 all three
def test_auto_balance_measures_what_still_trains_when_freeze_stops_the_head_inputs(teacher26, frozen):
    """With freeze= past a Detect input (yolo26n's head reads layers 16, 19 and 22) that input has no gradient to
    measure: auto and epoch stopped the run there with a traceback. They measure the inputs that train, or the head."""
    model = build(teacher26, kd_balance="auto")
    for layer in model.student_model.model[:frozen]:
        layer.requires_grad_(False)
    for i in range(model.balance.batches):
        model.loss(make_batch(seed=10 + i))
    reaching = set(KD_TERMS) - ({"kd_feat"} if frozen == 23 else set())  # the neck frozen: kd_feat trains no weight
    assert not model.balance.measuring and set(model.balance.multipliers) == reaching  # so it keeps its weight
    assert all(0 < m < float("inf") for m in model.balance.multipliers.values())


def test_cap_holds_the_pull_on_the_backbone_where_it_started(teacher26):
    """kd_balance cap: measured on the backbone's weights, a KD pull that rises 4 times over the detection loss's
    (here its weights, raised mid-run) is brought back to the ratio of the first batches; the state travels with the
    checkpoint's portable form."""
    from yolodistill.balance import BackboneCap, backbone_parameters, gradient_norm

    model = build(teacher26, kd_balance="cap")
    cap = model.balance
    assert isinstance(cap, BackboneCap) and cap.weights is model.weights
    cap.every = 1  # measure every batch, so that the average follows the change within the test

    def ratio(seeds) -> float:  # the columns' pull on the backbone, over the detection loss's, summed
        det = kd = 0.0
        backbone = backbone_parameters(model.student_model)
        for seed in seeds:
            loss, _ = model.loss(make_batch(seed=seed))
            det += gradient_norm(loss[:3].sum(), backbone)
            kd += gradient_norm(loss[3:6].sum(), backbone)
        return kd / det

    for i in range(cap.batches):
        model.loss(make_batch(seed=10 + i))
    assert cap.seen == cap.batches and cap.factor == 1.0
    cap.due = lambda: False  # measure the columns with the factor in force
    start = ratio(range(100, 106))
    del cap.due
    for key in KD_TERMS:
        model.weights[key] *= 4.0
    for i in range(12):  # the average follows the new ratio: 0.7 ** 12 of the old one is left
        model.loss(make_batch(seed=30 + i))
    assert cap.factor == pytest.approx(0.25, rel=0.35)
    cap.due = lambda: False
    print("ratio at the start", start, "capped", ratio(range(100, 106)))
    assert ratio(range(100, 106)) == pytest.approx(start, rel=0.35)  # 4 times without the cap
    assert model.portable().yolodistill_balance == cap.state() and cap.state()["factor"] == cap.factor


def test_no_teacher_pass_when_every_weight_is_off(teacher26):
    """A recipe of the teacher start alone trains at the plain student's speed and memory: the teacher is released
    (never run), and the columns stay."""
    model = build(teacher26, kd_cls=0.0, kd_box=0.0, kd_feat=0.0, kd_assign="student")
    assert model.teacher_model is None and not model.teacher_runs
    loss, items = model.loss(make_batch())
    assert all(items[k].item() == 0 for k in KD_TERMS) and loss[:3].sum() > 0


def test_lad_ranks_the_anchors_with_every_weight_off(teacher26):
    """README: LAD (kd_assign teacher) acts without a term, and distill.yaml records it: with every weight at 0 the
    teacher was released all the same, and the student ranked its own anchors."""
    lad = build(teacher26, kd_cls=0.0, kd_box=0.0, kd_feat=0.0, kd_assign="teacher")
    own = build(teacher26, kd_cls=0.0, kd_box=0.0, kd_feat=0.0, kd_assign="student")
    own.student_model.load_state_dict(lad.student_model.state_dict())
    assert lad.teacher_model is not None and lad.teacher_runs
    (by_teacher, items), (by_student, _) = lad.loss(make_batch()), own.loss(make_batch())
    assert all(items[k].item() == 0 for k in KD_TERMS)
    assert by_teacher[:3].sum() > 0 and not torch.allclose(by_teacher[:3], by_student[:3])  # other positives


@pytest.mark.parametrize("feat_loss", ["l2", "cwd", "mgd"])
def test_fitting_the_adapters_alone_lowers_the_feature_loss_and_leaves_the_student(teacher26, feat_loss):
    """kd_prefit: random adapters would pull a trained neck towards a random map of the teacher; fitted first, they
    take up the map between the two feature spaces. The student (weights and BatchNorm statistics) is untouched."""
    model = build(teacher26, feat_loss)
    before = {k: v.clone() for k, v in model.student_model.state_dict().items()}
    fresh = [p.detach().clone() for p in model.projector.parameters()]
    losses = model.fit_adapters([make_batch()["img"]] * 40)
    assert len(losses) == 40 and sum(losses[-5:]) / 5 < 0.85 * losses[0]
    after = model.student_model.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in before.items())
    assert all(p.grad is None for p in model.student_model.parameters())
    assert any(not torch.equal(a, p) for a, p in zip(fresh, model.projector.parameters()))


def test_a_step_whose_feature_loss_is_not_finite_is_skipped(teacher26):
    """One overflow before training starts must not leave NaN adapters for the whole run (the EMA copies them)."""
    model = build(teacher26, "cwd")
    fresh = [p.detach().clone() for p in model.projector.parameters()]
    assert model.fit_adapters([torch.full((2, 3, 64, 64), float("nan"))] * 3) == []
    assert all(torch.equal(a, p) for a, p in zip(fresh, model.projector.parameters()))


def test_kd_gate_keeps_the_terms_where_the_labels_back_the_teacher(teacher26):
    """The gate reads the detection loss's own targets through the wrapper (class scores (B, A, C), boxes in pixels):
    gated, the class term keeps part of its anchors and the box term at most what the ungated one had."""
    from yolodistill.assign import ensure_assignment

    terms = {}
    for gate in (False, True):
        model = build(teacher26, kd_feat=0.0, kd_gate=gate, kd_box_ring=0.0)
        terms[gate] = {k: v.item() for k, v in model.loss(make_batch())[1].items() if k in ("kd_cls", "kd_box")}
    last = ensure_assignment(model.student_model).last
    b, a = last.fg.shape
    assert last.targets.shape == (b, a, 3) and last.boxes.shape == (b, a, 4)
    assert 0 < terms[True]["kd_cls"] < terms[False]["kd_cls"]
    assert terms[True]["kd_box"] <= terms[False]["kd_box"]


def test_the_gate_reuses_the_teacher_decode_of_label_assignment(teacher26, monkeypatch):
    """kd_gate with LAD: the gate reads the teacher's predictions the assigner ranked by instead of decoding the
    teacher's branch again, and the terms are exactly those of a fresh decode."""
    import dataclasses

    from yolodistill import model as model_module

    model = build(teacher26, kd_feat=0.0, kd_gate=True, kd_assign="teacher")
    batch = make_batch()
    teacher = model.teacher_pass(batch["img"])
    output = model.student_model(batch["img"])
    recorders = model.assign(teacher)
    model.student_model.loss(batch, output)
    student = head_branches(output)
    assigned = {k: a.last for k, a in recorders.items()}
    assert assigned["one2many"].teacher is not None
    assert assigned["one2many"].first(1).teacher[0].shape[0] == 1
    decodes = []
    real = model_module.branch_predictions
    monkeypatch.setattr(model_module, "branch_predictions", lambda *a: decodes.append(1) or real(*a))
    reused = model.distill_terms(student, teacher, assigned)
    assert len(decodes) == len(assigned)  # the student's branch alone
    fresh = model.distill_terms(student, teacher, {k: dataclasses.replace(a, teacher=None) for k, a in assigned.items()})
    assert len(decodes) == 3 * len(assigned)  # without the recorded decode, the teacher's branch is decoded too
    assert reused["kd_cls"] > 0 and reused["kd_box"] > 0
    assert all(torch.equal(reused[k], fresh[k]) for k in ("kd_cls", "kd_box"))


def test_classes_left_out_of_the_labels_are_background_in_the_teacher_s_targets(teacher26):
    """classes=[0] drops the other classes' labels (the student learns them as background), while the class term
    pulled every class toward the teacher: the student was taught to keep finding the classes the user left out."""
    student = make_student()
    model = KDModel(load_checkpoint(teacher26)[0], student, DistillConfig()).train()
    img = make_batch()["img"]
    before = model.teacher_pass(img)["one2many"]["scores"].clone()
    student.args = get_cfg(overrides={"epochs": 2, "imgsz": 64, "classes": [0]})
    assert model.excluded_classes() == [1, 2]
    after = model.teacher_pass(img)
    for branch in after.values():
        assert torch.sigmoid(branch["scores"][:, 1:].float()).max() < 1e-6
    assert torch.equal(after["one2many"]["scores"][:, 0], before[:, 0])
    student.args = get_cfg(overrides={"epochs": 2, "imgsz": 64, "classes": 2})  # one class as a number, as Ultralytics
    assert model.excluded_classes() == [0, 1]


@pytest.mark.parametrize("feat_loss", ["cwd", "cross"])
def test_a_single_cls_student_distils_from_the_teacher_s_classes_folded_into_one(teacher26, feat_loss):
    """single_cls=True trains a one-class student on a dataset of several: the teacher's class scores are read as one,
    the box's highest class (was refused: a shape error in every class-score target). CrossKD's cross-head scores,
    the teacher head's on student features, are folded the same way."""
    teacher = load_checkpoint(teacher26)[0]
    torch.manual_seed(0)
    student = DetectionModel("yolo26n.yaml", nc=1, verbose=False)
    student.args = get_cfg(overrides={"epochs": 2, "imgsz": 64, "single_cls": True})
    model = KDModel(teacher, student, DistillConfig(feat_loss=feat_loss, kd_warmup=0, kd_feat=1.0)).train()
    batch = {**make_batch(), "cls": torch.zeros(2, 1)}
    raw = head_branches(teacher(batch["img"]))
    assert model.folds_classes()
    for name, branch in model.teacher_pass(batch["img"]).items():
        assert branch["scores"].shape[1] == 1
        assert torch.equal(branch["scores"][:, 0], raw[name]["scores"].amax(1)), name
    loss, items = model.loss(batch)
    for k in KD_TERMS:
        assert torch.isfinite(items[k]) and items[k].item() > 0, k
    assert not KDModel(teacher, make_student(), DistillConfig()).folds_classes()  # same classes: nothing folded


def test_a_teacher_checkpoint_is_rebuilt_for_the_student_s_input_channels(tmp_path):
    """A 3-channel teacher distils a 1-channel (grayscale) student: loaded from its path it is rebuilt for one
    channel, its other weights kept; at the same channels it is loaded as saved."""
    from tests.conftest import save_checkpoint
    from yolodistill.model import load_teacher

    path = save_checkpoint("yolo26n.yaml", tmp_path / "teacher.pt")
    same, gray = load_teacher(path, 3), load_teacher(path, 1)
    assert same.model[0].conv.in_channels == 3 and gray.model[0].conv.in_channels == 1
    assert torch.equal(gray.model[1].conv.weight, same.model[1].conv.weight)
    assert gray(torch.rand(1, 1, 64, 64)) is not None


def test_loss_columns_are_the_logged_terms_times_the_batch_size_and_the_schedule_scales_both(teacher26):
    """Ultralytics sums the columns and logs the items per image: each distillation column is its (weighted) logged
    term times the batch size, as the detection columns are, and the schedule's factor reaches both."""
    model = build(teacher26, "l2")
    torch.manual_seed(3)
    loss, items = model.loss(make_batch(4))
    assert all(loss[3 + i].item() == pytest.approx(4 * items[k].item(), rel=1e-5) for i, k in enumerate(KD_TERMS))
    model.kd_scale = 0.5
    torch.manual_seed(3)
    half, half_items = model.loss(make_batch(4))
    for i, k in enumerate(KD_TERMS):
        assert half_items[k].item() == pytest.approx(0.5 * items[k].item(), rel=1e-4), k
        assert half[3 + i].item() == pytest.approx(0.5 * loss[3 + i].item(), rel=1e-4), k


def test_the_class_term_carries_ultralytics_class_gain(teacher26):
    """The class term sits beside Ultralytics' class loss, so it carries its gain (cls=0.5 by default): a user's cls
    scales it alike, leaving distillation and detection class gradients in the ratio the weight sets."""
    terms = {}
    for gain in (0.5, 1.0):
        student = make_student()
        student.args = get_cfg(overrides={"epochs": 2, "imgsz": 64, "cls": gain})
        settings = DistillConfig(kd_cls=1.0, kd_box=1.0, kd_feat=0.0, kd_warmup=0)
        terms[gain] = logged_terms(KDModel(load_checkpoint(teacher26)[0], student, settings).train())
    assert terms[1.0]["kd_cls"] == pytest.approx(2 * terms[0.5]["kd_cls"], rel=1e-4)
    assert terms[1.0]["kd_box"] == pytest.approx(terms[0.5]["kd_box"], rel=1e-4)


def test_kd_one2one_terms_carry_the_one2one_weight_and_the_feature_term_reads_one2many_alone(teacher26):
    """With kd_one2one the one-to-one branch adds its terms times YOLO26's one2one weight (which E2ELoss moves during
    training), while the feature term stays the one-to-many branch's (the one2one head sees detached features)."""
    off = build(teacher26, "l2")
    off.loss(make_batch())  # the first loss makes the criterion
    base = logged_terms(off)
    model = build(teacher26, "l2", kd_one2one=True)
    model.loss(make_batch())
    added = {}
    for o2o in (0.2, 0.6):
        model.student_model.criterion.o2o = o2o
        terms = logged_terms(model)
        added[o2o] = {k: terms[k] - base[k] for k in ("kd_cls", "kd_box")}
        assert terms["kd_feat"] == pytest.approx(base["kd_feat"], rel=1e-4)
    for k in ("kd_cls", "kd_box"):
        assert added[0.2][k] > 0 and added[0.6][k] == pytest.approx(3 * added[0.2][k], rel=1e-3), k


def test_the_portable_checkpoint_form_carries_the_training_model_s_balance_and_identity(teacher26):
    """The EMA's copy saves the checkpoint, but the training model measured the balance: its state is what resume
    reads back, with the teacher's digest and the data fingerprint; no teacher travels."""
    from yolodistill.balance import AutoBalance

    model = build(teacher26, kd_balance="auto")
    model.teacher_digest, model.data_fingerprint = "ab12", {"train": "cd34"}
    measured = AutoBalance(KD_TERMS, multipliers={"kd_cls": 2.0, "kd_box": 3.0, "kd_feat": 4.0})
    m = model.portable(measured)
    assert m.yolodistill_balance == {"kd_cls": 2.0, "kd_box": 3.0, "kd_feat": 4.0}
    assert model.portable().yolodistill_balance is None  # its own balance has measured nothing yet
    assert (m.yolodistill_teacher, m.yolodistill_data, m.teacher_model) == ("ab12", {"train": "cd34"}, None)
    assert m.yolodistill == model.settings.to_dict() and m.student_model is model.student_model


def test_autobatch_profiles_the_teacher_pass_with_the_student(teacher26):
    """AutoBatch measures the memory of what forward returns: the teacher's scores must be among it, or batch=-1
    sizes batches for the student alone and a training step runs out of memory."""
    from yolodistill.model import ProfiledPair

    model = build(teacher26)
    img = make_batch()["img"]
    student, teacher_scores = ProfiledPair(model)(img)
    expected = model.teacher_pass(img)
    assert len(teacher_scores) == len(expected) and teacher_scores[0].shape == expected["one2many"]["scores"].shape
    assert torch.equal(teacher_scores[0], expected["one2many"]["scores"])
    assert head_branches(student)["one2many"]["scores"].shape[0] == img.shape[0]

    start_alone = build(teacher26, kd_cls=0.0, kd_box=0.0, kd_feat=0.0, kd_assign="student")
    out = ProfiledPair(start_alone)(img)  # the teacher was released: a TypeError, and AutoBatch fell back silently
    assert head_branches(out)["one2many"]["scores"].shape[0] == img.shape[0]


def test_no_balance_without_a_term(teacher26, monkeypatch):
    """LAD with every weight at 0 under kd_balance cap: the cap waited for terms, measuring the backbone's gradient
    (a second backward) on every batch."""
    model = build(teacher26, kd_cls=0.0, kd_box=0.0, kd_feat=0.0, kd_assign="teacher", kd_balance="cap")
    assert model.teacher_runs and model.balance is None
    calls, real = [], torch.autograd.grad
    monkeypatch.setattr(torch.autograd, "grad", lambda *a, **k: calls.append(1) or real(*a, **k))
    for seed in range(3):
        model.loss(make_batch(seed=seed))
    assert calls == [] and model.portable().yolodistill_balance is None


def test_single_cls_with_classes_folds_only_the_kept_classes_of_the_teacher(teacher26):
    """single_cls with classes=[0]: Ultralytics drops the labels of classes 1 and 2, then calls the rest class 0; the
    teacher's folded score must be its class-0 score, not the highest of all three (the left-out classes would be
    taught as objects the labels call background)."""
    teacher = load_checkpoint(teacher26)[0]
    torch.manual_seed(0)
    student = DetectionModel("yolo26n.yaml", nc=1, verbose=False)
    student.args = get_cfg(overrides={"epochs": 2, "imgsz": 64, "single_cls": True, "classes": [0]})
    model = KDModel(teacher, student, DistillConfig(kd_warmup=0)).train()
    img = make_batch()["img"]
    raw = head_branches(teacher(img))["one2many"]["scores"]
    assert model.excluded_classes() == [1, 2]
    assert torch.equal(model.teacher_pass(img)["one2many"]["scores"][:, 0], raw[:, 0])


def test_crosskd_folds_its_cross_head_scores_without_the_left_out_classes(teacher26, monkeypatch):
    """single_cls with classes=[1, 2]: the teacher's class 0 is background before its classes are folded into one,
    and CrossKD's cross-head scores (the teacher head on student features) must be folded the same way, or the two
    sides of the cross term fold different classes."""
    from yolodistill import features

    folded = []
    real = features.fold_classes
    monkeypatch.setattr(features, "fold_classes", lambda s: folded.append(s.detach().clone()) or real(s))
    torch.manual_seed(0)
    student = DetectionModel("yolo26n.yaml", nc=1, verbose=False)
    student.args = get_cfg(overrides={"epochs": 2, "imgsz": 64, "single_cls": True, "classes": [1, 2]})
    model = KDModel(load_checkpoint(teacher26)[0], student,
                    DistillConfig(feat_loss="cross", kd_warmup=0, kd_feat=1.0)).train()
    assert model.excluded_classes() == [0]
    model.loss({**make_batch(), "cls": torch.zeros(2, 1)})
    assert folded and all(s.shape[1] == 3 for s in folded)  # the cross head's scores, one fold per call
    for scores in folded:
        assert torch.sigmoid(scores[:, 0].float()).max() < 1e-6
        assert torch.sigmoid(scores[:, 1:].float()).max() > 1e-3
