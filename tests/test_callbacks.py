"""The trainer's callbacks: the feature adapters' pre-fit runs once, on a new run only, and every DDP rank starts from
the same fitted adapters."""

from __future__ import annotations

from pathlib import Path

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

