"""The bad-input matrix across every command: one clear line, exit status 2, no traceback, no file touched."""

from __future__ import annotations

import collections
import hashlib
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from yolodistill.cli import app

from .builders import image, voc_xml
from .conftest import assert_one_line_error, save_checkpoint


def snapshot(root: Path) -> dict[str, str]:
    """Every file under root with its content hash, and every folder: a refused command must not leave one."""
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "folder"
            for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def world(tmp_path_factory, synth_data, teacher26, trained_student) -> dict[str, Path]:
    """A folder of good and bad inputs; the matrix checks that nothing in it changes."""
    root = tmp_path_factory.mktemp("matrix")
    d = yaml.safe_load(synth_data.read_text())

    def data_yaml(name: str, **changes) -> Path:
        out = root / f"{name}.yaml"
        out.write_text(yaml.safe_dump({k: v for k, v in {**d, **changes}.items() if v is not None}))
        return out

    (root / "empty" / "images" / "train").mkdir(parents=True)
    (root / "empty" / "images" / "val").mkdir(parents=True)
    (root / "corrupt.pt").write_bytes(b"\x00not a checkpoint")
    torch.save({"weights": torch.zeros(3)}, root / "foreign.pt")
    (root / "corrupt.onnx").write_bytes(b"not onnx at all")
    (root / "corrupt.engine").write_bytes(b"not an engine")
    (root / "a-file").write_text("a file, not a folder")
    run = root / "runs" / "taken"
    (run / "weights").mkdir(parents=True)
    (run / "weights" / "best.pt").write_bytes(b"an earlier run's weights")
    voc = root / "voc-nomatch"  # XML whose images are not there: the photos were renamed
    image(voc / "images" / "IMG_1.jpg")
    voc_xml(voc / "annotations" / "a.xml", [("cat", (1, 1, 9, 9))], filename="a.jpg", xml_path="C:\\data\\a.jpg")
    (root / "have" / "images").mkdir(parents=True)
    (root / "have" / "data.yaml").write_text("names: [mine]\n")
    return {
        "root": root,
        "teacher": teacher26,
        "student": trained_student,
        "data": synth_data,
        "seg": save_checkpoint("yolo26n-seg.yaml", root / "seg.pt"),
        "four": save_checkpoint("yolo26n.yaml", root / "four.pt", names={i: f"c{i}" for i in range(4)}),
        "missing_paths": data_yaml("missing-paths", train="images/gone", val="images/gone"),
        "no_val": data_yaml("no-val", val=None),
        "empty": data_yaml("empty", path=str(root / "empty")),
    }


def train_args(w, teacher=None, data=None, *extra: str) -> list[str]:
    return ["train", "--teacher", str(teacher or w["teacher"]), "--student", "yolo26n.yaml", "--data",
            str(data or w["data"]), "--project", str(w["root"] / "runs"), "--epochs", "1", "--imgsz", "64",
            "--device", "cpu", *extra]


GPU = str(torch.cuda.device_count())  # a GPU index this machine does not have: 0 on a CPU-only machine
NO_GPU = (f"--device {GPU}: this machine has" if torch.cuda.device_count()  # every missing-device case's needle
          else f"--device {GPU} asks for a CUDA GPU, but PyTorch sees none")


def compare_args(w, *extra: str) -> list[str]:
    return ["compare", "--teacher", str(w["teacher"]), "--student", "yolo26n.yaml", "--data", str(w["data"]),
            "--epochs", "1", "--project", str(w["root"] / "cmp"), *extra]


MATRIX = {
    "missing teacher": (lambda w: train_args(w, w["root"] / "nope.pt"), "does not exist"),
    "corrupt teacher": (lambda w: train_args(w, w["root"] / "corrupt.pt"), "not a readable Ultralytics checkpoint"),
    "non-YOLO checkpoint": (lambda w: train_args(w, w["root"] / "foreign.pt"), "not a readable Ultralytics checkpoint"),
    "segmentation teacher": (lambda w: train_args(w, w["seg"]), "is a segment model"),
    "class-count misfit": (lambda w: train_args(w, w["four"]), "teacher has 4 classes but the data has 3"),
    "data with missing paths": (lambda w: train_args(w, None, w["missing_paths"]), "images not found"),
    "data without val split": (lambda w: train_args(w, None, w["no_val"]), "'val:' key missing"),
    "empty dataset": (lambda w: train_args(w, None, w["empty"]), "has no images in its train split"),
    "imgsz not a multiple of 32": (lambda w: train_args(w, None, None, "--imgsz", "100"), "multiple of 32"),
    "negative epochs": (lambda w: train_args(w, None, None, "--epochs", "-3"), "--epochs must be"),
    "unwritable output folder": (
        lambda w: train_args(w, None, None, "--project", str(w["root"] / "a-file" / "runs")), "not a writable folder"
    ),
    "existing run without --exist-ok": (lambda w: train_args(w, None, None, "--name", "taken"), "--exist-ok"),
    "resume a foreign checkpoint": (lambda w: ["train", "--resume", str(w["student"])], "not a yolodistill training"),
    "export unknown format": (lambda w: ["export", "--weights", str(w["student"]), "--format", "tflite2"], "unknown --format 'tflite2'"),
    "export missing weights": (lambda w: ["export", "--weights", str(w["root"] / "gone.pt")], "does not exist"),
    "export engine on CPU": (
        lambda w: ["export", "--weights", str(w["student"]), "--format", "engine"], "TensorRT engines need"
    ),
    # --device 0 there: "use --device cpu" came first, and an engine refuses cpu
    "export engine with --device 0 on CPU": (
        lambda w: ["export", "--weights", str(w["student"]), "--format", "engine", "--device", "0"],
        "TensorRT engines need"
    ),
    "bench engine with --device 0 on CPU": (
        lambda w: ["bench", str(w["root"] / "corrupt.engine"), "--device", "0"], "TensorRT engines need"
    ),
    "bench corrupt artifact": (
        lambda w: ["bench", str(w["root"] / "corrupt.onnx"), "--data", str(w["data"]), "--runs", "1"], "corrupt.onnx' ([ONNXRuntimeError]"
    ),
    "bench data without val split": (
        lambda w: ["bench", str(w["student"]), "--data", str(w["no_val"]), "--runs", "1"], "has no val split: add a 'val:' entry"
    ),
    "convert unknown format": (
        lambda w: ["data", "convert", str(w["root"]), "--format", "kitti", "--out", str(w["root"] / "conv")], "unknown format 'kitti'"
    ),
    "synth with no classes": (lambda w: ["data", "synth", "--out", str(w["root"] / "s"), "--classes", "0"], "--classes must be between 1 and 8, got 0"),
    "compare unknown method": (lambda w: compare_args(w, "--methods", "plain,magic"), "unknown method(s) magic"),
    "demo into an unwritable folder": (lambda w: ["demo", "--out", str(w["root"] / "a-file" / "demo")], "writable"),
    # a device that does not exist, in every command that takes one
    "train on a missing GPU": (lambda w: train_args(w, None, None, "--device", GPU), NO_GPU),
    "compare on a missing GPU": (lambda w: compare_args(w, "--device", GPU), NO_GPU),
    "export on a missing GPU": (
        lambda w: ["export", "--weights", str(w["student"]), "--device", GPU], NO_GPU
    ),
    "bench on a missing GPU": (
        lambda w: ["bench", str(w["student"]), "--data", str(w["data"]), "--device", GPU], NO_GPU
    ),
    "demo on a missing GPU": (lambda w: ["demo", "--out", str(w["root"] / "demo"), "--device", GPU], NO_GPU),
    "pseudo-label on a missing GPU": (
        lambda w: ["data", "pseudo-label", "--teacher", str(w["teacher"]), "--images", str(w["root"] / "voc-nomatch"),
                   "--out", str(w["root"] / "pl"), "--device", GPU], NO_GPU
    ),
    "malformed device list": (lambda w: train_args(w, None, None, "--device", "0,,1"), "'0,,1' is not a device"),
    # one grammar: train's flags in compare, misspelt ones named, none given twice
    "compare with a misspelt flag": (lambda w: compare_args(w, "--imgzs", "320"), "did you mean --imgsz?"),
    "train flag given twice": (lambda w: train_args(w, None, None, "epochs=5"), "epochs is given twice"),
    "compare bad imgsz flag": (lambda w: compare_args(w, "--imgsz", "100"), "--imgsz 100 is not a positive multiple of 32"),
    # outputs and inputs checked before any work
    "bench report into a folder": (
        lambda w: ["bench", str(w["student"]), "--data", str(w["data"]), "--json", str(w["root"])], "is a folder: pass a file name"
    ),
    "synth over an existing dataset": (lambda w: ["data", "synth", "--out", str(w["root"] / "have")], "already holds"),
    "convert VOC where no image matches": (
        lambda w: ["data", "convert", str(w["root"] / "voc-nomatch"), "--format", "voc", "--out",
                   str(w["root"] / "conv")], "all 1 annotations have no image"
    ),
    "convert with a missing --images folder": (
        lambda w: ["data", "convert", str(w["root"] / "voc-nomatch"), "--format", "voc", "--images",
                   str(w["root"] / "nowhere"), "--out", str(w["root"] / "conv")], "does not exist: check the path"
    ),
    "convert a YOLO yaml with missing paths": (
        lambda w: ["data", "convert", str(w["missing_paths"]), "--format", "yolo", "--out",
                   str(w["root"].parent / "c")], "does not exist"
    ),
}


@pytest.mark.parametrize("case", list(MATRIX))
def test_bad_input_matrix(world, case):
    make_args, needle = MATRIX[case]
    before = snapshot(world["root"])
    result = CliRunner().invoke(app, make_args(world))
    assert_one_line_error(result, needle)
    assert snapshot(world["root"]) == before, case  # nothing the user had is lost, overwritten or added


def test_matrix_covers_every_command():
    dummy = collections.defaultdict(lambda: Path("/x"))
    assert len(MATRIX) >= 30
    assert {make(dummy)[0] for make, _ in MATRIX.values()} == {"train", "export", "bench", "data", "compare", "demo"}
    devices = {make(dummy)[0] for make, needle in MATRIX.values() if needle == NO_GPU}
    assert devices == {"train", "export", "bench", "compare", "demo", "data"}
