"""Parity: does an exported artifact still compute what its PyTorch checkpoint computes, on the same images?

Detections of both are paired by class and IoU; the largest box and score gaps and the share of confident detections
that found a partner are judged against a tolerance for the precision the runtime really computes in.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PARITY_CONF = 0.001  # Ultralytics' val threshold: parity covers every detection that mAP counts
NMS_CONF = 0.25  # the threshold Ultralytics bakes into an nms=True graph; lower scores never leave it
MATCH_IOU = 0.5
MAX_DET = 300  # Ultralytics' predict default: a full list is cut by rank, not by score


@dataclass(frozen=True)
class Tolerance:
    """How far an artifact may drift from PyTorch.

    `score` and `box_px` bound the gaps between paired detections (boxes in pixels at the input size); `matched` is
    the least share of confident detections that must find a partner. A detection whose score is within `margin`
    (relative) of the threshold is not confident: a tiny score error may legitimately drop it on one side.
    """

    score: float
    box_px: float
    matched: float
    margin: float
    box_frac: float = 0.0  # where gaps grow with the input: the box bound is at least this share of imgsz

    def box_limit(self, imgsz: int) -> float:
        return max(self.box_px, self.box_frac * imgsz)


# INT8 changes detections by design: it is judged by its mAP drop, and its parity is only reported.
TOLERANCES = {
    "fp32": Tolerance(score=1e-2, box_px=1.0, matched=0.95, margin=0.1),
    "fp16": Tolerance(score=5e-2, box_px=4.0, matched=0.90, margin=0.25),
    # bfloat16 keeps 8 bits of mantissa: box gaps grow with the image (measured 3.5 px at 96 px, 0.008 in score)
    "bf16": Tolerance(score=5e-2, box_px=4.0, matched=0.90, margin=0.25, box_frac=0.05),
}
INT8_MARGIN = 0.5


@dataclass(frozen=True)
class Int8Gate:
    """INT8 ships only if it loses at most `max_drop` mAP50-95 against the fp32 checkpoint."""

    fp32_map: float
    int8_map: float
    max_drop: float

    @property
    def drop(self) -> float:
        return self.fp32_map - self.int8_map

    @property
    def passed(self) -> bool:
        return self.drop <= self.max_drop + 1e-9  # a drop equal to the limit passes despite float rounding


@dataclass(frozen=True)
class Parity:
    """Artifact against PyTorch on the same images: pairs matched by class and IoU > 0.5, and their largest gaps."""

    images: int
    conf: float
    pairs: int
    confident: int  # detections clear of the threshold, both sides together
    confident_paired: int
    max_box_px: float | None
    max_score: float | None
    imgsz: int = 0  # the input size the box gaps are measured at

    @property
    def compared(self) -> bool:
        """Whether the images gave anything to compare at all."""
        return bool(self.pairs or self.confident)

    @property
    def matched(self) -> float | None:
        """Share of confident detections that found a partner; None when there were none."""
        return self.confident_paired / self.confident if self.confident else None

    def failures(self, tol: Tolerance) -> list[str]:
        """Each way this parity breaks `tol`, as short phrases; empty when it holds."""
        out = []
        if self.matched is not None and self.matched < tol.matched:
            out.append(f"matched {self.matched:.0%} of {self.confident} confident detections < {tol.matched:.0%}")
        if self.max_box_px is not None and self.max_box_px > tol.box_limit(self.imgsz):
            out.append(f"max |Δbox| {self.max_box_px:.3g} px > {tol.box_limit(self.imgsz):g} px")
        if self.max_score is not None and self.max_score > tol.score:
            out.append(f"max |Δscore| {self.max_score:.3g} > {tol.score:g}")
        return out

    def render(self) -> str:
        """One line of the numbers."""
        if not self.compared:
            return f"nothing to compare: no detections above conf {self.conf:g} on {self.images} sample images"
        share = "n/a" if self.matched is None else f"{self.matched:.1%}"
        box = "n/a" if self.max_box_px is None else f"{self.max_box_px:.3g} px"
        score = "n/a" if self.max_score is None else f"{self.max_score:.3g}"
        return (
            f"{self.images} images, {self.pairs} pairs, matched {share} of {self.confident} confident detections, "
            f"max |Δbox| {box}, max |Δscore| {score}"
        )


def match_pairs(a_xyxy: np.ndarray, a_cls: np.ndarray, b_xyxy: np.ndarray, b_cls: np.ndarray) -> list[tuple[int, int]]:
    """Pair detections of the same class greedily, highest IoU first, keeping pairs with IoU > 0.5 (zero-area boxes:
    see below)."""
    if not len(a_xyxy) or not len(b_xyxy):
        return []
    lt = np.maximum(a_xyxy[:, None, :2], b_xyxy[None, :, :2])
    rb = np.minimum(a_xyxy[:, None, 2:], b_xyxy[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = (a_xyxy[:, 2:] - a_xyxy[:, :2]).prod(-1)
    area_b = (b_xyxy[:, 2:] - b_xyxy[:, :2]).prod(-1)
    iou = inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-9)
    # a box clipped flat at the image edge has no area, so no IoU even with its exact twin: two such boxes score
    # 1 / (1 + their largest corner gap in pixels), which clears MATCH_IOU below a 1 px gap
    flat = (area_a[:, None] <= 0) & (area_b[None] <= 0)
    if flat.any():
        gap = np.abs(a_xyxy[:, None] - b_xyxy[None]).max(-1)
        iou = np.where(flat, 1 / (1 + gap), iou)
    iou[a_cls[:, None] != b_cls[None]] = 0
    pairs, used_a, used_b = [], set(), set()
    for i, j in sorted(zip(*np.nonzero(iou > MATCH_IOU), strict=True), key=lambda ij: -iou[ij]):
        if i not in used_a and j not in used_b:
            pairs.append((int(i), int(j)))
            used_a.add(i)
            used_b.add(j)
    return pairs


def threshold(r, a, conf: float) -> float:
    """The score a detection had to beat on this image: `conf`, or the lowest kept score when max_det truncated."""
    return max([conf, *(float(b.conf.min()) for b in (r, a) if len(b) >= MAX_DET)])


def compare(reference: list, candidate: list, imgsz: int, conf: float, margin: float) -> Parity:
    """Parity of two lists of Ultralytics Results for the same images; box gaps scaled to input-size pixels."""
    pairs = confident = confident_paired = 0
    box_gaps, score_gaps = [], []
    for ref, art in zip(reference, candidate, strict=True):
        r, a = ref.boxes.cpu().numpy(), art.boxes.cpu().numpy()
        matched = match_pairs(r.xyxy, r.cls, a.xyxy, a.cls)
        floor = threshold(r, a, conf) * (1 + margin)
        paired_r, paired_a = {i for i, _ in matched}, {j for _, j in matched}
        for boxes, paired in ((r, paired_r), (a, paired_a)):
            sure = np.flatnonzero(boxes.conf >= floor)
            confident += len(sure)
            confident_paired += len(paired.intersection(sure.tolist()))
        pairs += len(matched)
        if matched:
            i, j = [p[0] for p in matched], [p[1] for p in matched]
            gain = imgsz / max(ref.orig_shape)
            box_gaps.append(float(np.abs(r.xyxy[i] - a.xyxy[j]).max() * gain))
            score_gaps.append(float(np.abs(r.conf[i] - a.conf[j]).max()))
    return Parity(
        images=len(reference), conf=conf, pairs=pairs, confident=confident, confident_paired=confident_paired,
        max_box_px=max(box_gaps, default=None), max_score=max(score_gaps, default=None), imgsz=imgsz,
    )


def check_parity(
    weights: Path, artifact: Path, images: list[Path], imgsz: int, conf: float, margin: float, device: str,
    nms: bool | None = None, batch: int = 1,
) -> Parity:
    """Predict the same images with the checkpoint and the artifact (same letterbox and thresholds) and compare.
    `nms=False`: both through YOLO26's NMS-free head (a checkpoint predicts through its NMS branch otherwise);
    `batch`: the export's, whose static graph Ultralytics pads every call up to."""
    from ultralytics import YOLO

    kw = dict(imgsz=imgsz, conf=conf, max_det=MAX_DET, rect=False, device=device, verbose=False,
              **({} if nms is None else {"nms": nms}))
    sources = [str(p) for p in images]
    reference, candidate = (predict_by(YOLO(str(f), task="detect"), sources, kw, batch) for f in (weights, artifact))
    return compare(reference, candidate, imgsz, conf, margin)


def predict_by(model: Any, sources: list[str], kw: dict[str, Any], batch: int) -> list[Any]:
    """`batch` images a call: Ultralytics predicts a list as one batch, whose NMS stops at 2 s + 0.05 s an image, and
    on a slow CPU at a large imgsz it stopped part-way, the later images empty on one side: a correct export was
    refused as diverging."""
    step = max(1, int(batch or 1))
    return [result for i in range(0, len(sources), step) for result in model.predict(sources[i:i + step], **kw)]


def runtime_precision(fmt: str, precision: str) -> str:
    """The precision the runtime really computes an artifact in. OpenVINO's CPU plugin runs fp32 and fp16 models in
    bf16 where the CPU has bf16 units (AVX512-BF16, AMX: its default), and Ultralytics pins f32 only on Windows and on
    ARM64 Linux."""
    if fmt != "openvino" or precision not in ("fp32", "fp16"):
        return precision
    from ultralytics.utils import ARM64, LINUX, WINDOWS

    if WINDOWS or (LINUX and ARM64):
        return precision
    import openvino as ov

    hint = ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT")
    runtime = {"bf16": "bf16", "f16": "fp16"}.get(hint.get_type_name(), precision)
    return runtime if LOWER[runtime] < LOWER[precision] else precision  # an fp16 file at f32 is no loss


LOWER = {"bf16": 0, "fp16": 1, "fp32": 2}  # mantissa bits, in order


@contextmanager
def openvino_at_f32() -> Iterator[None]:
    """OpenVINO cores made inside the block compute on CPU in f32, as Ultralytics pins on Windows: an export is judged
    as the file it is, apart from the lower precision this CPU would run it in by default (reported on its own)."""
    import openvino as ov

    core = ov.Core

    class F32Core(core):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.set_property("CPU", {"INFERENCE_PRECISION_HINT": ov.Type.f32})

    ov.Core = F32Core
    try:
        yield
    finally:
        ov.Core = core
