"""Benchmark a student and its exports on the same images: latency, throughput, size, cost and mAP, one row each.

Latency is the backend's forward pass on one fixed, already letterboxed batch, so the numbers compare runtimes, not
image decoding or NMS (unless NMS is inside the graph). mAP comes from Ultralytics' validator on the val split with
a square letterbox for every format, so accuracy differences come from the artifact, not from padding.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import sysinfo
from .checks import check_device, check_task, load_detector
from .errors import UserError, check_batch, check_imgsz, check_output, first_line
from .export import check_runtime, export_metadata, load_data, load_model, train_arg, val_images, val_map
from .parity import runtime_precision
from .utils import atomic_write_bytes, atomic_write_json, atomic_write_text

KEYS = (
    "name", "artifact", "format", "precision", "imgsz", "batch", "device", "latency_ms", "throughput_ips", "size_mb",
    "params", "flops_g", "map50", "map50_95",
)
CSV_COLUMNS = (
    "name", "artifact", "format", "precision", "imgsz", "batch", "device", "latency_p50_ms", "latency_p90_ms",
    "latency_p99_ms", "throughput_ips", "size_mb", "params", "flops_g", "map50", "map50_95",
)
SUFFIX_FORMATS = {".pt": "pt", ".onnx": "onnx", ".engine": "engine"}
EXPORT_NAME = re.compile(r"^(?P<stem>.+?)(?:_int8)?(?:\.onnx|\.engine|_openvino_model)$")


def artifact_format(path: Path) -> str:
    """pt, onnx, openvino or engine, from the name Ultralytics gives each artifact."""
    if path.is_dir() and path.name.endswith("_openvino_model"):
        return "openvino"
    if path.is_file() and path.suffix in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[path.suffix]
    if not path.exists():
        raise UserError(f"artifact '{path}' does not exist: check the path")
    raise UserError(f"'{path}' is not a benchable artifact: pass a .pt, .onnx, *_openvino_model/ or .engine")


def newest_best(root: Path) -> Path:
    """best.pt of the newest run under runs/distill/, else runs/detect/ (newest by the checkpoint's mtime)."""
    for project in ("distill", "detect"):
        found = [p for p in (root / project).rglob("best.pt") if p.parent.name == "weights"]
        if found:
            return max(found, key=lambda p: p.stat().st_mtime)
    raise UserError(f"no weights/best.pt under {root}/distill or {root}/detect: name the artifacts to bench")


def exports_beside(best: Path) -> list[Path]:
    """The exports Ultralytics wrote next to `best` (best.onnx, best_int8.onnx, best_openvino_model/, best.engine)."""
    out = []
    for p in sorted(best.parent.iterdir()):
        m = EXPORT_NAME.match(p.name)
        if m and m["stem"] == best.stem and (p.is_dir() == p.name.endswith("_openvino_model")):
            out.append(p)
    return out


def source_checkpoint(path: Path) -> Path | None:
    """The .pt an artifact was exported from, if it is still beside it."""
    if path.suffix == ".pt":
        return path
    m = EXPORT_NAME.match(path.name)
    pt = path.parent / f"{m['stem']}.pt" if m else None
    return pt if pt and pt.is_file() else None


def run_data(checkpoints: list[Path]) -> Path:
    """The dataset yaml of the first checkpoint whose train args name one that still exists."""
    for pt in checkpoints:
        data = load_model(pt).ckpt.get("train_args", {}).get("data")
        if data and Path(data).is_file():
            return Path(data)
    raise UserError("cannot tell which dataset to validate on (no checkpoint names an existing data yaml): pass --data")


def torch_device(device: str):
    """Ultralytics' device parsing, with a bad or missing device as a UserError."""
    from ultralytics.utils.torch_utils import select_device

    try:
        return select_device(device, verbose=False)
    except ValueError as e:
        raise UserError(f"--device {device}: {first_line(e)}") from None


def row_names(paths: list[Path], cwd: Path | None = None) -> list[str]:
    """What each row is, for a reader: the run folder of a checkpoint or export in RUN/weights/ (teacher,
    plain-seed0, ours-seed0; RUN/last for last.pt), else the path relative to the working folder. With the format
    and precision beside it, no two rows read the same; where two still would, both show their path."""
    cwd = (cwd or Path.cwd()).resolve()

    def relative(p: Path) -> str:
        return os.path.relpath(p.resolve(), cwd)

    names = []
    for p in paths:
        m = EXPORT_NAME.match(p.name)
        stem = m["stem"] if m else p.stem
        if p.resolve().parent.name == "weights":
            run = p.resolve().parent.parent.name
            names.append(run if stem == "best" else f"{run}/{stem}")
        else:
            names.append(relative(p))
    keys = [(n, artifact_format(p), "int8" if "_int8" in p.name else "") for n, p in zip(names, paths)]
    return [relative(p) if keys.count(k) > 1 else n for n, p, k in zip(names, paths, keys)]


def open_backend(path: Path, device):
    """Load any artifact through Ultralytics' AutoBackend; a corrupt file becomes a UserError."""
    from ultralytics.nn.autobackend import AutoBackend

    try:
        return AutoBackend(str(path), device=device, verbose=False)
    except Exception as e:  # each runtime reports a bad model file its own way
        raise UserError(f"cannot load '{path}' ({first_line(e)}): re-export it") from None


def native_imgsz(backend, fmt: str) -> int:
    """The size an artifact was trained (.pt) or exported at."""
    return int(train_arg(backend.model, "imgsz", 640)) if fmt == "pt" else int(max(backend.imgsz))


def bench_imgsz(backend, fmt: str, path: Path, imgsz: int | None) -> int:
    """`imgsz` if the artifact accepts it (static exports take only their own size), else its native size."""
    native = native_imgsz(backend, fmt)
    if imgsz is None or imgsz == native:
        return native
    if fmt != "pt" and not backend.dynamic:
        raise UserError(
            f"'{path}' is a static export at {native} px: bench it at --imgsz {native} or re-export it --dynamic"
        )
    return imgsz


def precision_of(backend, fmt: str) -> str:
    """fp32, fp16 or int8, as recorded in the export metadata (checkpoints run in fp32)."""
    if fmt == "pt":
        return "fp32"
    return {8: "int8", 16: "fp16"}.get(backend.metadata.get("args", {}).get("quantize"), "fp32")


def input_batch(images: list[Path], imgsz: int, batch: int, device, fp16: bool):
    """One fixed batch of val images, letterboxed and normalised as Ultralytics' predictor does."""
    import cv2
    import torch
    from ultralytics.data.augment import LetterBox

    letterbox = LetterBox((imgsz, imgsz), auto=False)
    chosen = [images[i % len(images)] for i in range(batch)]
    arrays = [letterbox(image=cv2.imread(str(p)))[..., ::-1].transpose(2, 0, 1) for p in chosen]
    im = torch.from_numpy(np.ascontiguousarray(np.stack(arrays))).to(device)
    return (im.half() if fp16 else im.float()) / 255


def time_runs(backend, im, warmup: int, runs: int, progress: Progress, label: str, during=None) -> list[float]:
    """Seconds per forward pass over `runs` timed passes after `warmup` untimed ones; `during` wraps only the timed."""
    import torch

    sync = torch.cuda.synchronize if im.device.type == "cuda" else (lambda: None)
    times = []
    with torch.inference_mode():
        for _ in range(warmup):
            backend(im)
        sync()
        task = progress.add_task(label, total=runs)
        with during or contextlib.nullcontext():
            for _ in range(runs):
                t0 = time.perf_counter()
                backend(im)
                sync()
                times.append(time.perf_counter() - t0)
                progress.advance(task)
    return times


def latency_ms(times: list[float]) -> dict[str, float]:
    """p50, p90 and p99 of the per-run times, in milliseconds."""
    p50, p90, p99 = np.percentile(np.asarray(times) * 1000, [50, 90, 99])
    return {"p50": round(float(p50), 3), "p90": round(float(p90), 3), "p99": round(float(p99), 3)}


def model_cost(pt: Path | None, imgsz: int) -> tuple[int | None, float | None]:
    """Parameters and GFLOPs at `imgsz` of the fused checkpoint; None for both without one."""
    if pt is None:
        return None, None
    from ultralytics.utils.torch_utils import get_flops, get_num_params

    model = load_model(pt).model.fuse(verbose=False)
    flops = get_flops(model, imgsz)
    return get_num_params(model), round(flops, 3) if flops else None


@dataclass(frozen=True)
class Settings:
    """The bench options every artifact shares."""

    data: Path
    images: list[Path]
    imgsz: int | None
    device: str
    batch: int
    warmup: int
    runs: int
    system: sysinfo.System


def bench_one(path: Path, name: str, fmt: str, opts: Settings, progress: Progress, env: dict) -> dict:
    """One bench.json row for the artifact at `path`; Jetson power samples go into `env['energy']`."""
    from ultralytics.utils.files import file_size

    backend = open_backend(path, torch_device(opts.device))
    imgsz = bench_imgsz(backend, fmt, path, opts.imgsz)
    batch, runs = opts.batch, opts.runs
    im = input_batch(opts.images, imgsz, batch, backend.device, backend.fp16)
    sampler = sysinfo.PowerSampler(opts.system) if env["jetson"] else None
    times = time_runs(backend, im, opts.warmup, runs, progress, f"timing {name}", during=sampler)
    if sampler is not None:
        env["energy"][str(path)] = sysinfo.energy_record(sampler.samples_mw, sum(times), batch * runs)
    params, flops = model_cost(source_checkpoint(path), imgsz)
    map50, map50_95 = val_map(path, opts.data, imgsz, batch, opts.device)
    return {
        "name": name, "artifact": str(path), "format": fmt, "precision": precision_of(backend, fmt), "imgsz": imgsz,
        "batch": batch, "device": str(backend.device), "latency_ms": latency_ms(times),
        "throughput_ips": round(batch * runs / sum(times), 2), "size_mb": round(file_size(path), 3),
        "params": params, "flops_g": flops, "map50": round(map50, 4), "map50_95": round(map50_95, 4),
    }


def csv_text(rows: list[dict]) -> str:
    """bench.csv: one line per artifact, latency flattened into three columns."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        flat = {k: v for k, v in row.items() if k != "latency_ms"}
        flat.update({f"latency_{k}_ms": v for k, v in row["latency_ms"].items()})
        writer.writerow(flat)
    return buf.getvalue()


def cell(value) -> str:
    """A table cell: '-' for unknown values."""
    return "-" if value is None else str(value)


def table_rows(rows: list[dict]) -> list[list[str]]:
    """The columns shared by the terminal table and bench.md."""
    return [
        [r["name"], r["format"], r["precision"], str(r["imgsz"]), *map(str, r["latency_ms"].values()),
         str(r["throughput_ips"]), str(r["size_mb"]), cell(r["params"]), cell(r["flops_g"]), cell(r["map50"]),
         cell(r["map50_95"])]
        for r in rows
    ]


HEADERS = ["model", "format", "precision", "imgsz", "p50 ms", "p90 ms", "p99 ms", "img/s", "MB", "params",
           "GFLOPs", "mAP50", "mAP50-95"]


def markdown_text(rows: list[dict], env: dict) -> str:
    """bench.md: the table, and where it ran."""
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(rows)]
    where = env["jetson"]["board"] if env["jetson"] else env["cpu"]
    return "\n".join([f"# Benchmark on {where}", "", *lines, ""])


def plot_png(rows: list[dict]) -> bytes:
    """Latency p50 against mAP50-95, one labelled point per artifact (Agg canvas, no global pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for r in rows:
        x, y = r["latency_ms"]["p50"], r["map50_95"]
        ax.scatter(x, y)
        ax.annotate(f"{r['name']} ({r['format']} {r['precision']})", (x, y), fontsize=7,
                    textcoords="offset points", xytext=(4, 4))
    ax.set_xlabel(f"latency p50 (ms, batch {rows[0]['batch']})")
    ax.set_ylabel("mAP50-95")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def report_paths(json_path: Path) -> list[Path]:
    """What `write_reports` writes: bench.json, its _env.json, .csv, .md and .png."""
    stem = json_path.with_suffix("")
    return [json_path, stem.with_name(f"{stem.name}_env.json"), *(stem.with_suffix(x) for x in (".csv", ".md", ".png"))]


def write_reports(rows: list[dict], env: dict, json_path: Path) -> list[Path]:
    """bench.json (a list of rows with exactly KEYS), its _env.json, .csv, .md and .png, all written atomically."""
    paths = report_paths(json_path)
    return [
        atomic_write_json(paths[0], [{k: r[k] for k in KEYS} for r in rows]),
        atomic_write_json(paths[1], env),
        atomic_write_text(paths[2], csv_text(rows)),
        atomic_write_text(paths[3], markdown_text(rows, env)),
        atomic_write_bytes(paths[4], plot_png(rows)),
    ]


def terminal_cells(r: dict) -> list[str]:
    """A row rounded for an 80-column terminal (bench.md and bench.json keep every digit and column)."""
    num = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
    lat = r["latency_ms"]
    return [r["name"], r["format"], r["precision"], num(lat["p50"], ".2f"), num(lat["p90"], ".2f"),
            num(lat["p99"], ".2f"), num(r["throughput_ips"], ".0f"), num(r["size_mb"], ".1f"),
            num(r["map50"], ".3f"), num(r["map50_95"], ".3f")]


TERMINAL_HEADERS = ["model", "fmt", "prec", "p50", "p90", "p99", "img/s", "MB", "mAP50", "mAP50-95"]


def print_table(rows: list[dict], env: dict, console: Console) -> None:
    """The rich table, with energy per image when a Jetson measured it. The input size goes in the title when every
    row shares it, else in a column: a 64 px checkpoint and its 96 px export are not the same measurement."""
    one_size = len({r["imgsz"] for r in rows}) == 1
    size = f", imgsz {rows[0]['imgsz']}" if one_size else ""
    table = Table(title=f"yolodistill bench: latency in ms{size}, batch {rows[0]['batch']}")
    energy = env.get("energy", {})
    headers = TERMINAL_HEADERS[:3] + ([] if one_size else ["imgsz"]) + TERMINAL_HEADERS[3:]
    for h in headers + (["J/img"] if energy else []):
        table.add_column(h, justify="left" if h in {"model", "fmt", "prec"} else "right", min_width=len(h))
    for row in rows:
        joules = energy.get(row["artifact"], {}).get("energy_j_per_image")
        extra = ["-" if joules is None else f"{joules:.4g}"] if energy else []
        cells = terminal_cells(row)
        table.add_row(*cells[:3], *([] if one_size else [str(row["imgsz"])]), *cells[3:], *extra)
    console.print(table)


def validate(batch: int, warmup: int, runs: int, imgsz: int | None, device: str, json_path: Path | None) -> None:
    """Reject settings that cannot give a measurement, or whose results could not be written, before loading
    anything."""
    check_device(device)
    if json_path is not None:
        check_output(json_path, "--json", kind="file")
    check_batch(batch)
    if runs < 1 or warmup < 0:
        raise UserError(f"need --runs >= 1 and --warmup >= 0, got {runs} and {warmup}")
    check_imgsz(imgsz)


def check_detector(path: Path, fmt: str) -> None:
    """Refuse a classify, segment or other non-detect artifact before any timing: Ultralytics' detection validator
    fails on it with a traceback."""
    if fmt == "pt":
        load_detector(path, "artifact")
        return
    task = export_metadata(path).get("task")
    if task is not None:  # None: no metadata to go by, AutoBackend decides
        check_task(task, "artifact", path)


def select_artifacts(artifacts: list[Path] | None, root: Path, device: str, console: Console) -> list[tuple[Path, str]]:
    """The named artifacts, or the newest run's best.pt and its exports; all checked before any timing."""
    if artifacts:
        chosen = [(Path(p), artifact_format(Path(p))) for p in artifacts]
        for path, fmt in chosen:
            check_runtime(fmt, device)
            check_detector(path, fmt)
        return chosen
    best = newest_best(root)
    check_detector(best, "pt")
    chosen = []
    for p in [best, *exports_beside(best)]:
        fmt = artifact_format(p)
        try:
            check_runtime(fmt, device)
        except UserError as e:  # an export made elsewhere (a Jetson's .engine) is skipped, not fatal
            console.print(f"[yellow]Skipping {p.name}:[/] {e}")
            continue
        if p != best and p.stat().st_mtime < best.stat().st_mtime:  # a run retrained into the folder (--exist-ok)
            console.print(f"[yellow]Warning:[/] {p.name} is older than {best.name} beside it, so it may be an export "
                          f"of earlier weights: export again to bench the current ones")
        chosen.append((p, fmt))
    return chosen


def bench(
    artifacts: list[Path] | None = None,
    data: Path | None = None,
    imgsz: int | None = None,
    device: str = "cpu",
    batch: int = 1,
    warmup: int = 10,
    runs: int = 100,
    json_path: Path | None = None,
    console: Console | None = None,
    *,
    root: Path = Path("runs"),
    system: sysinfo.System | None = None,
) -> list[dict]:
    """Bench every artifact on the same val images; print a table and write bench.json/.csv/.md/.png + env record."""
    console = console or Console()
    system = system or sysinfo.System()
    validate(batch, warmup, runs, imgsz, device, json_path)
    chosen = select_artifacts(artifacts, root, device, console)
    json_path = check_output(json_path or chosen[0][0].parent / "bench.json", "--json", kind="file")
    replaced = describe_bench(json_path)  # before any timing: a file bench did not write is refused here
    data = Path(data) if data else run_data([pt for p, _ in chosen if (pt := source_checkpoint(p))])
    opts = Settings(data, val_images(load_data(data)), imgsz, device, batch, warmup, runs, system)
    env, warnings = sysinfo.collect(system)
    env.update(data=str(data), warmup=warmup, runs=runs, latency_scope="backend forward on one letterboxed batch")
    if any(fmt == "openvino" for _, fmt in chosen):  # its CPU plugin may run fp32 models in bf16 (parity.py)
        env["openvino_cpu_precision"] = runtime_precision("openvino", "fp32")
    if env["jetson"]:
        env["energy"] = {}
    for w in warnings:
        console.print(f"[yellow]Warning:[/] {w}")
    rows = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True) as progress:
        for (path, fmt), name in zip(chosen, row_names([p for p, _ in chosen])):
            rows.append(bench_one(path, name, fmt, opts, progress, env))
    print_table(rows, env, console)
    written = write_reports(rows, env, json_path)
    console.print("Wrote " + ", ".join(str(p) for p in written))
    if replaced:  # as export says which export it replaced: a Jetson's earlier figures may be the only ones
        console.print(f"[yellow]Replaced[/] the earlier {escape(str(json_path))} ({replaced}) and the files beside "
                      "it; pass --json elsewhere to keep both")
    return rows


def is_bench_record(path: Path) -> bool:
    """Whether `path` holds what bench writes: a list of rows with bench's keys."""
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(rows, list) and all(isinstance(r, dict) and set(KEYS) <= set(r) for r in rows)


def describe_bench(path: Path) -> str:
    """An earlier bench record at `path` in a few words (rows, machine, date), empty when there is none. Files
    bench would write over that are not its own (a user's report.md beside --json report.json) are refused."""
    if not path.is_file():
        foreign = [p for p in report_paths(path) if p.exists()]
        if foreign:
            raise UserError(f"--json {path} would replace {foreign[0]}, which bench did not write: pass --json with "
                            f"another name (bench writes {', '.join(p.name for p in report_paths(path))})")
        return ""
    if not is_bench_record(path):
        raise UserError(f"--json {path} exists and is not an earlier bench record: pass --json with another name")
    rows = json.loads(path.read_text())
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
    try:
        env = json.loads(report_paths(path)[1].read_text())
        machine = (env.get("jetson") or {}).get("board") or env.get("gpu") or env.get("cpu")
    except (OSError, ValueError, AttributeError):
        machine = None
    n = f"{len(rows)} row{'s' if len(rows) != 1 else ''}"
    return ", ".join(x for x in (n, f"on {machine}" if machine else "", f"written {when}") if x)
