#!/usr/bin/env python
"""A distillation study on real data, its arms read from a study file (benchmarks/kd-study.yaml): does our recipe beat
the plain student, Ultralytics' built-in distiller and the teacher start alone, over several seeds, at a schedule
where the plain student has converged?

Steps: convert the dataset; take the study's teacher checkpoint, or train one from its yaml when it is missing; train
every arm once per seed; validate the teacher; write benchmarks/results/study-NAME.json, a plot of the validation
curves beside it, and regenerate docs/benchmarks.md. Each run leaves a marker when it finishes and is skipped on a
rerun; a run cut off midway resumes from its last.pt. Runs and trained teachers live outside the repository
(--work, default ~/.cache/yolodistill-bench), so a later session reuses them, and rebuilds whatever is gone. Each
cache folder says in made.json what made it (data: the source, its format and files; a teacher: model, epochs, imgsz,
batch and data), and one made otherwise is not reused; each run records the data it trained on, and the best.pt an
arm started from, so a run on other data or from another start is not taken as finished.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from _common import (BENCH_WORK, DOCS, REPO, RESULTS, ArgumentParser, check_checkpoint, check_outputs, command_line,
                     count, environment, keep_record, made_with, own_files_unsaid, positive_int, threaded_main,
                     work_dir)
from _docs import write_docs
from _cache import (MADE, MAP50, MAP50_95, best_epoch, cache_folder, check_study_folder,  # noqa: F401
                    check_teacher_classes, dataset_fingerprint, distilled_from, finished, made_from, prepare_data,
                    read, read_curve, resumable, resume_point, sha256, split_labelled, validate_run, work_lock)
from _plan import check_side_by_side, plan_runs, unchecked_notes
from _study import (arm_spec, check_runs_teacher, load_study, model_sha256, recorded_spec, same_spec,  # noqa: F401
                    spec_change)
from _targets import judge, signed  # noqa: F401 (signed: the tests')

from yolodistill.errors import UserError

DEFAULT_WORK = BENCH_WORK
INTERRUPTED = "Rerun the same command to continue: finished runs are kept and the one cut off resumes."


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                allow_abbrev=False)  # whole_study drops --arms and --seeds by their full names
    p.add_argument("study", type=Path, help="study file: data, teacher, student, schedule, seeds, arms and targets "
                   "(e.g. benchmarks/kd-study.yaml)")
    p.add_argument("--arms", help="comma-separated arms to train now (default: all); the record always holds every "
                   "finished run")
    p.add_argument("--seeds", help="comma-separated seeds to train now, a subset of the study's (default: all)")
    p.add_argument("--report-only", action="store_true", help="train nothing: write the record from finished runs")
    p.add_argument("--prepare-only", action="store_true", help="convert the data and take, train or validate the "
                   "teacher, then stop: no arm trains and no record is written (scripts/parallel_study.sh runs this "
                   "once before its arms, which would race for them); refused where an arm of --arms starts from "
                   "another's best.pt that is not finished, as the arms' processes train side by side")
    p.add_argument("--work", type=Path, default=DEFAULT_WORK, help="folder for the converted data, trained teachers "
                   "and every run, outside the repository (default: $YOLODISTILL_BENCH or %(default)s)")
    p.add_argument("--teacher", type=Path, help="a trained teacher checkpoint instead of the study's")
    p.add_argument("--results", type=Path, default=RESULTS, help="folder of the JSON records (default: %(default)s)")
    p.add_argument("--docs", type=Path, default=DOCS, help="markdown page to regenerate (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="Ultralytics device, e.g. 0 or cpu (default: %(default)s)")
    p.add_argument("--workers", type=count, default=2, help="dataloader workers (default: %(default)s)")
    p.add_argument("--threads", type=positive_int,
                   help="CPU threads for training (default: every core; Ultralytics alone leaves one free)")
    p.add_argument("--note", action="append", default=[],
                   help="a remark on how the study ran, kept in the record and shown on the page (repeatable)")
    return p.parse_args(argv)


def whole_study(argv: list[str]) -> list[str]:
    """This invocation's arguments less the ones that chose a part of the study (--arms, --seeds, --report-only):
    the record's command reruns the whole study, whichever part this process trained."""
    out, words = [], iter(argv)
    for word in words:
        if word.split("=", 1)[0] in ("--arms", "--seeds"):
            if "=" not in word:
                next(words, None)
        elif word != "--report-only":
            out.append(word)
    return out


def teacher_file(study: dict[str, Any], args: argparse.Namespace) -> Path | None:
    """The teacher checkpoint given: --teacher, else the study's (a path from the repository), else None."""
    t = study["teacher"]
    return args.teacher or (REPO / t["checkpoint"] if t.get("checkpoint") else None)


def get_teacher(study: dict[str, Any], data: Path, args: argparse.Namespace, root: Path,
                needed: bool = True) -> dict[str, Any]:
    """The study's teacher checkpoint where it exists, else one trained here (resumed if cut off) and kept in --work
    in a folder whose made.json says how (model, its yaml by content, epochs, imgsz, batch, data): a teacher made
    otherwise is not reused, nor one trained from the same yaml path before the yaml was edited.
    With --report-only, or nothing left to train (`needed` False), a teacher that is gone is taken from what the
    study recorded of it."""
    import yaml
    from ultralytics import YOLO

    t = study["teacher"]
    given = teacher_file(study, args)
    if given is not None and Path(given).exists():  # run_study checked it: a .pt, there unless the study has a model
        return {"checkpoint": str(Path(given).resolve()), "trained_here": False, "sha256": sha256(given)}
    made = {"model": t["model"], "model_sha256": model_sha256(t["model"]), "epochs": t["epochs"],
            "imgsz": study["imgsz"], "batch": study["batch"], "seed": 0, "data": dataset_fingerprint(data)}

    def fits(folder: Path) -> bool | None:  # trained before made.json: by the arguments Ultralytics saved with it
        if not (folder / "args.yaml").exists():
            return None if not (folder / "teacher.done").exists() else False
        saved = yaml.safe_load((folder / "args.yaml").read_text())
        return all(saved.get(k) == v for k, v in (*((k, made[k]) for k in ("model", "epochs", "imgsz", "batch")),
                                                   ("data", str(data))))

    named = re.sub(r"-[0-9a-f]{8}(?=-l|$)", "", data.parent.name)  # data converted again elsewhere: bccd-KEY is bccd
    run, _ = cache_folder(args.work / "teachers" / f"{named}-{Path(t['model']).stem}-{study['imgsz']}px-"
                          f"{t['epochs']}ep", made, fits, added=("model_sha256",), same=lambda f: made_from(
                              [f / "weights" / "best.pt", f / "weights" / "last.pt"], t["model"]))
    best, last = run / "weights" / "best.pt", run / "weights" / "last.pt"
    if not ((run / "teacher.done").exists() and best.exists()):  # a done teacher whose weights are gone: again
        recorded = recorded_teacher(study, root, args) if args.report_only or not needed else None
        if recorded and not changed(recorded.get("made") or {}, made):
            return recorded
        check_no_runs_need(root, study, made, drop=not args.report_only)
        if args.report_only:
            raise UserError(f"no teacher yet ({f'no {given}, and ' if given else ''}none trained in '{run}'): run "
                            "without --report-only to train it")
        if finished(run) and (run / MADE).exists():
            pass  # killed after training, before teacher.done: nothing to train again
        elif resumable(last) and (run / MADE).exists():
            YOLO(str(last)).train(resume=True)
        else:
            shutil.rmtree(run, ignore_errors=True)
            run.mkdir(parents=True)
            (run / MADE).write_text(json.dumps(made, indent=1))
            YOLO(t["model"]).train(data=str(data), epochs=t["epochs"], imgsz=study["imgsz"], batch=study["batch"],
                                   device=args.device, workers=args.workers, seed=0, plots=False,
                                   project=str(run.parent), name=run.name, exist_ok=True)
        (run / "teacher.done").write_text("")
    made = {k: v for k, v in read(run / MADE).items() if k in made}  # a yaml's content only where checked
    return {"checkpoint": str(best), "trained_here": True, "sha256": sha256(best), "made": made, "data": str(data),
            "command": f"yolo detect train model={t['model']} data={data} epochs={t['epochs']} "
                       f"imgsz={study['imgsz']} batch={study['batch']} seed=0"}


def recorded_teacher(study: dict[str, Any], root: Path, args: argparse.Namespace) -> dict[str, Any] | None:
    """A teacher that is gone, as the study recorded it: its teacher.json, or the record under --results when that
    names the same checkpoint (by sha256) as the teacher.json, which held only the metrics before."""
    cache, record = root / "teacher.json", args.results / f"study-{study['name']}.json"
    cached = json.loads(cache.read_text()) if cache.exists() else {}
    if "used" in cached:
        return {**cached["used"], **{k: v for k, v in cached.items() if k != "used"}, "recorded_in": str(cache)}
    teacher = (json.loads(record.read_text()).get("teacher") or {}) if record.exists() else {}
    if teacher.get("sha256") and teacher["sha256"] == cached.get("sha256", teacher["sha256"]):
        return {**teacher, **cached, "recorded_in": str(record)}
    return None


def changed(was: dict[str, Any], made: dict[str, Any]) -> list[str]:
    """The teacher settings (made.json's keys) that differ from those a recorded teacher was made with."""
    return [k for k in made if k in was and was[k] != made[k]]


def check_no_runs_need(root: Path, study: dict[str, Any], made: dict[str, Any], drop: bool = True) -> None:
    """Before a teacher is trained again: finished runs distilled from another (its sha256 in teacher.json) would
    refuse it once it had trained, for hours; no finished run, and that teacher.json is dropped."""
    cache = root / "teacher.json"
    if not cache.exists() or "sha256" not in (cached := json.loads(cache.read_text())):
        return
    if distilled_from(root, cached["sha256"]):  # plain runs use no teacher: another one leaves them standing
        was = (cached.get("used") or {}).get("made") or {}
        if keys := changed(was, made):
            raise UserError(f"study '{study['name']}' changed its teacher's settings since its runs ("
                            + ", ".join(f"{k} {short(was[k])} -> {short(made[k])}" for k in keys)
                            + f"; its runs distilled from the teacher in '{cache}'): put the settings back, or name a "
                            "new study")
        raise UserError(f"study '{study['name']}' ran with a teacher that is gone, or that its settings no longer "
                        f"make (its yaml edited since; sha256 {cached['sha256'][:12]}, in '{cache}'), and one trained "
                        f"again would differ: put it (or the yaml) back or pass it with --teacher, or delete '{root}' "
                        "to train the study again")
    if drop:
        cache.unlink()


def short(value: Any) -> Any:
    """A sha256 (the teacher yaml's) as its first 12 digits, as the other messages give one."""
    return value[:12] if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value) else value


def teacher_metrics(teacher: dict[str, Any], study: dict[str, Any], data: Path, root: Path,
                    args: argparse.Namespace) -> dict[str, Any]:
    """The teacher's val mAP, measured once per study and kept with what the teacher was (teacher.json); the study's
    runs were distilled from that teacher, so another checkpoint (by sha256) is refused rather than mixed in. One that
    no run distilled from (only plain runs have trained) is replaced, as said: it would lock the study for nothing."""
    from yolodistill.compare import validate_teacher
    from yolodistill.report import write_json

    cache = root / "teacher.json"
    cached = json.loads(cache.read_text()) if cache.exists() else None
    if cached and cached.get("sha256", teacher["sha256"]) != teacher["sha256"]:  # older caches hold no sha256
        if users := distilled_from(root, cached["sha256"]):
            raise UserError(f"teacher '{teacher['checkpoint']}' is not the one study '{study['name']}' ran with "
                            f"(sha256 {cached['sha256'][:12]} in '{cache}'), which {', '.join(users[:4])}"
                            f"{', ...' * (len(users) > 4)} distilled from: give the study that teacher, or delete "
                            "those run folders to train them with this one")
        print(f"'{cache}' named a teacher no run distilled from (sha256 {cached['sha256'][:12]}): the study takes "
              f"'{teacher['checkpoint']}' instead", flush=True)
        cached = None
    if cached is None:
        measured = validate_teacher(teacher["checkpoint"], str(data), dict(
            imgsz=study["imgsz"], batch=study["batch"], device=args.device, workers=args.workers), root)
        cached = json.loads(write_json(cache, {**measured, "sha256": teacher["sha256"], "used": teacher}).read_text())
    return {k: v for k, v in cached.items() if k != "used"}


def train_run(spec: dict[str, Any], seed: int, run_dir: Path, teacher: str, datasets: dict[str, Path], student: str,
              args: argparse.Namespace) -> dict[str, float]:
    """One arm at one seed into run_dir, resumed from its last.pt when one was cut off; returns best.pt's metrics."""
    from ultralytics.models.yolo.detect import DetectionTrainer

    from yolodistill.train import train

    last = run_dir / "weights" / "last.pt"
    resume = resumable(last)  # run_arm cleared the folder otherwise (Ultralytics appends to an old results.csv)
    if resume:
        resume_point(run_dir)
    common = dict(spec["train_args"], epochs=spec["epochs"], imgsz=spec["imgsz"], batch=spec["batch"], seed=seed,
                  device=args.device, workers=args.workers, plots=False, project=str(run_dir.parent),
                  name=run_dir.name, exist_ok=True)
    data = datasets[spec.get("data", "labelled")]
    if spec["method"] == "ours":
        settings = {**spec["distill"], **({"unlabeled": [str(datasets["unlabeled"])]} if spec.get("unlabeled") else {})}
        with own_files_unsaid():
            result = (train(resume=last, device=args.device, workers=args.workers) if resume else
                      train(teacher, student, data, config=spec["config"], **common, **settings))
        return result.metrics
    overrides = ({"model": str(last), "resume": str(last), "device": args.device, "workers": args.workers} if resume
                 else {**common, "model": student, "data": str(data)})
    if spec["method"] == "builtin" and not resume:
        overrides["distill_model"] = teacher
    trainer = DetectionTrainer(overrides=overrides)
    trainer.train()
    return {k: float(v) for k, v in trainer.metrics.items()}


def run_arm(study: dict[str, Any], name: str, seed: int, teacher: dict[str, Any], data: dict[str, Path],
            args: argparse.Namespace, root: Path, state: str, prints: dict[str, str]) -> dict[str, Any] | None:
    """The finished run of an arm at a seed: from its marker, or trained now; None when it is not (yet) there."""
    from yolodistill.report import write_json

    spec = arm_spec(study, name, prints)
    run_dir = root / name / f"seed{seed}"
    marker, spec_file = run_dir / "run.json", run_dir / "spec.json"
    if state == "done":
        record = json.loads(marker.read_text())
        curve, times = read_curve(run_dir / "results.csv")
        record["epoch_time_s"] = statistics.median(times)  # one definition for all
        record["best_epoch"] = best_epoch(curve)
        return record
    if state not in ("train", "retrain", "validate"):
        return None
    student, source, source_file = spec["student"], {}, run_dir / "source.json"
    if spec["from_arm"]:
        student = str(root / student / f"seed{seed}" / "weights" / "best.pt")
        if not Path(student).is_file():  # plan_runs refused it when finished: it failed here, or was deleted since
            raise UserError(f"arm '{name}' seed {seed} starts from '{student}', which is missing: train arm "
                            f"'{spec['student']}' seed {seed} first")
        source = {"source_sha256": sha256(student)}
    if state == "validate":
        metrics = validate_run(run_dir, args)  # killed in its final validation: trained, not to train again
    else:
        if not resumable(run_dir / "weights" / "last.pt") or source and read(source_file) != source:
            shutil.rmtree(run_dir, ignore_errors=True)  # a finished run to redo, or one cut off from another source
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(spec_file, spec)
        if source:
            write_json(source_file, source)
        metrics = train_run(spec, seed, run_dir, teacher["checkpoint"], data, student, args)
    curve, times = read_curve(run_dir / "results.csv")
    record = {"arm": name, "method": name, "seed": seed, "spec": spec, "map50": metrics[MAP50],
              "map50_95": metrics[MAP50_95], "epoch_time_s": statistics.median(times), "epochs": len(curve),
              "best_epoch": best_epoch(curve), "curve": curve, "run_dir": str(run_dir), "student": student,
              **source, **({} if spec["method"] == "plain" else {"teacher_sha256": teacher["sha256"]}),
              **trained_with(args)}  # plain runs use no teacher
    write_json(marker, record)
    return record


def trained_with(args: argparse.Namespace) -> dict[str, Any]:
    """What a run's epoch times (threads, device) and its batches (workers) depend on, and the commit and library
    versions that trained it: kept in its run.json, as the runs of one record may come from several sessions."""
    return {"threads": args.threads, "device": args.device, "workers": args.workers, "environment": environment()}


def plot_curves(study: dict[str, Any], runs: list[dict], teacher: float, path: Path) -> Path:
    """Val mAP50-95 per epoch, mean over seeds, one line per arm: where each arm converged, at a glance. An arm
    started from another's best.pt continues after that arm's epochs; candidates are dotted."""
    import io

    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    from yolodistill.utils import atomic_write_bytes

    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.add_subplot()
    for arm in dict.fromkeys(r["arm"] for r in runs):
        spec, curves = arm_spec(study, arm), [r["curve"] for r in runs if r["arm"] == arm]
        n = min(len(c) for c in curves)
        start = arm_spec(study, spec["student"])["epochs"] if spec["from_arm"] else 0
        ax.plot(range(start + 1, start + n + 1), [sum(c[i] for c in curves) / len(curves) for i in range(n)],
                marker="." if n < 3 else None, linestyle=":" if arm in (study.get("candidates") or {}) else "-",
                label=f"{arm} ({len(curves)} seed{'s' if len(curves) > 1 else ''})")
    ax.axhline(teacher, color="black", linestyle="--", label="teacher")
    ax.set(xlabel="epoch", ylabel="val mAP50-95 (EMA, mean over seeds)", title="Validation curves")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return atomic_write_bytes(path, buf.getvalue())


def run_study(args: argparse.Namespace) -> Path | None:
    from rich.console import Console

    from yolodistill.devices import check_device
    from yolodistill.compare import parse_seeds
    from yolodistill.config import resolve
    from yolodistill.report import SUMMARY_COLUMNS, compare_rows, rich_table, summarize, write_json

    console = Console()
    study = load_study(args.study)
    chosen_arms = list(study["arms"]) if args.arms is None else [a.strip() for a in args.arms.split(",") if a.strip()]
    if not chosen_arms:  # --arms "" (an unset shell variable): not every arm
        raise UserError("--arms names no arm: name the arms to train, comma-separated, or leave --arms out for all")
    if unknown := [a for a in chosen_arms if a not in study["arms"]]:
        raise UserError(f"--arms: no arm {', '.join(unknown)} in '{args.study}' (arms: {', '.join(study['arms'])})")
    if args.seeds is not None and not args.seeds.strip():  # --seeds "" (an unset shell variable): not every seed
        raise UserError("--seeds names no seed: name the seeds to train, comma-separated, or leave --seeds out for all")
    seeds_now = parse_seeds(args.seeds) if args.seeds is not None else study["seeds"]
    if extra := sorted(set(seeds_now) - set(study["seeds"])):
        raise UserError(f"--seeds {', '.join(map(str, extra))}: not among the study's seeds {study['seeds']}")
    if args.report_only and args.prepare_only:
        raise UserError("--report-only and --prepare-only: choose one")
    args.device = check_device(args.device)  # a bad one now: not a traceback at the teacher, nor part run on CPU
    if named := teacher_file(study, args):  # the study's own too; one that is missing is trained from its model
        check_checkpoint(named, "--teacher" if args.teacher else "teacher",
                         exists=bool(args.teacher) or not study["teacher"].get("model"))
    check_outputs(args)
    check_study_folder(study, args.work.resolve())
    args.work = work_dir(args.work)
    root = args.work / study["name"]
    with work_lock(args.work):  # other study processes on this --work wait, not race, for the data
        data = prepare_data(study, args.work)
    recorded = read(root / "teacher.json").get("sha256")
    if named and named.is_file() and recorded != sha256(named):  # before it is recorded as the study's teacher
        check_teacher_classes(named, data["labelled"], "--teacher" if args.teacher else "teacher")
    prints = {kind: dataset_fingerprint(data[kind]) for kind in ("labelled", "full")}
    # --prepare-only: what the arms' processes will train, which decides whether they need the teacher
    plan = plan_runs(study, root, chosen_arms, seeds_now, not args.report_only, data, prints)
    if args.prepare_only:
        check_side_by_side(study, plan, prints)
    states = list(plan.values())
    train = states.count("train") + states.count("retrain")
    now, later = train + states.count("validate"), states.count("pending") + states.count("stale")
    console.print(f"{study['name']}: {states.count('done')} runs finished, {now} to train "
                  f"{'by the arms' if args.prepare_only else 'now'}, {later} left for later", highlight=False)
    keep_record(args.results / f"study-{study['name']}.json", plan, args.work)
    with work_lock(args.work):  # and for the teacher: trained on the labelled share only, when the study has one
        teacher = get_teacher(study, data["labelled"], args, root, needed=train > 0)
        if "recorded_in" not in teacher:  # a teacher that is gone comes with its recorded metrics
            teacher.update(teacher_metrics(teacher, study, data["labelled"], root, args))
    check_runs_teacher(study, root, plan, teacher)
    if args.prepare_only:
        console.print(f"Prepared {study['name']}: data {data['full']}, teacher {teacher['checkpoint']} (val mAP50-95 "
                      f"{teacher['map50_95']:.3f})", soft_wrap=True, highlight=False)
        return None
    trained = {}
    for (name, seed), state in plan.items():
        if state in ("train", "retrain", "validate"):
            console.print(f"[bold]{name} seed {seed}[/]", highlight=False)
        trained[(name, seed)] = run_arm(study, name, seed, teacher, data, args, root, state, prints)
    # runs another process sharing --work finished meanwhile (one per arm): settled again, and written, under the lock,
    # so the process that writes last has seen every run the others finished
    with work_lock(args.work):
        settled = plan_runs(study, root, chosen_arms, seeds_now, False, data, prints) if {"pending", "stale"} & {
            *states} else plan
        runs, pending = [], []
        for (name, seed), state in plan.items():
            run = trained[(name, seed)]
            if run is None and state in ("pending", "stale") and settled[(name, seed)] == "done":
                run = run_arm(study, name, seed, teacher, data, args, root, "done", prints)
            (runs.append(run) if run else pending.append(f"{name} seed {seed}"))
        summary, notes = summarize(runs, teacher["map50_95"])
        notes += unchecked_notes(root, runs)  # a source arm's best.pt gone: its runs kept, and said
        goals = judge(study, summary, runs, teacher["map50_95"])
        png = args.results / f"study-{study['name']}.png"
        plot = plot_curves(study, runs, teacher["map50_95"], png) if runs else None
        record = {
            "kind": "study", "name": study["name"], "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command_line(whole_study(sys.argv[1:])), "invocation": command_line(),
            "cwd": os.getcwd(), "repo": str(REPO),  # where the command ran, and the repository its script path is in
            "study_file": str(args.study), "study_path": str(args.study.resolve()), "study": study,
            "data": {k: str(v) for k, v in data.items()} if "labelled" in study else str(data["full"]),
            "data_made": json.loads((data["full"].parent / MADE).read_text()), "data_fingerprints": prints,
            "teacher": teacher, **made_with(runs, trained_with(args)),  # the runs', not this process's
            "default_recipe": resolve()[0].to_dict(),
            "default_recipe_trained": resolve(student="best.pt")[0].to_dict(),  # a student with weights of its own
            "arms": {name: recorded_spec(arm_spec(study, name, prints), [r for r in runs if r["arm"] == name])
                     for name in study["arms"]},  # student_sha256 where its runs were checked by it
            "runs": runs, "summary": summary, "notes": notes, "targets": goals,
            "missed": [k for k, t in goals.items() if t["met"] is False], "pending": pending,
            "plot": None if plot is None else plot.name, "remarks": args.note,
        }
        out = write_json(args.results / f"study-{study['name']}.json", record)
        write_docs(args.results, args.docs)
    if runs:
        console.print(rich_table(compare_rows({"summary": summary, "teacher": teacher}), SUMMARY_COLUMNS, title="Arms"))
    for t in goals.values():
        verdict = {True: "met", False: "MISSED", None: "pending"}[t["met"]]
        console.print(f"{t['description']}: {t['shown']} (needed {t['needed']}): {verdict}", highlight=False)
    if pending:
        console.print(f"Not run yet: {', '.join(pending)}", highlight=False)
    console.print(f"Wrote {out} and {args.docs}", soft_wrap=True, highlight=False)
    return out


def main(argv: list[str] | None = None) -> int:
    return threaded_main(parse_args(argv), run_study, INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
