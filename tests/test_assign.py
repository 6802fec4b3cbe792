"""The recorder on Ultralytics' own task-aligned assigner, on a 4x4 grid worked out by hand: which anchors are
positives, which lie inside a box (the ring), the divisor, and whose scores rank them under LAD."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from ultralytics.cfg import get_cfg
from ultralytics.nn.tasks import DetectionModel
from ultralytics.utils.tal import TaskAlignedAssigner

from yolodistill.assign import Assigned, Assignment, ensure_assignment, one2many_gain, take

# Anchor centres of a 4x4 grid at stride 16, row by row: anchor y * 4 + x sits at (16 x + 8, 16 y + 8).
ANCHORS = torch.tensor([[16 * x + 8.0, 16 * y + 8.0] for y in range(4) for x in range(4)])
BOX = torch.tensor([[[0.0, 0.0, 32.0, 32.0]]])  # holds the centres of anchors 0, 1, 4 and 5
INSIDE = [0, 1, 4, 5]
# The middle quarter of BOX: same centre and aspect ratio, so its CIoU with BOX is its plain IoU, 16^2 / 32^2 = 0.25.
QUARTER = torch.tensor([8.0, 8.0, 24.0, 24.0])


def assign(recorder: Assignment, high: list[int], boxes: torch.Tensor | None = None):
    """Every anchor predicts the ground-truth box (or `boxes`, (1, 16, 4)); the anchors in `high` score 0.9 for its
    class, the others 0.1."""
    scores = torch.full((1, 16, 1), 0.1)
    scores[0, high] = 0.9
    boxes = BOX.expand(1, 16, 4).clone() if boxes is None else boxes
    recorder(scores, boxes, ANCHORS, torch.zeros(1, 1, 1), BOX, torch.ones(1, 1, 1))
    return recorder.last


def test_positives_ring_and_divisor_by_hand():
    recorder = Assignment(TaskAlignedAssigner(topk=2, num_classes=1, alpha=0.5, beta=6.0))
    last = assign(recorder, high=[1, 4])
    assert torch.nonzero(last.fg[0]).flatten().tolist() == [1, 4]  # the two best aligned of the four inside
    assert torch.nonzero(last.inside[0]).flatten().tolist() == INSIDE
    # a perfect box (IoU 1) on both: each positive's target score is its IoU, 1; the divisor is their sum
    assert last.scores[0, [1, 4]].tolist() == pytest.approx([1.0, 1.0]) and last.scores.sum().item() == pytest.approx(2)
    assert last.norm.item() == pytest.approx(2.0)
    assert recorder.topk == 2  # Ultralytics reads the assigner's settings through the recorder


def test_label_assignment_distillation_ranks_by_the_teacher():
    recorder = Assignment(TaskAlignedAssigner(topk=2, num_classes=1, alpha=0.5, beta=6.0))
    recorder.teacher = (torch.full((1, 16, 1), 0.1).index_fill(1, torch.tensor([0, 5]), 0.9),
                        BOX.expand(1, 16, 4).clone())
    last = assign(recorder, high=[1, 4])  # the student prefers 1 and 4; the teacher 0 and 5
    assert torch.nonzero(last.fg[0]).flatten().tolist() == [0, 5]


def test_the_first_images_have_their_own_divisor():
    both = Assigned(fg=torch.tensor([[True, False], [True, True]]), scores=torch.tensor([[0.5, 0.0], [1.0, 2.0]]),
                    norm=torch.tensor(3.5), inside=torch.ones(2, 2, dtype=torch.bool))
    first = both.first(1)
    assert first.fg.tolist() == [[True, False]] and first.norm.item() == 1.0  # 0.5, clamped to 1 like Ultralytics'
    assert both.first(2) is both


def test_label_assignment_distillation_takes_the_teachers_boxes_too():
    """Under LAD the soft targets come from the teacher's boxes' IoUs: the teacher's exact boxes give its positives
    target 1 (divisor 2), where the student's quarter-size boxes would give 0.25 each (divisor 1)."""
    recorder = Assignment(TaskAlignedAssigner(topk=2, num_classes=1, alpha=0.5, beta=6.0))
    recorder.teacher = (torch.full((1, 16, 1), 0.1).index_fill(1, torch.tensor([0, 5]), 0.9),
                        BOX.expand(1, 16, 4).clone())
    last = assign(recorder, high=[1, 4], boxes=QUARTER.expand(1, 16, 4).clone())
    assert torch.nonzero(last.fg[0]).flatten().tolist() == [0, 5]
    assert last.scores[0, [0, 5]].tolist() == pytest.approx([1.0, 1.0]) and last.norm.item() == pytest.approx(2.0)
    assert last.teacher is recorder.teacher  # the gate reuses the teacher's decoded predictions


def test_soft_targets_and_divisor_are_the_scaled_align_metric_by_hand():
    """alpha = beta = 1. Anchor 1 predicts BOX (IoU 1), the others QUARTER (IoU 0.25); 1 and 4 score 0.9, so the
    align metrics are 0.9 (anchor 1), 0.225 (anchor 4), 0.025 (anchors 0, 5): top-2 is {1, 4}. Each target is its
    metric x the best positive IoU (1) / the best metric (0.9): 1 and 0.25. The divisor is their sum, 1.25, not the
    number of positives (2); the box targets are the ground-truth box."""
    recorder = Assignment(TaskAlignedAssigner(topk=2, num_classes=1, alpha=1.0, beta=1.0))
    boxes = QUARTER.expand(1, 16, 4).clone()
    boxes[0, 1] = BOX[0, 0]
    last = assign(recorder, high=[1, 4], boxes=boxes)
    assert torch.nonzero(last.fg[0]).flatten().tolist() == [1, 4]
    assert last.scores[0, [1, 4]].tolist() == pytest.approx([1.0, 0.25], abs=1e-5)
    assert last.targets[0, [1, 4], 0].tolist() == pytest.approx([1.0, 0.25], abs=1e-5)
    assert last.norm.item() == pytest.approx(1.25, abs=1e-5)
    assert last.boxes[0, [1, 4]].tolist() == [BOX[0, 0].tolist()] * 2


def test_the_divisor_is_at_least_1_like_ultralytics():
    """Two positives whose boxes have IoU 0.25 each: target sum 0.5, divisor max(0.5, 1) = 1 as in v8DetectionLoss."""
    recorder = Assignment(TaskAlignedAssigner(topk=2, num_classes=1, alpha=1.0, beta=1.0))
    last = assign(recorder, high=[1, 4], boxes=QUARTER.expand(1, 16, 4).clone())
    assert last.scores.sum().item() == pytest.approx(0.5, abs=1e-5)
    assert last.norm.item() == 1.0


def test_the_ring_is_every_anchor_inside_any_box():
    """Two boxes, one per corner, and a padded row (zeros, mask 0): the ring is the union of both boxes' anchors."""
    recorder = Assignment(TaskAlignedAssigner(topk=2, num_classes=1, alpha=0.5, beta=6.0))
    gt = torch.tensor([[[0.0, 0.0, 32.0, 32.0], [32.0, 32.0, 64.0, 64.0], [0.0, 0.0, 0.0, 0.0]]])
    recorder(torch.full((1, 16, 1), 0.5), torch.tensor([16.0, 16.0, 48.0, 48.0]).expand(1, 16, 4).clone(), ANCHORS,
             torch.zeros(1, 3, 1), gt, torch.tensor([[[1.0], [1.0], [0.0]]]))
    assert torch.nonzero(recorder.last.inside[0]).flatten().tolist() == [0, 1, 4, 5, 10, 11, 14, 15]


def test_the_first_images_keep_their_own_rows_of_every_record():
    """`first` slices every per-image record (ring, targets, boxes, the teacher's predictions), not only fg/scores."""
    rows = torch.arange(2.0).view(2, 1, 1)
    both = Assigned(fg=torch.tensor([[True, False], [True, True]]), scores=torch.tensor([[0.5, 0.0], [1.0, 2.0]]),
                    norm=torch.tensor(3.5), inside=torch.tensor([[True, False], [False, True]]),
                    targets=rows.expand(2, 2, 1), boxes=rows.expand(2, 2, 4),
                    teacher=(rows.expand(2, 2, 1), rows.expand(2, 2, 4)))
    first = both.first(1)
    assert first.inside.tolist() == [[True, False]]
    assert first.targets.shape == (1, 2, 1) and not first.targets.any()
    assert first.boxes.shape == (1, 2, 4) and not first.boxes.any()
    assert isinstance(first.teacher, tuple) and [t.shape[0] for t in first.teacher] == [1, 1]
    assert not first.teacher[0].any() and not first.teacher[1].any()


def test_take_slices_every_tensor_of_a_head_output():
    out = {"one2many": {"boxes": torch.arange(3.0), "feats": [torch.arange(3.0), torch.arange(3.0) + 10]},
           "pair": (torch.arange(3.0), None), "stride": 8}
    part = take(out, slice(1, None))
    assert part["one2many"]["boxes"].tolist() == [1.0, 2.0]
    assert [f.tolist() for f in part["one2many"]["feats"]] == [[1.0, 2.0], [11.0, 12.0]]
    assert isinstance(part["pair"], tuple) and part["pair"][0].tolist() == [1.0, 2.0] and part["pair"][1] is None
    assert part["stride"] == 8


def test_the_recorder_survives_a_copy_of_the_model():
    """After a NaN Ultralytics deep-copies the training model, criterion and recorder included; the copy (and a
    pickle) must come back whole, settings readable through it."""
    recorder = Assignment(TaskAlignedAssigner(topk=2, num_classes=1))
    for clone in (copy.deepcopy(recorder), pickle.loads(pickle.dumps(recorder))):
        assert clone.topk == 2 and isinstance(clone.assigner, TaskAlignedAssigner) and clone.teacher is None


def test_the_recorder_wraps_each_yolo26_branch_once_and_tracks_the_one2many_weight():
    """YOLO26's E2ELoss: the recorder sits on the one2many criterion's assigner (topk 10), once however often it is
    asked for, one2one gets its own (topk 7); the gain is E2ELoss's o2m, 0.8, then 0.1 at the last of 2 epochs."""
    torch.manual_seed(0)
    model = DetectionModel("yolo26n.yaml", nc=3, verbose=False)
    assert one2many_gain(model) == 1.0  # no criterion yet
    model.args = get_cfg(overrides={"epochs": 2, "imgsz": 64})
    recorder = ensure_assignment(model)
    assert model.criterion.one2many.assigner is recorder and ensure_assignment(model) is recorder
    assert isinstance(recorder.assigner, TaskAlignedAssigner) and recorder.topk == 10
    one2one = ensure_assignment(model, "one2one")
    assert one2one is model.criterion.one2one.assigner and one2one is not recorder and one2one.topk == 7
    assert one2many_gain(model) == pytest.approx(0.8)
    model.criterion.update()  # Ultralytics' step at an epoch's end: 1 - 1 / (2 - 1) of the way from 0.8 to 0.1
    assert one2many_gain(model) == pytest.approx(0.1)


def test_a_single_branch_head_has_one2many_gain_1():
    model = DetectionModel("yolov8n.yaml", nc=3, verbose=False)
    model.args = get_cfg(overrides={"epochs": 2, "imgsz": 64})
    recorder = ensure_assignment(model)
    assert model.criterion.assigner is recorder and one2many_gain(model) == 1.0
