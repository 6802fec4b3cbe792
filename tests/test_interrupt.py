"""Interruptions: SIGKILL mid-epoch leaves a resumable last.pt; SIGKILL in the middle of writing a checkpoint, then
--resume finishes the planned epochs; Ctrl-C stops cleanly, resumable."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from yolodistill.data import make_synthetic
from yolodistill.resume import check_resume

from .conftest import PYTHON

EPOCHS = 2  # stopped in the second epoch, so each resume trains one (with 4 it trained three, 25 s of the suite)


@pytest.fixture(scope="module")
def slower_data(tmp_path_factory) -> Path:
    """Enough images that an epoch lasts a few seconds, so a signal lands inside one."""
    return make_synthetic(tmp_path_factory.mktemp("slow"), images=64, classes=3, imgsz=96, seed=1)


def start(teacher, data, project, *extra) -> subprocess.Popen:
    cmd = [PYTHON, "-m", "yolodistill.cli", "train", "--teacher", str(teacher), "--student", "yolo26n.yaml",
           "--data", str(data), "--epochs", str(EPOCHS), "--imgsz", "96", "--batch", "4", "--workers", "0",
           "--device", "cpu", "--project", str(project), "--name", "run", "plots=False", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_first_epoch(proc: subprocess.Popen, last: Path, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while not last.exists():
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.time() < deadline, "no epoch finished in time"
        time.sleep(0.1)
    time.sleep(1.0)  # into the next epoch
    assert proc.poll() is None, "the run finished before it could be interrupted"


def epochs_done(project: Path) -> list[int]:
    with open(project / "run" / "results.csv") as f:
        return [int(float(r["epoch"])) for r in csv.DictReader(f)]


def test_sigkill_mid_epoch_leaves_a_resumable_last_pt(teacher26, slower_data, tmp_path):
    last = tmp_path / "run" / "weights" / "last.pt"
    proc = start(teacher26, slower_data, tmp_path)
    wait_for_first_epoch(proc, last)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)  # reaped, and its pipes read and closed
    assert proc.returncode == -signal.SIGKILL
    done = epochs_done(tmp_path)
    assert 1 <= len(done) < EPOCHS
    args, _, _ = check_resume(last, {})  # resumed to the planned end in the test below, whose kill leaves more behind
    assert args["resume"] == str(last)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_stops_cleanly_and_leaves_a_resumable_last_pt(teacher26, slower_data, tmp_path, sig):
    """SIGTERM (`kill`, a job scheduler's stop) as Ctrl-C: it killed the run with best.pt in training form."""
    last = tmp_path / "run" / "weights" / "last.pt"
    proc = start(teacher26, slower_data, tmp_path)
    wait_for_first_epoch(proc, last)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    assert f"yolodistill train --resume {last}" in " ".join(err.split())
    args, distill, _ = check_resume(last, {})  # resumable: a yolodistill checkpoint, mid-run, with its optimizer
    assert args["resume"] == str(last) and distill.feat_loss
    # best.pt, which users ship, is a finished run's: the student alone, a plain model to Ultralytics without us
    best = last.with_name("best.pt")
    shown = subprocess.run([PYTHON, "-c", f"import sys; from ultralytics import YOLO; m = YOLO({str(best)!r}); m.info(); "
                            "print(type(m.model).__name__, 'yolodistill' in sys.modules)"],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and shown.stdout.split()[-2:] == ["DetectionModel", "False"], shown.stderr[-2000:]
    if sig == signal.SIGTERM:
        return  # the resume below is the same as after a Ctrl-C
    resumed = subprocess.run([PYTHON, "-m", "yolodistill.cli", "train", "--resume", str(last), "--workers", "0"],
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]  # over the finished-form best.pt, to the planned end


# Runs the command line with Path.write_bytes slowed down for one checkpoint: the second time it writes last.pt's
# temporary file it writes half the bytes, flushes them to disk, says so in a marker file and waits to be killed.
# The kill then lands inside the checkpoint write, where a plain write would leave last.pt cut in half.
SLOW_SAVE = """
import os, pathlib, sys, time
write, calls = pathlib.Path.write_bytes, []
def slow(self, data):
    if self.name.startswith(".last.pt"):
        calls.append(self)
        if len(calls) == 2:
            with open(self, "wb") as f:
                f.write(data[: len(data) // 2]); f.flush(); os.fsync(f.fileno())
            pathlib.Path(os.environ["SAVE_MARKER"]).write_text(str(self))
            time.sleep(600)
    return write(self, data)
pathlib.Path.write_bytes = slow
from yolodistill.cli import main
sys.argv[0] = "yolodistill"
main()
"""


def test_sigkill_while_writing_the_checkpoint_keeps_the_last_one_and_resume_finishes_the_plan(teacher26, slower_data,
                                                                                               tmp_path):
    import torch

    marker, last = tmp_path / "saving", tmp_path / "run" / "weights" / "last.pt"
    cmd = [PYTHON, "-c", SLOW_SAVE, "train", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data",
           str(slower_data), "--epochs", "2", "--imgsz", "64", "--batch", "8", "--workers", "0", "--device", "cpu",
           "--project", str(tmp_path), "--name", "run", "plots=False"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "SAVE_MARKER": str(marker)})
    deadline = time.time() + 300
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.time() < deadline, "the second checkpoint write never started"
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)  # reaped, and its pipes read and closed
    partial = Path(marker.read_text())
    assert partial.parent == last.parent and partial.exists()  # half a checkpoint, on disk
    with pytest.raises(Exception):
        torch.load(partial, map_location="cpu", weights_only=False)  # what last.pt would be, written in place
    ckpt = torch.load(last, map_location="cpu", weights_only=False)  # the previous checkpoint, whole
    assert ckpt["epoch"] == 0 and ckpt["optimizer"] is not None
    check_resume(last, {})
    resumed = subprocess.run([PYTHON, "-m", "yolodistill.cli", "train", "--resume", str(last), "--workers", "0"],
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert epochs_done(tmp_path) == [1, 2]  # the planned epochs, the one cut off trained again
    assert not list(last.parent.glob(".*partial"))  # the half-written twin removed by the next save
    assert epochs_done(tmp_path) == [1, 2]  # epoch 2 trained again, its row from before the kill dropped
    assert (tmp_path / "run" / "weights" / "best.pt").is_file()
    assert not list(last.parent.glob(".*partial"))  # the resumed run replaced the half-written file


def test_a_ctrl_c_between_the_two_renames_of_a_save_keeps_that_epoch_s_best_pt(teacher26, synth_data, tmp_path,
                                                                              monkeypatch, python_sigint):
    """last.pt went into place, then a Ctrl-C, and best.pt's new twin was deleted: the run's first save left no
    best.pt, a later one an older best.pt beside a last.pt whose best_fitness named this epoch (kill hunt)."""
    import torch

    from yolodistill.resume import TrainingInterrupted
    from yolodistill.train import train

    renamed, real, weights = [], os.replace, tmp_path / "run" / "weights"

    def then_ctrl_c(src, dst, **kwargs):
        real(src, dst, **kwargs)
        if Path(dst).parent == weights and Path(src).name.endswith(".partial"):  # a save's rename
            renamed.append(Path(dst).name)
            if len(renamed) == 1:
                os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(os, "replace", then_ctrl_c)
    with pytest.raises(TrainingInterrupted):
        train(teacher26, "yolo26n.yaml", synth_data, project=tmp_path, name="run", epochs=2, imgsz=64, batch=8,
              workers=0, device="cpu", plots=False)
    assert renamed[:2] == ["best.pt", "last.pt"]  # best first: a best.pt ahead of last.pt is an epoch trained again
    last = torch.load(weights / "last.pt", map_location="cpu", weights_only=False)
    best = torch.load(weights / "best.pt", map_location="cpu", weights_only=False)
    assert last["epoch"] == 0 and best["model"] is not None and not list(weights.glob(".*partial"))  # best: stripped


def test_an_epoch_checkpoint_is_written_beside_itself_and_renamed(teacher26, synth_data, tmp_path, monkeypatch):
    """save_period's epochN.pt was written in place by Ultralytics: a SIGKILL in the write left a checkpoint cut short
    (4 of 31 MB) in weights/ (kill hunt). It goes through a twin renamed into place, as last.pt and best.pt do."""
    import torch

    from yolodistill.train import train

    renamed, real = [], os.replace

    def recorded(src, dst, **kwargs):
        real(src, dst, **kwargs)
        renamed.append((Path(src).name, Path(dst).name))

    monkeypatch.setattr(os, "replace", recorded)
    result = train(teacher26, "yolo26n.yaml", synth_data, project=tmp_path, name="run", epochs=1, imgsz=64, batch=8,
                   workers=0, device="cpu", plots=False, save_period=1)
    assert (".epoch0.pt.partial", "epoch0.pt") in renamed
    saved = torch.load(result.last.parent / "epoch0.pt", map_location="cpu", weights_only=False)
    assert saved["epoch"] == 0 and saved["optimizer"] is not None  # a whole, resumable training checkpoint
    assert not list(result.last.parent.glob(".*partial"))
