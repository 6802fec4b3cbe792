"""Shared fixtures. Ultralytics is kept offline and away from the home folder before anything imports it."""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

if "YOLO_CONFIG_DIR" not in os.environ:  # xdist workers inherit the controller's, which removes it at its exit
    _CFG = tempfile.mkdtemp(prefix="yolodistill-ycfg-")
    os.environ["YOLO_CONFIG_DIR"] = _CFG
    atexit.register(shutil.rmtree, _CFG, ignore_errors=True)
os.environ["YOLO_AUTOINSTALL"] = "False"  # never pip-install export packages during tests
os.environ["YOLO_OFFLINE"] = "True"
# Two xdist workers share the machine's cores. A torch process with a second OpenMP thread on a core the other worker
# is using spins while it waits for it: on the 2-core CI machine a KDModel test took 339 s with two threads under
# load, 12 s with PASSIVE waiting and 9 s with one thread. Training runs already take Ultralytics' cpu_count - 1.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # where a test or script still asks for every core

import pytest  # noqa: E402
import yaml  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

# The files that take longest in a full run on the 2-core CI machine, longest first. xdist hands whole files
# to its two workers in collection order (--dist loadfile --no-loadscope-reorder): longest first, the last files to
# start are short ones and the workers end together, where by default the longest could start last and run alone.
# train builds the shared trained student while scripts, which does not use it, runs on the other worker.
SLOW_FILES = ("test_scripts.py", "test_train.py", "test_export.py", "test_interrupt.py", "test_checks.py",
              "test_bench.py", "test_model.py", "test_resume.py", "test_compare.py", "test_demo.py",
              "test_unlabeled.py", "test_pseudo.py")


def pytest_collection_modifyitems(items: list) -> None:
    first = {name: i for i, name in enumerate(SLOW_FILES)}
    items.sort(key=lambda item: first.get(item.path.name, len(first)))  # stable: a file's tests keep their order


@pytest.fixture(scope="session", autouse=True)
def ultralytics_settings() -> None:
    """Ultralytics writes its settings file into YOLO_CONFIG_DIR at its first import, and says so on stdout: done
    here, or the line lands in the output of whichever test imports it first (a one-line refusal, under -k)."""
    importlib.import_module("ultralytics")


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory) -> Path:
    """A small synthetic 3-class dataset (32 images at 96 px); returns its data.yaml."""
    from yolodistill.data import make_synthetic

    return make_synthetic(tmp_path_factory.mktemp("synth"), images=32, classes=3, imgsz=96, seed=0)


TRAINED_IMGSZ = 96  # the size trained_student was trained (and exports are made) at


def built_once(tmp_path_factory, name: str, build) -> Path:
    """A folder every xdist worker of this run shares, which the first worker to need it fills with `build(folder)`
    under a lock: a costly session fixture (a trained model) is built once per run, not once per worker. Its users
    only read it. A build that failed is started again from an empty folder."""
    from filelock import FileLock  # torch's own dependency

    root = tmp_path_factory.getbasetemp()
    root = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root  # pytest-N/popen-gwK: pytest-N is shared
    folder, done = root / f"shared-{name}", root / f"shared-{name}.done"
    with FileLock(str(root / f"shared-{name}.lock")):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def learnable_data(tmp_path_factory) -> Path:
    """200 synthetic images at 96 px with synth_data's three classes (150 train, 50 val): enough for a nano model to
    learn them in half a minute, and a val split large enough that mAP differences mean something."""
    from yolodistill.data import make_synthetic

    def build(folder: Path) -> None:
        make_synthetic(folder, images=200, classes=3, imgsz=96, seed=2)

    return built_once(tmp_path_factory, "learnable", build) / "data.yaml"


@pytest.fixture(scope="session")
def trained_student(tmp_path_factory, learnable_data) -> Path:
    """A yolo26n trained with plain Ultralytics on `learnable_data` until its mAP50-95 is clearly above 0 (about 0.25,
    mAP50 0.5: 12 epochs at 96 px, about 30 s on 2 cores), so tests of mAP, parity and INT8 compare real numbers.
    No mosaic and no warm-up, which tiny data needs to learn in minutes (see demo.py); validated once, at the end.
    Returns weights/best.pt; weights/last.pt lies beside it."""
    from ultralytics import YOLO

    def build(project: Path) -> None:
        model = YOLO("yolo26n.yaml")
        model.train(
            data=str(learnable_data), epochs=12, imgsz=TRAINED_IMGSZ, batch=8, workers=0, device="cpu", plots=False,
            val=False, mosaic=0.0, warmup_epochs=0.0, optimizer="AdamW", lr0=0.005, project=str(project),
            name="student", exist_ok=True, seed=0, verbose=False,
        )
        learned = model.trainer.metrics["metrics/mAP50-95(B)"]
        assert learned > 0.1, f"the shared model did not learn: {model.trainer.metrics}"

    best = built_once(tmp_path_factory, "plain", build) / "student" / "weights" / "best.pt"
    assert best.exists()
    return best


def assert_one_line_error(result, *needles: str) -> str:
    """A CLI result that failed as bad input should: exit status 2, no traceback (printed or raised), one line that
    starts with Error: and holds every needle. Returns that line."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    flat = " ".join(result.output.split())
    for needle in needles:
        assert needle in flat, (needle, flat)
    return flat


def swallowing_a_press(fn):
    """`fn`, after a Ctrl-C that Ultralytics' @TryExcept swallows (its check_requirements as ONNX Runtime loads)."""
    import signal

    from ultralytics.utils import TryExcept

    def pressed(*args, **kwargs):
        with TryExcept(verbose=False):
            signal.raise_signal(signal.SIGINT)
        return fn(*args, **kwargs)

    return pressed


def unusable_val_split(data: Path, folder: Path) -> Path:
    """A copy of the dataset `data` whose every val label has a negative class id: its yaml resolves and its images
    read, and only Ultralytics' loader refuses the split ('No valid images found')."""
    shutil.copytree(data.parent, folder)
    raw = yaml.safe_load((folder / data.name).read_text())
    for label in (folder / "labels" / "val").glob("*.txt"):
        label.write_text("".join(f"-1 {line.split(' ', 1)[1]}" for line in label.read_text().splitlines(True)))
    out = folder / "bad-val.yaml"
    out.write_text(yaml.safe_dump({**raw, "path": str(folder)}))
    return out


@contextmanager
def logged_by_ultralytics():
    """The messages Ultralytics' logger lets through inside the block. Read at the logger: its handler writes to the
    stdout of import time, which neither CliRunner nor a capture fixture sees."""
    from ultralytics.utils import LOGGER

    logged = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: logged.append(record.getMessage())
    LOGGER.addHandler(handler)
    try:
        yield logged
    finally:
        LOGGER.removeHandler(handler)


SYNTH_NAMES = {0: "circle", 1: "square", 2: "triangle"}


def save_checkpoint(cfg: str, path: Path, names: dict = SYNTH_NAMES, ch: int = 3, task_recorded: bool = True,
                    seed: int = 0) -> Path:
    """An untrained model saved the way Ultralytics saves one: enough for every mechanical test, in a second.
    `task_recorded=False` leaves the task out of its train_args, as a checkpoint saved by hand may. Seed 0 gives the
    weights a trainer's own build of `cfg` gets (Ultralytics seeds 0 too): another seed tells the two apart."""
    import torch
    from ultralytics.nn.tasks import (ClassificationModel, DetectionModel, OBBModel, SegmentationModel, guess_model_task,
                                      yaml_model_load)

    task = guess_model_task(yaml_model_load(cfg))
    cls = {"detect": DetectionModel, "segment": SegmentationModel, "classify": ClassificationModel, "obb": OBBModel}[task]
    with torch.random.fork_rng():  # the same untrained weights in every session, whatever ran before: tests that
        torch.manual_seed(seed)  # read gradients through a teacher (the schedule's drift bound) repeat run to run
        model = cls(cfg, nc=len(names), ch=ch, verbose=False)
    model.names = dict(names)
    args = {"task": task, "imgsz": 64} if task_recorded else {"imgsz": 64}
    torch.save({"model": model, "train_args": args, "epoch": -1}, path)
    return path


@pytest.fixture(scope="session")
def teacher26(tmp_path_factory) -> Path:
    """A YOLO26-s teacher checkpoint for the synthetic classes."""
    return save_checkpoint("yolo26s.yaml", tmp_path_factory.mktemp("teachers") / "yolo26s.pt")


@pytest.fixture(scope="session")
def teacher11(tmp_path_factory) -> Path:
    """A YOLO11-n teacher checkpoint (DFL head, reg_max 16) for cross-family runs."""
    return save_checkpoint("yolo11n.yaml", tmp_path_factory.mktemp("teachers") / "yolo11n.pt")


@pytest.fixture(scope="session")
def mid_training(teacher26, synth_data, tmp_path_factory) -> Path:
    """last.pt as a real distillation run saves it before its end (Ultralytics' DistillationModel inside), at 64 px."""
    import torch

    from yolodistill.checks import preflight
    from yolodistill.config import resolve
    from yolodistill.train import DistillationTrainer

    root = tmp_path_factory.mktemp("interrupted")
    distill, args = resolve(None, epochs=1, imgsz=64, batch=8, workers=0, device="cpu", plots=False,
                            project=str(root), name="run")
    plan = preflight(teacher26, "yolo26n.yaml", synth_data, args)
    trainer = DistillationTrainer(overrides=plan.args, distill=distill, teacher=plan.teacher)
    mid = root / "mid.pt"
    trainer.add_callback("on_model_save", lambda t: mid.write_bytes(t.last.read_bytes()))  # before the final strip
    trainer.train()
    saved = torch.load(mid, map_location="cpu", weights_only=False)
    assert type(saved["ema"]).__name__ == "DistillationModel"
    return mid


class Interrupt(Exception):
    """Stands in for a kill: raised from a callback, it stops a run where a test chooses."""


def interrupt_after_first_epoch(trainer):
    if trainer.epoch == 0:
        raise Interrupt


@pytest.fixture(scope="session")
def interrupted_last(teacher26, synth_data, tmp_path_factory) -> Path:
    """weights/last.pt of a 2-epoch run stopped after its first epoch; tests only read it (every resume is refused,
    or made from a copy)."""
    from yolodistill.checks import preflight
    from yolodistill.config import resolve
    from yolodistill.train import DistillationTrainer

    project = tmp_path_factory.mktemp("interrupted")
    distill, args = resolve(None, epochs=2, imgsz=64, batch=8, workers=0, device="cpu", plots=False, kd_cls=1.0,
                            kd_box=1.0, kd_feat=1.0, feat_loss="l2", project=str(project), name="run")
    plan = preflight(teacher26, "yolo26n.yaml", synth_data, args)
    first = DistillationTrainer(overrides=plan.args, distill=distill, teacher=plan.teacher, pretrained=plan.pretrained)
    first.add_callback("on_model_save", interrupt_after_first_epoch)
    with pytest.raises(Interrupt):
        first.train()
    return project / "run" / "weights" / "last.pt"


@pytest.fixture
def python_sigint():
    """Python's own Ctrl-C handler, as in a command's process (a test worker may run with another)."""
    import signal

    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)
