"""Turning runs into numbers people can trust: the summary math, tables, JSON records and plots.

The generic pieces (`mean_std`, `markdown_table`, `rich_table`, `write_json`, `environment`) carry no knowledge of
`compare`, so benchmark scripts can reuse them; the `compare_*` functions render one `yolodistill compare` record,
and `distill_plot` a training run's distillation terms, which Ultralytics' results.png leaves out.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table

from .utils import atomic_write_bytes, atomic_write_text

DASH = "—"  # an empty cell: the value does not exist, as opposed to a measured zero


def percent(share: float) -> str:
    """A share as a whole percentage; one just below zero reads 0%, not -0%."""
    text = f"{share:.0%}"
    return "0%" if text == "-0%" else text


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation: the spread an unseen seed would show, 0 for a single seed."""
    values = [float(v) for v in values]
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def gap_recovered(value: float, plain: float | None, teacher: float | None) -> float | None:
    """Share of the teacher-student gap a method closes; None when there is no gap to close (or nothing to
    measure it against), because dividing by zero or a negative gap gives a number that means nothing."""
    if plain is None or teacher is None or teacher <= plain:
        return None
    return (value - plain) / (teacher - plain)


def summarize(runs: Sequence[Mapping[str, Any]], teacher: float | None) -> tuple[dict[str, dict], list[str]]:
    """Per-method statistics over seeds, keyed by method in the order the runs list them, and notes explaining
    every undefined number. `teacher` is the teacher's mAP50-95; runs carry method, seed, map50, map50_95,
    epoch_time_s. `seeds_below_plain` pairs runs by seed, since a seed fixes the data order both runs saw."""
    by_method: dict[str, list[Mapping[str, Any]]] = {}
    for run in runs:
        by_method.setdefault(run["method"], []).append(run)
    plain_runs = {r["seed"]: r["map50_95"] for r in by_method.get("plain", [])}
    plain = mean_std(list(plain_runs.values()))[0] if plain_runs else None
    notes = []
    if plain is None:
        notes.append("gap recovered is undefined: the plain student was not run")
    elif teacher is None or teacher <= plain:
        notes.append(
            f"gap recovered is undefined: the teacher's mAP50-95 ({fmt(teacher)}) does not exceed the plain "
            f"student's ({fmt(plain)})"
        )
    summary = {}
    for method, group in by_method.items():
        map50, map50_std = mean_std([r["map50"] for r in group])
        map50_95, map50_95_std = mean_std([r["map50_95"] for r in group])
        below, base = None, plain
        if method != "plain" and plain_runs:
            below = sum(r["map50_95"] < plain_runs[r["seed"]] for r in group if r["seed"] in plain_runs)
            if shared := [plain_runs[r["seed"]] for r in group if r["seed"] in plain_runs]:  # a method run on
                base = mean_std(shared)[0]  # seed 0 alone is set against plain's seed 0, not its mean of three
        summary[method] = {
            "seeds": [r["seed"] for r in group],
            "map50_mean": map50,
            "map50_std": map50_std,
            "map50_95_mean": map50_95,
            "map50_95_std": map50_95_std,
            "map50_95_min": min(float(r["map50_95"]) for r in group),
            "epoch_time_s": mean_std([r["epoch_time_s"] for r in group])[0],
            "gap_recovered": gap_recovered(map50_95, base, teacher),
            "seeds_below_plain": below,
        }
    return summary, notes


def epochs_note(runs: list[Mapping[str, Any]], epochs: int) -> list[str]:
    """Runs that trained another number of epochs than asked (patience= stops a run early, time= sets its own count):
    the title says the count asked, and one method stopped at 4 of 6 was compared with the others' 6 without a word."""
    other = [f"{r['method']} seed {r['seed']} {r['epochs']}" for r in runs if r.get("epochs") not in (None, epochs)]
    apart = len({r["epochs"] for r in runs if r.get("epochs") is not None}) > 1
    return [f"trained other than the {epochs} epochs asked (patience= stops a run early, time= sets its own count): "
            f"{', '.join(other)}{'; the methods compare at different lengths' if apart else ''}"] if other else []


def unlabeled_note(images: Mapping[str, Any]) -> list[str]:
    """A comparison whose ours trained on unlabelled images too, from its run's record (distill.yaml's `images`):
    its batches were mixed, so its epochs may have had more steps. The ratio asked for is no share of a batch (it is
    rounded, and kept between 1 and batch - 1 images)."""
    n, k, kept = images.get("unlabeled"), images.get("batch_unlabeled"), images.get("batch_labelled")
    if not n or not k or not kept:
        return []
    labelled = images.get("labelled") or 0
    ours, others = math.ceil(labelled / kept), math.ceil(labelled / (kept + k))
    steps = (f"it made {ours} batches (optimizer steps) an epoch against the other methods' {others}, and any gain it "
             "shows may come in part from those steps" if ours > others else
             "it made as many batches an epoch as the others")
    return [f"ours also trained on {n} unlabelled images, {k} in each batch of {kept + k}: {steps}"]


def optimizer_note(runs: list[Mapping[str, Any]]) -> list[str]:
    """Runs that trained with different optimizers (optimizer=auto chooses by a run's optimizer steps, which ours'
    unlabelled images raise): args.yaml says 'auto' for each, so the report says what each took."""
    took: dict[str, dict[str, None]] = {}  # 'AdamW (lr0 0.001)' -> the methods that took it
    for r in runs:
        if r.get("optimizer") and r.get("lr0") is not None:
            took.setdefault(f"{r['optimizer']} (lr0 {r['lr0']:g})", {})[r["method"]] = None
    if len(took) < 2:
        return []
    by = "; ".join(f"{', '.join(methods)} {optimizer}" for optimizer, methods in took.items())
    return [f"the runs trained with different optimizers ({by}): optimizer=auto chooses by a run's optimizer steps; "
            "pass optimizer= (e.g. optimizer=AdamW) to give every run the same one"]


def fmt(value: Any, digits: int = 3) -> str:
    """A table cell: fixed decimals for floats so columns line up, a dash for missing values."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return DASH
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A GitHub markdown table; `columns` are both the row keys and the headers."""
    def cell(v: Any) -> str:
        return fmt(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def rich_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], title: str | None = None) -> Table:
    """The same table for the terminal. Values that contain spaces never wrap (a mean ± std split over two lines
    reads as two numbers); headers wrap instead, and light borders leave room for them in 80 columns."""
    cells = [[fmt(row.get(c)) for c in columns] for row in rows]
    table = Table(title=title, box=box.SIMPLE_HEAD, collapse_padding=True)
    for i, c in enumerate(columns):
        table.add_column(c, justify="left" if i == 0 else "right", no_wrap=any(" " in r[i] for r in cells))
    for r in cells:
        table.add_row(*r)
    return table


def print_whole(console: Any, table: Table, words: bool = False) -> None:
    """Print a table at its own width where the terminal (or a log) is narrower, so that the terminal wraps its lines:
    rich cut compare's and demo's numbers to '0.0…' at 60 columns, and dropped the method column at 40. `words`: at
    the least width that keeps each word whole, its prose wrapped within the cells (info's)."""
    from rich.measure import Measurement

    measured = Measurement.get(console, console.options.update_width(10_000), table)
    need = measured.minimum if words else measured.maximum
    before, console.width = console.width, max(console.width, need)  # print's width= cannot widen
    try:
        console.print(table)
    finally:
        console.width = before


def finite(obj: Any) -> Any:
    """NaN and infinity as null: `json.dumps` would write them as bare NaN, which is not JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {str(k): finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def write_json(path: str | Path, obj: Any) -> Path:
    """Strict JSON (no NaN), indented, written atomically so a reader never sees half a record."""
    return atomic_write_text(path, json.dumps(finite(obj), indent=2, allow_nan=False, default=str) + "\n")


def environment() -> dict[str, Any]:
    """Library versions and the machine: timings and even mAP shift with them."""
    import torch
    import ultralytics

    from . import __version__

    return {
        "versions": {
            "yolodistill": __version__, "ultralytics": ultralytics.__version__, "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
    }


SUMMARY_COLUMNS = ("method", "mAP50", "mAP50-95", "lowest", "epoch s", "gap recovered", "below plain")
RUN_COLUMNS = ("method", "seed", "mAP50", "mAP50-95", "epoch s", "run")


def pm(mean: float, std: float, n: int) -> str:
    """Mean and spread in one cell: a mean without its spread invites reading noise as an effect. One seed has no
    spread to show (a '± 0.000' would claim one)."""
    return f"{mean:.3f} ± {std:.3f}" if n > 1 else f"{mean:.3f}"


def compare_rows(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per method, then the teacher, for both the terminal and the markdown table."""
    rows = []
    for method, s in record["summary"].items():
        gap = s["gap_recovered"]
        below = s["seeds_below_plain"]
        rows.append({
            "method": method,
            "mAP50": pm(s["map50_mean"], s["map50_std"], len(s["seeds"])),
            "mAP50-95": pm(s["map50_95_mean"], s["map50_95_std"], len(s["seeds"])),
            "lowest": s["map50_95_min"],
            "epoch s": fmt(s["epoch_time_s"], 2),
            "gap recovered": None if gap is None else percent(gap),
            "below plain": None if below is None else f"{below}/{len(s['seeds'])}",
        })
    teacher = record["teacher"]
    rows.append({"method": "teacher", "mAP50": teacher["map50"], "mAP50-95": teacher["map50_95"]})
    return rows


def run_rows(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per run, so a single odd seed behind a mean can be spotted."""
    return [
        {
            "method": r["method"], "seed": r["seed"], "mAP50": r["map50"], "mAP50-95": r["map50_95"],
            "epoch s": fmt(r["epoch_time_s"], 2), "run": Path(r["run_dir"]).name,
        }
        for r in record["runs"]
    ]


def compare_table(record: Mapping[str, Any]) -> Table:
    """The summary for the terminal, titled with what was compared."""
    args = record["args"]
    title = (f"{args['student']} from {model_name(args['teacher'])}: {epochs_said(args['epochs'])}, seeds "
             f"{seed_list(args)}")
    return rich_table(compare_rows(record), SUMMARY_COLUMNS, title=title)


def model_name(path: str | Path) -> str:
    """A checkpoint's name, with its run's where Ultralytics named it best.pt or last.pt: every trained teacher is a
    best.pt, so the title named none of them ('RUN's best.pt': 'RUN/best.pt' read as a path that is not there)."""
    path = Path(path)
    if path.name in ("best.pt", "last.pt") and path.parent.name == "weights" and path.parent.parent.name:
        return f"{path.parent.parent.name}'s {path.name}"
    return path.name


def epochs_said(epochs: Any) -> str:
    """'1 epoch', '3 epochs' ("1 epochs" read as a slip)."""
    return f"{epochs} epoch{'s' * (epochs != 1)}"


def seed_list(args: Mapping[str, Any]) -> str:
    """'0, 1, 2': which seeds, not just how many, so a rerun can add new ones."""
    return ", ".join(str(s) for s in args["seeds"])


def compare_markdown(record: Mapping[str, Any], plot_name: str = "compare.png") -> str:
    """compare.md: what was compared, the summary, the notes, every run, and how to reproduce it."""
    args, env = record["args"], record["environment"]
    machine, versions = env["machine"], env["versions"]
    parts = [
        "# yolodistill compare\n",
        f"Teacher `{args['teacher']}`, student `{args['student']}`, data `{args['data']}`, "
        f"{epochs_said(args['epochs'])}, seeds {seed_list(args)}.\n",
        markdown_table(compare_rows(record), SUMMARY_COLUMNS),
        "mAP comes from the final validation of each run's `weights/best.pt`; ± is the sample standard deviation "
        "over seeds; lowest is the worst seed's mAP50-95; gap recovered = (method − plain) / (teacher − plain) on "
        "mean mAP50-95; below plain counts seeds where the method scored under the plain student with the same "
        "seed.\n",
        *(f"- {note}\n" for note in record["notes"]),
        f"![mAP50-95 per method]({plot_name})\n",
        "## Runs\n",
        markdown_table(run_rows(record), RUN_COLUMNS),
        "## Reproduce\n",
        f"```\n{record['command']}\n```\n",
        f"{machine['platform']}, {machine['cpu_count']} CPUs, GPU {machine['gpu'] or 'none'}; "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + "\n",
    ]
    return "\n".join(parts)


def compare_plot(record: Mapping[str, Any], path: str | Path) -> Path:
    """mAP50-95 per method: every seed as a dot, the mean with its std as an error bar, the teacher as a line."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state, works headless

    methods = list(record["summary"])
    fig = Figure(figsize=(1.6 * len(methods) + 2.5, 4), layout="constrained")
    ax = fig.add_subplot()
    for x, method in enumerate(methods):
        values = [r["map50_95"] for r in record["runs"] if r["method"] == method]
        offsets = [0.0] if len(values) == 1 else [0.24 * (i / (len(values) - 1) - 0.5) for i in range(len(values))]
        several = len(record["args"]["seeds"]) > 1  # one seed: its value alone, no '± std' of nothing
        if several:
            ax.scatter([x + o for o in offsets], values, s=18, color="0.55", zorder=2, label="seed" if x == 0 else None)
        s = record["summary"][method]
        ax.errorbar(x, s["map50_95_mean"], yerr=s["map50_95_std"], fmt="o", color="C0", markersize=8, capsize=6,
                    zorder=3, label=("mean ± std" if several else "one seed") if x == 0 else None)
    teacher = record["teacher"]["map50_95"]
    ax.axhline(teacher, color="C3", linestyle="--", label=f"teacher {teacher:.3f}")
    ax.set_xticks(range(len(methods)), methods)
    ax.set_xlim(-0.6, len(methods) - 0.4)
    ax.set_ylim(max(ax.get_ylim()[0], 0.0), ax.get_ylim()[1])  # autoscale shows the differences; mAP is never < 0
    ax.set_ylabel("mAP50-95")
    args = record["args"]
    seeds = len(args["seeds"])
    ax.set_title(f"{model_name(args['student'])}, {epochs_said(args['epochs'])}, {seeds} seed{'s' * (seeds != 1)}",
                 wrap=True)  # the file's name: a long --student path ran off the figure
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    return atomic_write_bytes(path, buf.getvalue())


def distill_plot(results_csv: str | Path, path: str | Path) -> Path | None:
    """The distillation terms a run used, per epoch (weighted, as results.csv logs them), and their sum over the
    detection loss's: the ratio the schedule decays (on YOLO26 the one-to-many weight too: the terms carry it, the
    logged detection loss is the one-to-one branch's, unweighted). Ultralytics' results.png plots only columns named
    `*loss*`. None when the run logged no term."""
    from matplotlib.figure import Figure

    with open(results_csv, newline="") as f:
        rows = [{k.strip(): float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    terms = [k for k in (rows[0] if rows else {}) if k.startswith("train/kd_") and any(row[k] for row in rows)]
    if not terms:  # none logged, or all off (the teacher start alone)
        return None
    epochs = [row["epoch"] for row in rows]
    detection = [sum(v for k, v in row.items() if k.startswith("train/") and k.endswith("_loss")) for row in rows]
    fig = Figure(figsize=(3.2 * (len(terms) + 1), 3.2), layout="constrained")
    axes = fig.subplots(1, len(terms) + 1)
    for ax, key in zip(axes, terms):
        ax.plot(epochs, [row[key] for row in rows], marker=".")
        ax.set_title(key)
    ratio = [sum(row[k] for k in terms) / d if d else math.nan for row, d in zip(rows, detection)]
    axes[-1].plot(epochs, ratio, marker=".", color="C3")
    axes[-1].set_title("distillation / detection")
    from matplotlib.ticker import MaxNLocator

    for ax in axes:
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # 0.95-1.05 for one epoch, 1.5 and 2.5 for three
        ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return atomic_write_bytes(path, buf.getvalue())


DEFINITIONS = {
    "map50, map50_95": "final validation of the run's weights/best.pt at the end of training (Ultralytics' "
    "trainer.metrics); the last results.csv row is the last epoch's EMA model instead. Under DDP, where that "
    "validation runs in the workers, the results.csv row of best.pt's epoch (the first with the highest mAP50-95)",
    "epoch_time_s": "mean of the differences of results.csv's cumulative time column: training plus the per-epoch "
    "validation, without setup and the final validation",
    "std": "sample standard deviation over seeds (0 for one seed)",
    "gap_recovered": "(method - plain) / (teacher - plain) on mean mAP50-95, plain's over the method's seeds; null "
    "when plain was not run or the teacher does not beat it",
    "seeds_below_plain": "seeds where the method's mAP50-95 is below the plain student's with the same seed",
}


def method_descriptions(methods: list[str], base: dict[str, Any], distill: dict[str, Any]) -> dict[str, Any]:
    """What each method adds to the shared train args, so the record says exactly what was compared."""
    from ultralytics.utils import DEFAULT_CFG

    known = {
        "plain": {"trainer": "ultralytics DetectionTrainer", "teacher": False},
        "builtin": {"trainer": "ultralytics DetectionTrainer, distill_model=teacher", "teacher": True,
                    "dis": base.get("dis", DEFAULT_CFG.dis)},
        "ours": {"trainer": "yolodistill DistillationTrainer", "teacher": True, "distill": distill},
    }
    return {m: known[m] for m in methods}
