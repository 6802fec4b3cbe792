"""`yolodistill demo`: the whole tool on a fresh machine, with no weights or datasets to download.

It runs the real commands' functions in order (synthetic data, a teacher, `compare` for the plain and the distilled
student, `export`, `bench`), so its numbers come from the runs it made.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .errors import UserError, check_path, python_values
from .report import print_whole
from .utils import check_threads, cpu_threads

# Goals on a 2-core CPU: full within 10 minutes, quick within 3. The README's table gives the times measured; on a
# slow 2-core machine (33 GFLOPS in a float32 matmul, 2 threads) an earlier version took 6 min 25 s and 2 min 32 s.
# Quick only shows that every step runs: its students train for 75 steps, too few to leave mAP 0, so its table is no
# comparison; the full preset's is.
PRESETS = {
    "quick": dict(images=160, unlabeled=120, imgsz=64, teacher_epochs=9, epochs=5, batch=8),
    "full": dict(images=200, unlabeled=150, imgsz=96, teacher_epochs=16, epochs=10, batch=8),
}
QUICK_NOTE = ("--quick checks that every step runs: its models train for a few dozen steps, too few to compare. "
              "Run `yolodistill demo` without --quick for a comparison.")
STEPS = ("data", "teacher", "students", "unlabeled", "export", "bench")
# Tiny data learns in minutes only without mosaic (it shrinks small objects to specks) and without warm-up; every
# model of the demo trains so. Measured on the demo's data: a 96-px yolo26s (AdamW 0.005) was at 0.03 mAP50-95 at
# epoch 9 of 20 with one warm-up epoch, at 0.13 at epoch 9 of 12 without.
TINY_DATA_ARGS = dict(mosaic=0.0, warmup_epochs=0.0)
# The teacher, which the demo has to make in a minute or two, also gets a high fixed AdamW rate: at 64 px, 8 epochs,
# AdamW 0.005 reached 0.053 where Ultralytics' automatic choice (AdamW 0.0014 for 3 classes) reached 0.017. The
# students keep Ultralytics' automatic choice, as a user's run would. With the full preset's teacher (0.418), seed 0,
# compare's validation gave plain 0.095 and distilled 0.325 (the demo's bench of the same weights: 0.098 and 0.333);
# at AdamW 0.005 the same students gave 0.243 and 0.327 (seed 1: 0.137 and 0.338).
TEACHER_ARGS = dict(optimizer="AdamW", lr0=0.005)


@dataclass
class DemoResult:
    """The demo's folder, its summary rows and every file it wrote that a user would open."""

    save_dir: Path
    rows: list[dict[str, Any]]
    paths: dict[str, Path]
    seconds: dict[str, float]  # wall time of each step and in total: the presets' time goals are checked on these


def train_teacher(data: Path, save_dir: Path, imgsz: int, epochs: int, batch: int, device: str) -> Path:
    """A small yolo26s teacher: users bring their own, the demo has to make one."""
    from ultralytics.models.yolo.detect import DetectionTrainer

    trainer = DetectionTrainer(
        overrides=dict(model="yolo26s.yaml", data=str(data), epochs=epochs, imgsz=imgsz, batch=batch, workers=0,
                       device=device, plots=False, project=str(save_dir), name="teacher", exist_ok=True, seed=0,
                       val=False, **TINY_DATA_ARGS, **TEACHER_ARGS)  # validated once at the end: keeps its last weights
    )
    trainer.train()
    return Path(trainer.best)


def unlabeled_images(save_dir: Path, images: int, imgsz: int) -> Path:
    """Footage nobody labelled: more synthetic images of the same kind (another seed), without their labels."""
    import shutil

    from .data import make_synthetic

    source = make_synthetic(save_dir / ".footage-labels", images=images, classes=3, imgsz=imgsz, seed=1).parent
    footage = save_dir / "footage"
    footage.mkdir()
    for img in sorted((source / "images").rglob("*.*")):
        shutil.move(img, footage / f"{img.parent.name}-{img.name}")
    shutil.rmtree(source)  # the labels go: the demo never sees them
    return footage


def summary_rows(bench_rows: list[dict], labels: dict[str, str]) -> list[dict[str, Any]]:
    """One row per artifact, named for a person: teacher, plain student, distilled student (and its ONNX)."""
    rows = []
    for r in bench_rows:
        rows.append({
            "model": labels[str(Path(r["artifact"]).resolve())],
            "format": r["format"],
            "mAP50-95": r["map50_95"],
            "mAP50": r["map50"],
            "latency p50 (ms)": r["latency_ms"]["p50"],
            "size (MB)": r["size_mb"],
        })
    return rows


@python_values
def demo(out: str | Path = "runs/demo", quick: bool = False, device: str = "auto", threads: int | None = None,
         console: Console | None = None) -> DemoResult:
    """Make data, a teacher, a plain and a distilled student, export the student, bench them all.

    On CPU it trains on every core (or `threads`): the time goals assume the machine is the demo's alone.
    """
    check_threads(threads)
    if not isinstance(quick, bool):  # 'no' from Python ran the quick preset
        raise UserError(f"quick must be True or False, got {quick!r}")
    out = check_path(out, "--out", "folder")  # None from Python was a TypeError in pathlib
    made: list[Path] = []
    with cpu_threads(threads) as threads:
        try:
            return run_demo(out, quick, device, threads, console or Console(soft_wrap=True), made)
        except KeyboardInterrupt:
            if made:  # the inner compare's advice to continue it with --exist-ok does not apply to the demo
                raise DemoInterrupted(made[0]) from None
            raise
        except UserError as e:  # as a Ctrl-C: a refusal the inner compare advised its own command for
            if made and getattr(e, "advice", None):
                e.args = (str(e).replace(e.advice, demo_advice(made[0])),)
            raise


def demo_advice(save_dir: Path) -> str:
    return f"What the demo wrote so far is in {save_dir}; yolodistill demo starts again in a new folder"


class DemoInterrupted(KeyboardInterrupt):
    """Ctrl-C once the demo's folder exists: where its files so far are."""

    def __init__(self, save_dir: Path):
        super().__init__(demo_advice(save_dir))


def run_demo(out: str | Path, quick: bool, device: str, threads: int, console: Console, made: list[Path]) -> DemoResult:
    from ultralytics.cfg import DEFAULT_CFG_DICT
    from ultralytics.utils.files import increment_path

    from .bench import bench
    from .compare import compare
    from .data import make_synthetic
    from .export import export_model
    from .report import markdown_table
    from .train import train
    from .utils import atomic_write_text

    from .checks import check_no_quote, check_output
    from .devices import concrete_device

    p = PRESETS["quick" if quick else "full"]
    device = concrete_device(device)
    check_output(out, "--out")
    check_no_quote(Path(out).resolve(), "--out", "pass a folder without one")  # its runs load their own best.pt
    if (base := Path(out).resolve()) in (here := Path.cwd().resolve(), *here.parents):
        raise UserError(f"--out '{out}' is the working folder or one above it, which the demo would not write into: "
                        f"a taken --out becomes its numbered sibling ({base.name or base}-2); pass a folder for the "
                        "demo, such as --out runs/demo")
    save_dir = increment_path(base, mkdir=False)
    try:
        save_dir.mkdir(parents=True)
    except OSError as e:
        raise UserError(f"cannot create '{save_dir}' ({e.strerror}): pass --out to a writable folder") from None
    made.append(save_dir)
    console.print(f"Demo folder: {escape(str(save_dir))}", soft_wrap=True, highlight=False)  # a rerun's is numbered

    seconds: dict[str, float] = {}
    start = last = time.perf_counter()

    def step(i: int, text: str) -> None:
        nonlocal last
        now = time.perf_counter()
        if i > 1:
            seconds[STEPS[i - 2]] = round(now - last, 1)
        last = now
        console.print(f"[bold cyan][{i}/{len(STEPS)}][/] {escape(text)}")

    step(1, f"synthetic dataset: {p['images']} images at {p['imgsz']} px")
    data = make_synthetic(save_dir / "data", images=p["images"], classes=3, imgsz=p["imgsz"], seed=0)
    step(2, f"teacher: yolo26s, {p['teacher_epochs']} epochs")
    teacher = train_teacher(data, save_dir, p["imgsz"], p["teacher_epochs"], p["batch"], device)
    step(3, f"students: plain and distilled yolo26n, {p['epochs']} epochs each (yolodistill compare)")
    result = compare(teacher, "yolo26n.yaml", data, p["epochs"], seeds=(0,), methods=("plain", "ours"),
                     project=save_dir, name="compare", exist_ok=True, console=console,
                     imgsz=p["imgsz"], batch=p["batch"], workers=0, device=device, plots=False, **TINY_DATA_ARGS)
    best = {r["method"]: Path(r["best"]) for r in result.runs}
    step(4, f"distilled student with {p['unlabeled']} unlabelled images too (yolodistill train --unlabeled; batches "
            f"of {p['batch']} labelled + {p['batch']} unlabelled, the same optimizer steps)")
    footage = unlabeled_images(save_dir, p["unlabeled"], p["imgsz"])
    # half of a mixed batch is unlabelled: at the others' batch this run took twice their batches and optimizer steps,
    # and its gain over them was partly those steps. Twice the batch and twice Ultralytics' nominal batch (nbs, by
    # which it accumulates and scales weight decay) give it their labelled images per step and their step count.
    best["unlabeled"] = train(teacher, "yolo26n.yaml", data, unlabeled=[str(footage)], epochs=p["epochs"], seed=0,
                              imgsz=p["imgsz"], batch=2 * p["batch"], nbs=2 * DEFAULT_CFG_DICT["nbs"], workers=0,
                              device=device, plots=False, project=str(save_dir / "compare"),
                              name="ours-unlabeled-seed0", **TINY_DATA_ARGS).best
    step(5, "export the distilled student to ONNX, with a parity check (yolodistill export)")
    exported = export_model(best["ours"], format="onnx", imgsz=p["imgsz"], data=data, device=device)
    console.print(exported.render())
    step(6, "bench teacher and students on the same val images (yolodistill bench)")
    artifacts = [teacher, best["plain"], best["ours"], best["unlabeled"], exported.artifact]
    bench_json = save_dir / "bench" / "bench.json"
    bench_rows = bench(artifacts, data=data, device=device, warmup=5, runs=30, json_path=bench_json, console=console,
                       threads=threads)  # --threads 1 left a core free for training only: bench took both
    labels = {str(teacher.resolve()): "teacher (yolo26s)", str(best["plain"].resolve()): "plain student (yolo26n)",
              str(best["ours"].resolve()): "distilled student (yolo26n)",
              str(best["unlabeled"].resolve()): "distilled + unlabelled (yolo26n)",
              str(Path(exported.artifact).resolve()): "distilled student (yolo26n)"}
    rows = summary_rows(bench_rows, labels)
    seconds[STEPS[-1]] = round(time.perf_counter() - last, 1)
    seconds["total"] = round(time.perf_counter() - start, 1)
    paths = {"data": data, "unlabelled images": footage, "teacher": teacher, "plain student": best["plain"],
             "distilled student": best["ours"], "distilled + unlabelled": best["unlabeled"],
             "onnx": Path(exported.artifact), "compare": result.md_path, "bench": bench_json,
             "summary": save_dir / "demo.md"}
    columns = list(rows[0])
    took = ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items())
    atomic_write_text(paths["summary"], "# yolodistill demo\n\n" + synthetic_note(p) + markdown_table(rows, columns)
                      + f"\n\nWall time ({'quick' if quick else 'full'} preset, {device}"
                      + (f", {threads} thread{'s' * (threads != 1)}" if device == "cpu" else "") + f"): {took}.\n"
                      + f"\n{MAP_NOTE}\n" + (f"\n{QUICK_NOTE}\n" if quick else ""))
    show(rows, paths, console)
    console.print(f"Demo finished in {minutes(seconds['total'])} ({took}).", highlight=False)
    if quick:
        console.print(QUICK_NOTE, highlight=False)
    return DemoResult(save_dir=save_dir, rows=rows, paths=paths, seconds=seconds)


MAP_NOTE = ("mAP here is bench's, on square images at imgsz as every export reads them; compare's (compare.md) is "
            "Ultralytics' own val, which batches by aspect ratio and pads each batch by half a stride (a 64 px image "
            "is read at 96 px), so the two can differ, most at a small imgsz: a teacher that reads padded images worse "
            "can look beaten there (a gap recovered above 100 %), where bench still puts it first.")


def synthetic_note(p: dict[str, Any]) -> str:
    """What demo.md's figures were measured on, where the file says it: a table alone read as a result."""
    return (f"Synthetic data (`yolodistill data synth`): {p['images']} images of 3 shape classes at {p['imgsz']} px, "
            f"students trained {p['epochs']} epochs, one seed. The figures show that every step works, not what "
            "distillation gains on real data (README: the BCCD study).\n\n")


def minutes(s: float) -> str:
    m, s = divmod(round(s), 60)
    return f"{m} min {s} s"


def show(rows: list[dict[str, Any]], paths: dict[str, Path], console: Console) -> None:
    """The closing table and the paths of everything written."""
    table = Table(title="Teacher, plain student and distilled students (same val images)")
    for col in rows[0]:
        table.add_column(col, justify="left" if col in ("model", "format") else "right")
    for r in rows:
        table.add_row(*(f"{v:.3f}" if isinstance(v, float) else escape(str(v)) for v in r.values()))
    print_whole(console, table)  # a narrow terminal cut every figure to '…
    console.print(MAP_NOTE, highlight=False)
    width = max(map(len, paths))
    for name, path in paths.items():
        console.print(f"  {name:<{width}} {escape(str(path))}", soft_wrap=True, highlight=False)
