"""The parity check that an export must pass: detections paired by IoU and class, tolerances per precision, the INT8
gate's decision, and the precision OpenVINO runs a file at on this CPU."""

from __future__ import annotations

import numpy as np
import pytest

from yolodistill import parity as pa


def test_openvino_at_f32_pins_the_cpu_precision_inside_the_block_only():
    import openvino as ov

    default = ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT")
    with pa.openvino_at_f32():
        assert ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT") == ov.Type.f32
    assert ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT") == default


def test_runtime_precision_follows_openvino(monkeypatch):
    import openvino as ov

    assert pa.runtime_precision("onnx", "fp32") == "fp32" and pa.runtime_precision("openvino", "int8") == "int8"
    for hint, fp32, fp16 in ((ov.Type.bf16, "bf16", "bf16"), (ov.Type.f16, "fp16", "fp16"),
                             (ov.Type.f32, "fp32", "fp16")):  # an fp16 file computed in f32 loses nothing
        monkeypatch.setattr(ov.Core, "get_property", lambda self, device, key, h=hint: h)
        assert pa.runtime_precision("openvino", "fp32") == fp32 and pa.runtime_precision("openvino", "fp16") == fp16
    bf16 = pa.TOLERANCES["bf16"]
    assert bf16.box_limit(96) == pytest.approx(4.8) and bf16.box_limit(640) == pytest.approx(32)
    assert pa.TOLERANCES["fp32"].box_limit(640) == 1


@pytest.mark.parametrize(
    "fp32, int8, max_drop, passed",
    [(0.40, 0.39, 0.02, True), (0.40, 0.38, 0.02, True), (0.40, 0.37, 0.02, False), (0.30, 0.32, 0.0, True),
     (0.30, 0.2999, 0.0, False)],
)
def test_int8_gate_decision(fp32, int8, max_drop, passed):
    gate = pa.Int8Gate(fp32, int8, max_drop)
    assert gate.passed is passed
    assert gate.drop == pytest.approx(fp32 - int8)


def results(rows: list[list[float]]):
    """Ultralytics Results for one blank 64 px image with boxes given as [x1, y1, x2, y2, conf, cls]."""
    import torch
    from ultralytics.engine.results import Results

    boxes = torch.tensor(rows, dtype=torch.float32).reshape(-1, 6)
    return Results(np.zeros((64, 64, 3), np.uint8), path="blank.png", names={0: "a", 1: "b"}, boxes=boxes)


def test_compare_forgives_threshold_flips_but_not_confident_misses():
    tol = pa.TOLERANCES["fp32"]
    reference = results([[10, 10, 30, 30, 0.5, 0], [40, 40, 60, 60, 0.00105, 1]])
    close = results([[10.5, 10, 30, 30, 0.495, 0]])  # the borderline detection fell under conf 0.001: fine
    parity = pa.compare([reference], [close], 64, conf=0.001, margin=tol.margin)
    assert (parity.pairs, parity.confident, parity.matched) == (1, 2, 1.0)
    assert parity.max_box_px == pytest.approx(0.5) and parity.max_score == pytest.approx(0.005)
    assert parity.failures(tol) == []
    lost = results([[40, 40, 60, 60, 0.00105, 1]])  # the confident detection is gone
    parity = pa.compare([reference], [lost], 64, conf=0.001, margin=tol.margin)
    assert parity.matched == 0.0 and parity.failures(tol) == ["matched 0% of 1 confident detections < 95%"]


def test_match_pairs_is_greedy_by_iou_and_class():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]], float)
    b = np.array([[1, 0, 11, 10], [0, 0, 10, 10], [50, 50, 60, 60]], float)
    pairs = pa.match_pairs(a, np.array([0, 0, 1]), b, np.array([0, 0, 2]))
    assert sorted(pairs) == [(0, 1), (1, 0)]  # the exact duplicate pairs first; different classes never pair


def test_boxes_clipped_flat_at_the_edge_pair_with_their_twin():
    """A low-score box predicted past the image edge is clipped to zero height: its exact twin in the export must
    still pair (a distilled BCCD student's ONNX export was refused at 87 % matched for these alone)."""
    a = np.array([[373.8, 0, 503.8, 0], [2.3, 0, 75.9, 0], [0, 480, 61, 480], [10, 10, 30, 30]], float)
    b = a + np.array([[1e-4, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    assert sorted(pa.match_pairs(a, np.array([1, 0, 0, 0]), b, np.array([1, 0, 0, 0]))) == [(0, 0), (1, 1), (2, 2),
                                                                                             (3, 3)]
    apart = a[:1] + [2, 0, 2, 0]  # 2 px away: another detection
    assert pa.match_pairs(a[:1], np.array([1]), apart, np.array([1])) == []
    assert pa.match_pairs(a[3:], np.array([0]), np.array([[10, 10, 30, 10]], float), np.array([0])) == []

