"""Distillation training: a thin `DetectionTrainer` subclass and the `train()` function behind `yolodistill train`.

The trainer overrides these template methods of Ultralytics' trainer:
- `get_model`: a student built from a yaml starts from the teacher's weights (weight selection, `select_weights`);
- `set_model_attributes`: wraps the student in `KDModel` before `_setup_train` would wrap it in the built-in
  distiller (it skips any `DistillationModel`), so the adapters exist when the optimizer and EMA are built, and
  records the teacher file's sha256, which a resume checks;
- `setup_model`: on resume, rebuilds the student and keeps the adapters from `last.pt`; a mid-run checkpoint as a
  new run's student gives its student alone; a `pretrained=` checkpoint is read once (the checks' model, if given);
- `auto_batch`: batch=-1 profiles the teacher's pass with the student's (`ProfiledPair`);
- `get_dataloader`: a split Ultralytics' loader cannot use is a UserError, and `train()` removes the run folder it
  had begun;
- `save_model`: checkpoints hold Ultralytics' own `DistillationModel`, loadable without yolodistill, and are written
  beside their files and renamed over them, so a kill while saving leaves the previous, whole ones;
- `final_eval`: the optimizer is stripped from `last.pt` and `best.pt` the same way, and a Ctrl-C then waits for both;
- `_setup_train`: Ultralytics' one 'Freezing layer' line per teacher tensor becomes one line;
- the schedule, the balance's loss scale and report, and the adapters' prefit hook onto Ultralytics' events
  (`callbacks.py`);
- `get_validator`/`train`: nothing else; the distillation settings ride beside Ultralytics' args, never inside them,
  because every unknown key fails Ultralytics' argument check in the trainer, the validator and the DDP worker.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from ultralytics.models.yolo.detect import DetectionTrainer
from ultralytics.nn.distill_model import DistillationModel
from ultralytics.nn.tasks import load_checkpoint
from ultralytics.utils import DEFAULT_CFG, LOGGER, RANK
from ultralytics.utils.torch_utils import unwrap_model

from .balance import make_balance
from .callbacks import CALLBACKS
from .config import DistillConfig, config_keys_named
from .data import fingerprint
from .ddp import ddp_metrics, in_worker, launch, launched, settings_from_environment
from .errors import DiskFull, UserError, batch_of_one_refused, disk_full, first_line, out_of_space, python_values
from .locks import exclusive, holding, run_folder
from .model import KD_TERMS, UNLABELED_TERMS, KDModel, ProfiledPair, load_teacher
from .report import distill_plot
from .resume import AUTO_REWRITTEN, TrainingInterrupted, after_stop, own_record, remove_unstarted
from .start import has_own_weights, select_weights, starts_from_teacher, transferred
from .strips import finish_best, stamp, whole_strips
from .unlabeled import unlabeled_sources
from .utils import (FoldedLines, atomic_write_text, file_digest, fsync_file, held_signals, partial_twin,
                    sticky_interrupt)

def settings_of(model: Any) -> DistillConfig | None:
    """The DistillConfig a yolodistill checkpoint's model carries (None for any other model)."""
    saved = getattr(model, "yolodistill", None)
    return DistillConfig.from_dict(saved) if isinstance(saved, dict) else None


class UltralyticsTrainer(DetectionTrainer):
    """compare's plain and builtin runs: Ultralytics' trainer as it is, launched on several GPUs as ours is
    (ddp.launch), so that a Ctrl-C stops their workers too."""

    def train(self):
        return launch(self) if self.ddp else super().train()


class DistillationTrainer(DetectionTrainer):
    """Ultralytics' detection trainer, distilling from a frozen teacher (`distill_model=`) with `KDModel`."""

    def __init__(
        self,
        cfg=DEFAULT_CFG,
        overrides: dict | None = None,
        _callbacks: dict | None = None,
        distill: DistillConfig | None = None,
        teacher: torch.nn.Module | None = None,
        pretrained: torch.nn.Module | None = None,
    ):
        # dis weighs Ultralytics' built-in distiller, which KDModel does not run: args.yaml said dis: 6.0, as if it ran
        super().__init__(cfg, {**(overrides or {}), "dis": 0.0}, _callbacks)
        if distill is None and (handed := settings_from_environment()):  # a DDP worker built by Ultralytics' entry
            distill = DistillConfig.from_dict(handed)  # file
        if distill is None and self.resume:
            distill = settings_of(load_checkpoint(self.args.resume)[0])
        if distill is None or not self.args.distill_model:  # YOLO().train(trainer=DistillationTrainer) from Python
            if not self.resume and not self.args.exist_ok:  # a folder Ultralytics made new: a retry went to NAME2
                remove_unstarted(Path(self.save_dir))  # (with exist_ok it may be the user's own, kept)
            raise UserError("no distillation settings: start runs with yolodistill train, or resume one of its runs"
                            if distill is None else "no teacher: pass --teacher PATH.pt")
        self.distill = distill
        self.teacher = teacher  # loaded once by the caller's checks; workers and resumes load distill_model
        self.pretrained = pretrained  # pretrained=PATH's model, likewise (setup_model loads it without)
        self._adapter_state = self._balance = None
        # on resume, what optimizer=auto rewrote in the checkpoint's args, as the run's distill.yaml had it (resume.py):
        # read once, before write_recipe rewrites that file
        # the checkpoint's, or one a resume here rewrote (cut before a save): distill.yaml read once
        record = own_record(Path(self.args.resume), self.run_args, vars(self.args)) if self.resume else {}
        started = record.get("train_args") or {}
        self.started = {k: started[k] for k in AUTO_REWRITTEN if k in started}
        self.started_from: int | None = None  # layers selected from the teacher, or tensors taken from pretrained=
        self.start_recorded = record.get("start")  # a resumed run's, as recorded when it started
        self.model_started = started.get("model")  # its student, which tells a start recorded nowhere (an older run)
        self.images: dict[str, int] = dict(record.get("images") or {})  # labelled and unlabelled images the run
        self.images_recorded = dict(self.images)  # trains on (distill.yaml), as the resumed run had them
        self.balance_told: set[str] | None = None  # the bound terms callbacks.report_balance named, once it spoke
        for event, callback in CALLBACKS:
            if callback not in self.callbacks[event]:
                self.add_callback(event, callback)
        self.write_recipe()

    def check_resume(self, overrides):
        """Ultralytics' own; its args are kept as the checkpoint had them (`run_args`), before it names the run after
        the folder it resumes in: a copied or moved run's distill.yaml, named after the folder it was made in, read
        as another run's, and the resume recorded a start and optimizer it never had."""
        super().check_resume(overrides)
        self.run_args = dict(vars(self.args))

    def write_recipe(self) -> None:
        """distill.yaml: everything needed to reproduce the run (distillation settings, Ultralytics args) and, once the
        data is loaded, how many labelled and unlabelled images it used."""
        if RANK in {-1, 0}:
            text = yaml.safe_dump(self.recipe(), sort_keys=False, allow_unicode=True)  # a path of 日本 as written
            atomic_write_text(self.save_dir / "distill.yaml", text)

    def recipe(self) -> dict[str, Any]:
        args = {k: v for k, v in vars(self.args).items() if k != "save_dir"}
        args.update(self.started, **({"model": self.model_started} if self.model_started else {}))  # not last.pt
        # by the student the run began with (on resume args.model is last.pt); init_from_teacher alone read true for
        # a .pt student
        start = ("own weights" if has_own_weights(self.model_started or self.args.model, self.args.pretrained) else
                 "teacher" if self.distill.init_from_teacher else "random")
        start = "random" if self.started_from == 0 else self.start_recorded or start  # 0: nothing of it fit
        return {"distill": self.distill.to_dict(), "teacher": str(self.args.distill_model), "start": start,
                "images": self.images, "train_args": args}

    def get_dataloader(self, dataset_path: str, batch_size: int = 16, rank: int = 0, mode: str = "train"):
        """A split Ultralytics cannot train or validate on (every image corrupt, every label out of range) is a
        UserError, as the checks before the run refuse what they can see without reading every file."""
        from .checks import split_refusals

        with split_refusals(self.args.data):
            return self._get_dataloader(dataset_path, batch_size, rank, mode)

    def _get_dataloader(self, dataset_path: str, batch_size: int, rank: int, mode: str):
        """Ultralytics' loader, or for a run with unlabelled folders one that mixes them into every batch."""
        if mode != "train" or not self.distill.unlabeled:
            loader = super().get_dataloader(dataset_path, batch_size, rank, mode)
            if mode == "train":
                self.images = {"labelled": len(loader.dataset), "unlabeled": 0}
                self.write_recipe()
            return loader
        from ultralytics.utils.torch_utils import torch_distributed_zero_first

        from .unlabeled import mixed_loader

        with torch_distributed_zero_first(rank):
            labelled = self.build_dataset(dataset_path, mode, batch_size)
        stride = max(int(unwrap_model(self.model).stride.max()), 32)
        loader, unreadable = mixed_loader(labelled, self.args, self.distill.unlabeled, self.distill.unlabeled_ratio,
                                          batch_size, self.data, stride, self.args.workers, RANK, self.world_size,
                                          self.args.seed)
        if unreadable and RANK in {-1, 0}:
            LOGGER.warning(f"Skipped {len(unreadable)} unreadable unlabelled image(s), e.g. {unreadable[0]}")
        sampler = loader.sampler
        before, now = self.images_recorded.get("unlabeled"), len(loader.dataset.unlabelled)
        if self.resume and mode == "train" and before is not None and before != now:  # trained on, recorded as all
            raise UserError(f"the unlabelled folders ({', '.join(self.distill.unlabeled)}) hold {now} readable images "
                            f"now and held {before} when the run started: a resumed run goes on with the images it "
                            "started with, so put them back as they were, or start a new run")
        gpus = max(self.world_size, 1)  # under DDP each rank's batch; an optimizer step sees every rank's
        self.images = {"labelled": len(labelled), "unlabeled": now,
                       "unlabeled_skipped": len(unreadable), "batch_labelled": sampler.k_labelled * gpus,
                       "batch_unlabeled": sampler.k_unlabelled * gpus}
        if RANK in {-1, 0}:
            per = f" ({sampler.k_labelled} + {sampler.k_unlabelled} on each of {gpus} GPUs)" if gpus > 1 else ""
            LOGGER.info(f"Training on {self.images['labelled']} labelled and {self.images['unlabeled']} unlabelled "
                        f"images, {sampler.k_labelled * gpus} + {sampler.k_unlabelled * gpus} per batch{per}")
        self.write_recipe()
        return loader

    def build_optimizer(self, model, name="auto", lr=0.001, momentum=0.9, decay=1e-5, iterations=1e5):
        """Ultralytics' optimizer; `auto` chooses by the run's optimizer steps, which it counts from the dataset's
        length. A mixed dataset also holds the unlabelled images, so count the steps from the batches instead."""
        if self.distill.unlabeled and self.train_loader is not None:
            steps = math.ceil(len(self.train_loader) * self.batch_size / max(self.batch_size, self.args.nbs))
            iterations = steps * self.epochs
        return super().build_optimizer(model, name, lr, momentum, decay, iterations)

    def setup_model(self):
        """A checkpoint saved mid-run holds a `DistillationModel`: on resume, rebuild the student from it and keep its
        adapters for `set_model_attributes`; as the student of a new run (or its `pretrained=`), take the student
        alone, with fresh adapters for this run's teacher (Ultralytics would rebuild the old wrapper and load our
        adapters into its projector)."""
        pretrained = self.args.pretrained  # PATH: weights from there; False: random (both Ultralytics' own way)
        if isinstance(pretrained, (str, Path)) and not self.resume and not isinstance(self.model, torch.nn.Module):
            # once: Ultralytics' setup_model would load it again
            weights = self.pretrained if self.pretrained is not None else load_checkpoint(pretrained)[0]
            self.pretrained = None  # its weights are the student's now: not held through the run
            if isinstance(weights, DistillationModel):  # pretrained= a mid-run checkpoint: its student's weights
                weights = weights.student_model
            cfg = load_checkpoint(self.model)[0].yaml if str(self.model).lower().endswith(".pt") else self.model
            self.model = self.get_model(cfg=cfg, weights=weights, verbose=RANK in {-1, 0})
            return None  # Ultralytics reads a checkpoint's state only on resume
        own = self.resume or not (isinstance(pretrained, (str, Path)) or pretrained is False)
        if own and not isinstance(self.model, torch.nn.Module) and str(self.model).lower().endswith(".pt"):
            weights, ckpt = load_checkpoint(self.model)
            if isinstance(weights, DistillationModel):
                self.model = self.get_model(cfg=weights.yaml, weights=weights.student_model, verbose=RANK == -1)
                if self.resume:
                    self._adapter_state = weights.projector.state_dict()
                    self._balance = getattr(weights, "yolodistill_balance", None)
                return ckpt
        return super().setup_model()

    def auto_batch(self, *args, **kwargs):
        """batch=-1: Ultralytics profiles `model(images)`, the student alone for the pair; profile the teacher's pass
        with it (`ProfiledPair`), or a large teacher leaves the chosen batch no room."""
        pair = self.model
        self.model = ProfiledPair(unwrap_model(pair)) if isinstance(unwrap_model(pair), KDModel) else pair
        try:
            return super().auto_batch(*args, **kwargs)
        finally:
            self.model = pair

    def get_model(self, cfg=None, weights=None, verbose: bool = True):
        """Build the student; one built from a yaml starts from the teacher's weights (see `select_weights`)."""
        model = super().get_model(cfg=cfg, weights=weights, verbose=verbose)
        if weights is None and starts_from_teacher(self.distill.init_from_teacher, self.args.model,
                                                   self.args.pretrained, self.resume):
            if self.teacher is None:  # a DDP worker: load it here, KDModel reuses it
                self.teacher = load_teacher(self.args.distill_model, model.yaml.get("channels", 3))
            selected, total = select_weights(self.teacher, model)
            self.started_from = selected
            if RANK in {-1, 0}:
                LOGGER.info(f"Student initialized from the teacher by weight selection: {selected}/{total} layers"
                            + ("" if selected else " (no layer matches: random start)"))
        elif RANK in {-1, 0} and not self.resume and has_own_weights(self.args.model, self.args.pretrained):
            self.started_from, total = transferred(model, weights) if weights is not None else (None, 0)
            d = self.distill  # the recipe's trained_student block applied (config.resolve): say what is in effect
            if self.started_from is not None and self.started_from < total / 2:  # another model's (the teacher's)
                own = str(self.args.model).lower().endswith(".pt")  # a .pt student's own weights, else the teacher's
                LOGGER.warning(f"pretrained={self.args.pretrained} fits {self.started_from} of the student's {total} "
                               f"tensors: the student starts {'mostly' if self.started_from else 'wholly'} random. "
                               + ("Leave pretrained= out to keep the .pt student's own weights" if own else
                                  "Leave pretrained= out for the teacher start, which it turns off")
                               + ", or pass weights of the student's own architecture")
            else:
                LOGGER.info(f"Student keeps its own trained weights: kd_cls={d.kd_cls:g}, kd_box={d.kd_box:g}, "
                            f"kd_feat={d.kd_feat:g} ({d.feat_loss}), kd_assign={d.kd_assign}, kd_gate={d.kd_gate}. In "
                            "the BCCD study the teacher-bounded terms gained +0.0036 mAP50-95 over plain fine-tuning, "
                            "and a student from its yaml (teacher start) did best; `yolodistill compare` measures both "
                            "on your data")
        return model

    def set_model_attributes(self):
        """Attach data attributes to the student, then wrap it with the teacher in a `KDModel`."""
        super().set_model_attributes()
        if isinstance(self.model, KDModel):
            return
        teacher = self.teacher if self.teacher is not None else self.args.distill_model
        self.model = KDModel(teacher, self.model, self.distill, balance=self._balance)
        if RANK in {-1, 0}:  # the checkpoints' record of which teacher and images this run distils (resume.py)
            self.model.teacher_digest = file_digest(self.args.distill_model)
            self.model.data_fingerprint = fingerprint(self.data)
        if self._adapter_state is not None:
            self.model.projector.load_state_dict(self._adapter_state)
        self.teacher = None  # the wrapper owns it now

    def save_model(self):
        """Save with the EMA swapped for its portable form (see `KDModel.portable`), and atomically.

        Ultralytics writes `last.pt` (and `epochN.pt`) in place; here each goes to a temporary file renamed over the
        old one, so a kill in the middle of saving still leaves the previous, resumable `last.pt`, and no `epochN.pt`
        cut short. A Ctrl-C there removes the twins it cut short (tens of MB each); one left by a kill is removed at
        the next save: an epoch that does not improve writes no best.pt, and the old twin would be renamed over it.
        """
        final, period = {"last": self.last, "best": self.best}, self.save_period
        if period > 0 and self.epoch % period == 0:  # Ultralytics' own test for an epochN.pt
            final["epoch"] = self.wdir / f"epoch{self.epoch}.pt"
        partial = {key: partial_twin(path) for key, path in final.items()}
        for tmp in partial.values():
            tmp.unlink(missing_ok=True)
        ema = self.ema.ema
        self.ema.ema = ema.portable(unwrap_model(self.model).balance)
        self.last, self.best, self.save_period = partial["last"], partial["best"], 0
        try:
            saved = super().save_model()
            if "epoch" in partial:  # the same bytes as last.pt's, as Ultralytics writes them
                shutil.copyfile(partial["last"], partial["epoch"])
            # best.pt first, and all before a Ctrl-C lands: a last.pt whose best_fitness names this epoch beside an
            # older best.pt lost this epoch's weights for good (a resume writes best.pt only on an epoch as good)
            written = [key for key in ("best", "epoch", "last") if key in partial and partial[key].exists()]
            for key in written:
                fsync_file(partial[key])
            with held_signals():
                for key in written:
                    os.replace(partial[key], final[key])
            return saved
        except BaseException:
            for tmp in partial.values():
                tmp.unlink(missing_ok=True)
            raise
        finally:
            self.ema.ema = ema
            self.last, self.best, self.save_period = final["last"], final["best"], period

    def final_eval(self):
        """See `whole_strips`; the validation after the strips stays interruptible."""
        with whole_strips():
            return super().final_eval()

    def resume_training(self, ckpt):
        """Drop results.csv rows after the checkpoint's epoch: a kill while saving leaves the next epoch's row, which
        the resumed run would list twice."""
        super().resume_training(ckpt)
        if ckpt is not None and self.resume and self.csv.exists():
            lines = self.csv.read_text().splitlines(keepends=True)
            keep = [lines[0]] + [r for r in lines[1:] if int(float(r.split(",")[0])) <= ckpt["epoch"] + 1]
            atomic_write_text(self.csv, "".join(keep))

    def label_loss_items(self, loss_items=None, prefix="train"):
        """Ultralytics' columns, the distillation terms to 5 significant digits: to 5 decimals, as Ultralytics rounds
        its losses, a term still pulling at 1e-6 was 0 in results.csv (read as off)."""
        out = super().label_loss_items(loss_items, prefix)
        if isinstance(loss_items, dict):
            out.update({f"{prefix}/{k}": float(f"{float(v):.5g}") for k, v in loss_items.items()
                        if k in KD_TERMS + UNLABELED_TERMS})
        return out

    def plot_metrics(self):
        """results.png, and distill.png: the distillation terms per epoch, which results.png leaves out."""
        super().plot_metrics()
        try:
            distill_plot(self.csv, self.save_dir / "distill.png")
        except (OSError, ValueError, KeyError) as e:  # a plot never fails a run that trained
            LOGGER.warning(f"distill.png not written: {first_line(e)}")

    def _setup_train(self):
        """Ultralytics logs one 'Freezing layer' line per teacher tensor (hundreds): one line says it instead. Its
        refusal of a last batch of one image comes here, once the run folder exists: a UserError, so train removes it."""
        with FoldedLines("Freezing layer 'teacher_model.") as folded, batch_of_one_refused():
            super()._setup_train()
        if folded.count and RANK in {-1, 0}:
            LOGGER.info(f"Teacher frozen: {folded.count} tensors (teacher_model.*)")

    def train(self):
        """On several GPUs, Ultralytics' launch of DDP workers, and each worker's training, as ddp.py wraps them."""
        if self.ddp:
            return launch(self)
        return in_worker(super().train) if launched() else super().train()

    def _load_checkpoint_state(self, ckpt):
        """Also the automatic balance: a NaN rollback to last.pt takes it back there, or the discarded epoch's
        measurements (the bad batch among them) would stay in force."""
        super()._load_checkpoint_state(ckpt)
        model = unwrap_model(self.model)
        if isinstance(model, KDModel) and model.balance is not None:
            saved = getattr(ckpt.get("ema") or ckpt.get("model"), "yolodistill_balance", None)
            model.balance = make_balance(self.distill.kd_balance, model.weights, saved)


@dataclass
class TrainResult:
    """Where a run wrote its files, and its final metrics."""

    save_dir: Path
    best: Path
    last: Path
    metrics: dict[str, float]


@python_values
@config_keys_named
@holding(run_folder, "--name")
def train(
    teacher: str | Path | None = None,
    student: str | Path | None = None,
    data: str | Path | None = None,
    config: str | Path | None = None,
    resume: str | Path | None = None,
    **overrides: Any,
) -> TrainResult:
    """Distill `teacher` into `student` on `data` (or resume a run) and return where the results are.

    `overrides` take distillation keys (kd_cls, kd_box, kd_feat, temperature, feat_loss, kd_warmup, ...) and any
    Ultralytics train argument; they override the `config` recipe, which overrides configs/default.yaml.
    """
    from .checks import preflight
    from .runfolder import run_dir
    from .recipe import check_pair, check_recipe
    from .resume import check_resume
    from .config import resolve, whole_numbers

    overrides = whole_numbers(overrides)  # a resume's --batch 8.0 too, which resolve never sees
    if resume is False:  # resume=False as key=value: Ultralytics' "do not resume"
        resume = None
    if resume is not None and not isinstance(resume, (str, Path)):  # resume=True: Ultralytics' "the newest run"
        raise UserError(f"resume={resume} names no checkpoint: resume a run with --resume "
                        "runs/distill/NAME/weights/last.pt")
    if resume is not None:  # a resumed run keeps its student, data and recipe: check_resume refuses them
        given = {k: v for k, v in (("student", student), ("data", data), ("config", config)) if v is not None}
        if teacher is not None:  # the run's teacher has moved: the new path is checked against the run
            given["distill_model"] = str(teacher)
        args, distill, loaded = check_resume(resume, {**given, **overrides})
        trainer = DistillationTrainer(overrides=args, distill=distill, teacher=loaded)
        numbered = False
    else:
        distill, args = resolve(config, student=student, **overrides)
        if args.get("dis") is not None:  # recorded in args.yaml and never read: the run looked distilled by it
            raise UserError(f"dis={args['dis']} weighs Ultralytics' built-in distiller, which yolodistill train does "
                            "not run: weigh ours with --kd-cls, --kd-box and --kd-feat (compare takes dis= for its "
                            "builtin method)")
        check_recipe(distill, student, args)
        plan = preflight(teacher, student, data, args)
        check_pair(distill, plan.args, plan.teacher, plan.student)
        distill = unlabeled_sources(distill, plan.args["data"], run_dir(plan.args))
        trainer = DistillationTrainer(overrides=plan.args, distill=distill, teacher=plan.teacher,
                                      pretrained=plan.pretrained)
        numbered = not args.get("name") and args.get("exist_ok") is not True  # exp-N, picked just now
    before = stamp(Path(trainer.last)) if resume is None else None  # a resume's own last.pt stays resumable
    best_before = stamp(Path(trainer.best))
    # the exp-N Ultralytics picked, held as a named run's folder is (holding): an unnamed --exist-ok run took it
    with exclusive(Path(trainer.save_dir), "--name") if numbered else contextlib.nullcontext():
        return run_trainer(trainer, resume, before, best_before)


def run_trainer(trainer: DistillationTrainer, resume: Any, before: Any, best_before: Any) -> TrainResult:
    """trainer.train(), with what a stop leaves said: the resume hint, or the run folder of one refused at once."""
    try:
        with sticky_interrupt(trainer):
            trainer.train()
    except UserError:  # found once the run folder exists (the data loader's): leave none of it behind
        if resume is None:
            remove_unstarted(Path(trainer.save_dir))
        raise
    except KeyboardInterrupt:
        last = Path(trainer.last)
        try:
            finish_best(Path(trainer.best), best_before)
        finally:  # a second Ctrl-C, or a full disk, still ends with the resume hint
            raise TrainingInterrupted(last, before is not None and stamp(last) == before, trainer.args.name) from None
    except BrokenPipeError:  # `train ... | head`: the output closed, and the first write after it stopped the run
        raise DiskFull(f"the output was closed (a pipe such as `| head` ended), which stopped the run: "
                       f"{after_stop(trainer, before)}") from None
    except OSError as e:  # a full disk mid-run (a checkpoint, results.csv): what is kept, and how to go on from it
        if disk_full(e) is None:
            raise
        # a write that fails names no file: the run's folder, where all of them go
        raise out_of_space(e.filename or trainer.save_dir, then=after_stop(trainer, before)) from None
    return TrainResult(
        save_dir=Path(trainer.save_dir),
        best=Path(trainer.best),
        last=Path(trainer.last),
        metrics={k: float(v) for k, v in (trainer.metrics or ddp_metrics(trainer)).items()},
    )
