"""The trainer's callbacks: the feature adapters' pre-fit runs once, on a new run only, and every DDP rank starts from
the same fitted adapters."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


def test_no_prefit_on_resume():
    """A resumed run keeps the adapters last.pt holds: fitting them again would undo what they learnt."""
    from unittest.mock import Mock

    from yolodistill.config import DistillConfig
    from yolodistill.callbacks import prefit_adapters

    model = Mock(spec=["fit_adapters", "teacher_model"])
    trainer = Mock(model=model, distill=DistillConfig(kd_feat=1.0, kd_prefit=5), start_epoch=3)
    prefit_adapters(trainer)
    assert not model.fit_adapters.called


def _prefit_rank(rank: int, port: int, out: Path) -> None:
    """One DDP rank whose fit leaves its adapters at rank + 1 (ranks fit on different batches)."""
    from unittest.mock import Mock

    import torch.distributed as dist

    from yolodistill.config import DistillConfig
    from yolodistill.callbacks import prefit_adapters

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        projector, ema = torch.nn.Conv2d(2, 2, 1), torch.nn.Conv2d(2, 2, 1)

        def fit(images, amp=None, frozen=()):
            list(images)
            with torch.no_grad():
                for p in projector.parameters():
                    p.fill_(rank + 1.0)
            return [1.0]

        model = Mock(spec=["fit_adapters", "teacher_model", "projector"], projector=projector, teacher_model=object())
        model.fit_adapters.side_effect = fit
        trainer = Mock(model=model, distill=DistillConfig(kd_feat=1.0, kd_prefit=1), start_epoch=0, amp=False,
                       train_loader=[{"img": torch.zeros(1)}], preprocess_batch=lambda b: b, freeze_layer_names=[])
        trainer.ema.ema.projector = ema
        prefit_adapters(trainer)
        torch.save([p.detach().clone() for p in ema.parameters()], out / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_ddp_ranks_start_from_the_same_fitted_adapters(tmp_path):
    """Each DDP rank fits its adapters on its own batches; DDP syncs gradients, not weights, so without a broadcast
    the ranks would train different adapters for the whole run."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_prefit_rank, args=(port, tmp_path), nprocs=2, join=True)
    for rank in (0, 1):
        assert all(torch.equal(p, torch.ones_like(p)) for p in torch.load(tmp_path / f"rank{rank}.pt"))



def _pair(balance=None):
    """A KDModel shell holding what the epoch and batch callbacks read (no teacher or student built)."""
    from yolodistill.model import KDModel

    pair = KDModel.__new__(KDModel)
    torch.nn.Module.__init__(pair)
    pair.balance, pair.kd_scale, pair.grad_scale = balance, 1.0, 1.0
    return pair


def test_each_epoch_start_sets_that_epoch_s_factor_and_only_kd_balance_epoch_measures_again():
    """The warm-up's factor is the one of the epoch starting (0-based), and a measured kd_balance auto keeps its
    multipliers while kd_balance epoch measures anew."""
    from types import SimpleNamespace

    from yolodistill.balance import AutoBalance
    from yolodistill.callbacks import apply_schedule
    from yolodistill.config import DistillConfig

    distill = DistillConfig(kd_warmup=3, kd_schedule="constant")
    assert distill.weight_scale(0, 10) != distill.weight_scale(1, 10)
    for every_epoch in (False, True):
        balance = AutoBalance(("kd_cls",), batches=2, multipliers={"kd_cls": 3.0}, every_epoch=every_epoch)
        trainer = SimpleNamespace(model=_pair(balance), distill=distill, epoch=0, epochs=10)
        apply_schedule(trainer)
        assert trainer.model.kd_scale == pytest.approx(distill.weight_scale(0, 10))
        assert balance.measuring is every_epoch and balance("kd_cls") == 3.0


def test_the_fp16_loss_scale_is_read_only_for_a_batch_the_balance_measures():
    """get_scale() waits for the GPU, so it is read only when the balance measures the coming batch; with the scaler
    off the balance measures at scale 1."""
    from types import SimpleNamespace
    from unittest.mock import Mock

    from yolodistill.balance import AutoBalance
    from yolodistill.callbacks import mirror_loss_scale

    scaler = Mock(**{"is_enabled.return_value": True, "get_scale.return_value": 1024.0})
    measuring = _pair(AutoBalance(("kd_cls",), batches=2))
    mirror_loss_scale(SimpleNamespace(model=measuring, scaler=scaler))
    assert measuring.grad_scale == 1024.0
    measured = _pair(AutoBalance(("kd_cls",), batches=2, multipliers={"kd_cls": 3.0}))
    scaler.get_scale.reset_mock()
    mirror_loss_scale(SimpleNamespace(model=measured, scaler=scaler))
    assert not scaler.get_scale.called and measured.grad_scale == 1.0
    scaler.is_enabled.return_value = False
    measuring.grad_scale = 7.0
    mirror_loss_scale(SimpleNamespace(model=measuring, scaler=scaler))
    assert measuring.grad_scale == 1.0


def test_idle_warnings_are_given_only_when_freeze_leaves_the_setting_nothing():
    """kd_balance cap measures the backbone's trainable weights, the feature term reaches the student through the
    layers before the head (with freeze=23 kd_feat trained its adapters alone, without a word): a warning with none
    left, and silence otherwise."""
    from types import SimpleNamespace

    from ultralytics.nn.tasks import DetectionModel

    from .conftest import logged_by_ultralytics
    from yolodistill.callbacks import note_idle_terms
    from yolodistill.config import DistillConfig

    student = DetectionModel("yolo26n.yaml", nc=3, verbose=False)
    pair = _pair()
    pair.student_model = student
    warned = {}
    for recipe in ("cap", "feat"):
        trainer = SimpleNamespace(model=pair, distill=DistillConfig(kd_balance="cap") if recipe == "cap" else
                                  DistillConfig(kd_feat=1.0))
        for frozen in (0, len(student.yaml["backbone"]), len(student.model) - 1):
            student.requires_grad_(True)
            student.model[:frozen].requires_grad_(False)
            with logged_by_ultralytics() as logged:
                note_idle_terms(trainer)
            warned[recipe, frozen] = [w for m in logged for w in ("cap has nothing to cap", "kd_feat 1 trains only its "
                                                                  "adapters") if w in m]
    n, cap, feat = len(student.model) - 1, ["cap has nothing to cap"], ["kd_feat 1 trains only its adapters"]
    assert warned == {("cap", 0): [], ("cap", 11): cap, ("cap", n): cap, ("feat", 0): [], ("feat", 11): [],
                      ("feat", n): feat}


def test_a_term_that_logged_0_in_every_epoch_is_said_at_the_run_s_end(tmp_path):
    """yolo11s into yolo26n with --kd-gate: kd_box 0 for the whole run (the gate never opened), the run plain in that
    term, and no word of it. A term that pulled in any epoch, or had no weight, is not named."""
    from types import SimpleNamespace

    from .conftest import logged_by_ultralytics
    from yolodistill.callbacks import note_terms_that_never_acted
    from yolodistill.config import DistillConfig

    csv_path = tmp_path / "results.csv"
    csv_path.write_text("epoch,train/box_loss,train/kd_cls,train/kd_box,train/kd_feat\n"
                        "1,2.5,1.07,0,0\n2,2.1,0,0,0\n")
    said = {}
    for gate in (True, False):
        trainer = SimpleNamespace(csv=csv_path, distill=DistillConfig(kd_gate=gate, kd_box_ring=0.0))
        with logged_by_ultralytics() as logged:
            note_terms_that_never_acted(trainer)
        said[gate] = [m for m in logged if "logged 0 in every epoch" in m]
    assert len(said[True]) == 1 and "kd_box 1 logged 0 in every epoch: the term never pulled (kd_gate: the teacher " \
        "never did better than the student there), so this run was plain in it" in said[True][0]
    assert len(said[False]) == 1 and "kd_box 1 logged 0 in every epoch: the term never pulled, so this run" in \
        said[False][0]  # kd_cls pulled in epoch 1; kd_feat had no weight
    with logged_by_ultralytics() as logged:
        note_terms_that_never_acted(SimpleNamespace(csv=tmp_path / "none.csv", distill=DistillConfig()))
    assert not [m for m in logged if "every epoch" in m]


def test_kd_balance_is_reported_once_measured_and_each_bound_term_is_warned_of_once():
    """auto still measuring says nothing until its last epoch (a run shorter than its batches still hears what was
    set); the multipliers are said once, and a term held at a bound is warned of once, not at every epoch."""
    from types import SimpleNamespace

    from .conftest import logged_by_ultralytics
    from yolodistill.balance import AutoBalance
    from yolodistill.callbacks import report_balance
    from yolodistill.config import DistillConfig

    balance = AutoBalance(("kd_cls", "kd_box"), batches=10)
    balance.seen, balance.multipliers = 3, {"kd_cls": 1e3, "kd_box": 2.0}  # measured 3 of its 10 batches
    trainer = SimpleNamespace(model=_pair(balance), distill=DistillConfig(kd_balance="auto"), epoch=0, epochs=2,
                              balance_told=None)
    with logged_by_ultralytics() as logged:
        report_balance(trainer)
    assert logged == [] and trainer.balance_told is None
    trainer.epoch = 1  # the last epoch: what it has measured is what the run keeps
    with logged_by_ultralytics() as logged:
        report_balance(trainer)
        report_balance(trainer)
    assert sum("each term's weight multiplied by" in m for m in logged) == 1
    bound = [m for m in logged if "held at the multiplier's bound" in m]
    assert len(bound) == 1 and "kd_cls" in bound[0] and "kd_box" not in bound[0]


def test_prefit_takes_kd_prefit_batches_across_epochs_of_the_loader_in_the_trainer_s_precision():
    """kd_prefit counts batches, not loader passes (a loader shorter than it is cycled), bf16 amp fits under bfloat16,
    and without a feature term there are no adapters to fit."""
    from unittest.mock import Mock

    from yolodistill.callbacks import prefit_adapters
    from yolodistill.config import DistillConfig

    seen = []

    def fit(images, amp=None):
        seen.append(([int(i.item()) for i in images], amp))
        return [1.0]

    projector = torch.nn.Conv2d(2, 2, 1)
    model = Mock(spec=["fit_adapters", "projector"], projector=projector)
    model.fit_adapters.side_effect = fit
    loader = [{"img": torch.tensor(k)} for k in range(2)]
    trainer = Mock(model=model, distill=DistillConfig(kd_feat=1.0, kd_prefit=5), start_epoch=0, amp=True,
                   train_loader=loader, preprocess_batch=lambda b: b)
    trainer.args.amp = "bf16"
    trainer.ema.ema.projector = torch.nn.Conv2d(2, 2, 1)
    prefit_adapters(trainer)
    assert seen == [([0, 1, 0, 1, 0], torch.bfloat16)]
    trainer.args.amp, trainer.distill = True, DistillConfig(kd_feat=0.0, kd_prefit=5)
    prefit_adapters(trainer)
    assert len(seen) == 1
