"""Stripping the optimizer from the finished checkpoints: a Ctrl-C, a kill or a failure half-way leaves every
checkpoint whole."""

from __future__ import annotations

import os

import pytest
import torch

from yolodistill.strips import whole_strips
from yolodistill.train import DistillationTrainer


def checkpoint(path, epoch=2, **extra):
    """A training checkpoint in miniature: a model, its epoch and an optimizer to strip."""
    torch.save({"model": torch.nn.Conv2d(3, 4, 1), "epoch": epoch, "optimizer": {"lr": 0.01}, **extra}, path)
    return path


@pytest.mark.parametrize("ultralytics_trainer", [False, True], ids=["ours", "ultralytics"])
def test_ctrl_c_while_stripping_the_optimizer_leaves_whole_checkpoints(ultralytics_trainer, tmp_path, monkeypatch):
    """Ultralytics rewrites last.pt, then best.pt, in place when it strips the optimizer; a Ctrl-C landing between two
    writes of last.pt left half a checkpoint, and best.pt a training one. Here it lands there, and waits for both."""
    import io
    import signal

    last, best = tmp_path / "last.pt", tmp_path / "best.pt"
    for path, epoch in ((last, 3), (best, 2)):
        checkpoint(path, epoch, train_results={"epoch": [0, 1, 2, 3]} if path == last else None)
    real_save = torch.save

    def save_in_two_writes(obj, f):  # what a large checkpoint's write is: many writes, a signal between any two
        buf = io.BytesIO()
        real_save(obj, buf)
        data = buf.getvalue()
        with open(f, "wb") as fh:
            fh.write(data[: len(data) // 2])
            fh.flush()
            os.kill(os.getpid(), signal.SIGINT)
            fh.write(data[len(data) // 2:])

    monkeypatch.setattr(torch, "save", save_in_two_writes)
    trainer = DistillationTrainer.__new__(DistillationTrainer)  # only what final_eval reads before the Ctrl-C
    trainer.last, trainer.best = last, best
    with pytest.raises(KeyboardInterrupt):
        if ultralytics_trainer:  # compare's plain and builtin arms: Ultralytics' own trainer inside whole_strips
            with whole_strips():
                super(DistillationTrainer, trainer).final_eval()
        else:
            trainer.final_eval()
    for path in (last, best):
        ckpt = torch.load(path, weights_only=False)
        assert ckpt["epoch"] == -1 and ckpt["optimizer"] is None, path  # stripped, whole
    assert torch.load(best, weights_only=False)["train_results"] == {"epoch": [0, 1, 2, 3]}  # as Ultralytics does
    from ultralytics.engine import trainer as engine
    from ultralytics.utils.torch_utils import strip_optimizer
    assert engine.strip_optimizer is strip_optimizer  # Ultralytics' own again


@pytest.mark.parametrize("ultralytics_trainer", [False, True], ids=["ours", "ultralytics"])
def test_a_strip_that_fails_half_way_leaves_the_checkpoints_as_they_were(ultralytics_trainer, tmp_path, monkeypatch):
    """A kill or a full disk half-way through the strip's write cut best.pt in two, the run's result: each strip is
    now written beside its file and renamed over it, so the file is whole, stripped or not, and no twin is left."""
    import errno
    import io

    last, best = tmp_path / "last.pt", tmp_path / "best.pt"
    for path, epoch in ((last, 3), (best, 2)):
        checkpoint(path, epoch)
    real_save = torch.save

    def disk_full_half_way(obj, f):
        buf = io.BytesIO()
        real_save(obj, buf)
        with open(f, "wb") as fh:
            fh.write(buf.getvalue()[: len(buf.getvalue()) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full_half_way)
    trainer = DistillationTrainer.__new__(DistillationTrainer)
    trainer.last, trainer.best = last, best
    with pytest.raises(OSError, match="No space"):
        if ultralytics_trainer:
            with whole_strips():
                super(DistillationTrainer, trainer).final_eval()
        else:
            trainer.final_eval()
    ckpt = torch.load(last, weights_only=False)
    assert ckpt["epoch"] == 3 and ckpt["optimizer"] == {"lr": 0.01}  # the training checkpoint, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "last.pt"]


def test_a_twin_left_by_a_kill_is_not_renamed_over_best_pt(tmp_path, monkeypatch):
    """A kill while best.pt's twin was written leaves half of it beside best.pt; the resumed run's next epoch, if it
    does not improve, writes last.pt only, and the old half twin must not become best.pt."""
    from types import SimpleNamespace

    from ultralytics.models.yolo.detect import DetectionTrainer

    best = tmp_path / "best.pt"
    best.write_bytes(b"the best checkpoint")
    (tmp_path / ".best.pt.partial").write_bytes(b"half a chec")  # what the kill left

    def ultralytics_save(self):  # an epoch below the best: Ultralytics writes last.pt and nothing else
        self.last.write_bytes(b"this epoch")
        return True

    monkeypatch.setattr(DetectionTrainer, "save_model", ultralytics_save)
    trainer = DistillationTrainer.__new__(DistillationTrainer)
    trainer.last, trainer.best = tmp_path / "last.pt", best
    trainer.ema = SimpleNamespace(ema=SimpleNamespace(portable=lambda balance: "portable"))
    trainer.model, trainer.save_period = SimpleNamespace(balance=None), 0  # Ultralytics' own, from save_period=
    assert trainer.save_model()
    assert best.read_bytes() == b"the best checkpoint" and (tmp_path / "last.pt").read_bytes() == b"this epoch"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "last.pt"]
    assert trainer.last == tmp_path / "last.pt" and trainer.ema.ema != "portable"


def test_a_ctrl_c_while_saving_leaves_no_twin_and_the_last_checkpoint(tmp_path, monkeypatch):
    """A Ctrl-C in the middle of the write: the previous last.pt stays, and no hidden half file of tens of MB does
    (a run that is never resumed would keep it)."""
    from types import SimpleNamespace

    from ultralytics.models.yolo.detect import DetectionTrainer

    (tmp_path / "last.pt").write_bytes(b"epoch 1")

    def ultralytics_save(self):  # cut short after last.pt's twin, in best.pt's
        self.last.write_bytes(b"epoch 2")
        self.best.write_bytes(b"epo")
        raise KeyboardInterrupt

    monkeypatch.setattr(DetectionTrainer, "save_model", ultralytics_save)
    trainer = DistillationTrainer.__new__(DistillationTrainer)
    trainer.last, trainer.best = tmp_path / "last.pt", tmp_path / "best.pt"
    trainer.ema = SimpleNamespace(ema=SimpleNamespace(portable=lambda balance: "portable"))
    trainer.model, trainer.save_period = SimpleNamespace(balance=None), 0  # Ultralytics' own, from save_period=
    with pytest.raises(KeyboardInterrupt):
        trainer.save_model()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"] and (tmp_path / "last.pt").read_bytes() == b"epoch 1"
    assert trainer.last == tmp_path / "last.pt" and trainer.ema.ema != "portable"



def test_an_interrupted_run_s_best_pt_is_stripped_only_if_the_run_wrote_it(tmp_path):
    """A best.pt the run did not write (an earlier run's, its stamp unchanged) is left as it was; one it rewrote,
    even to the same size, is made shippable."""
    from yolodistill.strips import finish_best, stamp

    best = checkpoint(tmp_path / "best.pt")
    before = stamp(best)
    assert finish_best(best, before) is False  # says whether it stripped: --resume's line tells only what it did
    assert torch.load(best, weights_only=False)["epoch"] == 2
    checkpoint(tmp_path / "tseb.pt").replace(best)  # the same size (a name as long), written anew by the run
    assert finish_best(best, before) is True
    assert torch.load(best, weights_only=False)["optimizer"] is None
    assert finish_best(tmp_path / "none.pt", None) is False and stamp(tmp_path / "none.pt") is None


def test_a_best_pt_that_cannot_be_stripped_stays_and_the_run_ends_with_its_hint(tmp_path, monkeypatch):
    """A full disk while finishing an interrupted run's best.pt is a warning: the resume hint still follows."""
    import errno

    from yolodistill import strips

    best = checkpoint(tmp_path / "best.pt")

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(strips, "replace_synced", disk_full)
    strips.finish_best(best, None)
    assert torch.load(best, weights_only=False)["epoch"] == 2


def test_a_strip_saved_elsewhere_leaves_its_source_and_a_non_checkpoint_is_left_alone(tmp_path):
    from ultralytics.utils.torch_utils import strip_optimizer

    from yolodistill.strips import renamed_strip

    last = checkpoint(tmp_path / "last.pt")
    renamed_strip(strip_optimizer, last, tmp_path / "out.pt")
    assert torch.load(last, weights_only=False)["epoch"] == 2
    assert torch.load(tmp_path / "out.pt", weights_only=False)["optimizer"] is None
    torch.save({"weights": [1]}, other := tmp_path / "other.pt")
    assert not renamed_strip(strip_optimizer, other)
    assert torch.load(other, weights_only=False) == {"weights": [1]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "other.pt", "out.pt"]


def test_a_ctrl_c_while_stripping_last_pt_of_a_run_without_best_pt(tmp_path, monkeypatch):
    """No best.pt yet (stopped in the first epoch): the held Ctrl-C stops the run after last.pt, with no warning
    about a best.pt that is not there."""
    import signal

    from ultralytics.engine import trainer as engine

    from tests.conftest import logged_by_ultralytics

    last = checkpoint(tmp_path / "last.pt")
    real_save = torch.save

    def save_then_ctrl_c(obj, f):
        real_save(obj, f)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(torch, "save", save_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt), whole_strips(), logged_by_ultralytics() as logged:
        engine.strip_optimizer(last)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"] and not any("Skipping" in m for m in logged)
    assert torch.load(last, weights_only=False)["optimizer"] is None


def test_a_strip_saved_elsewhere_is_said_as_ultralytics_says_it(tmp_path):
    from ultralytics.utils.torch_utils import strip_optimizer

    from tests.conftest import logged_by_ultralytics
    from yolodistill.strips import renamed_strip

    last = checkpoint(tmp_path / "last.pt")
    with logged_by_ultralytics() as logged:
        renamed_strip(strip_optimizer, last, tmp_path / "out.pt")
    assert any(f"Optimizer stripped from {last}, saved as {tmp_path / 'out.pt'}, " in m for m in logged), logged
