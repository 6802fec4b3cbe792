#!/usr/bin/env python
"""The real-data study behind the default recipe: on BCCD, does our distillation beat both the plain student and
Ultralytics' built-in distiller over several seeds, and which of our terms carries the gain?

Steps: convert BCCD (Pascal VOC) to YOLO format; train the teacher from its yaml; `yolodistill compare` (plain,
built-in, ours) once per seed; the ablation (our recipe with one term at a time; "all" is the compare's ours run).
Each finished step leaves its result on disk and is skipped on a rerun, so a study cut off by a time limit resumes
where it stopped, and seeds can be added later. Writes benchmarks/results/efficacy-NAME.json and regenerates
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from _docs import (ABLATION_COLUMNS, DOCS, REPO, RESULTS, TARGET_COLUMNS, ablation_rows, command_line, exit_status,
                   positive_int, target_rows, work_dir, write_docs)

from yolodistill.errors import UserError
from yolodistill.utils import cpu_threads

SCALES = {
    "gpu": dict(imgsz=640, teacher_model="yolo26m.yaml", teacher_epochs=100, epochs=50, seeds="0,1,2",
                ablation_seeds="0", batch=16, workers=8, device=None),
    "cpu": dict(imgsz=192, teacher_model="yolo26s.yaml", teacher_epochs=20, epochs=10, seeds="0,1,2",
                ablation_seeds="0", batch=16, workers=2, device="cpu"),
    "smoke": dict(imgsz=64, teacher_model="yolo26s.yaml", teacher_epochs=1, epochs=1, seeds="0,1",
                  ablation_seeds="0", batch=8, workers=0, device="cpu"),
}
TERMS = {"cls": "kd_cls", "box": "kd_box", "feat": "kd_feat"}
INIT = "init_from_teacher"  # the student's start: the teacher's weights (weight selection) or random
TRAIN_FLAGS = ("kd_cls", "kd_box", "kd_feat", "temperature", "feat_loss", "kd_warmup")  # `yolodistill train --kd-cls`
GAP_TARGET, GAP_AIM = 0.30, 0.50
SYNTH_IMAGES = 32


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Presets (--scale): " + "; ".join(
            f"{k}: " + ", ".join(f"{a}={'auto' if v is None else v}" for a, v in s.items()) for k, s in SCALES.items()),
    )
    p.add_argument("--scale", choices=SCALES, help="preset of sizes and schedules (default: gpu when CUDA is "
                   "available, else cpu); smoke is a seconds-long run for tests")
    p.add_argument("--src", default=str(REPO.parent / "shared/datasets/bccd/BCCD"),
                   help="BCCD in Pascal VOC layout (read only), or 'synth' for a small synthetic set "
                   "(default: %(default)s)")
    p.add_argument("--work", type=Path, default=REPO / "benchmarks/work",
                   help="folder for the converted data, the teacher and every run (default: %(default)s)")
    p.add_argument("--name", help="study folder under --work and results file efficacy-NAME.json (default: the "
                   "scale); a study whose data, teacher or Ultralytics settings differ from a finished one needs "
                   "its own name, while its distillation keys may change within one (ours runs are kept per recipe; "
                   "the record is of the latest invocation)")
    p.add_argument("--results", type=Path, default=RESULTS, help="folder of the JSON records (default: %(default)s)")
    p.add_argument("--docs", type=Path, default=DOCS, help="markdown page to regenerate (default: %(default)s)")
    p.add_argument("--config", help="recipe yaml (default: configs/default.yaml): its distillation keys set ours and "
                   "the ablation, its Ultralytics train arguments apply to every method alike "
                   "(e.g. benchmarks/short-schedule.yaml)")
    p.add_argument("--student", default="yolo26n.yaml", help="student model yaml (default: %(default)s)")
    p.add_argument("--teacher-model", help="teacher model yaml trained from scratch (preset: yolo26m on gpu, "
                   "yolo26s otherwise)")
    p.add_argument("--teacher", type=Path, help="a trained teacher checkpoint to use instead of training one")
    p.add_argument("--teacher-epochs", type=int, help="teacher training epochs (preset)")
    p.add_argument("--epochs", type=int, help="student training epochs for every method (preset)")
    p.add_argument("--imgsz", type=int, help="image size for teacher and students (preset)")
    p.add_argument("--batch", type=int, help="batch size for teacher and students (preset)")
    p.add_argument("--seeds", help="comma-separated seeds of the comparison (preset: 0,1,2)")
    p.add_argument("--ablation-seeds", help="seeds of the ablation, a subset of --seeds (preset: 0)")
    p.add_argument("--skip-ablation", action="store_true", help="run the comparison only")
    p.add_argument("--candidates", help="recipe variants to try on the ablation seeds, ';'-separated, each "
                   "comma-separated KEY=VALUE distillation settings, e.g. 'kd_box=0;kd_cls=2,kd_box=0'")
    p.add_argument("--device", help="Ultralytics device, e.g. 0 or cpu (preset: auto on gpu, cpu otherwise)")
    p.add_argument("--workers", type=int, help="dataloader workers (preset; Ultralytics uses 0 on CPU)")
    p.add_argument("--note", action="append", default=[],
                   help="a remark on how the study ran, kept in the record and shown on the page (repeatable)")
    p.add_argument("--threads", type=positive_int,
                   help="CPU threads for training (default: every core; Ultralytics alone leaves one free)")
    args = p.parse_args(argv)
    args.scale = args.scale or default_scale()
    for key, value in SCALES[args.scale].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.name = args.name or args.scale
    return args


def default_scale() -> str:
    import torch

    return "gpu" if torch.cuda.is_available() else "cpu"


def check_seeds(args: argparse.Namespace) -> tuple[list[int], list[int]]:
    """Ablation seeds must be compare seeds: their plain and all-terms runs come from the comparison."""
    from yolodistill.compare import parse_seeds

    seeds = parse_seeds(args.seeds)
    if args.skip_ablation and args.candidates:
        raise UserError("--candidates run on the ablation seeds: drop --skip-ablation, or the candidates")
    ablation = [] if args.skip_ablation else parse_seeds(args.ablation_seeds)
    if extra := [s for s in ablation if s not in seeds]:
        raise UserError(f"--ablation-seeds {extra} are not in --seeds {seeds}: the ablation reuses their runs")
    return seeds, ablation


def prepare_data(src: str, work: Path, imgsz: int) -> Path:
    """The YOLO-format dataset under --work, converted (or drawn) once; the source is never written to."""
    from yolodistill.data import convert, make_synthetic

    if src == "synth":
        out = work / "synth"
        return out / "data.yaml" if (out / "data.yaml").exists() else make_synthetic(
            out, images=SYNTH_IMAGES, classes=3, imgsz=max(imgsz, 32), seed=0)
    out = work / Path(src).name.lower()
    return out / "data.yaml" if (out / "data.yaml").exists() else convert(src, "voc", out).data_yaml


def dataset_info(data_yaml: Path) -> dict[str, Any]:
    """What identifies the data across machines (absolute paths do not): its classes and split sizes."""
    import yaml

    d = yaml.safe_load(data_yaml.read_text())
    root = Path(d["path"])
    names = d["names"] if isinstance(d["names"], list) else [d["names"][k] for k in sorted(d["names"])]
    count = lambda split: sum(1 for f in (root / d[split]).iterdir() if f.is_file())  # noqa: E731
    return {"names": names, "train_images": count("train"), "val_images": count("val")}


def teacher_commands(model: str, data: Path, args: argparse.Namespace) -> list[str]:
    words = ["yolo", "detect", "train", f"model={model}", f"data={data}", f"epochs={args.teacher_epochs}",
             f"imgsz={args.imgsz}", f"batch={args.batch}", "seed=0", "plots=False"]
    return [shlex.join(words)]


def train_teacher(data: Path, tag: str, args: argparse.Namespace) -> dict[str, Any]:
    """Train the teacher once (resuming an interrupted run) and record it in teacher.json beside its weights."""
    from ultralytics import YOLO

    from yolodistill.compare import MAP50, MAP50_95, epoch_times
    from yolodistill.report import mean_std, write_json

    model = args.teacher_model
    run = args.work / "teachers" / f"{tag}-{Path(model).stem}-{args.imgsz}px-{args.teacher_epochs}ep-b{args.batch}"
    marker = run / "teacher.json"
    if marker.exists():
        return json.loads(marker.read_text())
    last = run / "weights" / "last.pt"
    if last.exists():
        yolo = YOLO(str(last))
        yolo.train(resume=True)
    else:
        yolo = YOLO(model)
        yolo.train(data=str(data), epochs=args.teacher_epochs, imgsz=args.imgsz, batch=args.batch, device=args.device,
                   workers=args.workers, seed=0, plots=False, project=str(run.parent), name=run.name, exist_ok=True)
    trainer = yolo.trainer
    times = [t for t in epoch_times(run / "results.csv") if t > 0]  # a resumed run restarts its clock at 0
    record = {
        "model": model, "checkpoint": str(trainer.best), "trained_here": True, "epochs": args.teacher_epochs,
        "imgsz": args.imgsz, "batch": args.batch, "map50": float(trainer.metrics[MAP50]),
        "map50_95": float(trainer.metrics[MAP50_95]), "epoch_time_s": mean_std(times)[0],
        "commands": teacher_commands(model, data, args),
    }
    write_json(marker, record)
    return record


def given_teacher(path: Path) -> dict[str, Any]:
    """A teacher trained elsewhere, described by what its checkpoint says about how it was trained."""
    from ultralytics.utils.patches import torch_load

    from yolodistill.errors import require_file

    require_file(path, "teacher", (".pt",))
    ckpt = torch_load(path, map_location="cpu", weights_only=False)
    a = ckpt.get("train_args") or {}
    words = ["yolo", "detect", "train"] + [f"{k}={a[k]}" for k in ("model", "data", "epochs", "imgsz", "batch", "seed")
                                           if k in a]
    epoch = ckpt.get("epoch", -1)  # Ultralytics sets -1 in a finished run's best.pt and last.pt: unknown then
    how = (f"# {path.name}: saved after epoch {epoch + 1} of {a.get('epochs')}" if epoch >= 0
           else f"# {path.name}: a checkpoint of that finished run")
    return {"model": path.name, "checkpoint": str(path.resolve()), "trained_here": False,
            "architecture": a.get("model"), "epochs": a.get("epochs"),
            "saved_after_epoch": epoch + 1 if epoch >= 0 else None, "imgsz": a.get("imgsz"), "batch": a.get("batch"),
            "commands": [shlex.join(words), how]}


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def train_args(args: argparse.Namespace) -> dict[str, Any]:
    """Ultralytics args shared by every student run; epochs and seed are passed on their own."""
    return dict(imgsz=args.imgsz, batch=args.batch, device=args.device, workers=args.workers, plots=False)


def study_identity(args: argparse.Namespace, teacher: dict, data: dict) -> dict[str, Any]:
    """Everything that decides the baselines' numbers; device, workers and threads only decide speed, so they may
    change. The recipe is not part of it: ours runs are kept per recipe (`recipe_tag`), so one study can try several
    recipes against the same plain and built-in runs."""
    from yolodistill.config import resolve

    _, resolved = resolve(args.config, epochs=args.epochs, **train_args(args))
    return {
        "teacher_sha256": sha256(teacher["checkpoint"]), "student": args.student, "data": data,
        "train_args": {k: v for k, v in resolved.items() if k not in ("device", "workers", "project")},
    }


def recipe_tag(distill: dict[str, Any]) -> str:
    """Short name of a full set of distillation settings: runs of different recipes never share a folder (and
    `kd_cls: 2` and `kd_cls: 2.0` are one recipe)."""
    plain = {k: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for k, v in distill.items()}
    return hashlib.sha1(json.dumps(plain, sort_keys=True).encode()).hexdigest()[:8]


def check_study(study: Path, identity: dict[str, Any]) -> None:
    """A study folder holds runs of one setting only: results of another recipe must not be mixed in silently."""
    from yolodistill.report import write_json

    path = study / "study.json"
    if not path.exists():
        write_json(path, identity)
        return
    old, new = json.loads(path.read_text()), json.loads(json.dumps(identity, default=str))
    if differ := changes(old, new):
        raise UserError(f"'{study}' holds a study with other settings ({'; '.join(differ)}): pass another --name, "
                        "or delete that folder to start it again")


def changes(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """'train_args.epochs: 1 -> 2' for each setting that differs, so the user sees what clashes."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += changes(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a} -> {b}")
    return out


def compare_seed(seed: int, teacher: str, data: Path, args: argparse.Namespace, study: Path,
                 distill: dict[str, Any]) -> list[dict[str, Any]]:
    """One seed of `yolodistill compare`, as two invocations: the baselines (plain, built-in) once per seed, ours
    once per recipe. Each keeps its own folder, so finished work survives an interruption and the baselines serve
    every recipe a study tries."""
    from rich.console import Console

    from yolodistill.compare import compare

    records = []
    for methods, folder in ((("plain", "builtin"), f"compare-seed{seed}"),
                            (("ours",), f"ours-{recipe_tag(distill)}-seed{seed}")):
        done = study / folder / "compare.json"
        if not done.exists():
            compare(teacher, args.student, data, args.epochs, seeds=[seed], methods=methods, config=args.config,
                    project=study, name=folder, exist_ok=True, console=Console(), **train_args(args))
        record = json.loads(done.read_text())
        if record["args"]["methods"] != list(methods):
            raise UserError(f"'{done}' holds methods {record['args']['methods']}, not {list(methods)}: it is from "
                            "an older layout; pass another --name, or delete that folder")
        records.append(record)
    return records


def merge_compares(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The per-seed comparisons as one: all runs, statistics over seeds, the teacher as the first one validated it."""
    from yolodistill.report import summarize

    teacher = records[0]["teacher"]
    runs = [run for r in records for run in r["runs"]]
    summary, notes = summarize(runs, teacher["map50_95"])
    machines = sorted({f"{r['environment']['machine']['gpu'] or 'CPU only'} "
                       f"({r['environment']['machine']['cpu_count']} CPUs)" for r in records})
    return {"teacher": teacher, "runs": runs, "summary": summary, "notes": notes, "machines": machines,
            "methods": {k: v for r in records for k, v in r["methods"].items()},
            "commands": [r["command"] for r in records],
            "dirs": [str(Path(r["runs"][0]["run_dir"]).parent) for r in records]}


def ablation_weights(distill: dict[str, Any], key: str) -> dict[str, Any]:
    """One term alone at its recipe weight, or at 1 where the recipe turns it off (to show why it is off), from the
    recipe's start."""
    return {**{k: (float(distill[k]) or 1.0 if k == key else 0.0) for k in TERMS.values()}, INIT: distill[INIT]}


def start_variants(distill: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Where the recipe starts the student from the teacher, the two halves apart: that start with no distillation
    loss (`init`), and the recipe's losses from a random start (`no-init`, when it has any)."""
    if not distill[INIT]:
        return {}
    out = {"init": {**ablation_weights(distill, ""), INIT: True}}
    if any(distill[k] for k in TERMS.values()):
        out["no-init"] = variant_settings(distill, {INIT: False})
    return out


def parse_candidates(text: str | None) -> dict[str, dict[str, Any]]:
    """'kd_cls=2,kd_box=0;feat_loss=l2' -> {"cls2-box0": {...}, "feat_loss-l2": {...}}: recipe variants to try."""
    from yolodistill.config import DistillConfig

    out = {}
    for item in filter(None, (part.strip() for part in (text or "").split(";"))):
        changes = {}
        for pair in item.split(","):
            key, sep, value = (x.strip() for x in pair.partition("="))
            if not sep or key not in DistillConfig.keys():
                raise UserError(f"--candidates: '{pair}' is not KEY=VALUE with a distillation key "
                                f"({', '.join(DistillConfig.keys())})")
            if value.lower() in ("true", "false"):
                changes[key] = value.lower() == "true"
                continue
            try:
                changes[key] = float(value)
            except ValueError:
                changes[key] = value
        DistillConfig(**changes)  # a bad value is one line here, not a traceback an hour into the study
        out["-".join(candidate_label(k, v) for k, v in changes.items())] = changes
    return out


def candidate_label(key: str, value: Any) -> str:
    short = key.removeprefix("kd_")
    if isinstance(value, bool):
        return short.replace("_", "-") if value else "no-" + short.replace("_", "-")
    return f"{short}{value:g}" if isinstance(value, float) else f"{short}-{value}"


def variant_settings(distill: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A candidate as the train() keywords it changes, its weights and start always spelled out for the table."""
    return {**{k: float(distill[k]) for k in TERMS.values()}, INIT: distill[INIT], **changes}


def ablation_run(term: str, seed: int, weights: dict, teacher: str, data: Path, args, study: Path,
                 distill: dict[str, Any]) -> dict:
    """Ours with some settings changed (one term on, or a candidate), in a folder named for its full settings; its
    record is written last, so a run cut off midway is trained again."""
    from yolodistill.compare import run_record
    from yolodistill.report import write_json
    from yolodistill.train import train

    run_dir = study / "ablation" / f"{term}-{recipe_tag({**distill, **weights})}-seed{seed}"
    marker = run_dir / "ablation.json"
    if marker.exists():
        return json.loads(marker.read_text())
    result = train(teacher, args.student, data, config=args.config, seed=seed, project=str(run_dir.parent),
                   name=run_dir.name, exist_ok=True, epochs=args.epochs, **train_args(args), **weights)
    record = {**run_record(term, seed, result.save_dir, result.metrics), "weights": weights,
              "command": train_command(teacher, data, seed, run_dir, weights, args)}
    write_json(marker, record)
    return record


def train_command(teacher: str, data: Path, seed: int, run_dir: Path, weights: dict, args) -> str:
    """The `yolodistill train` line of one ablation or candidate run."""
    words = ["yolodistill", "train", "--teacher", teacher, "--student", args.student, "--data", str(data),
             "--epochs", str(args.epochs), "--seed", str(seed), "--project", str(run_dir.parent),
             "--name", run_dir.name, "--exist-ok"]
    words += ["--config", args.config] if args.config else []
    for key, value in weights.items():  # flags where `yolodistill train` has one, key=value otherwise
        if isinstance(value, bool):
            words.append(f"--{'' if value else 'no-'}{key.replace('_', '-')}")
            continue
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        words += [f"--{key.replace('_', '-')}", shown] if key in TRAIN_FLAGS else [f"{key}={shown}"]
    words += [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in train_args(args).items()
              if v is not None]
    return shlex.join(words)


def ablation(seeds: list[int], compared: dict, distill: dict, teacher: str, data: Path, args, study: Path) -> dict:
    """Each term alone next to plain and all terms, then any candidate recipes, on the same seeds, summarized like
    the comparison: the recipe study that the default recipe is chosen from."""
    from yolodistill.report import summarize

    baseline = {m: [r for r in compared["runs"] if r["method"] == m and r["seed"] in seeds] for m in ("plain", "ours")}
    runs, notes = list(baseline["plain"]), []
    weights = {"plain": {**ablation_weights(distill, ""), INIT: False},
               "all": variant_settings(distill, {})}
    variants = {}
    for term, key in TERMS.items():
        if not distill[key]:
            notes.append(f"{term} alone runs at {key}=1: the recipe turns it off")
        variants[term] = ablation_weights(distill, key)
    variants.update(start_variants(distill))
    for label, settings in variants.items():
        weights[label] = settings
        if settings == weights["all"]:  # the recipe is this variant: its runs are ours, already made
            notes.append(f"{label} is the recipe itself: its runs are the ours runs of the comparison")
            runs += [{**r, "method": label} for r in baseline["ours"]]
            continue
        runs += [ablation_run(label, s, settings, teacher, data, args, study, distill) for s in seeds]
    runs += [{**r, "method": "all"} for r in baseline["ours"]]
    candidates = parse_candidates(args.candidates)
    for label, changes in candidates.items():
        weights[label] = variant_settings(distill, changes)
        runs += [ablation_run(label, s, weights[label], teacher, data, args, study, distill) for s in seeds]
    summary, more = summarize(runs, compared["teacher"]["map50_95"])
    return {"seeds": seeds, "weights": weights, "runs": runs, "summary": summary, "candidates": list(candidates),
            "notes": notes + more}


def targets(summary: dict[str, dict], teacher: float) -> dict[str, dict[str, Any]]:
    """The issue's targets on mean mAP50-95, each with the numbers that decide it."""
    plain, builtin, ours = (summary[m]["map50_95_mean"] for m in ("plain", "builtin", "ours"))
    below, gap = summary["ours"]["seeds_below_plain"], summary["ours"]["gap_recovered"]
    seeds = len(summary["ours"]["seeds"])
    return {
        "teacher_above_plain": {"description": "teacher above the plain student", "value": teacher,
                                "threshold": plain, "met": teacher > plain, "shown": f"{teacher:.3f}",
                                "needed": f"> {plain:.3f} (plain)"},
        "ours_above_plain": {"description": "ours above the plain student", "value": ours, "threshold": plain,
                             "met": ours > plain, "shown": f"{ours:.3f}", "needed": f"> {plain:.3f} (plain)"},
        "ours_above_builtin": {"description": "ours above the built-in distiller", "value": ours,
                               "threshold": builtin, "met": ours > builtin, "shown": f"{ours:.3f}",
                               "needed": f"> {builtin:.3f} (built-in)"},
        "no_seed_below_plain": {"description": "no seed of ours below plain", "value": below, "threshold": 0,
                                "met": below == 0, "shown": f"{below}/{seeds} seeds", "needed": "0 seeds"},
        "gap_recovered": {"description": "teacher-student gap recovered by ours", "value": gap,
                          "threshold": GAP_TARGET, "aim": GAP_AIM, "met": gap is not None and gap >= GAP_TARGET,
                          "shown": "undefined" if gap is None else f"{gap:.0%}",
                          "needed": f">= {GAP_TARGET:.0%} (aim {GAP_AIM:.0%})"},
    }


def run_study(args: argparse.Namespace) -> Path:
    from rich.console import Console

    from yolodistill.config import resolve
    from yolodistill.report import SUMMARY_COLUMNS, compare_rows, environment, rich_table, write_json

    console = Console()
    seeds, ablation_seeds = check_seeds(args)
    parse_candidates(args.candidates)
    args.work = work_dir(args.work)
    data = prepare_data(args.src, args.work, args.imgsz)
    tag = data.parent.name
    teacher = given_teacher(args.teacher) if args.teacher else train_teacher(data, tag, args)
    data_info = dataset_info(data)
    study, identity = args.work / args.name, study_identity(args, teacher, data_info)
    check_study(study, identity)
    distill = resolve(args.config)[0].to_dict()
    compared = merge_compares([r for s in seeds for r in compare_seed(s, teacher["checkpoint"], data, args, study,
                                                                       distill)])
    ablated = (ablation(ablation_seeds, compared, distill, teacher["checkpoint"], data, args, study)
               if ablation_seeds else None)
    goals = targets(compared["summary"], compared["teacher"]["map50_95"])
    record = {
        "kind": "efficacy", "scale": args.scale, "name": args.name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(), "argv": sys.argv,
        "settings": {"scale": args.scale, "src": args.src, "dataset": tag, "data": str(data), **data_info,
                     "student": args.student, "config": args.config, "distill": distill,
                     "recipe_tag": recipe_tag(distill), "epochs": args.epochs,
                     "imgsz": args.imgsz, "batch": args.batch, "device": args.device, "workers": args.workers,
                     "threads": args.threads,
                     "seeds": seeds, "ablation_seeds": ablation_seeds, "study_dir": str(study)},
        "environment": environment(), "teacher": teacher, "compare": compared, "ablation": ablated,
        "targets": goals, "missed": [k for k, t in goals.items() if not t["met"]], "remarks": args.note,
    }
    out = write_json(args.results / f"efficacy-{args.name}.json", record)
    write_docs(args.results, args.docs)
    console.print(rich_table(compare_rows(compared), SUMMARY_COLUMNS, title="Methods"))
    if ablated:
        console.print(rich_table(ablation_rows(ablated), ABLATION_COLUMNS, title="Ablation"))
    console.print(rich_table(target_rows(goals, no="NO"), TARGET_COLUMNS, title="Targets"))
    console.print(f"Wrote {out} and {args.docs}", soft_wrap=True, highlight=False)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with cpu_threads(args.threads) as threads:
        args.threads = threads  # recorded with the study: it decides the epoch times
        return exit_status(lambda: run_study(args))


if __name__ == "__main__":
    sys.exit(main())
