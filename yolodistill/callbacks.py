"""The distillation trainer's callbacks, each on an Ultralytics event (`CALLBACKS`, which the trainer registers)."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import torch
from ultralytics.utils import LOGGER, RANK
from ultralytics.utils.torch_utils import unwrap_model

from .balance import BOUNDS, AutoBalance, backbone_parameters
from .model import KDModel

if TYPE_CHECKING:
    from .train import DistillationTrainer


def apply_schedule(trainer: DistillationTrainer) -> None:
    """Callback at each epoch start: scale the distillation weights by the schedule's factor (warm-up, decay), and
    under kd_balance epoch measure the terms' pulls anew."""
    model = unwrap_model(trainer.model)
    model.kd_scale = trainer.distill.weight_scale(trainer.epoch, trainer.epochs)
    if model.balance is not None and model.balance.every_epoch:
        model.balance.restart()


def mirror_loss_scale(trainer: DistillationTrainer) -> None:
    """Callback at each batch start: hand the automatic balance the fp16 loss scale Ultralytics' backward pass will
    use, so its gradient norms do not underflow where the real ones do not (balance.gradient_norm). Read only for a
    batch the balance measures: get_scale() waits for the GPU."""
    model = unwrap_model(trainer.model)
    if isinstance(model, KDModel) and model.balance is not None and model.balance.will_measure():
        model.grad_scale = trainer.scaler.get_scale() if trainer.scaler.is_enabled() else 1.0


def note_idle_terms(trainer: DistillationTrainer) -> None:
    """Callback once freeze= is applied: a setting freeze= leaves nothing to act on is said, as the run is otherwise
    the same as without it. kd_balance cap holds the pull on the backbone's trainable weights; the feature term
    reaches the student through the layers before its head."""
    model, distill = unwrap_model(trainer.model), trainer.distill
    if RANK not in {-1, 0}:
        return
    if distill.kd_balance == "cap" and not backbone_parameters(model.student_model):
        LOGGER.warning("kd_balance cap has nothing to cap: every backbone layer is frozen (freeze=), so the "
                       "distillation weights apply as given")
    if distill.kd_feat and not any(p.requires_grad for p in model.student_model.model[:-1].parameters()):
        LOGGER.warning(f"kd_feat {distill.kd_feat:g} trains only its adapters: every layer before the head is frozen "
                       "(freeze=), so the feature term does not reach the student; freeze fewer layers, or drop "
                       "kd_feat")


def report_balance(trainer: DistillationTrainer) -> None:
    """Callback at each epoch end: say once what kd_balance auto or epoch set, and warn of a term whose multiplier is
    held at a bound (balance.BOUNDS), where its weight no longer says how hard it pulls."""
    balance = getattr(unwrap_model(trainer.model), "balance", None)
    if not isinstance(balance, AutoBalance) or not balance.multipliers or RANK not in {-1, 0}:
        return
    if balance.measuring and not balance.every_epoch and trainer.epoch + 1 < trainer.epochs:
        return  # auto is still measuring: say what it fixes
    mode = trainer.distill.kd_balance
    if trainer.balance_told is None:  # the multipliers, once
        trainer.balance_told = set()
        shown = ", ".join(f"{k} x{m:.3g}" for k, m in balance.multipliers.items())
        LOGGER.info(f"kd_balance {mode}: each term's weight multiplied by {shown}, from the gradients of its first "
                    f"{balance.seen} batches" + (" (measured again at every epoch start)" if mode == "epoch" else ""))
    bound = [k for k in balance.at_bounds() if k not in trainer.balance_told]
    if bound:
        LOGGER.warning(f"kd_balance {mode}: {', '.join(bound)} held at the multiplier's bound "
                       f"({BOUNDS[0]:g} to {BOUNDS[1]:g}): its gradient is that far from the detection loss's, so its "
                       "weight no longer sets its pull. Set it by hand with --kd-balance fixed")
    trainer.balance_told.update(bound)


def prefit_adapters(trainer: DistillationTrainer) -> None:
    """Callback once the loader, optimizer and EMA exist: train the feature adapters alone for `kd_prefit` batches
    (`KDModel.fit_adapters`) before the first epoch; never on resume, where the adapters come from last.pt."""
    model, n = unwrap_model(trainer.model), trainer.distill.kd_prefit
    if not n or not trainer.distill.kd_feat or trainer.start_epoch > 0:  # kd_feat above 0 keeps the teacher
        return
    trainer._model_train()  # Ultralytics' training mode: train, with BatchNorm of freeze= layers in eval
    # Ultralytics' loader keeps one iterator across epochs: the first epoch picks up where the prefit stopped
    batches = itertools.islice(itertools.chain.from_iterable(itertools.repeat(trainer.train_loader)), n)
    amp = torch.bfloat16 if trainer.args.amp == "bf16" else trainer.amp  # the trainer's autocast argument
    losses = model.fit_adapters((trainer.preprocess_batch(b)["img"] for b in batches), amp=amp)
    if torch.distributed.is_available() and torch.distributed.is_initialized():  # a DDP worker (trainer.ddp is off
        # there): each rank fitted on its own batches, so every rank starts from rank 0's adapters
        for p in model.projector.parameters():
            torch.distributed.broadcast(p.data, 0)
    trainer.ema.ema.projector.load_state_dict(model.projector.state_dict())
    if RANK in {-1, 0}:
        tail = losses[-min(5, len(losses)):]
        fitted = (f"{trainer.distill.feat_loss} loss {losses[0]:.3f} -> {sum(tail) / len(tail):.3f}" if losses else
                  "no step taken")
        skipped = f" ({n - len(losses)} skipped: loss not finite)" if len(losses) < n else ""
        LOGGER.info(f"Adapters fitted alone for {len(losses)} batches (kd_prefit){skipped}: {fitted}")


def note_terms_that_never_acted(trainer: DistillationTrainer) -> None:
    """Callback at the run's end: a term given a weight that logged 0 in every epoch never pulled, so the run was
    plain in that term, with no word (a weak teacher's box term under kd_gate, which opens only where the teacher's
    box fits the label better than the student's)."""
    import csv

    if RANK not in {-1, 0} or not trainer.csv.is_file():
        return
    with open(trainer.csv, newline="") as f:
        rows = [{k.strip(): v.strip() for k, v in row.items() if k} for row in csv.DictReader(f)]
    for term in ("kd_cls", "kd_box", "kd_feat"):
        logged = [row.get(f"train/{term}") for row in rows]
        if getattr(trainer.distill, term) and logged and all(v not in (None, "") and float(v) == 0 for v in logged):
            gate = " (kd_gate: the teacher never did better than the student there)" if trainer.distill.kd_gate and \
                term != "kd_feat" else ""
            LOGGER.warning(f"{term} {getattr(trainer.distill, term):g} logged 0 in every epoch: the term never pulled"
                           f"{gate}, so this run was plain in it")


CALLBACKS = (("on_pretrain_routine_end", note_idle_terms), ("on_pretrain_routine_end", prefit_adapters),
             ("on_train_epoch_start", apply_schedule), ("on_train_batch_start", mirror_loss_scale),
             ("on_train_epoch_end", report_balance), ("on_train_end", note_terms_that_never_acted))
