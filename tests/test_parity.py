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


def results(rows: list[list[float]], shape: tuple[int, int] = (64, 64)):
    """Ultralytics Results for one blank image (64 px unless `shape`, h x w) with boxes given as [x1, y1, x2, y2, conf,
    cls]."""
    import torch
    from ultralytics.engine.results import Results

    boxes = torch.tensor(rows, dtype=torch.float32).reshape(-1, 6)
    return Results(np.zeros((*shape, 3), np.uint8), path="blank.png", names={0: "a", 1: "b"}, boxes=boxes)


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



def test_openvino_at_f32_puts_the_core_class_back_even_when_the_block_raises():
    """On a CPU whose default is already f32 the property reads the same either way: the class itself must return."""
    import openvino as ov

    core = ov.Core
    with pytest.raises(RuntimeError), pa.openvino_at_f32():
        assert ov.Core is not core
        raise RuntimeError("export failed")
    assert ov.Core is core


def test_parity_thresholds_are_ultralytics_own(tmp_path):
    """Parity must cover the detections Ultralytics' val counts (conf 0.001) and the list its predict keeps (300)."""
    from ultralytics.cfg import get_cfg
    from ultralytics.models.yolo.detect import DetectionValidator

    assert pa.PARITY_CONF == DetectionValidator(save_dir=tmp_path, args=dict(task="detect")).args.conf
    assert pa.MAX_DET == get_cfg().max_det


def test_failures_hold_at_each_limit_and_name_each_break():
    """The tolerances are bounds: a gap equal to one passes, a larger one is named; bf16's box bound grows with the
    input size."""
    tol = pa.TOLERANCES["fp32"]

    def parity(paired=19, box=1.0, score=0.01, imgsz=64):
        return pa.Parity(4, conf=0.001, pairs=paired, confident=20, confident_paired=paired, max_box_px=box,
                         max_score=score, imgsz=imgsz)

    assert parity().failures(tol) == []  # 95 % matched, 1 px, 0.01: all at the limit
    assert parity(paired=18).failures(tol) == ["matched 90% of 20 confident detections < 95%"]
    assert parity(box=1.5).failures(tol) == ["max |Δbox| 1.5 px > 1 px"]
    assert parity(score=0.02).failures(tol) == ["max |Δscore| 0.02 > 0.01"]
    assert len(parity(paired=10, box=7.5, score=0.2).failures(tol)) == 3
    bf16 = pa.TOLERANCES["bf16"]
    assert parity(box=20.0, score=0.01, imgsz=640).failures(bf16) == []  # 5 % of 640 px is 32 px
    assert parity(box=20.0, score=0.01, imgsz=96).failures(bf16) == ["max |Δbox| 20 px > 4.8 px"]


def test_a_confident_detection_without_partner_is_compared_and_fails():
    """An export that lost every detection has no pairs, yet it must count as compared (not 'nothing to compare',
    which refuses differently) and fail; the margin is relative, so a 0.05 score at conf 0.001 is confident."""
    tol = pa.TOLERANCES["fp32"]
    parity = pa.compare([results([[10, 10, 30, 30, 0.05, 0]])], [results([])], 64, conf=0.001, margin=tol.margin)
    assert (parity.pairs, parity.confident, parity.matched, parity.compared) == (0, 1, 0.0, True)
    assert parity.max_box_px is None and parity.max_score is None
    assert "max |Δbox| n/a, max |Δscore| n/a" in parity.render()
    assert parity.failures(tol) == ["matched 0% of 1 confident detections < 95%"]


def test_pairs_near_the_threshold_alone_are_compared_without_a_matched_share():
    """Detections within the margin of conf are not confident: paired, they are compared, but no share is judged."""
    tol = pa.TOLERANCES["fp32"]
    near = results([[10, 10, 30, 30, 0.26, 0]])
    parity = pa.compare([near], [near], 64, conf=0.25, margin=tol.margin)  # 0.26 < 0.25 * 1.1
    assert (parity.pairs, parity.confident, parity.matched, parity.compared, parity.conf) == (1, 0, None, True, 0.25)
    assert parity.failures(tol) == [] and "matched n/a of 0 confident" in parity.render()


def test_gaps_are_the_largest_and_in_input_pixels():
    """Box gaps are rescaled by the letterbox gain of the longer side; the largest score gap counts, not the mean."""
    reference = results([[10, 10, 50, 50, 0.9, 0], [70, 10, 110, 50, 0.8, 1]], shape=(64, 128))
    candidate = results([[12, 10, 50, 50, 0.8, 0], [70, 10, 110, 50, 0.78, 1]], shape=(64, 128))
    parity = pa.compare([reference], [candidate], 64, conf=0.001, margin=0.1)
    assert parity.pairs == 2
    assert parity.max_box_px == pytest.approx(1.0)  # 2 px on a 128 px wide image, letterboxed to 64
    assert parity.max_score == pytest.approx(0.1, abs=1e-6)


def test_match_pairs_needs_iou_above_one_half_and_real_overlap():
    """IoU exactly 0.5 does not pair; boxes apart never pair; a flat box pairs only with another flat box."""
    one = np.array([[0, 0, 10, 10]], float)
    c = np.array([0])
    assert pa.match_pairs(one, c, np.array([[0, 0, 10, 5]], float), c) == []  # IoU 50 / 100
    assert pa.match_pairs(one, c, np.array([[0, 0, 10, 6]], float), c) == [(0, 0)]
    assert pa.match_pairs(one, c, np.array([[20, 20, 30, 30]], float), c) == []
    assert pa.match_pairs(np.array([[10, 10, 10.5, 10.5]]), c, np.array([[10, 10, 10.5, 10]]), c) == []


def test_a_full_detection_list_raises_the_threshold_to_its_lowest_score():
    """Predict keeps the 300 best: a list cut by rank had to beat its last score, not conf, on both sides."""
    full = results([[i % 50, 0, i % 50 + 10, 10, 0.9 - i / 1000, 0] for i in range(pa.MAX_DET)]).boxes.cpu().numpy()
    few = results([[0, 0, 10, 10, 0.9, 0]]).boxes.cpu().numpy()
    lowest = float(full.conf.min())
    assert lowest > 0.5
    assert pa.threshold(full, few, 0.001) == pytest.approx(lowest) == pytest.approx(pa.threshold(few, full, 0.001))
    short = results([[0, 0, 10, 10, 0.9 - i / 1000, 0] for i in range(pa.MAX_DET - 1)]).boxes.cpu().numpy()
    assert pa.threshold(short, few, 0.001) == 0.001
