#!/usr/bin/env python
"""What distillation costs in training: seconds per epoch and peak memory of the plain student, Ultralytics'
built-in distiller and ours (the default recipe, and configs/full.yaml with every distillation term on), with the
same teacher, data and settings, in one invocation. The default recipe runs the class and box terms with label
assignment distillation; full.yaml adds the feature term and the teacher-bounded gate (kd_gate, the trained-student
default). The target is checked on the slower of the two.

Each method trains in a child process of its own, so that peak memory is that method's alone (a process's peak
resident set never goes down) and no method inherits another's warm caches. The first epoch pays for start-up
(cuDNN autotuning, allocator growth) and is left out of the mean. With --repeats N, every method trains once per
round, N rounds, the order turned by one method each round; a ratio is taken within a round (side by side) and the
record keeps the median over rounds, so that one slow spell of a shared machine does not decide the target. Writes
benchmarks/results/overhead-{gpu,cpu}.json and regenerates docs/benchmarks.md. Target: ours at most 1.10 times the
built-in's epoch time, for both recipes.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from _common import (BENCH_WORK, DOCS, RESULTS, ArgumentParser, check_checkpoint, check_outputs, command_line, count,
                     environment, exit_status, positive_int, work_dir)
from _docs import write_docs

from yolodistill.errors import UserError
from yolodistill.utils import cpu_threads

METHODS = ("plain", "builtin", "ours", "ours-full")
RECIPES = {"ours": None, "ours-full": "full"}  # ours-full: every distillation term on (configs/full.yaml)
TARGET = 1.10
INTERRUPTED = ("Nothing was written to --results: rerun the same command to measure every method again (the data "
               "and teacher under --work are kept).")
DEFINITIONS = {
    "s/epoch": "mean over the epochs after the first of the training loop's wall time, from Ultralytics' "
    "on_train_epoch_start to on_train_epoch_end callbacks (CUDA synchronized): data loading, forward, backward and "
    "optimizer steps; validation and checkpoint saving are left out, being the same student work for every method",
    "vs built-in": "s/epoch divided by the built-in distiller's in the same round; with --repeats, the median of "
    "those ratios over the rounds",
    "teacher weights": "dtype and memory format of the teacher's conv weights during training; under AMP its "
    "convolutions compute in float16 whatever the weights' dtype",
}
MEMORY = {
    "gpu": "torch.cuda.max_memory_allocated of the training process: tensors, not the allocator's cache",
    "cpu": "peak resident set size (ru_maxrss) of the training process, which trains one method only; it includes "
    "the interpreter and libraries common to all methods, and the data loading, which Ultralytics runs in the main "
    "process on CPU",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, help="dataset yaml (default: a synthetic set of --images images, made once "
                   "under --work)")
    p.add_argument("--images", type=positive_int, default=256,
                   help="size of the default synthetic set (default: %(default)s)")
    p.add_argument("--teacher", type=Path, help="teacher checkpoint (default: --teacher-model built from its yaml "
                   "and saved untrained: training costs the same whatever the weights)")
    p.add_argument("--teacher-model", default="yolo26s.yaml", help="yaml of the default teacher (default: "
                   "%(default)s)")
    p.add_argument("--student", default="yolo26n.yaml", help="student model yaml (default: %(default)s)")
    p.add_argument("--imgsz", type=positive_int, help="image size (default: 640 on GPU, 320 on CPU)")
    p.add_argument("--batch", type=positive_int, default=16, help="batch size (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=3, help="epochs per method, at least 2: the first is not timed "
                   "(default: %(default)s)")
    p.add_argument("--repeats", type=positive_int, default=1, help="rounds, each training every method once; the "
                   "record keeps each method's median round and the median of the per-round ratios (default: "
                   "%(default)s)")
    p.add_argument("--device", help="Ultralytics device, e.g. 0 or cpu (default: 0 when CUDA is available, else cpu)")
    p.add_argument("--workers", type=count, default=8, help="dataloader workers (default: %(default)s; Ultralytics "
                   "uses 0 on CPU)")
    p.add_argument("--work", type=Path, default=BENCH_WORK / "overhead",
                   help="folder for the data, the teacher and the runs (default: %(default)s)")
    p.add_argument("--results", type=Path, default=RESULTS, help="folder of the JSON records (default: %(default)s)")
    p.add_argument("--docs", type=Path, default=DOCS, help="markdown page to regenerate (default: %(default)s)")
    p.add_argument("--threads", type=positive_int,
                   help="CPU threads for training (default: every core; Ultralytics alone leaves one free)")
    p.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)  # the child process: train one method
    p.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--round", type=int, default=0, help=argparse.SUPPRESS)  # the child's round, for its run folder
    args = p.parse_args(argv)
    if args.epochs < 2:
        p.error("--epochs must be at least 2: the first epoch is not timed")
    if args.device is None:
        import torch

        args.device = "0" if torch.cuda.is_available() else "cpu"
    args.imgsz = args.imgsz or (320 if on_cpu(args.device) else 640)
    return args


def on_cpu(device: str) -> bool:
    return str(device).lower() == "cpu"


def prepare_data(args: argparse.Namespace) -> Path:
    """--data, or the synthetic set made once under --work and made again where its files no longer give the
    fingerprint its made.json took (images deleted there)."""
    from _cache import build, cache_folder, damaged, place

    from yolodistill.data import make_synthetic

    if args.data is not None:
        return args.data.resolve()
    made = {"source": "synth", "images": args.images, "classes": 3, "imgsz": args.imgsz, "seed": 0}
    out, ready = cache_folder(args.work / f"synth-{args.images}-{args.imgsz}px", made,
                              lambda folder: (folder / "data.yaml").exists() or None)
    if not ready or damaged(out):
        place(build(out, lambda tmp: make_synthetic(tmp, images=args.images, classes=3, imgsz=args.imgsz, seed=0),
                    made), out)
    return out / "data.yaml"


def check_inputs(args: argparse.Namespace) -> None:
    """Bad input as one line before any method trains, not in the third child process after two have trained."""
    from _study import check_model

    from yolodistill.checks import check_data
    from yolodistill.devices import concrete_device

    args.device = str(concrete_device(args.device))
    check_model(args.student, "--student", "bench_overhead.py")
    if args.teacher is None:  # built from its yaml: a .pt failed in DetectionModel once the data was made
        if Path(args.teacher_model).suffix.lower() not in (".yaml", ".yml"):
            raise UserError(f"bench_overhead.py: --teacher-model '{args.teacher_model}' is not a model yaml: it builds "
                            "an untrained teacher from one (e.g. yolo26s.yaml); pass a checkpoint with --teacher")
        check_model(args.teacher_model, "--teacher-model", "bench_overhead.py")
    if args.data is not None:
        check_data(args.data)
    if args.teacher is not None:
        if not args.teacher.is_file():
            raise UserError(f"--teacher {args.teacher} not found: pass a teacher checkpoint, or leave it out for an "
                            f"untrained {args.teacher_model}")
        check_checkpoint(args.teacher)
    check_outputs(args)


def teacher_names(teacher: Path) -> dict[int, str]:
    """The classes of a teacher checkpoint; one that does not load is one line."""
    from ultralytics.nn.tasks import load_checkpoint

    try:
        return dict(load_checkpoint(str(teacher))[0].names)
    except Exception as e:  # noqa: BLE001 - a truncated or foreign file fails in torch or pickle
        raise UserError(f"--teacher {teacher} cannot be loaded ({type(e).__name__}): pass an Ultralytics "
                        "checkpoint") from None


def dataset_info(data: Path) -> tuple[dict[int, str], int]:
    """Class names (the default teacher needs them) and the train images (an epoch's work), as Ultralytics reads
    them."""
    from ultralytics.data.utils import check_det_dataset

    info = check_det_dataset(str(data))
    train = Path(info["train"])
    return dict(info["names"]), sum(1 for f in train.iterdir() if f.is_file()) if train.is_dir() else 0


def build_teacher(model_yaml: str, names: dict[int, str], path: Path) -> Path:
    """An untrained teacher saved as Ultralytics saves one: its forward pass costs what a trained one's does."""
    import torch
    from ultralytics.nn.tasks import DetectionModel

    from yolodistill.utils import atomic_write_bytes

    if path.exists():
        return path
    model = DetectionModel(model_yaml, nc=len(names), verbose=False)
    model.names = dict(names)
    buf = io.BytesIO()
    torch.save({"model": model, "train_args": {"task": "detect"}, "epoch": -1}, buf)
    return atomic_write_bytes(path, buf.getvalue())


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """Ultralytics args shared by all three methods; val off, as validation is not what is measured (Ultralytics
    still validates after the last epoch)."""
    return dict(epochs=args.epochs, imgsz=args.imgsz, batch=args.batch, device=args.device, workers=args.workers,
                plots=False, val=False)


def epoch_clock(cuda: bool) -> tuple[dict[str, Any], Any, Any]:
    """Callbacks timing each epoch's training loop, and what the first epoch shows of AMP and the teacher.

    Plain functions over shared state: Ultralytics deep-copies its default callbacks for each trainer, which would
    copy an object behind a bound method but leaves functions alone.
    """
    import torch

    state: dict[str, Any] = {"epoch_times_s": [], "amp": None, "teacher": None}

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def start(trainer):
        sync()
        state["t0"] = time.perf_counter()

    def stop(trainer):
        sync()
        state["epoch_times_s"].append(time.perf_counter() - state.pop("t0"))
        if state["amp"] is None:
            state["amp"], state["teacher"] = bool(trainer.amp), teacher_layout(trainer.model)

    return state, start, stop


def teacher_layout(model) -> dict[str, Any] | None:
    """dtype and memory format of the teacher's conv weights, as training ran it (None for the plain student)."""
    import torch
    from ultralytics.utils.torch_utils import unwrap_model

    teacher = getattr(unwrap_model(model), "teacher_model", None)
    if teacher is None:
        return None
    weight = next(p for p in teacher.parameters() if p.dim() == 4)
    return {"dtype": str(weight.dtype).removeprefix("torch."),
            "channels_last": weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()}


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """Train one method through the code paths `yolodistill compare` uses, and measure it."""
    import resource

    import torch
    from ultralytics.utils.callbacks import base as callbacks

    from yolodistill.compare import train_run
    from yolodistill.config import resolve

    cuda = not on_cpu(args.device) and torch.cuda.is_available()
    state, start, stop = epoch_clock(cuda)
    callbacks.default_callbacks["on_train_epoch_start"].append(start)
    callbacks.default_callbacks["on_train_epoch_end"].append(stop)
    shared = settings(args)
    base = {**resolve(None, **shared)[1], "model": args.student, "data": str(args.data), "task": "detect",
            "mode": "train", "project": str(args.work / f"runs-{slug(args.device)}")}
    recipe = RECIPES.get(args.worker)
    if recipe:  # its own folder: train_run names runs by method and seed
        base["project"] += f"-{recipe}"
    if args.round:  # each round's runs stay as they were trained
        base["project"] += f"-round{args.round + 1}"
    ours = dict(teacher=str(args.teacher), student=args.student, data=str(args.data), config=recipe, **shared)
    began = time.perf_counter()
    save_dir, _ = train_run("ours" if args.worker in RECIPES else args.worker, 0, base, ours)
    times = state["epoch_times_s"]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    allocated = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
    return {
        "epoch_times_s": times, "epoch_time_s": sum(times[1:]) / len(times[1:]), "amp": state["amp"],
        "teacher": state["teacher"], "peak_rss_mib": rss, "cuda_max_allocated_mib": allocated,
        "cuda_max_reserved_mib": torch.cuda.max_memory_reserved() / 2**20 if cuda else None,
        "peak_memory_mib": allocated if cuda else rss, "wall_s": time.perf_counter() - began, "run_dir": str(save_dir),
    }


def slug(device: str) -> str:
    return "cpu" if on_cpu(device) else "gpu"


def run_child(method: str, args: argparse.Namespace, data: Path, teacher: Path, round_: int = 0) -> dict[str, Any]:
    """One method in a fresh interpreter; its output streams through, its measurements come back as JSON."""
    out = args.work / f"{method}-{slug(args.device)}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", method, "--worker-out", str(out),
           "--data", str(data), "--teacher", str(teacher), "--student", args.student, "--imgsz", str(args.imgsz),
           "--batch", str(args.batch), "--epochs", str(args.epochs), "--device", str(args.device),
           "--workers", str(args.workers), "--work", str(args.work), "--threads", str(args.threads),
           "--round", str(round_)]
    status = subprocess.run(cmd).returncode
    if status in (130, -signal.SIGINT):  # Ctrl-C reached the child alone: stopped, not failed
        raise KeyboardInterrupt
    if status != 0 or not out.exists():
        raise UserError(f"training {method} failed (its output is above): nothing was written to --results")
    return json.loads(out.read_text())


def summarize(rounds: list[dict[str, dict[str, Any]]]) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
    """Each method's median round (its own measurement whole, median_low so that it is a round that happened) and
    the median over rounds of each ratio taken within a round; with one round, that round and its ratios."""
    def within(a: str, b: str) -> float:  # a's time over b's in each round, the median over rounds
        return statistics.median(done[a]["epoch_time_s"] / done[b]["epoch_time_s"] for done in rounds)

    runs = {}
    for m in rounds[0]:
        times = [done[m]["epoch_time_s"] for done in rounds]
        median = next(done[m] for done in rounds if done[m]["epoch_time_s"] == statistics.median_low(times))
        runs[m] = {**median, "round_epoch_time_s": times, "vs_builtin": within(m, "builtin")}
    pairs = (("ours", "builtin"), ("builtin", "plain"), ("ours", "plain"), ("ours-full", "builtin"))
    return runs, {f"{a}/{b}": within(a, b) for a, b in pairs}


def benchmark(args: argparse.Namespace) -> Path:
    from yolodistill.checks import check_names
    from yolodistill.report import write_json

    check_inputs(args)
    args.work = work_dir(args.work)
    data = prepare_data(args)
    names, images = dataset_info(data)
    if args.teacher:
        teacher = args.teacher.resolve()
        check_names(teacher_names(teacher), names, f"teacher {teacher.name}", "pass a teacher trained on this data")
    else:  # kept by model and classes: a dataset of other classes (or another folder's) gets a teacher of its own
        key = hashlib.sha256(json.dumps([args.teacher_model, names], sort_keys=True).encode()).hexdigest()[:8]
        teacher = build_teacher(args.teacher_model, names,
                                args.work / f"{Path(args.teacher_model).stem}-untrained-{key}.pt")
    rounds = []
    for r in range(args.repeats):
        order = METHODS[r % len(METHODS):] + METHODS[:r % len(METHODS)]
        done = {m: run_child(m, args, data, teacher, r) for m in order}
        rounds.append({m: done[m] for m in METHODS})
    runs, ratios = summarize(rounds)
    slower = max(RECIPES, key=lambda m: ratios[f"{m}/builtin"])  # the target holds for both of our recipes
    ratio = ratios[f"{slower}/builtin"]
    record = {
        "kind": "overhead", "scale": slug(args.device),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(), "argv": sys.argv, "cwd": os.getcwd(), "environment": environment(),
        "settings": {**settings(args), "seed": 0, "data": str(data), "data_name": data.parent.name,
                     "train_images": images, "teacher": str(teacher), "teacher_name": teacher.name,
                     "student": args.student, "threads": args.threads},
        "definitions": {**DEFINITIONS, "peak memory": MEMORY[slug(args.device)]},
        "repeats": args.repeats,
        "runs": runs,
        "ratios": ratios,
        **({"rounds": [{m: run["epoch_time_s"] for m, run in done.items()} for done in rounds]}
           if args.repeats > 1 else {}),
        "target": {"description": "ours s/epoch at most 1.10 × the built-in's, for the default recipe and with "
                                  "every loss term on (the slower of the two)", "method": slower, "value": ratio,
                   "threshold": TARGET, "met": ratio <= TARGET},
    }
    out = write_json(args.results / f"overhead-{slug(args.device)}.json", record)
    write_docs(args.results, args.docs)
    for method, run in runs.items():
        print(f"{method:8s} {run['epoch_time_s']:8.2f} s/epoch  {run['peak_memory_mib']:8.0f} MiB peak")
    if args.repeats > 1:
        print(f"median of {args.repeats} rounds; {slower}/builtin per round: "
              + ", ".join(f"{done[slower]['epoch_time_s'] / done['builtin']['epoch_time_s']:.3f}" for done in rounds))
    print(f"{slower}/builtin {ratio:.3f} (target <= {TARGET}, the slower of our recipes): "
          f"{'met' if ratio <= TARGET else 'MISSED'}")
    print(f"Wrote {out} and {args.docs}")
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with cpu_threads(args.threads) as threads:
        args.threads = threads  # every method's child trains with the same number, recorded with the results
        return run(args)


def run(args: argparse.Namespace) -> int:
    if args.worker:
        from yolodistill.report import write_json

        return exit_status(lambda: write_json(args.worker_out, worker(args)), None)  # the parent says it
    return exit_status(lambda: benchmark(args), INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
