#!/usr/bin/env python
"""A distillation study on real data, its arms read from a study file (benchmarks/kd-study.yaml): does our recipe beat
the plain student, Ultralytics' built-in distiller and the teacher start alone, over several seeds, at a schedule
where the plain student has converged?

Steps: convert the dataset; take the study's teacher checkpoint, or train one from its yaml when it is missing; train
every arm once per seed; validate the teacher; write benchmarks/results/study-NAME.json, a plot of the validation
curves beside it, and regenerate docs/benchmarks.md. Each run leaves a marker when it finishes and is skipped on a
rerun; a run cut off midway resumes from its last.pt. Runs and trained teachers live outside the repository
(--work, default ~/.cache/yolodistill-bench), so a later session reuses them, and rebuilds whatever is gone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from _docs import DOCS, REPO, RESULTS, command_line, exit_status, positive_int, work_dir, write_docs

from yolodistill.errors import UserError
from yolodistill.utils import cpu_threads

METHODS = ("plain", "builtin", "ours")
ARM_KEYS = {"method", "student", "epochs", "distill", "config", "seeds", "train_args", "note"}
MAP50, MAP50_95 = "metrics/mAP50(B)", "metrics/mAP50-95(B)"
DEFAULT_WORK = Path(os.environ.get("YOLODISTILL_BENCH") or Path.home() / ".cache" / "yolodistill-bench")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("study", type=Path, help="study file: data, teacher, student, schedule, seeds, arms and targets "
                   "(e.g. benchmarks/kd-study.yaml)")
    p.add_argument("--arms", help="comma-separated arms to train now (default: all); the record always holds every "
                   "finished run")
    p.add_argument("--seeds", help="comma-separated seeds to train now, a subset of the study's (default: all)")
    p.add_argument("--report-only", action="store_true", help="train nothing: write the record from finished runs")
    p.add_argument("--work", type=Path, default=DEFAULT_WORK, help="folder for the converted data, trained teachers "
                   "and every run, outside the repository (default: $YOLODISTILL_BENCH or %(default)s)")
    p.add_argument("--teacher", type=Path, help="a trained teacher checkpoint instead of the study's")
    p.add_argument("--results", type=Path, default=RESULTS, help="folder of the JSON records (default: %(default)s)")
    p.add_argument("--docs", type=Path, default=DOCS, help="markdown page to regenerate (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="Ultralytics device, e.g. 0 or cpu (default: %(default)s)")
    p.add_argument("--workers", type=int, default=2, help="dataloader workers (default: %(default)s)")
    p.add_argument("--threads", type=positive_int,
                   help="CPU threads for training (default: every core; Ultralytics alone leaves one free)")
    p.add_argument("--note", action="append", default=[],
                   help="a remark on how the study ran, kept in the record and shown on the page (repeatable)")
    return p.parse_args(argv)


def load_study(path: Path) -> dict[str, Any]:
    """The study file, checked whole before anything trains: a typo is one line now, not an error an hour in."""
    import yaml

    from yolodistill.config import resolve
    from yolodistill.errors import require_file

    study = yaml.safe_load(require_file(path, "study file", (".yaml", ".yml")).read_text()) or {}
    missing = [k for k in ("name", "data", "teacher", "student", "imgsz", "batch", "epochs", "seeds", "arms")
               if k not in study]
    if missing:
        raise UserError(f"study file '{path}' lacks {', '.join(missing)}")
    if clash := set(study["arms"]) & set(study.get("candidates") or {}):
        raise UserError(f"study file '{path}': {', '.join(sorted(clash))} is both an arm and a candidate")
    arms = study["arms"] = {**study["arms"], **(study.get("candidates") or {})}  # candidates: arms of the recipe study
    for name, arm in arms.items():
        if unknown := set(arm) - ARM_KEYS:
            raise UserError(f"arm '{name}': unknown key(s) {', '.join(sorted(unknown))} (known: "
                            f"{', '.join(sorted(ARM_KEYS))})")
        if arm.get("method") not in METHODS:
            raise UserError(f"arm '{name}': method must be one of {', '.join(METHODS)}, got {arm.get('method')!r}")
        source = arm.get("student")
        if source is not None and (source not in arms or list(arms).index(source) >= list(arms).index(name)):
            raise UserError(f"arm '{name}' starts from arm '{source}', which must be listed before it")
        if (arm.get("distill") or arm.get("config")) and arm["method"] != "ours":
            raise UserError(f"arm '{name}': distillation settings apply to method ours only")
        if arm["method"] == "ours":
            resolve(arm.get("config"), **(arm.get("distill") or {}))  # bad keys and values fail here
        if extra := set(arm.get("seeds", study["seeds"])) - set(study["seeds"]):
            raise UserError(f"arm '{name}': seeds {sorted(extra)} are not among the study's {study['seeds']}")
    for target in study.get("targets", []):
        for key in ("arm", "above"):
            if key in target and target[key] not in arms:
                raise UserError(f"target {target}: no arm '{target[key]}'")
    return study


def arm_spec(study: dict[str, Any], name: str) -> dict[str, Any]:
    """Everything that decides an arm's numbers (device, workers and threads decide only speed)."""
    from yolodistill.config import resolve

    arm = study["arms"][name]
    spec = {"method": arm["method"], "student": arm.get("student") or study["student"],
            "from_arm": arm.get("student") is not None, "epochs": arm.get("epochs", study["epochs"]),
            "imgsz": study["imgsz"], "batch": study["batch"],
            "train_args": {**(study.get("train_args") or {}), **(arm.get("train_args") or {})}}
    if arm["method"] == "ours":
        spec["config"] = arm.get("config")
        spec["distill"] = resolve(arm.get("config"), **(arm.get("distill") or {}))[0].to_dict()
    return spec


def prepare_data(study: dict[str, Any], work: Path) -> Path:
    """The YOLO-format dataset under --work, converted (or drawn) once; the source is never written to."""
    from yolodistill.data import convert, make_synthetic

    src = study["data"]
    if src == "synth":
        out = work / f"synth-{study['imgsz']}"
        return out / "data.yaml" if (out / "data.yaml").exists() else make_synthetic(
            out, images=32, classes=3, imgsz=max(study["imgsz"], 32), seed=0)
    source = (REPO / src).resolve()
    out = work / source.name.lower()
    return out / "data.yaml" if (out / "data.yaml").exists() else convert(source, study.get("format", "voc"),
                                                                          out).data_yaml


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def get_teacher(study: dict[str, Any], data: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The study's teacher checkpoint where it exists, else one trained here (resumed if cut off) and kept in --work."""
    from ultralytics import YOLO

    t = study["teacher"]
    given = args.teacher or (REPO / t["checkpoint"] if t.get("checkpoint") else None)
    if given is not None and Path(given).exists():
        return {"checkpoint": str(Path(given).resolve()), "trained_here": False, "sha256": sha256(given)}
    if args.teacher:
        raise UserError(f"teacher '{args.teacher}' does not exist")
    run = args.work / "teachers" / f"{data.parent.name}-{Path(t['model']).stem}-{study['imgsz']}px-{t['epochs']}ep"
    best, last = run / "weights" / "best.pt", run / "weights" / "last.pt"
    if not (run / "teacher.done").exists():
        if resumable(last):
            YOLO(str(last)).train(resume=True)
        else:
            shutil.rmtree(run, ignore_errors=True)
            YOLO(t["model"]).train(data=str(data), epochs=t["epochs"], imgsz=study["imgsz"], batch=study["batch"],
                                   device=args.device, workers=args.workers, seed=0, plots=False,
                                   project=str(run.parent), name=run.name, exist_ok=True)
        (run / "teacher.done").write_text("")
    return {"checkpoint": str(best), "trained_here": True, "sha256": sha256(best),
            "command": f"yolo detect train model={t['model']} data={data} epochs={t['epochs']} "
                       f"imgsz={study['imgsz']} batch={study['batch']} seed=0"}


def resumable(last: Path) -> bool:
    """A last.pt of an unfinished run (Ultralytics marks a finished one with epoch -1)."""
    if not last.exists():
        return False
    from ultralytics.utils.patches import torch_load

    ckpt = torch_load(last, map_location="cpu", weights_only=False)
    return ckpt.get("epoch", -1) >= 0 and ckpt.get("optimizer") is not None


def train_run(spec: dict[str, Any], seed: int, run_dir: Path, teacher: str, data: Path, student: str,
              args: argparse.Namespace) -> dict[str, float]:
    """One arm at one seed into run_dir, resumed from its last.pt when one was cut off; returns best.pt's metrics."""
    from ultralytics.models.yolo.detect import DetectionTrainer

    from yolodistill.train import train

    last = run_dir / "weights" / "last.pt"
    resume = resumable(last)
    if not resume:
        shutil.rmtree(run_dir, ignore_errors=True)  # Ultralytics appends to an old results.csv
    common = dict(spec["train_args"], epochs=spec["epochs"], imgsz=spec["imgsz"], batch=spec["batch"], seed=seed,
                  device=args.device, workers=args.workers, plots=False, project=str(run_dir.parent),
                  name=run_dir.name, exist_ok=True)
    if spec["method"] == "ours":
        result = (train(resume=last, device=args.device, workers=args.workers) if resume else
                  train(teacher, student, data, config=spec["config"], **common, **spec["distill"]))
        return result.metrics
    overrides = ({"model": str(last), "resume": str(last), "device": args.device, "workers": args.workers} if resume
                 else {**common, "model": student, "data": str(data)})
    if spec["method"] == "builtin" and not resume:
        overrides["distill_model"] = teacher
    trainer = DetectionTrainer(overrides=overrides)
    trainer.train()
    return {k: float(v) for k, v in trainer.metrics.items()}


def read_curve(results_csv: Path) -> tuple[list[float], list[float]]:
    """Per-epoch val mAP50-95 (of the EMA model) and seconds per epoch, from Ultralytics' results.csv."""
    import csv

    with open(results_csv, newline="") as f:
        rows = list(csv.DictReader(f, skipinitialspace=True))
    cumulative = [float(r["time"]) for r in rows]
    times = [b - a for a, b in zip([0.0, *cumulative], cumulative)]
    return [float(r[MAP50_95]) for r in rows], [t for t in times if t > 0]  # a resumed run restarts its clock


def run_arm(study, name: str, seed: int, teacher: str, data: Path, args, root: Path, train_now: bool):
    """The finished run of an arm at a seed: from its marker, or trained now; None when it is not (yet) there."""
    from yolodistill.report import write_json

    spec = arm_spec(study, name)
    run_dir = root / name / f"seed{seed}"
    marker, spec_file = run_dir / "run.json", run_dir / "spec.json"
    for path in (marker, spec_file):
        if path.exists() and not same_spec(json.loads(path.read_text()).get("spec") or json.loads(path.read_text()),
                                           spec):
            raise UserError(f"arm '{name}' changed since its seed-{seed} run in '{run_dir}' was made: rename the "
                            "arm, or delete that folder to train it again")
    if marker.exists():
        record = json.loads(marker.read_text())
        record["epoch_time_s"] = statistics.median(read_curve(run_dir / "results.csv")[1])  # one definition for all
        return record
    if not train_now:
        return None
    student = spec["student"]
    if spec["from_arm"]:
        source = root / student / f"seed{seed}" / "weights" / "best.pt"
        if not (root / student / f"seed{seed}" / "run.json").exists():
            raise UserError(f"arm '{name}' starts from arm '{student}' at seed {seed}, which has not run: include it "
                            "in --arms")
        student = str(source)
    if not resumable(run_dir / "weights" / "last.pt"):
        shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(spec_file, spec)
    metrics = train_run(spec, seed, run_dir, teacher, data, student, args)
    curve, times = read_curve(run_dir / "results.csv")
    record = {"arm": name, "method": name, "seed": seed, "spec": spec, "map50": metrics[MAP50],
              "map50_95": metrics[MAP50_95], "epoch_time_s": statistics.median(times), "epochs": len(curve),
              "best_epoch": curve.index(max(curve)) + 1, "curve": curve, "run_dir": str(run_dir),
              "student": student}
    write_json(marker, record)
    return record


def same_spec(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """A finished run still stands for its arm: the same settings, where a distillation key added to yolodistill
    since then (absent from the old record) is not a change."""
    new = json.loads(json.dumps(new))
    old_distill, new_distill = old.get("distill") or {}, new.get("distill") or {}
    shared = set(old_distill) & set(new_distill)
    return ({k: v for k, v in old.items() if k != "distill"} == {k: v for k, v in new.items() if k != "distill"}
            and all(old_distill[k] == new_distill[k] for k in shared))


def judge(study: dict[str, Any], summary: dict[str, dict], runs: list[dict]) -> dict[str, dict[str, Any]]:
    """Each target of the study file with the numbers that decide it; a target whose arms have not run is pending."""
    out = {}
    by_seed = {(r["arm"], r["seed"]): r["map50_95"] for r in runs}
    for t in study.get("targets", []):
        arm, other = t["arm"], t.get("above")
        key = f"{arm}-gap" if "gap" in t else f"{arm}-above-{other}"
        if arm not in summary or (other and other not in summary):
            out[key] = {"description": key, "met": None, "shown": "not run", "needed": ""}
            continue
        mine = summary[arm]["map50_95_mean"]
        if "gap" in t:
            gap = summary[arm]["gap_recovered"]
            out[key] = {"description": f"{arm} recovers the teacher-plain gap", "value": gap,
                        "met": gap is not None and gap >= t["gap"], "shown": "undefined" if gap is None
                        else f"{gap:.0%}", "needed": f">= {t['gap']:.0%}" + (f" (aim {t['aim']:.0%})" if "aim" in t
                                                                              else "")}
            continue
        by = t.get("by", 0.0)
        diff = mine - summary[other]["map50_95_mean"]
        pairs = [(by_seed[(arm, s)], by_seed[(other, s)]) for s in summary[arm]["seeds"] if (other, s) in by_seed]
        seed_ok = {"at_least": all(a >= b for a, b in pairs), "above": all(a > b for a, b in pairs),
                   None: True}[t.get("per_seed")]
        per_seed = {"at_least": ", no seed below it", "above": ", above it on every seed", None: ""}[t.get("per_seed")]
        worst = min((a - b for a, b in pairs), default=float("nan"))
        out[key] = {"description": f"{arm} above {other}" + (f" by {by:g}" if by else "") + per_seed,
                    "value": diff, "worst_seed_diff": worst, "met": (diff >= by if by else diff > 0) and seed_ok,
                    "shown": f"{diff:+.3f} (worst seed {worst:+.3f})", "needed": f">= {by:+.3f}" if by else "> 0"}
    return out


def plot_curves(runs: list[dict], teacher: float, path: Path) -> Path:
    """Val mAP50-95 per epoch, mean over seeds, one line per arm: where each arm converged, at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    arms = dict.fromkeys(r["arm"] for r in runs)
    for arm in arms:
        curves = [r["curve"] for r in runs if r["arm"] == arm]
        n = min(len(c) for c in curves)
        ax.plot(range(1, n + 1), [sum(c[i] for c in curves) / len(curves) for i in range(n)],
                label=f"{arm} ({len(curves)} seed{'s' if len(curves) > 1 else ''})")
    ax.axhline(teacher, color="black", linestyle="--", label="teacher")
    ax.set(xlabel="epoch", ylabel="val mAP50-95 (EMA, mean over seeds)", title="Validation curves")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run_study(args: argparse.Namespace) -> Path:
    from rich.console import Console

    from yolodistill.compare import parse_seeds, validate_teacher
    from yolodistill.report import SUMMARY_COLUMNS, compare_rows, environment, rich_table, summarize, write_json

    console = Console()
    study = load_study(args.study)
    chosen_arms = list(study["arms"]) if not args.arms else [a.strip() for a in args.arms.split(",")]
    if unknown := [a for a in chosen_arms if a not in study["arms"]]:
        raise UserError(f"--arms: no arm {', '.join(unknown)} in '{args.study}' (arms: {', '.join(study['arms'])})")
    seeds_now = parse_seeds(args.seeds) if args.seeds else study["seeds"]
    args.work = work_dir(args.work)
    data = prepare_data(study, args.work)
    teacher = get_teacher(study, data, args)
    root = args.work / study["name"]
    teacher_val = root / "teacher.json"
    if not teacher_val.exists():
        write_json(teacher_val, validate_teacher(teacher["checkpoint"], str(data), dict(
            imgsz=study["imgsz"], batch=study["batch"], device=args.device, workers=args.workers), root))
    teacher.update(json.loads(teacher_val.read_text()))
    runs, pending = [], []
    for name, arm in study["arms"].items():
        for seed in arm.get("seeds", study["seeds"]):
            now = not args.report_only and name in chosen_arms and seed in seeds_now
            if now:
                console.print(f"[bold]{name} seed {seed}[/]", highlight=False)
            run = run_arm(study, name, seed, teacher["checkpoint"], data, args, root, now)
            (runs.append(run) if run else pending.append(f"{name} seed {seed}"))
    summary, notes = summarize(runs, teacher["map50_95"])
    goals = judge(study, summary, runs)
    plot = plot_curves(runs, teacher["map50_95"], args.results / f"study-{study['name']}.png") if runs else None
    record = {
        "kind": "study", "name": study["name"], "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(), "study_file": str(args.study), "study": study, "data": str(data),
        "teacher": teacher, "threads": args.threads, "device": args.device, "environment": environment(),
        "arms": {name: arm_spec(study, name) for name in study["arms"]}, "runs": runs, "summary": summary,
        "notes": notes, "targets": goals, "missed": [k for k, t in goals.items() if t["met"] is False],
        "pending": pending, "plot": None if plot is None else plot.name, "remarks": args.note,
    }
    out = write_json(args.results / f"study-{study['name']}.json", record)
    write_docs(args.results, args.docs)
    if runs:
        console.print(rich_table(compare_rows({"summary": summary, "teacher": teacher}), SUMMARY_COLUMNS, title="Arms"))
    for key, t in goals.items():
        verdict = {True: "met", False: "MISSED", None: "pending"}[t["met"]]
        console.print(f"{t['description']}: {t['shown']} (needed {t['needed']}): {verdict}", highlight=False)
    if pending:
        console.print(f"Not run yet: {', '.join(pending)}", highlight=False)
    console.print(f"Wrote {out} and {args.docs}", soft_wrap=True, highlight=False)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with cpu_threads(args.threads) as threads:
        args.threads = threads  # recorded with the study: it decides the epoch times
        return exit_status(lambda: run_study(args))


if __name__ == "__main__":
    sys.exit(main())
