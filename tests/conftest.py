"""Shared fixtures. Ultralytics is kept offline and away from the home folder before anything imports it."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

_CFG = Path(tempfile.mkdtemp(prefix="yolodistill-ycfg-"))
os.environ.setdefault("YOLO_CONFIG_DIR", str(_CFG))
os.environ["YOLO_AUTOINSTALL"] = "False"  # never pip-install export packages during tests
os.environ["YOLO_OFFLINE"] = "True"
os.environ.setdefault("OMP_NUM_THREADS", "2")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory) -> Path:
    """A small synthetic 3-class dataset (32 images at 96 px); returns its data.yaml."""
    from yolodistill.data import make_synthetic

    return make_synthetic(tmp_path_factory.mktemp("synth"), images=32, classes=3, imgsz=96, seed=0)


@pytest.fixture(scope="session")
def trained_student(tmp_path_factory, synth_data) -> Path:
    """A yolo26n trained one epoch on `synth_data` with plain Ultralytics; returns weights/best.pt."""
    from ultralytics import YOLO

    project = tmp_path_factory.mktemp("plain")
    YOLO("yolo26n.yaml").train(
        data=str(synth_data), epochs=1, imgsz=64, batch=8, workers=0, device="cpu", plots=False,
        project=str(project), name="student", exist_ok=True, seed=0, verbose=False,
    )
    best = project / "student" / "weights" / "best.pt"
    assert best.exists()
    return best


SYNTH_NAMES = {0: "circle", 1: "square", 2: "triangle"}


def save_checkpoint(cfg: str, path: Path, names: dict = SYNTH_NAMES, ch: int = 3) -> Path:
    """An untrained model saved the way Ultralytics saves one: enough for every mechanical test, in a second."""
    import torch
    from ultralytics.nn.tasks import ClassificationModel, DetectionModel, SegmentationModel, guess_model_task, yaml_model_load

    task = guess_model_task(yaml_model_load(cfg))
    cls = {"detect": DetectionModel, "segment": SegmentationModel, "classify": ClassificationModel}[task]
    model = cls(cfg, nc=len(names), ch=ch, verbose=False)
    model.names = dict(names)
    torch.save({"model": model, "train_args": {"task": task, "imgsz": 64}, "epoch": -1}, path)
    return path


@pytest.fixture(scope="session")
def teacher26(tmp_path_factory) -> Path:
    """A YOLO26-s teacher checkpoint for the synthetic classes."""
    return save_checkpoint("yolo26s.yaml", tmp_path_factory.mktemp("teachers") / "yolo26s.pt")


@pytest.fixture(scope="session")
def teacher11(tmp_path_factory) -> Path:
    """A YOLO11-n teacher checkpoint (DFL head, reg_max 16) for cross-family runs."""
    return save_checkpoint("yolo11n.yaml", tmp_path_factory.mktemp("teachers") / "yolo11n.pt")
