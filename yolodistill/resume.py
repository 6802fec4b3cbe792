"""Resuming a run and what to say after Ctrl-C: a resumed run keeps its student, recipe and schedule, writes where
its last.pt is, and is checked before Ultralytics restores its optimizer (a misfit there is a traceback mid-setup)."""

from __future__ import annotations

import csv
import logging
import os
import shlex
import shutil
from pathlib import Path
from typing import Any

import torch
import yaml

from .checks import check_data, check_fit, check_names
from .devices import check_device
from .config import DistillConfig, check_known
from .errors import UserError, check_no_quote, first_line, require_file
from .loading import load_detector, local_checkpoint
from .strips import finish_cut_run  # a run killed before its final strips: its best.pt finished as they would
from .utils import file_digest, local_path, quieter

# Of the arguments Ultralytics lets a resumed run change (BaseTrainer.check_resume), those that leave the run's schedule
# and its optimizer's parameters as they were (time= would change the epochs the schedule decays over, freeze= the
# parameters that train); data through --data, for a dataset that moved.
RESUMABLE = {"imgsz", "batch", "device", "workers", "cache", "patience", "save_period", "val", "plots", "distill_model",
             "close_mosaic", "augmentations", "channels_last", "save_dir", "data"}


def check_resume(resume: str | Path, overrides: dict[str, Any]) -> tuple[dict[str, Any], DistillConfig, torch.nn.Module]:
    """A resumable yolodistill `last.pt`: the Ultralytics args that resume it, its settings and its teacher, loaded."""
    from ultralytics.utils.patches import torch_load

    from .train import settings_of

    p, overrides = require_file(resume, "resume checkpoint", (".pt",)), dict(overrides)
    check_known({k: v for k, v in overrides.items() if k not in {"student", "config", *RESUMABLE}})  # a typo
    check_no_quote(p.resolve(), "resume checkpoint")  # the resumed run writes, then loads, its best.pt beside it
    try:
        ckpt = torch_load(p, map_location="cpu", weights_only=False)
        settings = settings_of(ckpt.get("ema") or ckpt.get("model"))
    except Exception as e:
        raise UserError(f"resume checkpoint '{p}' is not readable ({first_line(e)})") from None
    finished = finished_run(ckpt)
    # a finished run's last.pt is stripped to a plain Ultralytics checkpoint; its run folder still says whose it was
    if settings is None and not (finished and (run_folder(p) / "distill.yaml").is_file()):
        raise UserError(f"'{p}' is not a yolodistill training checkpoint: pass runs/distill/NAME/weights/last.pt")
    if finished:
        if p.name != "last.pt" and resumable_beside(p):  # best.pt is stripped at every stop, a Ctrl-C's too
            raise UserError(f"'{p}' holds the run's best weights, not its training state: resume its last.pt, with "
                            f"yolodistill train --resume {shlex.quote(str(p.with_name('last.pt')))}")
        raise UserError(f"'{p}' is from a finished run (nothing to resume){finish_cut_run(p)}: start a new run, e.g. "
                        f"with --student {shlex.quote(str(p))} to train it further")
    check_not_behind(p, ckpt)
    if "device" in overrides:
        overrides["device"] = check_device(overrides["device"])
    if settings.unlabeled:  # the folders the run mixes in must still be there, or its loader could never fill a batch
        from .unlabeled import check_sources

        check_sources(settings.unlabeled, source="the resumed run's unlabelled folder",
                      fix="put it back there, or start a new run")
    started = started_args(p, ckpt.get("train_args") or {})
    overrides = {k: v for k, v in overrides.items()
                 if k in RESUMABLE or not same_as_run(k, v, ckpt, settings, started)}
    fixed = sorted(k for k in overrides if k in DistillConfig.keys() or k not in RESUMABLE)
    if fixed:
        raise UserError(f"a resumed run keeps its settings; cannot change {', '.join(fixed)} (start a new run)")
    check_resumed_values(overrides, ckpt.get("train_args") or {})
    saved = ckpt.get("ema") or ckpt.get("model")
    if overrides.get("distill_model"):  # --teacher: the run's teacher moved, fetched if the user typed a URL
        overrides["distill_model"] = local_path(local_checkpoint(overrides["distill_model"], "teacher"))
    recorded = ckpt.get("train_args", {}).get("distill_model")
    teacher = overrides.get("distill_model") or recorded
    model = check_resumed_teacher(teacher, saved, str(p), optimized(ckpt) - len(list(saved.parameters())),
                                  single_cls=bool(ckpt.get("train_args", {}).get("single_cls")))
    # after the fit checks, which say more of a teacher that cannot work
    check_same_teacher(teacher, getattr(saved, "yolodistill_teacher", None), str(p), overrides.get("distill_model"),
                       recorded)
    overrides.update(resumed_data(overrides.get("data"), ckpt.get("train_args", {}), saved))
    if settings.unlabeled:  # as a new run is: no labelled or val image copied in since, and the run not written inside
        from .unlabeled import unlabeled_sources

        unlabeled_sources(settings, overrides.get("data") or ckpt.get("train_args", {}).get("data"), run_folder(p),
                          source="the resumed run's unlabelled folder",
                          outside="move the run folder out of it (its checkpoints resume from anywhere)")
    if "save_dir" not in overrides:  # where this last.pt is (a copied or moved run's), not where the run first was
        overrides["save_dir"] = str(run_folder(p))
    return {**overrides, "model": str(p), "resume": str(p)}, settings, model


def check_same_teacher(teacher: str, digest: str | None, run: str, given: str | None, recorded: str | None) -> None:
    """A resume distils from the file the run started with: another yolo26s (trained otherwise, or written over the
    recorded path since) passes every fit check. The run's checkpoints hold its teacher's sha256; a run saved before
    they did is checked by --teacher's bytes against the recorded teacher, where that is still in place."""
    import filecmp

    if digest is not None:
        if file_digest(teacher) != digest:
            raise UserError(f"teacher '{teacher}' is not the file '{run}' was distilled from (its bytes differ): "
                            "resume with the run's own teacher (moved is fine), or start a new run to change teachers")
    elif (given and recorded and Path(recorded).is_file() and not os.path.samefile(given, recorded)
            and not filecmp.cmp(given, recorded, shallow=False)):
        raise UserError(f"--teacher '{given}' is not the run's teacher, which is still at '{recorded}': resume without "
                        "--teacher (it is only for a teacher that moved), or start a new run to change teachers")


AUTO_REWRITTEN = ("optimizer", "lr0", "warmup_bias_lr")  # optimizer=auto replaces them in the checkpoint's args


def run_folder(last: Path) -> Path:
    """The run a resumed `last.pt` writes to: RUN for RUN/weights/last.pt, else the folder it is in."""
    folder = Path(last).resolve().parent
    return folder.parent if folder.name == "weights" else folder


def started_args(last: Path, run_args: dict[str, Any]) -> dict[str, Any]:
    """The Ultralytics args a run started with, from its distill.yaml (RUN/weights/last.pt): the checkpoint holds
    them after optimizer=auto rewrote AUTO_REWRITTEN (AdamW, its own lr0, warmup_bias_lr 0). Empty where there is
    none, it does not read, or it is not the run's (a later run with --exist-ok wrote its own there). `run_args`:
    the checkpoint's train_args (a resumed trainer's own args are those)."""
    return own_record(last, run_args).get("train_args") or {}


def own_record(last: Path, *run_args: dict[str, Any]) -> dict[str, Any]:
    """The run's distill.yaml, as started_args finds it: also where its student started, which a resumed trainer
    cannot tell (weight selection that matched no layer is `random`). The run's where it is of any of `run_args`."""
    doc = read_record(run_folder(last) / "distill.yaml") or {}
    args = doc.get("train_args")
    return doc if isinstance(args, dict) and any(of_run(args, a) for a in run_args) else {}


def same_as_run(key: str, value: Any, ckpt: dict[str, Any], settings: DistillConfig,
                started: dict[str, Any] | None = None) -> bool:
    """Whether a setting given with --resume repeats the run's own: the run's command run again with --resume added
    asks for nothing new, so it is not refused; that includes optimizer=auto and the lr0 it overrode, as typed.
    A recipe file (--config) is never taken as the same."""
    if key in DistillConfig.keys():
        return same_value(value, getattr(settings, key))
    args = ckpt.get("train_args") or {}
    if key in AUTO_REWRITTEN and key in (started or {}) and same_value(value, started[key]):
        return True
    key = "model" if key == "student" else key
    return key != "config" and key in args and same_value(value, args[key])


def same_value(given: Any, run: Any) -> bool:
    """Equal as settings: 3 and 3.0 alike; paths alike where they resolve to the same place (a run stores its project
    and unlabelled folders resolved); lists item by item."""
    if isinstance(given, bool) or isinstance(run, bool):
        return given is run
    if isinstance(given, (int, float)) and isinstance(run, (int, float)):
        return float(given) == float(run)
    if isinstance(given, (list, tuple)) and isinstance(run, (list, tuple)):
        return len(given) == len(run) and all(map(same_value, given, run))
    if isinstance(given, (str, Path)) and isinstance(run, (str, Path)):
        try:
            return str(given) == str(run) or Path(given).resolve() == Path(run).resolve()
        except (OSError, RuntimeError):  # a link loop
            return False
    return given == run


def at_last_epoch(ckpt: dict[str, Any]) -> int | None:
    """The run's epochs where the checkpoint was saved at the last of them (nothing is left to resume), else None."""
    epochs = (ckpt.get("train_args") or {}).get("epochs")
    return epochs if isinstance(epochs, int) and ckpt.get("epoch", -1) + 1 >= epochs else None


def check_not_behind(p: Path, ckpt: dict[str, Any]) -> None:
    """A save_period checkpoint (epochN.pt) of its run's last epoch has nothing to resume (Ultralytics then failed
    with a traceback, after our records were rewritten); one whose run went on would train over that run's later
    last.pt, best.pt and results.csv rows. So would a last.pt put in another run's folder, beside its weights/, or
    beside an args.yaml or distill.yaml not of its own run (a recipe of the user's), which the run writes there."""
    from ultralytics.utils.patches import torch_load

    epoch = ckpt.get("epoch", -1)
    if epochs := at_last_epoch(ckpt):
        raise UserError(f"'{p}' was saved after the run's last epoch ({epochs}): nothing to resume{finish_cut_run(p)}; "
                        f"start a new run with --student {shlex.quote(str(p))} to train it further")
    folder = run_folder(p)  # a last.pt outside a weights/ folder writes its run beside itself
    loose = p.resolve().parent != folder / "weights"
    if loose:
        taken = next((f"a run's {n}" for n in ("weights", "results.csv") if (folder / n).exists() and not (
            n == "weights" and (folder / n).is_dir() and not any((folder / n).iterdir()))), None)  # a cut resume's
        if taken:
            raise UserError(f"'{p}' resumes into the folder it is in, '{folder}', which already holds {taken}: "
                            f"resuming would write over it; resume that run's weights/last.pt, or copy '{p}' into a "
                            "folder of its own to resume from it there")
        run_args = ckpt.get("train_args") or {}
        if mine := next((n for n in ("args.yaml", "distill.yaml")
                         if (folder / n).exists() and not of_run(record_args(folder / n), run_args)), None):
            raise UserError(f"'{p}' resumes into the folder it is in, '{folder}', whose {mine} is not its run's (a "
                            f"recipe of yours?): resuming would write over it; copy '{p}' into a folder of its own to "
                            "resume from it there")
    # Ultralytics writes an epoch's results.csv row before its checkpoint, and a new run deletes the file at its start
    in_run = not loose and (folder / "args.yaml").is_file()  # not a copy on its own
    logged = csv_epochs(folder / "results.csv") if in_run else epoch + 1
    if logged is None or logged < epoch + 1:
        raise UserError(f"'{p}' was saved after epoch {epoch + 1}, and the results.csv of its run folder "
                        + ("is gone" if logged is None else f"ends at epoch {logged}") + ": a later run started there "
                        "(--exist-ok) and stopped before its first checkpoint, or the file was removed, so resuming "
                        f"would leave the records of epochs it trained out or mixed with another run's; copy '{p}' "
                        "into a folder of its own to resume from it there, or start a new run")
    last = p.resolve().parent / "last.pt"
    if last == p.resolve() or not last.is_file():
        return
    try:
        later = torch_load(last, map_location="cpu", weights_only=False)
    except Exception:  # an unreadable last.pt beside it is no later run to protect
        return
    if finished_run(later) or later.get("epoch", -1) > epoch:
        raise UserError(f"'{p}' is older than the last.pt beside it (its run went on, or a later run with --exist-ok "
                        f"took the folder): resuming would train over that run's weights and results; copy '{p}' into "
                        "a folder of its own to resume from it there")


def read_record(record: Path) -> dict[str, Any] | None:
    """A run's record (args.yaml, distill.yaml) as a mapping; None where it does not read or is no mapping."""
    try:
        doc = yaml.safe_load(Path(record).read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return None
    return doc if isinstance(doc, dict) else None


def record_args(record: Path) -> dict[str, Any] | None:
    """The train args an args.yaml holds, or a run's distill.yaml (its train_args); None where there are none."""
    doc = read_record(record)
    doc = doc.get("train_args") if doc is not None and record.name == "distill.yaml" else doc
    return doc if isinstance(doc, dict) else None


def of_run(args: dict[str, Any] | None, run_args: dict[str, Any]) -> bool:
    """Whether a record's train args are the checkpoint's own run's: the same project, name and seed, which
    Ultralytics never rewrites (data and epochs it may: a dataset's name, time=)."""
    return args is not None and all(args.get(k) == run_args.get(k) for k in ("project", "name", "seed"))


def csv_epochs(path: Path) -> int | None:
    """The last epoch a results.csv logged (0 with no row), None where there is no readable one."""
    import csv

    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f, skipinitialspace=True))
        return max((int(float(r["epoch"])) for r in rows), default=0)
    except (OSError, KeyError, TypeError, ValueError, csv.Error):
        return None


MAP50, MAP50_95 = "metrics/mAP50(B)", "metrics/mAP50-95(B)"  # Ultralytics' results.csv and trainer.metrics keys


def best_epoch_metrics(results_csv: Path) -> dict[str, float]:
    """The validation metrics of best.pt's epoch as results.csv logged them: the first row with the highest mAP50-95,
    Ultralytics' fitness. Under DDP the final validation runs in the workers; the launching process gets none."""
    with open(results_csv, newline="") as f:
        best = max(csv.DictReader(f, skipinitialspace=True), key=lambda row: float(row[MAP50_95]))
    return {k: float(v) for k, v in best.items() if k.startswith(("metrics/", "val/"))}


def check_resumed_values(overrides: dict[str, Any], recorded: dict[str, Any] | None = None) -> None:
    """The settings a resume may change, checked as a new run checks them (a patience=abc was a traceback, a
    --batch 0 ran with AutoBatch's default where a new run refuses it), and with the run's `recorded` train args,
    where a new one and a recorded one refuse each other (--device 0,1 on a run of AutoBatch's batch: -1)."""
    from ultralytics.cfg import get_cfg

    from .checks import check_amp, check_imgsz, check_train_batch, check_workers

    check_workers(overrides.get("workers"))
    both = {**(recorded or {}), **{k: v for k, v in overrides.items() if v is not None}}
    if overrides.get("device") is None and (recorded or {}).get("device") not in (None, ""):
        from .devices import check_device

        try:  # Ultralytics selects the run's device once resumed: a GPU this machine lacks was a ValueError traceback
            check_device(recorded["device"])
        except UserError:
            raise UserError(f"the run trained on --device {recorded['device']}, which this machine does not have: "
                            "resume it with --device (e.g. --device cpu), which a resume may change") from None
    check_amp(both)  # a run of amp=bf16 resumed on a CPU, or on another machine
    if overrides.get("batch") is not None or overrides.get("device") is not None:
        check_train_batch(both.get("batch", 16), both.get("device"))
    if overrides.get("imgsz") is not None:
        check_imgsz(overrides["imgsz"])
    try:
        get_cfg(overrides={k: v for k, v in overrides.items() if k != "distill_model"})
    except (SyntaxError, TypeError, ValueError) as e:
        raise UserError(first_line(e)) from None


def resumed_data(data: str | None, train_args: dict[str, Any], saved: torch.nn.Module) -> dict[str, str]:
    """The run's dataset is still where it was, or --data names it where it moved: the same classes, and the same
    images (data.fingerprint, recorded by the run; for a run saved before it did, its yaml's if that still reads).
    Its own yaml is checked as --data is: edited since the stop, it was a traceback, or trained on fewer images."""
    from .data import fingerprint

    run_data, own = train_args.get("data"), data is None
    if own:
        if run_data and Path(str(run_data)).is_absolute() and not Path(str(run_data)).exists():
            raise UserError(f"the run's data '{run_data}' is gone: put it back, or pass --data with its new path")
        if not run_data or not Path(str(run_data)).is_file():  # a dataset name Ultralytics resolves (coco8.yaml)
            return {}
        data = str(run_data)
    info = check_data(data)
    shown = f"the run's data '{data}'" if own else f"--data '{data}'"
    fix = ("put the dataset back as the run had it, or start a new run" if own else
           "resume with the run's own dataset (moved is fine), or start a new run")
    if not train_args.get("single_cls"):  # else the student has one class whatever the data's; the images say more
        check_names(saved.student_model.names, info["names"], "the resumed student", fix)
    recorded = getattr(saved, "yolodistill_data", None)
    if recorded is None and run_data and Path(str(run_data)).is_file():
        recorded = quiet_fingerprint(str(run_data))
    if recorded:
        given = fingerprint(info)
        for split in ("train", "val"):
            (n, _), (m, _) = recorded[split], given[split]
            if given[split] != list(recorded[split]):
                what = f"{m} images where the run's had {n}" if m != n else "other file names than the run's"
                raise UserError(f"{shown} is not the dataset the run trained on: its {split} split has {what}: {fix}")
    return {} if own else {"data": str(Path(data).resolve()) if Path(data).exists() else str(data)}


def quiet_fingerprint(data: str) -> dict[str, list] | None:
    """The images an old run's own yaml names, if they are where it says: never downloaded (it may declare a
    download of the very dataset the user moved), no warning; None if they are not."""
    from ultralytics.data.utils import check_det_dataset

    from .data import fingerprint

    try:
        with quieter(logging.ERROR):
            return fingerprint(check_det_dataset(data, autodownload=False))
    except Exception:  # Ultralytics reports a missing dataset with several exception types
        return None


def finished_run(ckpt: dict[str, Any]) -> bool:
    """A checkpoint stripped for shipping (epoch -1, no optimizer): a finished run's, which cannot be resumed."""
    return ckpt.get("epoch", -1) < 0 or ckpt.get("optimizer") is None


def resumable_beside(path: Path) -> bool:
    """Whether the run folder of `path` holds a last.pt that a resume takes (a run stopped before its end)."""
    last = path.with_name("last.pt")
    try:
        return last.is_file() and not finished_checkpoint(last)
    except Exception:  # noqa: BLE001 - unreadable: not one to point at
        return False


def finished_checkpoint(path: str | Path) -> bool:
    """`finished_run` of the checkpoint file at `path`; a file that does not load raises as torch_load does."""
    from ultralytics.utils.patches import torch_load

    return finished_run(torch_load(path, map_location="cpu", weights_only=False))


def optimized(ckpt: dict[str, Any]) -> int:
    """How many parameters the run's optimizer holds: Ultralytics' build_optimizer takes every parameter of the
    model, the frozen teacher's too, while last.pt's EMA copy holds the student and its adapters alone."""
    return sum(len(g["params"]) for g in (ckpt.get("optimizer") or {}).get("param_groups", []))


def check_resumed_teacher(teacher: str | Path, saved: torch.nn.Module, run: str,
                          teacher_params: int = 0, single_cls: bool = False) -> torch.nn.Module:
    """A resume's teacher (maybe another file than the run's) must fit as the first did (`check_fit`), have the
    neck widths the adapters in last.pt map the student's features to, and, where the run's optimizer holds its
    teacher (`teacher_params` tensors), as many parameters: Ultralytics restores that optimizer's state, and a
    teacher of another architecture fails to load it mid-setup. Returned, loaded, for the trainer, as preflight's Plan
    hands over a new run's."""
    from .model import neck_channels

    role = "teacher of the resumed run"
    model = load_detector(require_file(teacher, role, (".pt",), "if it moved, add --teacher NEW_PATH.pt to --resume"),
                          role)
    student = saved.student_model
    # a single_cls run's student has one class and its teacher the dataset's (or one): the sha256 check names the run's
    names = model.names if single_cls else student.names
    try:
        check_fit(model, student, {"names": names, "channels": student.yaml.get("channels", 3)}, run)
    except UserError as e:
        raise UserError(f"teacher '{teacher}' does not fit the resumed run: {e}") from None
    widths, trained = neck_channels(model), [a["align"][-1].out_channels for a in saved.projector]
    if widths != trained:
        raise UserError(f"teacher '{teacher}' is not the run's teacher: its neck widths are {widths}, the run's "
                        f"teacher's {trained}: resume with the run's own teacher (moved is fine), or start a new run")
    if teacher_params > 0 and (have := len(list(model.parameters()))) != teacher_params:
        raise UserError(f"teacher '{teacher}' is another model than the run's teacher ({have} parameter tensors "
                        f"against {teacher_params}): resume with the run's own teacher (moved is fine), or start a new "
                        "run")
    return model


def after_interrupt(last: Path, earlier: bool = False, name: str | None = None) -> str:
    """What to do after Ctrl-C. A Ctrl-C after the last epoch's save finds last.pt saved at that epoch or already
    stripped for shipping, which --resume refuses: then the run is done, and its weights are the answer. A last.pt
    the run did not write (`earlier`: an earlier run's, in a folder reused with --exist-ok) is not its own. A run
    Ultralytics numbered (`name` exp taken: exp-2) is reused only by naming it: --exist-ok alone writes into exp."""
    folder = last.parent.parent
    logged = csv_epochs(folder / "results.csv") or 0  # Ultralytics logs an epoch's row, then saves its checkpoint
    if not last.exists() or earlier:
        named = f" --name {shlex.quote(folder.name)}" if name is not None and folder.name != str(name) else ""
        why = ("save=False saves no checkpoint before the last epoch: leave it out to be able to resume" if
               (read_record(folder / "args.yaml") or {}).get("save") is False else
               f"epoch {logged} is in results.csv, but no checkpoint of it was saved" if logged and not earlier else
               "no epoch had finished")
        return (f"Continue with: a new run ({why}): the same command with --exist-ok{named} reuses this run folder, "
                f"{folder}")
    from ultralytics.utils.patches import torch_load

    ckpt = None
    try:  # stripped, or saved at the run's last epoch (a Ctrl-C before the final strip), which --resume refuses
        ckpt = torch_load(last, map_location="cpu", weights_only=False)
        finished = finished_run(ckpt) or at_last_epoch(ckpt) is not None
    except Exception:
        finished = False  # unreadable: --resume names the problem itself
    if not finished:
        saved = ckpt.get("epoch", -1) + 1 if isinstance(ckpt, dict) and isinstance(ckpt.get("epoch"), int) else 0
        redo = (f" (epoch {logged} is in results.csv, but last.pt holds epoch {saved}: epoch {logged} trains again)"
                if saved and logged > saved else "")  # the command last, to paste as it is
        return f"Continue with{redo}: yolodistill train --resume {shlex.quote(str(last))}"
    best = last.with_name("best.pt")
    weights = best if best.exists() else last
    return (f"The run had finished its epochs; its weights are {weights}, but the final validation was cut short: "
            f"check them with yolodistill bench {shlex.quote(str(weights))}")


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training, with the checkpoint to resume from."""

    def __init__(self, last: Path, earlier: bool = False, name: str | None = None):
        super().__init__(str(last))
        self.last, self.earlier = last, earlier  # earlier: last.pt is still an earlier run's (a reused folder)
        self.name = name  # the run's name as asked for, which Ultralytics numbered (exp-2) where it was taken

    def __str__(self) -> str:
        """What to do next (after_interrupt), as the CLI prints it."""
        return after_interrupt(self.last, self.earlier, self.name)


def after_stop(trainer: Any, before: tuple[int, int, int] | None) -> str:
    """How to go on from a run stopped mid-way: resume its last.pt, or start again where no epoch was saved."""
    from .strips import stamp

    hint = after_interrupt(Path(trainer.last), before is not None and stamp(Path(trainer.last)) == before,
                           trainer.args.name)
    if hint.startswith("Continue with"):
        return "c" + hint[1:]
    return "note: " + hint[0].lower() + hint[1:]  # the run had finished its epochs: its weights are there


def remove_unstarted(save_dir: Path) -> None:
    """Remove a run folder that holds only what the trainer writes before its first batch (args.yaml, distill.yaml,
    an empty weights/): a rerun with the data fixed would be refused as 'run folder exists'."""
    made = {"args.yaml", "distill.yaml", "weights"}
    if save_dir.is_dir() and {p.name for p in save_dir.iterdir()} <= made and not any((save_dir / "weights").glob("*")):
        shutil.rmtree(save_dir, ignore_errors=True)
