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
