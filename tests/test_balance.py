"""kd_balance auto, epoch and cap, their parts on values worked out by hand: the gradient norm they measure, the
multipliers set from those norms (clamped, a bad batch skipped, measured anew at each epoch), the cap's factor, and
the backbone weights it measures on."""

from __future__ import annotations

import json
import math
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from yolodistill.balance import MEASURED, AutoBalance, BackboneCap, backbone_parameters, gradient_norm, make_balance


def test_gradient_norm_by_hand_and_leaves_grad_alone():
    x = torch.ones(4, requires_grad=True)
    y = torch.ones(2, requires_grad=True)
    loss = (3 * x).sum() + (4 * y).sum()  # d/dx = 3 on 4 values, d/dy = 4 on 2: sqrt(4 * 9 + 2 * 16)
    assert gradient_norm(loss, [x, y]) == pytest.approx(math.sqrt(68))
    assert gradient_norm(loss, [x]) == pytest.approx(6.0)
    assert x.grad is None  # the trainer's backward pass is still to come, on the same graph
    loss.backward()
    assert x.grad.tolist() == [3.0] * 4
    assert gradient_norm(torch.tensor(2.0), [x]) == 0.0  # a constant term pulls on nothing


def test_gradient_norm_at_a_loss_scale_survives_half_precision():
    # under fp16 AMP a small term's gradient underflows to 0 on the half-precision activations it flows through,
    # as it would in Ultralytics' backward pass without its loss scale
    x = torch.ones(100, dtype=torch.float16, requires_grad=True)
    loss = (x.float() * 1e-9).sum()  # d/dx = 1e-9, below float16's smallest value (6e-8)
    assert gradient_norm(loss, [x]) == 0.0
    assert gradient_norm(loss, [x], scale=2.0 ** 16) == pytest.approx(1e-9 * 10, rel=1e-3)
    assert gradient_norm((3 * x.float()).sum(), [x], scale=8.0) == pytest.approx(30.0)  # divided back


def pulls(x: torch.Tensor, detection: float, **terms: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Losses linear in x, whose gradient norms on x (one value) are the numbers given."""
    return detection * x.sum(), {k: v * x.sum() for k, v in terms.items()}


def test_multipliers_are_summed_ratios_clamped_and_skip_a_bad_batch():
    x = torch.ones(1, requires_grad=True)
    balance = AutoBalance(("kd_cls", "kd_box", "kd_feat"), batches=2)
    balance.update(*pulls(x, 2.0, kd_cls=1.0, kd_box=1e-5, kd_feat=0.0), [x])
    assert balance.measuring and balance.seen == 1
    balance.update(*pulls(x, float("nan"), kd_cls=1.0, kd_box=1.0, kd_feat=1.0), [x])  # a NaN step: not counted
    balance.update(*pulls(x, 0.0, kd_cls=1.0, kd_box=1.0, kd_feat=1.0), [x])  # no labelled image: not counted
    balance.update(*pulls(x, 2.0, kd_cls=float("nan"), kd_box=1.0, kd_feat=1.0), [x])  # one term NaN: not counted
    assert balance.seen == 1
    balance.update(*pulls(x, 4.0, kd_cls=2.0, kd_box=1e-5, kd_feat=0.0), [x])
    assert not balance.measuring
    assert balance("kd_cls") == pytest.approx(6.0 / 3.0)  # sums over batches, then the ratio: (2 + 4) / (1 + 2)
    assert balance("kd_box") == 1e3  # 6 / 2e-5, clamped
    assert balance("kd_feat") == 1.0  # no gradient at all: left at its weight
    restored = AutoBalance(("kd_cls",), multipliers={"kd_cls": 0.5})
    assert not restored.measuring and restored("kd_cls") == 0.5  # from a checkpoint: not measured again


def test_restart_measures_anew_and_keeps_the_multipliers_in_force_until_then():
    """kd_balance epoch: each epoch's multipliers come from that epoch's batches alone, and the previous ones hold
    while none of the new batches has been measured."""
    x = torch.ones(1, requires_grad=True)
    balance = AutoBalance(("kd_cls",), batches=2, every_epoch=True)
    for _ in range(2):
        balance.update(*pulls(x, 4.0, kd_cls=1.0), [x])
    assert not balance.measuring and balance("kd_cls") == 4.0
    balance.restart()
    assert balance.measuring and balance("kd_cls") == 4.0
    balance.update(*pulls(x, 1.0, kd_cls=2.0), [x])  # the detection gradient fell: the old sums would say 5 / 3
    assert balance("kd_cls") == 0.5
    balance.update(*pulls(x, 2.0, kd_cls=2.0), [x])
    assert not balance.measuring and balance("kd_cls") == pytest.approx(3.0 / 4.0)


def test_cap_factor_by_hand():
    """r_0 from the first batches' sums; then moving averages of each norm; the factor min(1, r_0 / r) never raises
    the weights; measured on the first batches and every `every`-th after, a bad batch skipped."""
    x = torch.ones(1, requires_grad=True)
    weights = {"kd_cls": 1.0, "kd_box": 2.0}
    cap = BackboneCap(weights, batches=2, every=3, smoothing=0.5)
    assert cap.due()
    cap.update(*pulls(x, 2.0, kd_cls=1.0, kd_box=0.5), [x])  # kd pull 1 + 2 * 0.5 = 2
    assert cap.due()
    cap.update(*pulls(x, float("nan"), kd_cls=1.0), [x])  # a NaN step: not counted
    cap.update(*pulls(x, 4.0, kd_cls=2.0, kd_box=1.0), [x])  # 4
    assert (cap.seen, cap.det, cap.kd, cap.factor) == (2, 3.0, 3.0, 1.0)  # r_0 = 6 / 6, the averages at the means
    assert cap.due()  # the 3rd batch
    cap.update(*pulls(x, 1.0, kd_cls=4.0, kd_box=0.0), [x])  # averages 3 + (1 - 3) / 2 = 2 and 3 + (4 - 3) / 2 = 3.5
    assert cap("kd_cls") == cap("kd_box") == pytest.approx(1 / 1.75)
    assert [cap.due() for _ in range(3)] == [False, False, True]  # batches 4, 5, 6
    restored = BackboneCap(weights, batches=2, every=3, smoothing=0.5, state=cap.state())
    cap.update(*pulls(x, 10.0, kd_cls=1.0), [x])  # averages 6 and 2.25: below r_0, and the weights are not raised
    assert cap.factor == 1.0
    assert restored.factor == pytest.approx(1 / 1.75) and not restored.due() and restored.calls == 7
    assert BackboneCap(weights).state() is None  # nothing measured: nothing for a checkpoint


def test_cap_reference_waits_for_a_pull():
    """Batches whose terms do not pull yet (a student at its teacher) are no reference: r_0 = 0 made the factor 0
    for the rest of the run once they pulled."""
    x = torch.ones(1, requires_grad=True)
    cap = BackboneCap({"kd_cls": 1.0}, batches=2, every=1, smoothing=0.5)
    cap.update(*pulls(x, 2.0, kd_cls=0.0), [x])
    assert (cap.seen, cap.factor, cap.measuring) == (0, 1.0, True)
    cap.update(*pulls(x, 2.0, kd_cls=1.0), [x])
    cap.update(*pulls(x, 2.0, kd_cls=1.0), [x])
    assert (cap.seen, cap.reference_kd, cap.factor) == (2, 2.0, 1.0)
    cap.update(*pulls(x, 2.0, kd_cls=3.0), [x])  # kd average 1 + (3 - 1) / 2 = 2: twice r_0
    assert cap("kd_cls") == pytest.approx(0.5)
    cap.update(*pulls(x, 2.0, kd_cls=0.0), [x])  # measured now: no pull is an average falling, not a bad batch
    assert cap.seen == 4 and cap("kd_cls") == 1.0


def measure_on_rank(rank: int, port: int, out: str) -> None:
    """One DDP rank of the test below: its own images pull differently from the other rank's."""
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        x = torch.ones(1, requires_grad=True)
        auto = AutoBalance(("kd_cls",), batches=1)
        auto.update(*pulls(x, [2.0, 4.0][rank], kd_cls=[1.0, 4.0][rank]), [x])
        cap = BackboneCap({"kd_cls": 1.0}, batches=1, every=1, smoothing=0.5)
        cap.update(*pulls(x, [2.0, 4.0][rank], kd_cls=[1.0, 4.0][rank]), [x])
        cap.update(*pulls(x, 1.0, kd_cls=[4.0, 0.0][rank]), [x])
        Path(out, f"{rank}.json").write_text(json.dumps({"auto": auto("kd_cls"), "cap": cap.state()}))
    finally:
        dist.destroy_process_group()


def test_ranks_measure_together_and_scale_alike(tmp_path):
    """Under DDP each rank measures its own images; the norms are averaged over the ranks, so every rank scales its
    terms by the same numbers (and rank 0's checkpoint holds everyone's). Alone, rank 0 would have set kd_cls to 2
    and the cap to 0.3."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(measure_on_rank, args=(port, str(tmp_path)), nprocs=2)
    ranks = [json.loads((tmp_path / f"{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0] == ranks[1]
    assert ranks[0]["auto"] == pytest.approx(3.0 / 2.5)  # mean detection pull over mean kd_cls pull
    # r_0 = 2.5 / 3; then the averages move half way to the ranks' means (1, 2): 2 and 2.25
    assert ranks[0]["cap"]["factor"] == pytest.approx((2.5 / 3) / (2.25 / 2))


def test_make_balance_per_mode():
    weights = {"kd_cls": 1.0, "kd_box": 0.0, "kd_feat": 2.0}
    assert make_balance("fixed", weights) is None
    auto = make_balance("auto", weights, {"kd_cls": 3.0})
    assert isinstance(auto, AutoBalance) and set(auto.norms) == {"kd_cls", "kd_feat"} and auto("kd_cls") == 3.0
    assert not auto.measuring and not auto.every_epoch and make_balance("epoch", weights).every_epoch
    cap = make_balance("cap", weights)
    assert isinstance(cap, BackboneCap) and cap.weights is weights  # a weight the caller changes, it measures


def test_backbone_parameters_are_the_backbone_layers_trainable_weights():
    """yolo26n's backbone is its first 11 layers; a layer frozen (Ultralytics' freeze=) is left out, and a cap with
    no weight to measure leaves the terms as they are."""
    from ultralytics.nn.tasks import DetectionModel

    model = DetectionModel("yolo26n.yaml", verbose=False)
    weights = backbone_parameters(model)
    assert len(weights) == sum(1 for layer in model.model[:11] for _ in layer.parameters())
    assert not {id(p) for p in model.model[11].parameters()} & {id(p) for p in weights}
    for p in model.model[0].parameters():
        p.requires_grad = False
    assert len(backbone_parameters(model)) == len(weights) - len(list(model.model[0].parameters()))
    cap = BackboneCap({"kd_cls": 1.0})
    x = torch.ones(1, requires_grad=True)
    cap.update(*pulls(x, 1.0, kd_cls=1.0), [])
    assert cap.seen == 0 and cap.factor == 1.0


def test_will_measure_says_what_due_will_without_counting():
    # the trainer reads the fp16 loss scale (a GPU sync) only before a batch the balance measures
    x = torch.ones(1, requires_grad=True)
    for balance in (BackboneCap({"kd_cls": 1.0}, batches=2, every=3), AutoBalance(("kd_cls",), batches=2)):
        for _ in range(12):
            ahead = [balance.will_measure(), balance.will_measure()]
            due = balance.due()
            assert ahead == [due, due]
            if due:
                balance.update(*pulls(x, 2.0, kd_cls=1.0), [x])


def test_multipliers_clamp_at_both_bounds_and_say_which():
    """A term pulling 2000 times the detection loss would get 1/2000, below the 1e-3 floor; one pulling 1e-4 of it
    would get 1e4, above the 1e3 ceiling; both held at their bound and named by at_bounds, a term in range not."""
    x = torch.ones(1, requires_grad=True)
    balance = AutoBalance(("kd_cls", "kd_box", "kd_feat"), batches=1)
    balance.update(*pulls(x, 1.0, kd_cls=2000.0, kd_box=1e-4, kd_feat=4.0), [x])
    assert (balance("kd_cls"), balance("kd_box")) == (1e-3, 1e3)
    assert balance("kd_feat") == pytest.approx(0.25)
    assert balance.at_bounds() == ["kd_cls", "kd_box"]


def test_state_holds_the_multipliers_in_force():
    """auto: while it measures, the sums so far, which a resume goes on from (kill hunt: they were dropped, and a
    resume of an epoch shorter than the measured batches measured others, from x1, as "its first N batches"); epoch:
    while an epoch's batches are measured the multipliers in force are kept. A restart measures exactly `batches`."""
    x = torch.ones(1, requires_grad=True)
    auto = AutoBalance(("kd_cls", "kd_box"), batches=3)
    assert auto.state() is None
    auto.update(*pulls(x, 3.0, kd_cls=1.0, kd_box=2.0), [x])
    saved = auto.state()
    assert saved == {"seen": 1, "reference": 3.0, "norms": {"kd_cls": 1.0, "kd_box": 2.0}}
    resumed = AutoBalance(("kd_cls", "kd_box"), batches=3, multipliers=saved)
    assert resumed.measuring and resumed.seen == 1 and resumed("kd_cls") == auto("kd_cls") == 3.0
    for balance in (auto, resumed):  # the same batches after the checkpoint: the same multipliers
        balance.update(*pulls(x, 5.0, kd_cls=1.0, kd_box=1.0), [x])
        balance.update(*pulls(x, 1.0, kd_cls=2.0, kd_box=1.0), [x])
    assert not resumed.measuring and resumed.seen == 3 and resumed.state() == auto.state() == {
        "kd_cls": 9.0 / 4.0, "kd_box": 9.0 / 4.0}
    epoch = AutoBalance(("kd_cls",), batches=2, every_epoch=True)
    for _ in range(2):
        epoch.update(*pulls(x, 4.0, kd_cls=1.0), [x])
    epoch.restart()
    assert epoch.state() == {"kd_cls": 4.0}
    epoch.update(*pulls(x, 1.0, kd_cls=2.0), [x])
    assert epoch.measuring and epoch.state() == {"kd_cls": 0.5}  # one batch of the two measured
    epoch.update(*pulls(x, 2.0, kd_cls=2.0), [x])
    assert not epoch.measuring and epoch.state() == {"kd_cls": 0.75}


def test_make_balance_measures_each_modes_batches():
    """auto measures MEASURED['auto'] batches once, epoch MEASURED['epoch'] at each epoch start; a restored auto
    measures none."""
    weights = {"kd_cls": 1.0}
    for mode in ("auto", "epoch"):
        balance = make_balance(mode, weights)
        assert balance.batches == MEASURED[mode]
        x = torch.ones(1, requires_grad=True)
        count = 0
        while balance.due():
            balance.update(*pulls(x, 2.0, kd_cls=1.0), [x])
            count += 1
        assert count == MEASURED[mode] and balance("kd_cls") == 2.0
    assert not make_balance("auto", weights, {"kd_cls": 2.0}).due()
