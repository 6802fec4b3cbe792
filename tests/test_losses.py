"""The head losses against values worked out by hand on tiny tensors, and the properties the study needs of them:
a student false positive on the teacher's background gets a real gradient, and every term is zero at a match."""

from __future__ import annotations

import math

import pytest
import torch

from yolodistill.losses import (BoxIoUKD, BoxKD, DenseClassKD, LocalizationKD, box_weights, decode_distances,
                                label_gates)

LOG3 = math.log(3.0)


def kl(p: list[float], q: list[float]) -> float:
    """KL(p || q) of two discrete distributions, by hand."""
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))


def softmax(x: list[float]) -> list[float]:
    e = [math.exp(v) for v in x]
    return [v / sum(e) for v in e]


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_dense_class_kd_by_hand():
    # One anchor, one class: teacher p = sigmoid(log 3) = 0.75, student q = 0.5.
    # BCE(0, 0.75) = log 2; factor |0.75 - 0.5| = 0.25; divided by the target score sum N.
    s, t = torch.zeros(1, 1, 1), torch.full((1, 1, 1), LOG3)
    assert DenseClassKD()(s, t, torch.tensor(1.0)).item() == pytest.approx(math.log(2) * 0.25, rel=1e-6)
    assert DenseClassKD()(s, t, torch.tensor(4.0)).item() == pytest.approx(math.log(2) * 0.25 / 4, rel=1e-6)
    assert DenseClassKD(beta=2.0)(s, t, torch.tensor(1.0)).item() == pytest.approx(math.log(2) * 0.0625, rel=1e-6)


def logit_grad(student: list[float], teacher: list[float], norm: float = 1.0) -> torch.Tensor:
    """d L / d s for one class over a row of anchors."""
    s = torch.tensor([[student]], requires_grad=True)
    DenseClassKD()(s, torch.tensor([[teacher]]), torch.tensor(norm)).backward()
    return s.grad[0, 0]


def test_student_false_positive_on_teacher_background_gets_a_real_gradient():
    """Anchor 0: the student fires (q 0.88) where the teacher sees background (p 5e-5). Anchor 1: a true object the
    teacher is sure of (p 1) and the student under-confident (q 0.5). The old teacher-confidence weighting gave the
    first 4e-4 of the second's gradient; here it is (q - p)|q - p|, about 0.78, three times the under-confident one."""
    g = logit_grad([2.0, 0.0], [-10.0, 10.0])
    q, p = sigmoid(2.0), sigmoid(-10.0)
    assert g[0].item() == pytest.approx((q - p) * abs(q - p), rel=1e-4)  # pushes the false positive down
    assert g[0].item() > 0.75
    assert g[1].item() == pytest.approx(-(sigmoid(10.0) - 0.5) ** 2, rel=1e-4)  # pulls the true object up
    assert g[0].item() > 3 * abs(g[1].item())


def test_background_logits_are_not_pushed_up():
    """Student and teacher agree on the top class; the student's other classes sit lower than the teacher's. A
    softmax-over-classes term raised those background logits; the per-class binary term pulls each only as far as
    the teacher's own probability, never past it."""
    teacher = [4.0, -3.0, -3.0]
    student = [4.0, -6.0, -6.0]
    s = torch.tensor([[[v] for v in student]], requires_grad=True)
    DenseClassKD()(s, torch.tensor([[[v] for v in teacher]]), torch.tensor(1.0)).backward()
    g = s.grad[0, :, 0]
    assert g[0].item() == pytest.approx(0.0, abs=1e-7)  # matched class: no pull
    q, p = sigmoid(-6.0), sigmoid(-3.0)
    assert g[1].item() == pytest.approx((q - p) * abs(q - p), rel=1e-4)  # up by the Bernoulli gap only
    assert abs(g[1].item()) < 3e-3


def test_dense_class_kd_is_zero_at_a_match():
    t = torch.randn(2, 3, 50) * 4
    s = t.clone().requires_grad_(True)
    loss = DenseClassKD()(s, t, torch.tensor(3.0))
    loss.backward()
    assert loss.item() == pytest.approx(0.0, abs=1e-7)
    assert s.grad.abs().max().item() == pytest.approx(0.0, abs=1e-7)


def test_box_iou_kd_by_hand():
    # Student box 2x2 around the anchor, teacher 4x4 around the same point: IoU 1/4, same centre and aspect, so
    # CIoU = IoU. Anchor 0 weight 2, anchor 1 (a very different box) weight 0 and ignored; N = 4.
    s = torch.tensor([[[1.0, 9.0], [1.0, 9.0], [1.0, 9.0], [1.0, 9.0]]])
    t = torch.tensor([[[2.0, 1.0], [2.0, 1.0], [2.0, 1.0], [2.0, 1.0]]])
    w = torch.tensor([[2.0, 0.0]])
    assert BoxIoUKD()(s, t, w, torch.tensor(4.0)).item() == pytest.approx(2 * 0.75 / 4, rel=1e-5)
    assert BoxIoUKD()(t.clone(), t, w, torch.tensor(4.0)).item() == pytest.approx(0.0, abs=1e-6)
    none = BoxIoUKD()(s.requires_grad_(), t, torch.zeros(1, 2), torch.tensor(4.0))
    assert none.item() == 0.0 and none.requires_grad  # no positive: zero, and the graph kept for the backward pass


def ciou(a: list[float], b: list[float]) -> float:
    """Complete IoU of two xyxy boxes, by hand (Zheng et al., AAAI 2020), with Ultralytics' eps."""
    eps = 1e-7
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    wa, ha, wb, hb = a[2] - a[0], a[3] - a[1] + eps, b[2] - b[0], b[3] - b[1] + eps
    iou = inter / (wa * ha + wb * hb - inter + eps)
    c2 = (max(a[2], b[2]) - min(a[0], b[0])) ** 2 + (max(a[3], b[3]) - min(a[1], b[1])) ** 2 + eps
    rho2 = ((b[0] + b[2] - a[0] - a[2]) ** 2 + (b[1] + b[3] - a[1] - a[3]) ** 2) / 4
    v = 4 / math.pi**2 * (math.atan(wb / hb) - math.atan(wa / ha)) ** 2
    return iou - (rho2 / c2 + v * v / (v - iou + 1 + eps))


def test_box_iou_kd_by_hand_off_centre():
    """Other centres and aspects, where CIoU, DIoU, GIoU and IoU all differ; the teacher's negative side is a box
    side of 0, its distances being clamped at 0 (a box, never a negative width)."""
    s = torch.tensor([1.0, 2.0, 3.0, 0.5]).view(1, 4, 1)
    t = torch.tensor([2.0, 1.0, 1.0, 1.5]).view(1, 4, 1)
    box_s, box_t = [-1.0, -2.0, 3.0, 0.5], [-2.0, -1.0, 1.0, 1.5]  # ltrb around the anchor point (0, 0)
    expected = 0.7 * (1 - ciou(box_s, box_t)) / 1.3
    assert BoxIoUKD()(s, t, torch.tensor([[0.7]]), torch.tensor(1.3)).item() == pytest.approx(expected, rel=1e-5)
    negative = t.clone()
    negative[0, 2, 0] = -4.0
    clamped = BoxIoUKD()(s, negative, torch.tensor([[0.7]]), torch.tensor(1.3)).item()
    assert clamped == pytest.approx(0.7 * (1 - ciou(box_s, [-2.0, -1.0, 0.0, 1.5])) / 1.3, rel=1e-5)


def test_localization_kd_by_hand_over_sides_and_weights():
    """Every side its own distribution and every anchor its own weight: the mean over the four sides, weighted."""
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(1, 12, 2, generator=g) * 2, torch.randn(1, 12, 2, generator=g) * 2  # reg_max 3, two anchors
    w, temp, n = [0.2, 0.9], 2.0, 1.7
    expected = 0.0
    for a in range(2):
        sides = [kl(softmax([x / temp for x in t[0, 3 * k:3 * k + 3, a].tolist()]),
                    softmax([x / temp for x in s[0, 3 * k:3 * k + 3, a].tolist()])) for k in range(4)]
        expected += w[a] * temp**2 * sum(sides) / 4
    got = LocalizationKD(3, temp)(s, t, torch.tensor([w]), torch.tensor(n)).item()
    assert got == pytest.approx(expected / n, rel=1e-5)


def test_localization_kd_by_hand():
    # reg_max 2, one anchor: student uniform on every side, teacher softmax([log 3, 0]) = [0.75, 0.25].
    s = torch.zeros(1, 8, 1)
    t = torch.tensor([LOG3, 0.0] * 4).view(1, 8, 1)
    one = torch.ones(1, 1)
    assert LocalizationKD(2, 1.0)(s, t, one, torch.tensor(1.0)).item() == pytest.approx(kl([0.75, 0.25], [0.5, 0.5]),
                                                                                        rel=1e-5)
    p2 = softmax([LOG3 / 2, 0.0])
    assert LocalizationKD(2, 2.0)(s, t, one, torch.tensor(2.0)).item() == pytest.approx(4 * kl(p2, [0.5, 0.5]) / 2,
                                                                                        rel=1e-5)
    assert LocalizationKD(2, 2.0)(t.clone(), t, one, torch.tensor(1.0)).item() == pytest.approx(0.0, abs=1e-6)


def test_box_kd_follows_the_head_families_with_ultralytics_gains():
    s, t = torch.zeros(1, 8, 1), torch.tensor([LOG3, 0.0] * 4).view(1, 8, 1)  # DFL heads, reg_max 2
    w, n = torch.ones(1, 1), torch.tensor(1.0)
    both = BoxKD(2, 2, box_gain=7.5, dfl_gain=1.5, temperature=1.0)
    # bins [0, 1]: the student's sides are 0.5, the teacher's 0.25; same centre and aspect, so 1 - CIoU = 1 - 1/4
    assert both(s, t, w, n).item() == pytest.approx(7.5 * 0.75 + 1.5 * kl([0.75, 0.25], [0.5, 0.5]), rel=1e-5)
    assert BoxKD(1, 2, 7.5, 1.5).ld is None  # YOLO26 student, DFL teacher: IoU on decoded distances only
    assert BoxKD(1, 1, 7.5, 1.5).ld is None


def test_box_weights_cover_positives_and_the_ring():
    scores = torch.tensor([[0.6, 0.0, 0.0, 0.0]])
    fg = torch.tensor([[True, False, False, False]])
    inside = torch.tensor([[True, True, False, False]])
    teacher = torch.tensor([[[0.0, LOG3, LOG3, -LOG3]]])  # confidence 0.5, 0.75, 0.75, 0.25
    w = box_weights(scores, fg, inside, teacher, ring=0.5)
    assert w[0].tolist() == pytest.approx([0.6, 0.375, 0.0, 0.0])  # positive, ring, outside, outside
    assert box_weights(scores, fg, inside, teacher, ring=0.0)[0].tolist() == pytest.approx([0.6, 0.0, 0.0, 0.0])


def test_decode_distances_is_the_dfl_expectation():
    boxes = torch.tensor([0.0, LOG3] * 4).view(1, 8, 1)  # softmax [0.25, 0.75] over bins 0, 1
    assert decode_distances(boxes, 2).flatten().tolist() == pytest.approx([0.75] * 4)
    assert torch.equal(decode_distances(boxes[:, :4], 1), boxes[:, :4])


def test_label_gates_by_hand():
    """Class: one anchor, three classes, target y = (0.6, 0, 0). Class 0: teacher 0.55, student 0.3, teacher closer:
    open. Class 1: an unlabelled cell the teacher sees (0.8) where the student says 0.1: closed, the label says 0.
    Class 2: teacher 0.01, student 0.2 on background: open. Box: anchor 0 a positive whose teacher box overlaps the
    target more than the student's (IoU 1 against 0.25): open; anchor 1 the reverse; anchor 2 not a positive."""
    targets = torch.tensor([[[0.6, 0.0, 0.0]] * 3])
    q = torch.tensor([[[0.3, 0.1, 0.2]] * 3])
    p = torch.tensor([[[0.55, 0.8, 0.01]] * 3])
    box = torch.tensor([0.0, 0.0, 4.0, 4.0])
    quarter = torch.tensor([0.0, 0.0, 2.0, 2.0])  # IoU 1/4 with box
    target_boxes = box.expand(1, 3, 4)
    s_box = torch.stack([quarter, box, box])[None]
    t_box = torch.stack([box, quarter, box])[None]
    fg = torch.tensor([[True, True, False]])
    cls, boxes = label_gates((q, s_box), (p, t_box), targets, target_boxes, fg)
    assert cls.shape == (1, 3, 3)  # (B, C, A), as the head's class logits
    assert cls[0, :, 0].tolist() == [1.0, 0.0, 1.0]
    assert boxes.tolist() == [[True, False, False]]


def test_gated_class_kd_pulls_the_labels_way_or_not_at_all():
    """Where the gate is open the teacher-bounded term's gradient has the label loss's sign (the teacher lies between
    the student and the label, or beyond the label by less than the student); where it is shut, none."""
    torch.manual_seed(0)
    s = torch.randn(2, 3, 50, requires_grad=True)
    t = torch.randn(2, 3, 50)
    y = (torch.rand(2, 50, 3) > 0.7).float() * torch.rand(2, 50, 3)
    q, p = s.detach().sigmoid().permute(0, 2, 1), t.sigmoid().permute(0, 2, 1)
    gate, _ = label_gates((q, torch.zeros(2, 50, 4)), (p, torch.zeros(2, 50, 4)), y, torch.zeros(2, 50, 4),
                          torch.zeros(2, 50, dtype=torch.bool))
    DenseClassKD()(s, t, torch.tensor(1.0), gate).backward()
    label_sign = (s.detach().sigmoid() - y.permute(0, 2, 1)).sign()
    open_ = gate.bool() & (s.grad != 0)
    assert 0 < gate.sum() < gate.numel()
    assert torch.equal(s.grad[open_].sign(), label_sign[open_])
    assert (s.grad[~gate.bool()] == 0).all()


def test_dense_class_kd_by_hand_over_anchors_classes_gate_and_norm():
    """Two classes over two anchors, background included, divided by the target score sum N (here below 1, so no
    floor is taken on it), and a gate that shuts one term: each term BCE(s, p) |p - q|^beta by hand.
    Anchor 0: class 0 s = 0 (q 0.5), t = log 3 (p 0.75); class 1 s = log 3 (q 0.75), t = -log 3 (p 0.25), a student
    false positive on the teacher's background. Anchor 1: class 0 a match (no term); class 1 s = -log 3 (q 0.25),
    t = 0 (p 0.5)."""
    s = torch.tensor([[[0.0, 1.0], [LOG3, -LOG3]]])
    t = torch.tensor([[[LOG3, 1.0], [-LOG3, 0.0]]])

    def bce(q: float, p: float) -> float:  # BCE of a student probability q against a teacher probability p
        return -(p * math.log(q) + (1 - p) * math.log(1 - q))

    terms = [bce(0.5, 0.75) * 0.25, bce(0.75, 0.25) * 0.5, bce(0.25, 0.5) * 0.25]  # beta 1: |p - q|
    assert DenseClassKD()(s, t, torch.tensor(0.5)).item() == pytest.approx(sum(terms) / 0.5, rel=1e-5)
    squared = [bce(0.5, 0.75) * 0.25**2, bce(0.75, 0.25) * 0.5**2, bce(0.25, 0.5) * 0.25**2]
    assert DenseClassKD(beta=2.0)(s, t, torch.tensor(0.5)).item() == pytest.approx(sum(squared) / 0.5, rel=1e-5)
    gate = torch.tensor([[[1.0, 1.0], [0.0, 1.0]]])  # the false positive's term shut
    assert DenseClassKD()(s, t, torch.tensor(0.5), gate).item() == pytest.approx((terms[0] + terms[2]) / 0.5,
                                                                                 rel=1e-5)


def test_box_iou_kd_does_not_clamp_the_students_distances():
    """Only the teacher's distances are clamped at 0: a student side of -0.5 is a box shifted past the anchor point,
    as in Ultralytics' box loss, not a side of 0."""
    s = torch.tensor([-0.5, 1.0, 1.5, 1.0]).view(1, 4, 1)
    t = torch.tensor([1.0, 1.0, 1.0, 1.0]).view(1, 4, 1)
    box_s, box_t = [0.5, -1.0, 1.5, 1.0], [-1.0, -1.0, 1.0, 1.0]  # xyxy around the anchor point (0, 0)
    expected = 0.8 * (1 - ciou(box_s, box_t)) / 2.0
    assert BoxIoUKD()(s, t, torch.tensor([[0.8]]), torch.tensor(2.0)).item() == pytest.approx(expected, rel=1e-5)


def test_box_kd_decodes_each_head_with_its_own_reg_max():
    """A YOLO26 student (reg_max 1, distances) and a DFL teacher (reg_max 2): each decoded as its own head, then
    compared by IoU only. Student sides 0.5, teacher sides 0.25 (softmax [0.75, 0.25] over bins 0, 1): same centre
    and aspect, IoU 1/4, so CIoU = 1/4; box gain 2, N 1.5."""
    s = torch.full((1, 4, 1), 0.5)
    t = torch.tensor([LOG3, 0.0] * 4).view(1, 8, 1)
    loss = BoxKD(1, 2, box_gain=2.0, dfl_gain=9.0)(s, t, torch.ones(1, 1), torch.tensor(1.5))
    assert loss.item() == pytest.approx(2.0 * 0.75 / 1.5, rel=1e-5)


def test_box_weights_take_each_images_top_teacher_class():
    """Two images, two classes: the ring weight is `ring` x the teacher's largest class probability at that anchor of
    that image (not a mean over classes, not a maximum over the batch); a positive keeps its target score."""
    scores = torch.tensor([[0.0, 0.0], [0.0, 0.9]])
    fg = torch.tensor([[False, False], [False, True]])
    inside = torch.ones(2, 2, dtype=torch.bool)
    teacher = torch.tensor([[[LOG3, -LOG3], [0.0, LOG3]],  # image 0: class probabilities (0.75, 0.5), (0.25, 0.75)
                            [[-LOG3, -LOG3], [-LOG3, 0.0]]])  # image 1: (0.25, 0.25), (0.25, 0.5)
    w = box_weights(scores, fg, inside, teacher, ring=0.5)
    assert w.tolist() == [pytest.approx([0.375, 0.375]), pytest.approx([0.125, 0.9])]


def test_label_gates_shut_on_ties_and_off_positives():
    """The gates are strict: a teacher exactly as far from the label as the student (either side of it) does not open
    the class gate, nor a teacher box exactly as good as the student's the box gate; an anchor that is not a
    student positive stays shut however good the teacher's box. Boxes are xyxy: target (0, 0, 4, 4); at anchor 2 the
    student's (1, 1, 4, 4) overlaps it 9/16 and the teacher's (0, 0, 2, 4) 8/16, so the gate stays shut (read as
    xywh the order would flip)."""
    targets = torch.tensor([[[0.5, 0.0], [0.0, 0.0], [0.0, 0.0]]])
    q = torch.tensor([[[0.25, 0.125], [0.5, 0.125], [0.5, 0.5]]])
    p = torch.tensor([[[0.75, 0.125], [0.25, 0.0625], [0.5, 0.25]]])
    target = torch.tensor([0.0, 0.0, 4.0, 4.0])
    quarter = torch.tensor([0.0, 0.0, 2.0, 2.0])
    s_box = torch.stack([quarter, quarter, torch.tensor([1.0, 1.0, 4.0, 4.0])])[None]
    t_box = torch.stack([quarter, target, torch.tensor([0.0, 0.0, 2.0, 4.0])])[None]
    fg = torch.tensor([[True, False, True]])
    cls, boxes = label_gates((q, s_box), (p, t_box), targets, target.expand(1, 3, 4), fg)
    # (B, C, A): anchor 0 both ties (0.75 and 0.25 around 0.5; equal probabilities), anchor 1 both closer, anchor 2
    # class 0 a tie, class 1 closer
    assert cls[0].tolist() == [[0.0, 1.0, 0.0], [0.0, 1.0, 1.0]]
    assert boxes.tolist() == [[False, False, False]]  # a tie, not a positive, the student's box the better one
    t_box[0, 2] = target  # the teacher's box now the better: open
    assert label_gates((q, s_box), (p, t_box), targets, target.expand(1, 3, 4), fg)[1].tolist() == [[False, False,
                                                                                                    True]]
