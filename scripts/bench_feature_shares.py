#!/usr/bin/env python
"""How hard each feature loss pulls at kd_feat = 1: the gradient it puts on the student's neck features (P3-P5, the
Detect head's inputs), as a share of the detection loss's gradient on the same tensors, for l2, cwd, mgd and cross.

features.CALIBRATION sets one multiplier per loss so that these shares are alike; this script measures them with a
trained teacher on real batches (tests/test_features.py can only use an untrained one). Each batch is measured for a
student started from the teacher (weight selection, the default) and from Ultralytics' random initialization. Images
are resized to --imgsz without augmentation. Writes benchmarks/results/feature-shares.json and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from _common import (DOCS, RESULTS, ArgumentParser, check_outputs, command_line, environment, positive_int,
                     threaded_main)
from _docs import write_docs

from yolodistill.data import split_images
from yolodistill.errors import UserError

LOSSES = ("l2", "cwd", "mgd", "cross")
INTERRUPTED = "Nothing was written: rerun the same command to measure again (nothing trains, so nothing is lost)."


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="a YOLO data.yaml whose train split gives the batches")
    p.add_argument("--teacher", type=Path, required=True, help="trained teacher checkpoint")
    p.add_argument("--student", default="yolo26n.yaml", help="student model yaml (default: %(default)s)")
    p.add_argument("--imgsz", type=positive_int, default=192, help="image size (default: %(default)s)")
    p.add_argument("--batch", type=positive_int, default=8, help="images per batch (default: %(default)s)")
    p.add_argument("--batches", type=positive_int, default=3, help="batches measured (default: %(default)s)")
    p.add_argument("--threads", type=positive_int, help="torch threads (default: every core)")
    p.add_argument("--results", type=Path, default=RESULTS, help="folder of the JSON records (default: %(default)s)")
    p.add_argument("--docs", type=Path, default=DOCS, help="markdown page to regenerate (default: %(default)s)")
    return p.parse_args(argv)


def label_rows(path: Path) -> list[tuple[float, list[float]]]:
    """(class, xywh) per object of a YOLO label file; a polygon row (segment labels) gives its bounding box."""
    rows = []
    if not path.exists():
        return rows
    for line in path.read_text().splitlines():
        values = [float(v) for v in line.split()]
        if len(values) == 5:
            rows.append((values[0], values[1:5]))
        elif len(values) > 5 and len(values) % 2 == 1:
            xs, ys = values[1::2], values[2::2]
            rows.append((values[0], [(min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2, max(xs) - min(xs),
                                     max(ys) - min(ys)]))
    return rows


def load_batches(data: Path, imgsz: int, size: int, count: int) -> list[dict[str, Any]]:
    """`count` batches of `size` train images (sorted by name), resized to `imgsz` without augmentation, with their
    labels in Ultralytics' batch layout."""
    import cv2
    import numpy as np
    import torch
    from ultralytics.data.utils import check_det_dataset, img2label_paths

    try:
        info = check_det_dataset(str(data), autodownload=False)
    except Exception as e:  # noqa: BLE001 - Ultralytics raises several kinds for a bad data yaml
        raise UserError(f"cannot read {data}: {e}") from None
    images = split_images(info["train"])
    if len(images) < size * count:
        raise UserError(f"the train split of {data} has {len(images)} images; --batch {size} x --batches {count} "
                        "needs more")
    batches = []
    for k in range(count):
        chunk = images[k * size:(k + 1) * size]
        imgs, idx, cls, boxes = [], [], [], []
        for j, (path, label) in enumerate(zip(chunk, img2label_paths([str(p) for p in chunk]))):
            im = cv2.imread(str(path))
            if im is None:
                raise UserError(f"cannot read image {path}: check the file, or leave it out of the train split")
            imgs.append(torch.from_numpy(cv2.resize(im, (imgsz, imgsz))[:, :, ::-1].copy()).permute(2, 0, 1) / 255)
            for c, box in label_rows(Path(label)):
                idx.append(j), cls.append([c]), boxes.append(box)
        batches.append({"img": torch.stack(imgs).float(), "batch_idx": torch.tensor(idx, dtype=torch.float32),
                        "cls": torch.tensor(cls, dtype=torch.float32).view(-1, 1),
                        "bboxes": torch.tensor(np.array(boxes), dtype=torch.float32).view(-1, 4)})
    return batches


def shares(teacher, student_cfg: str, batch: dict[str, Any], start: bool) -> dict[str, float]:
    """Each feature loss's gradient norm on the neck features over the detection loss's (per image, as logged)."""
    import torch
    from ultralytics.cfg import get_cfg
    from ultralytics.nn.tasks import DetectionModel

    from yolodistill.balance import gradient_share
    from yolodistill.config import DistillConfig
    from yolodistill.model import KDModel
    from yolodistill.start import select_weights

    out = {}
    for feat_loss in LOSSES:
        torch.manual_seed(0)
        student = DetectionModel(student_cfg, nc=len(teacher.names), verbose=False)
        student.args = get_cfg(overrides={"imgsz": batch["img"].shape[-1]})  # the loss gains: Ultralytics' defaults
        if start:
            select_weights(teacher, student)
        torch.manual_seed(0)
        out[feat_loss] = gradient_share(KDModel(teacher, student, DistillConfig(kd_feat=1.0, feat_loss=feat_loss))
                                        .train(), batch)
    return out


def measure(args: argparse.Namespace) -> Path:
    from _study import check_model
    from ultralytics.nn.tasks import load_checkpoint

    from yolodistill.loading import check_task, model_task
    from yolodistill.report import write_json

    if not args.teacher.is_file():
        raise UserError(f"teacher {args.teacher} not found: pass a trained checkpoint with --teacher")
    if args.teacher.suffix.lower() != ".pt":  # Ultralytics asserts the suffix: a traceback for data.yaml
        raise UserError(f"teacher {args.teacher} is not a checkpoint (.pt): pass a trained checkpoint with --teacher")
    check_model(args.student, "--student", "bench_feature_shares.py", yaml_only=True)
    check_outputs(args)
    try:
        teacher = load_checkpoint(str(args.teacher))[0].float().eval()
    except Exception as e:  # noqa: BLE001 - a truncated or foreign file fails in torch or pickle
        raise UserError(f"teacher {args.teacher} cannot be loaded ({type(e).__name__}): pass a trained Ultralytics "
                        "checkpoint with --teacher") from None
    check_task(model_task(teacher), "--teacher", args.teacher)  # a classifier's: 'last layer is Classify' otherwise
    rows = []
    for k, batch in enumerate(load_batches(args.data, args.imgsz, args.batch, args.batches)):
        for start in (True, False):
            row = shares(teacher, args.student, batch, start)
            rows.append({"batch": k, "start": "teacher" if start else "random", **row,
                         "spread": max(row.values()) / min(row.values())})
            print({key: round(v, 3) if isinstance(v, float) else v for key, v in rows[-1].items()}, flush=True)
    record = {
        "kind": "feature-shares", "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(), "argv": sys.argv, "cwd": os.getcwd(), "environment": environment(),
        "settings": {"data": str(args.data), "teacher": str(args.teacher), "teacher_name": args.teacher.name,
                     "student": args.student, "imgsz": args.imgsz, "batch": args.batch, "batches": args.batches,
                     "threads": args.threads},
        "definition": "gradient norm of kd_feat (weight 1, calibrated) on the student's neck features over that of "
                      "the detection loss per image (one2many branch, as the loss column logs it); spread: the "
                      "largest share over the smallest",
        "rows": rows, "max_spread": max(r["spread"] for r in rows),
    }
    out = write_json(args.results / "feature-shares.json", record)
    write_docs(args.results, args.docs)
    print(f"largest spread {record['max_spread']:.2f}; wrote {out} and {args.docs}")
    return out


def main(argv: list[str] | None = None) -> int:
    return threaded_main(parse_args(argv), measure, INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
