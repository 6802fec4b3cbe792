#!/usr/bin/env python
"""Does the distillation pull on the backbone grow through a run? Point 3 of the recipe: it must not.

A student trained plainly (--start-epochs, Ultralytics alone) is fine-tuned --epochs more with the default recipe for
a trained student, once per --balance mode (fixed: the weights as given; auto: each term's pull measured once, over
the first batches; epoch: measured again at every epoch start; cap: their sum's pull on the backbone capped where the
run started). Every run trains on the CPU, with workers 0. Two measures, both the gradient norm on the student's
backbone weights of the weighted distillation columns over the detection loss's, as the trainer sums them:
- train: on the batches the student trains on (every --train-every-th, augmented as trained), summed over the epoch;
- val: at each epoch end, on a copy of the training model (its balance as the epoch left it) and the same
  --val-batches batches of validation images, with each term's share too (one batch alone swings the detection
  gradient 2.5 times between epochs).
`all/det` is the pull as trained; `at 1` the same over the schedule's factor (warm-up and decay); `growth`, the largest
of that over its first. Each step (the trained student, each mode's fine-tune) is kept under --work and skipped on a
rerun. Writes benchmarks/results/drift-NAME.json and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from _common import (BENCH_WORK, DOCS, RESULTS, ArgumentParser, check_checkpoint, check_outputs, command_line, count,
                     environment, positive_int, threaded_main, work_dir)
from _docs import write_docs

from yolodistill.errors import UserError

TERMS = ("kd_cls", "kd_box", "kd_feat")
MADE = "made.json"  # in a run folder: what it was started with, so a rerun never resumes or keeps another's
INTERRUPTED = ("Rerun the same command to continue: the trained student and each finished fine-tune are kept; the "
               "student cut off resumes, a fine-tune cut off starts again.")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="a YOLO data.yaml")
    p.add_argument("--teacher", type=Path, required=True, help="trained teacher checkpoint")
    p.add_argument("--student", default="yolo26n.yaml", help="student model yaml (default: %(default)s)")
    p.add_argument("--name", default="bccd", help="record name: drift-NAME.json (default: %(default)s)")
    p.add_argument("--imgsz", type=positive_int, default=192, help="image size (default: %(default)s)")
    p.add_argument("--batch", type=positive_int, default=16, help="batch size (default: %(default)s)")
    p.add_argument("--start-epochs", type=positive_int, default=30,
                   help="plain epochs that make the trained student (default: %(default)s)")
    p.add_argument("--epochs", type=positive_int, default=30, help="fine-tune epochs per mode (default: %(default)s)")
    p.add_argument("--balance", default="fixed,cap", help="comma-separated kd_balance modes: fixed, auto, epoch, cap "
                   "(default: %(default)s)")
    p.add_argument("--val-batches", type=positive_int, default=4,
                   help="validation batches each epoch's pulls are summed over (default: %(default)s)")
    p.add_argument("--train-every", type=positive_int, default=4,
                   help="measure every Nth training batch (two extra backward passes each) (default: %(default)s)")
    p.add_argument("--seed", type=count, default=0, help="seed of every run (default: %(default)s)")
    p.add_argument("--threads", type=positive_int, help="torch threads (default: every core)")
    p.add_argument("--work", type=Path, default=BENCH_WORK / "drift",
                   help="folder of the runs, reused by a rerun (default: %(default)s)")
    p.add_argument("--results", type=Path, default=RESULTS, help="folder of the JSON records (default: %(default)s)")
    p.add_argument("--docs", type=Path, default=DOCS, help="markdown page to regenerate (default: %(default)s)")
    args = p.parse_args(argv)
    args.balance = list(dict.fromkeys(m.strip() for m in args.balance.split(",") if m.strip()))
    from _study import folder_name

    from yolodistill.balance import MODES  # here, not at the top: it imports torch, 3 s before --help could answer

    if not folder_name(args.name):  # drift-NAME.json, beside the other records
        p.error(f"--name must be a file name (letters, digits, . _ -), got {args.name!r}")
    if not args.balance or set(args.balance) - set(MODES):
        p.error(f"--balance takes modes among {', '.join(MODES)}, comma-separated; got {','.join(args.balance)!r}")
    return args


def common(args: argparse.Namespace) -> dict[str, Any]:
    return dict(imgsz=args.imgsz, batch=args.batch, seed=args.seed, device="cpu", workers=0, plots=False)


def trained_student(args: argparse.Namespace) -> Path:
    """The plain student's best.pt, trained here once (resumed when cut off) and reused only where made.json says it
    was made as asked: data (by content), student (a yaml by what it describes), epochs, imgsz, batch and seed. One
    made otherwise keeps its folder: this one gets a -KEY folder beside it (_cache.cache_folder)."""
    from ultralytics import YOLO

    from _cache import cache_folder, dataset_fingerprint, finished, made_from, read, resumable
    from _study import model_sha256

    made = {"data": str(args.data.resolve()), "dataset": dataset_fingerprint(args.data), "student": args.student,
            "student_sha256": model_sha256(args.student), "epochs": args.start_epochs, "imgsz": args.imgsz,
            "batch": args.batch, "seed": args.seed}
    base = args.work / f"plain-{Path(args.student).stem}-{args.imgsz}px-{args.start_epochs}ep-seed{args.seed}"
    folder, ran = cache_folder(base, made, lambda _: None, added=("student_sha256",), same=lambda f: made_from(
        [f / "weights" / "best.pt", f / "weights" / "last.pt"], args.student))  # fits None: no made.json, again
    best, last, done = folder / "weights" / "best.pt", folder / "weights" / "last.pt", folder / "done.json"
    # a student trained before its yaml's content was kept, where that could not be checked: not said to be from it
    said = {k: v for k, v in read(folder / MADE).items() if k in made} if ran else made
    if ran and done.exists() and best.exists():
        return best
    if ran and finished(folder):  # killed after training, before done.json: nothing to train again
        done.write_text(json.dumps(said))
        return best
    if ran and resumable(last):
        YOLO(str(last)).train(resume=True)
    else:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        (folder / MADE).write_text(json.dumps(said := made))
        YOLO(args.student).train(data=str(args.data), epochs=args.start_epochs, project=str(folder.parent),
                                 name=folder.name, exist_ok=True, **common(args))
    done.write_text(json.dumps(said))
    return best


def watch_training(model, every: int, sums: dict[str, float]) -> None:
    """Add to `sums`, on every `every`-th training batch, the backbone gradient norms of the detection columns and the
    distillation columns of the loss the trainer is about to back-propagate (the graph is kept for it)."""
    from yolodistill.balance import backbone_parameters, gradient_norm

    original, calls, backbone = model.loss, itertools.count(1), backbone_parameters(model.student_model)

    def loss(batch, preds=None):
        out = original(batch, preds)
        if model.training and next(calls) % every == 0:
            sums["det"] += gradient_norm(out[0][:3].sum(), backbone)
            sums["all"] += gradient_norm(out[0][3:6].sum(), backbone)
            sums["batches"] += 1
        return out

    model.loss = loss


def backbone_pulls(model, batches: list[dict[str, Any]]) -> dict[str, float]:
    """Gradient norms on the backbone (layers before the neck) of the detection loss and of each weighted term, each
    summed over `batches`; the terms' as ratios to the detection loss's."""
    from yolodistill.balance import backbone_parameters, gradient_norm

    model = copy.deepcopy(model).train()
    model.__dict__.pop("loss", None)  # watch_training's wrapper, which would run the training model's loss
    if model.balance is not None:
        model.balance.due = lambda: False  # the multipliers in force, not measured again on these batches
    backbone = backbone_parameters(model.student_model)
    sums = dict.fromkeys(("det", *TERMS, "all"), 0.0)
    for batch in batches:
        loss, _ = model.loss(batch)
        for key, part in (("det", loss[:3].sum()), *((k, loss[3 + i]) for i, k in enumerate(TERMS)),
                          ("all", loss[3:6].sum())):
            sums[key] += gradient_norm(part, backbone)
    det = sums["det"]
    row = {"det": det / len(batches), **{k: sums[k] / det for k in TERMS}, "all/det": sums["all"] / det}
    row["scale"] = model.kd_scale
    row["all/det at 1"] = row["all/det"] / max(model.kd_scale, 1e-12)  # the schedule's factor taken out: drift alone
    state = model.balance.state() if model.balance is not None else None
    row["multipliers"] = None if isinstance(state, dict) and "norms" in state else state  # auto still measuring
    return row


def fine_tune(args: argparse.Namespace, student: Path, mode: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One mode's run, its rows measured at each epoch end, and the recipe it ran (the default moves between commits);
    kept in rows.json once the run has finished."""
    from ultralytics.utils.torch_utils import unwrap_model

    from yolodistill.checks import preflight
    from yolodistill.config import resolve
    from yolodistill.recipe import check_recipe
    from yolodistill.train import DistillationTrainer

    from _cache import cache_folder, sha256

    base = args.work / f"{student.parents[1].name}-ft{args.epochs}-{mode}"
    distill, train_args = resolve(None, student=str(student), epochs=args.epochs, kd_balance=mode, val=True,
                                  exist_ok=True, **common(args))
    made = {"data": str(args.data.resolve()), "teacher": str(args.teacher.resolve()),
            "teacher_sha256": sha256(args.teacher), "start": str(student), "start_sha256": sha256(student),
            "val_batches": args.val_batches, "train_every": args.train_every, "imgsz": args.imgsz,
            "batch": args.batch, "seed": args.seed, "recipe": distill.to_dict()}
    made = json.loads(json.dumps(made))  # as rows.json gives it back

    def saved(folder: Path) -> dict[str, Any]:
        return json.loads((folder / "rows.json").read_text()) if (folder / "rows.json").exists() else {}

    # another teacher or data: a -KEY folder beside this one's, not this one's replaced; a run cut off (no rows.json)
    folder, _ = cache_folder(base, made, lambda f: saved(f).get("made") == made if saved(f) else None)
    marker = folder / "rows.json"
    train_args.update(project=str(folder.parent), name=folder.name)
    if saved(folder).get("made") == made:
        return saved(folder)["rows"], made["recipe"]
    shutil.rmtree(folder, ignore_errors=True)  # one cut off midway starts again: its rows run from epoch 0
    check_recipe(distill, str(student), train_args)
    plan = preflight(str(args.teacher), str(student), str(args.data), train_args)
    trainer = DistillationTrainer(overrides=plan.args, distill=distill, teacher=plan.teacher)
    rows, batches, sums = [], [], dict.fromkeys(("det", "all", "batches"), 0.0)

    def measure(t) -> None:
        if not batches:  # the same images every epoch
            loader = t.get_dataloader(t.data["val"], batch_size=args.batch, rank=-1, mode="val")
            batches.extend(t.preprocess_batch(b) for b in itertools.islice(loader, args.val_batches))
        model = unwrap_model(t.model)
        train = sums["all"] / sums["det"] if sums["det"] else None  # None: no batch measured this epoch
        rows.append({"epoch": t.epoch, "train batches": int(sums["batches"]), "train all/det": train,
                     "train all/det at 1": None if train is None else train / max(model.kd_scale, 1e-12),
                     "val_images": sum(len(b["img"]) for b in batches), **backbone_pulls(model, batches)})
        sums.update(dict.fromkeys(sums, 0.0))
        print("pull", mode, json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in rows[-1].items()}),
              flush=True)

    trainer.add_callback("on_pretrain_routine_end", lambda t: watch_training(unwrap_model(t.model), args.train_every, sums))
    trainer.add_callback("on_train_epoch_end", measure)
    trainer.train()
    marker.write_text(json.dumps({"made": made, "rows": rows, "settings": distill.to_dict()}))
    return rows, made["recipe"]


def thirds(values: list[float]) -> list[float | None]:
    """The mean of each third of the run, in order (None for a third without an epoch): a trend that one noisy epoch
    (the per-epoch ratio swings by half between neighbours) does not set, as it sets the largest."""
    n = len(values)
    parts = [values[i * n // 3:(i + 1) * n // 3] for i in range(3)]
    return [sum(p) / len(p) if p else None for p in parts]


def measure(args: argparse.Namespace) -> Path:
    from _study import check_model

    from yolodistill.checks import check_data
    from yolodistill.data import split_images
    from yolodistill.loading import load_detector
    from yolodistill.report import write_json

    for path, what in ((args.data, "--data"), (args.teacher, "--teacher")):
        if not path.is_file():
            raise UserError(f"{what} {path} {'is a folder' if path.is_dir() else 'not found'}: pass an existing file "
                            f"({'a data.yaml' if what == '--data' else 'a checkpoint, .pt'})")
    check_checkpoint(args.teacher)
    load_detector(args.teacher, "--teacher")  # a classifier's .pt: one line now, not once the student has trained
    val = sum(p.exists() for p in split_images(check_data(args.data)["val"]))  # a yaml that is not a dataset: now
    if args.val_batches > (batches := -(-val // args.batch)):  # islice took what there was, the record said more
        raise UserError(f"--val-batches {args.val_batches}: the val split holds {val} images, {batches} batch"
                        f"{'es' * (batches > 1)} of --batch {args.batch}: pass --val-batches {batches} or fewer")
    check_model(args.student, "--student", "bench_drift.py")
    check_outputs(args)
    args.work = work_dir(args.work)
    student = trained_student(args)
    modes = {}
    for mode in args.balance:
        rows, recipe = fine_tune(args, student, mode)
        drift = [r["all/det at 1"] for r in rows]
        train = [r["train all/det at 1"] for r in rows if r["train all/det at 1"] is not None] or [float("nan")]
        modes[mode] = {"rows": rows, "first": drift[0], "largest": max(drift), "growth": max(drift) / drift[0],
                       "thirds": thirds(drift), "train first": train[0], "train largest": max(train),
                       "train growth": max(train) / train[0], "train thirds": thirds(train),
                       "recipe": recipe}
    record = {
        "kind": "drift", "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(), "argv": sys.argv, "cwd": os.getcwd(), "environment": environment(),
        "settings": {"data": str(args.data), "teacher": str(args.teacher), "teacher_name": args.teacher.name,
                     "student": args.student, "imgsz": args.imgsz, "batch": args.batch, "seed": args.seed,
                     "start_epochs": args.start_epochs, "epochs": args.epochs, "val_batches": args.val_batches,
                     "train_every": args.train_every,
                     "threads": args.threads},
        "definition": "train: over each epoch's training batches (every --train-every-th, as augmented for training), "
                      "the gradient norm on the student's backbone of the weighted distillation columns summed, over "
                      "the detection columns'; val: at each epoch end, on the same validation images (val_images, in "
                      "--val-batches batches): "
                      "the gradient norm on the student's backbone of the weighted distillation terms over the "
                      "detection loss's, each summed over the batches (det: the detection loss's, per batch; all/det, "
                      "as trained, schedule factor and balance included); at 1: the same over the schedule's "
                      "factor (warm-up and decay), the drift no schedule sets; growth: the largest of that over "
                      "its first; thirds: its mean over each third of the epochs",
        "modes": modes,
    }
    out = write_json(args.results / f"drift-{args.name}.json", record)
    write_docs(args.results, args.docs)
    print("; ".join(f"{m}: growth {v['train growth']:.2f} (train), {v['growth']:.2f} (val)" for m, v in modes.items())
          + f"; wrote {out} and {args.docs}")
    return out


def main(argv: list[str] | None = None) -> int:
    return threaded_main(parse_args(argv), measure, INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
