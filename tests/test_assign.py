"""The recorder on Ultralytics' own task-aligned assigner, on a 4x4 grid worked out by hand: which anchors are
positives, which lie inside a box (the ring), the divisor, and whose scores rank them under LAD."""

from __future__ import annotations

import pytest
import torch
from ultralytics.utils.tal import TaskAlignedAssigner

from yolodistill.assign import Assigned, Assignment

# Anchor centres of a 4x4 grid at stride 16, row by row: anchor y * 4 + x sits at (16 x + 8, 16 y + 8).
ANCHORS = torch.tensor([[16 * x + 8.0, 16 * y + 8.0] for y in range(4) for x in range(4)])
BOX = torch.tensor([[[0.0, 0.0, 32.0, 32.0]]])  # holds the centres of anchors 0, 1, 4 and 5
INSIDE = [0, 1, 4, 5]


def assign(recorder: Assignment, high: list[int]):
    """Every anchor predicts the ground-truth box; the anchors in `high` score 0.9 for its class, the others 0.1."""
    scores = torch.full((1, 16, 1), 0.1)
    scores[0, high] = 0.9
    recorder(scores, BOX.expand(1, 16, 4).clone(), ANCHORS, torch.zeros(1, 1, 1), BOX, torch.ones(1, 1, 1))
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
