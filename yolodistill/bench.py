"""Benchmark a student and its exports on the same images: latency, throughput, size, cost and mAP, one row each.

Latency is the backend's forward pass on one fixed, already letterboxed batch, so the numbers compare runtimes, not
image decoding or NMS (unless NMS is inside the graph). mAP comes from Ultralytics' validator on the val split with
a square letterbox for every format, so accuracy differences come from the artifact, not from padding.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from . import sysinfo
from .benchreport import describe_bench, print_table, provenance, write_reports, written_before_the_stop
from .checks import check_channels, check_names
from .devices import concrete_device
from .errors import (UserError, check_input_size, check_no_quote, check_output, check_path, first_line, given, is_url,
                     python_values, root_cause)
from .loading import u_name
from .locks import exclusive, holding
from .artifacts import EXPORT_NAME, describes, export_metadata, graph_head, named_checkpoint, source_checkpoint
from .data import has_labels
from .accepts import (BENCH_TWIN, bench_imgsz, check_detector, check_engine_profile, check_export_batch,
                      validate)
from .runtimes import ONNX_ON_CPU, runtime_device
from .export import check_runtime, load_data, load_model, readable_val_images, trained_data, val_images, val_map
from .parity import runtime_precision
from .utils import check_threads, cpu_threads, quieter, remembered_interrupt, walk_once

SUFFIX_FORMATS = {".pt": "pt", ".onnx": "onnx", ".engine": "engine"}


def artifact_format(path: Path) -> str:
    """pt, onnx, openvino or engine, from the name Ultralytics gives each artifact."""
    if path.is_dir() and path.name.endswith("_openvino_model"):
        return "openvino"
    if path.is_file() and path.suffix.lower() in SUFFIX_FORMATS:  # Best.PT loads as Ultralytics loads it
        return SUFFIX_FORMATS[path.suffix.lower()]
    if not path.exists():
        if is_url(path):  # a Path has folded its // to /
            url = re.sub(r"^(https?):/+", r"\1://", str(path), flags=re.I)
            raise UserError(f"artifact '{url}' is a URL: bench times files on this machine, so download it and pass "
                            "the local file")
        raise UserError(f"artifact '{path}' does not exist: check the path")
    raise UserError(f"'{path}' is not a benchable artifact: pass a .pt, .onnx, *_openvino_model/ or .engine")


def newest_best(root: Path) -> Path:
    """best.pt of the newest run under runs/distill/, else runs/detect/ (newest by the checkpoint's mtime)."""
    for project in ("distill", "detect"):
        found = [p for p in runs_best(root / project) if p.parent.name == "weights"]
        if found:
            return max(found, key=lambda p: p.stat().st_mtime)
    raise UserError(f"no weights/best.pt under {root}/distill or {root}/detect: name the artifacts to bench")


def runs_best(folder: Path) -> list[Path]:
    """Every best.pt under `folder`, through linked run folders too (rglob passes them by: an older run was benched as
    the newest, or none found), each real folder once (a link to a folder above is no loop)."""
    found = []
    for here, dirs, files in walk_once(folder):
        if len(Path(here).relative_to(folder).parts) >= 4:  # NAME/weights, a nested NAME: not a dataset linked in,
            dirs[:] = []  # walked whole
        found += [Path(here) / "best.pt"] if "best.pt" in files else []
    return found


def exports_beside(best: Path) -> list[Path]:
    """The exports Ultralytics wrote next to `best` (best.onnx, best_int8.onnx, best_openvino_model/, best.engine)."""
    out = []
    for p in sorted(best.parent.iterdir()):
        m = EXPORT_NAME.match(p.name)
        if m and m["stem"] == best.stem and (p.is_dir() == p.name.endswith("_openvino_model")):
            out.append(p)
    return out


def warn_other_source(path: Path, console: Console) -> None:
    """Say so where the .pt of an export's name is another model than the export: its figures are left out."""
    pt = named_checkpoint(path) if path.suffix.lower() != ".pt" else None
    if pt is not None and not describes(meta := export_metadata(path), pt):
        console.print(f"[yellow]Warning:[/] {escape(pt.name)} beside {escape(path.name)} is not the model it was "
                      f"exported from ({escape(str(meta.get('description', '')).strip())}, by its metadata): its "
                      "parameters, GFLOPs and dataset are not read from it", soft_wrap=True)


def run_dataset(data: str | Path | None, chosen: list[tuple[Path, str]]) -> tuple[dict, Path]:
    """The --data given, or the run's own dataset, whose faults the user should not read as a flag they never typed.
    Its val split must have labels: without them every mAP reads 0, as if measured."""
    if data:
        dataset, named = load_data(data), f"--data '{data}'"
    else:
        data = run_data([pt for p, _ in chosen if (pt := source_checkpoint(p))])
        named = f"the run's dataset '{data}' (read from its checkpoint)"
        try:
            dataset = load_data(data, named)
        except UserError as e:
            raise UserError(f"{e}; or pass --data DATA.yaml") from None
    if not has_labels(val_images(dataset)):
        raise UserError(f"{named}: no image of its val split has labels, so every mAP would read 0: label it, or "
                        "pass --data with a labelled val split")
    return dataset, Path(data)


def check_val_loads(dataset: dict, data: Path) -> None:
    """Build Ultralytics' val dataset once, before any timing: a split only its loader refuses (every image corrupt,
    every label beyond the names) stopped bench after the first artifact's timing, which on a Jetson takes minutes."""
    from ultralytics.cfg import get_cfg
    from ultralytics.data import build_yolo_dataset

    from .checks import split_refusals

    with split_refusals(data), quieter(logging.ERROR):  # its scan line and a warning per corrupt image: the refusal
        build_yolo_dataset(get_cfg(overrides={"task": "detect"}), dataset["val"], 1, dataset, mode="val")  # says enough


def run_data(checkpoints: list[Path]) -> Path:
    """The dataset yaml of the first checkpoint whose train args name one that still exists."""
    for pt in checkpoints:
        data = trained_data(load_model(pt))
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

    if path.is_dir() and not any(path.glob("*.xml")):  # AutoBackend would fail with a bare StopIteration
        raise UserError(f"'{path}' holds no .xml model (an OpenVINO export has NAME.xml and NAME.bin): re-export it")
    try:
        with quieter(logging.WARNING):  # its "Loading NAME for ONNX Runtime inference..." even with verbose=False
            return AutoBackend(str(path), device=device, verbose=False)
    except Exception as e:  # each runtime reports a bad model file its own way
        raise UserError(f"cannot load '{path}' ({root_cause(e)}): re-export it") from None


def precision_of(backend, fmt: str) -> str:
    """fp32, fp16 or int8, as recorded in the export metadata (checkpoints run in fp32); with the precision the
    runtime computes in where that is lower (OpenVINO on a CPU with bf16 units: 'fp32 (runs bf16)'), so the table does
    not call a bf16 measurement fp32."""
    if fmt == "pt":
        return "fp32"
    stored = {8: "int8", 16: "fp16"}.get(backend.metadata.get("args", {}).get("quantize"), "fp32")
    runs = runtime_precision(fmt, stored)
    return stored if runs == stored else f"{stored} (runs {runs})"


def input_batch(images: list[Path], imgsz: int, batch: int, device, fp16: bool, channels: int = 3):
    """One fixed batch of val images, letterboxed and normalised as Ultralytics' predictor does: grey for a model of
    one channel (`channels: 1` data; three were a traceback at the first timed run), else BGR made RGB."""
    import cv2
    import torch
    from ultralytics.data.augment import LetterBox
    from ultralytics.utils.patches import imread

    letterbox = LetterBox((imgsz, imgsz), auto=False)
    chosen = [images[i % len(images)] for i in range(batch)]
    flag = cv2.IMREAD_GRAYSCALE if channels == 1 else cv2.IMREAD_COLOR
    boxed = [letterbox(image=imread(str(p), flag)) for p in chosen]  # as readable_images
    arrays = [(b[..., None] if b.ndim == 2 else b[..., ::-1]).transpose(2, 0, 1) for b in boxed]
    im = torch.from_numpy(np.ascontiguousarray(np.stack(arrays))).to(device)
    return (im.half() if fp16 else im.float()) / 255


def time_runs(backend, im, warmup: int, runs: int, progress: Progress, label: str, during=()) -> list[float]:
    """Seconds per forward pass over `runs` timed passes after `warmup` untimed ones; the context managers of `during`
    wrap only the timed."""
    import torch

    sync = torch.cuda.synchronize if im.device.type == "cuda" else (lambda: None)
    times = []
    with torch.inference_mode():
        for _ in range(warmup):
            backend(im)
        sync()
        task = progress.add_task(label, total=runs)
        drawn = time.perf_counter()
        with contextlib.ExitStack() as stack:
            for manager in during:
                stack.enter_context(manager)
            for _ in range(runs):
                t0 = time.perf_counter()
                backend(im)
                sync()
                t1 = time.perf_counter()
                times.append(t1 - t0)
                progress.advance(task)
                if t1 - drawn > 0.1:  # the bar is drawn here, between runs: a refresh thread would share the CPU
                    progress.refresh()  # with the runs it times (p99 +40 % on a 2-core machine)
                    drawn = t1
        progress.refresh()
    return times


def timing_progress(console) -> Progress:
    """The bar over timed runs, with no refresh thread of its own: `time_runs` draws it between runs."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console, transient=True, auto_refresh=False)


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
    images: list[Path]  # the timed batch: the first --batch val images that decode
    imgsz: int | None
    device: str
    batch: int
    warmup: int
    runs: int
    system: sysinfo.System


def check_loads(path: Path, fmt: str, opts: Settings, dataset: dict) -> None:
    """Load the artifact as bench_one will and refuse it if it is corrupt, cannot run at --imgsz or --batch, or lists
    other classes than the data, so no artifact is timed before a later one fails. The backend is then let go: each
    artifact is timed with only its own runtime loaded (a Jetson may not hold every engine at once)."""
    backend = open_backend(path, torch_device(runtime_device(fmt, opts.device)))
    check_input_size(opts.batch, imgsz := bench_imgsz(backend, fmt, path, opts.imgsz))
    check_export_batch(backend, fmt, path, opts.batch)
    check_engine_profile(backend, fmt, path, opts.batch, imgsz)
    names = backend.names if fmt == "pt" else backend.metadata.get("names")  # an export without metadata: no names
    fix = "pass the --data it was trained on (artifacts of another dataset: bench them in a run of their own)"
    if names is not None:
        check_names(names, dataset["names"], f"artifact '{path}'", fix)
    check_channels(getattr(backend, "channels", 3), dataset, f"artifact '{path}'", fix)


def bench_one(path: Path, name: str, fmt: str, opts: Settings, console: Console, env: dict) -> dict:
    """One bench.json row for the artifact at `path`; Jetson power samples go into `env['energy']`. Its bar is gone
    before Ultralytics validates it: Ultralytics prints past Rich, onto a bar left standing."""
    from .utils import megabytes

    device = runtime_device(fmt, opts.device)  # an ONNX graph without ONNX Runtime's CUDA provider: the CPU
    backend = open_backend(path, torch_device(device))
    imgsz = bench_imgsz(backend, fmt, path, opts.imgsz)
    batch, runs = opts.batch, opts.runs
    im = input_batch(opts.images, imgsz, batch, backend.device, backend.fp16, getattr(backend, "channels", 3))
    sampler = sysinfo.PowerSampler(opts.system) if env["jetson"] else None
    busy = sysinfo.BusyElsewhere()
    with timing_progress(console) as progress:
        times = time_runs(backend, im, opts.warmup, runs, progress, f"timing {escape(name)} ({fmt})",
                          during=[busy, *([sampler] if sampler else [])])
    env.setdefault("busy_elsewhere_cpus", {})[str(path)] = busy.cpus  # other processes' CPUs over the timed runs
    if sampler is not None:
        env["energy"][str(path)] = sysinfo.energy_record(sampler.samples_mw, sum(times), batch * runs,
                                                         sampler.missing())
    params, flops = model_cost(source_checkpoint(path), imgsz)
    map50, map50_95 = val_map(path, opts.data, imgsz, batch, device)  # its loader checked by check_val_loads
    return {
        "name": name, "artifact": str(path), "format": fmt, "precision": precision_of(backend, fmt), "imgsz": imgsz,
        "batch": batch, "device": str(backend.device), "latency_ms": latency_ms(times),
        "throughput_ips": round(batch * runs / sum(times), 2), "size_mb": round(megabytes(path), 3),
        "params": params, "flops_g": flops, "map50": round(map50, 4), "map50_95": round(map50_95, 4),
        "head": "raw" if fmt == "pt" else graph_head(export_metadata(path)),
    }


def select_artifacts(artifacts: list[Path] | None, root: Path, device: str, console: Console) -> list[tuple[Path, str]]:
    """The named artifacts, or the newest run's best.pt and its exports; all checked before any timing."""
    if artifacts:
        if odd := [p for p in artifacts if not isinstance(p, (str, Path))]:  # from Python; None among them too
            raise UserError(f"artifacts are paths (a .pt, .onnx, *_openvino_model/ or .engine), got {given(odd[0])}")
        chosen = [(Path(p), artifact_format(Path(p))) for p in artifacts]
        for path, fmt in chosen:
            check_runtime(fmt, device)
            check_detector(path, fmt)
            if pt := path if fmt == "pt" else named_checkpoint(path):  # read for its data, parameters and FLOPs
                check_no_quote(pt, f"{path.name}'s checkpoint", "move the export and its .pt elsewhere")
            warn_other_source(path, console)
        return chosen
    best = newest_best(root)
    check_detector(best, "pt")
    chosen = []
    for p in [best, *exports_beside(best)]:
        fmt = artifact_format(p)
        try:
            check_runtime(fmt, device)
        except UserError as e:  # an export made elsewhere (a Jetson's .engine) is skipped, not fatal
            console.print(f"[yellow]Skipping {escape(p.name)}:[/] {escape(str(e))}")
            continue
        if p != best and p.stat().st_mtime < best.stat().st_mtime:  # a run retrained into the folder (--exist-ok)
            console.print(f"[yellow]Warning:[/] {escape(p.name)} is older than {escape(best.name)} beside it, so it "
                          "may be an export of earlier weights: export again to bench the current ones")
        warn_other_source(p, console)
        chosen.append((p, fmt))
    return chosen


@python_values
@holding(lambda given: given.get("json_path"), "--json")
def bench(
    artifacts: list[Path] | None = None,
    data: Path | None = None,
    imgsz: int | None = None,
    device: str = "auto",
    batch: int = 1,
    warmup: int = 10,
    runs: int = 100,
    json_path: Path | None = None,
    console: Console | None = None,
    *,
    root: Path = Path("runs"),
    system: sysinfo.System | None = None,
    threads: int | None = None,
) -> list[dict]:
    """Bench every artifact on the same val images; print a table and write bench.json/.csv/.md/.png + env record.
    `threads`: torch's for the .pt rows (default every usable core), as the demo's --threads asks."""
    console = console or Console(soft_wrap=True)
    system = system or sysinfo.System()
    if isinstance(artifacts, (str, os.PathLike)):  # one artifact from Python, not a list of its characters
        artifacts = [artifacts]
    if artifacts is not None and not isinstance(artifacts, (list, tuple)):  # bench(5) was a TypeError
        raise UserError(f"artifacts are a list of paths (a .pt, .onnx, *_openvino_model/ or .engine), got "
                        f"{given(artifacts)}")
    if artifacts is not None and not artifacts:  # a glob that matched nothing: bench benched a run not named
        raise UserError("artifacts is an empty list: pass the files to bench, or leave it out (None) for the newest "
                        "run's best.pt and its exports")
    root = check_path(root, "root", "folder")  # root='runs' from Python was a TypeError
    if any(str(a).lower().endswith(".engine") for a in artifacts or []):  # no GPU: that, not --device 0's "use cpu"
        check_runtime("engine", None)
    validate(batch, warmup, runs, imgsz, device, json_path)
    check_threads(threads)
    device = concrete_device(device)
    if artifacts is not None:  # yolov5s.pt: the yolov5su.pt Ultralytics reads (its size was the other's)
        artifacts = [Path(u_name(str(p), "artifact", fetched=False)) if str(p).lower().endswith(".pt") else p
                     for p in artifacts]  # bench fetches nothing: an official name not on disk is no file
    chosen = select_artifacts(artifacts, root, device, console)
    if any(runtime_device(fmt, device) != device for _, fmt in chosen):
        console.print(f"[yellow]Warning:[/] {escape(ONNX_ON_CPU)}: its rows say so", soft_wrap=True)
    held = contextlib.nullcontext() if json_path else None  # a --json is held from the start (holding)
    try:
        json_path = check_output(json_path or chosen[0][0].parent / "bench.json", "--json", kind="file",
                                 longest=BENCH_TWIN)
    except UserError as e:  # named a --json the user never passed
        if held is not None:
            raise
        raise UserError(f"bench writes its report beside the first artifact unless told otherwise: "
                        f"{str(e).removeprefix('--json ')}; pass --json in a writable folder") from None
    with held or exclusive(json_path, "--json"):  # the default too: two benches of one run wrote over each other
        replaced = describe_bench(json_path)  # before any timing: a file bench did not write is refused here
        dataset, data = run_dataset(data, chosen)
        opts = Settings(data, [], imgsz, device, batch, warmup, runs, system)
        # a Ctrl-C swallowed as Ultralytics loads ONNX Runtime (its check_requirements) still stops bench before it
        # writes
        with remembered_interrupt():
            for path, fmt in chosen:  # first: a --batch too large at an artifact's size, before decoding that many
                check_loads(path, fmt, opts, dataset)  # images
            opts = replace(opts, images=readable_val_images(dataset, batch))  # the timed batch (broken files skipped)
            check_val_loads(dataset, data)  # last of the checks: it writes Ultralytics' labels .cache, as val would
            env, warnings = sysinfo.collect(system)
            env.update(data=str(data), warmup=warmup, runs=runs, batch=batch, device=device,
                       latency_scope="backend forward on one letterboxed batch", **provenance())
            if any(fmt == "openvino" for _, fmt in chosen):  # its CPU plugin may run fp32 models in bf16 (parity.py)
                env["openvino_cpu_precision"] = runtime_precision("openvino", "fp32")
            if env["jetson"]:
                env["energy"] = {}
            for w in warnings:
                console.print(f"[yellow]Warning:[/] {escape(w)}")
            rows = []
            # .pt rows on every usable core, as ONNX Runtime and OpenVINO run by default: Ultralytics' select_device
            # leaves one core idle for training, which made a 2-core machine's .pt latency a 1-thread one beside
            # 2-thread exports
            with cpu_threads(threads) as threads:
                env["torch_threads"] = threads
                for (path, fmt), name in zip(chosen, row_names([p for p, _ in chosen])):
                    rows.append(bench_one(path, name, fmt, opts, console, env))
            print_table(rows, env, console)
        written: list[Path] = []
        try:
            write_reports(rows, env, json_path, written)
            console.print("Wrote " + ", ".join(escape(str(p)) for p in written), soft_wrap=True, highlight=False)
            if replaced:  # as export says which export it replaced: a Jetson's earlier figures may be the only ones
                console.print(f"[yellow]Replaced[/] the earlier {escape(str(json_path))} ({replaced}) and the files "
                              "beside it; pass --json elsewhere to keep both", soft_wrap=True, highlight=False)
        except KeyboardInterrupt:
            if not written:  # the CLI's own word holds: nothing written, an earlier bench.json as it was
                raise
            raise KeyboardInterrupt(written_before_the_stop(written, replaced)) from None
        return rows
