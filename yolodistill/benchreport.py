"""What `yolodistill bench` writes and shows: bench.json and the files beside it, the terminal table, and the
check that an earlier record, not a file of the user's, is what a rerun replaces."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .errors import UserError, shown
from .parity import NMS_CONF
from .report import print_whole
from .sysinfo import busy_notes
from .utils import atomic_write_bytes, atomic_write_json, atomic_write_text, held_signals

KEYS = (
    "name", "artifact", "format", "precision", "imgsz", "batch", "device", "latency_ms", "throughput_ips", "size_mb",
    "params", "flops_g", "map50", "map50_95", "head",
)
CSV_COLUMNS = (
    "name", "artifact", "format", "precision", "imgsz", "batch", "device", "latency_p50_ms", "latency_p90_ms",
    "latency_p99_ms", "throughput_ips", "size_mb", "params", "flops_g", "map50", "map50_95", "head",
)
HEAD_TAGS = {"nms": "+nms", "end2end": " e2e"}  # after the format in the tables; 'raw' (NMS after) has none
HEAD_NOTES = {
    "nms": f"+nms: NMS inside the graph, which keeps only scores above {NMS_CONF:g}, so its mAP counts fewer boxes "
           "than a row scored at Ultralytics' 0.001, and its latency includes NMS",
    "end2end": "e2e: YOLO26's NMS-free head (one2one branch), another head than a .pt row's (one2many + NMS), so its "
               "mAP differs by design",
}


def fmt_cell(r: dict) -> str:
    return r["format"] + HEAD_TAGS.get(r.get("head", "raw"), "")


def head_notes(rows: list[dict]) -> list[str]:
    """What a row's tag after its format means, for the heads the table holds."""
    return [HEAD_NOTES[h] for h in HEAD_NOTES if any(r.get("head") == h for r in rows)]


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


def device_tags(rows: list[dict]) -> list[str]:
    """What each row's format cell adds: its device, where the rows ran on several (an ONNX graph on the CPU beside
    GPU rows: ONNX Runtime without its CUDA provider); nothing where they share one, said once above the table."""
    several = len({str(r.get("device")) for r in rows}) > 1
    return [f" ({r['device']})" if several else "" for r in rows]


def table_rows(rows: list[dict]) -> list[list[str]]:
    """The columns shared by the terminal table and bench.md."""
    return [
        [r["name"], fmt_cell(r) + tag, r["precision"], str(r["imgsz"]), *map(str, r["latency_ms"].values()),
         str(r["throughput_ips"]), str(r["size_mb"]), cell(r["params"]), cell(r["flops_g"]), cell(r["map50"]),
         cell(r["map50_95"])]
        for r, tag in zip(rows, device_tags(rows))
    ]


HEADERS = ["model", "format", "precision", "imgsz", "p50 ms", "p90 ms", "p99 ms", "img/s", "MB", "params",
           "GFLOPs", "mAP50", "mAP50-95"]


def markdown_text(rows: list[dict], env: dict) -> str:
    """bench.md: where and how it ran, the table, and what its tags mean."""
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(rows)]
    gpu = any(str(r["device"]).startswith("cuda") for r in rows)
    where = env["jetson"]["board"] if env.get("jetson") else env.get("gpu") if gpu else env.get("cpu")
    if gpu and not env.get("jetson") and any(str(r["device"]) == "cpu" for r in rows):  # some rows on its CPU
        where = f"{where} and {env.get('cpu')}"
    batch = rows[0]["batch"]
    on = " and ".join(dict.fromkeys(str(r["device"]) for r in rows))  # each row's device in its format where several
    how = (f"Latency in ms per batch of {batch} image{'s' if batch != 1 else ''} on {on}, "
           f"{env.get('runs', '?')} timed runs after {env.get('warmup', '?')} warm-up; mAP on {env.get('data', '?')}, "
           "square at imgsz as every format takes it (rect=False: a .pt's results.csv and yolo val batch by aspect "
           "ratio and pad each batch by half a stride, so they can read differently); GFLOPs per image at its imgsz; "
           "MB of 10^6 bytes")
    made = ", ".join(f"{k} {env[k]}" for k in ("created", "command") if env.get(k))
    notes = [f"- {n}" for n in head_notes(rows) + busy_notes(env.get("busy_elsewhere_cpus", {}),
                                                              {r["artifact"]: r["name"] for r in rows},
                                                              env.get("usable_cores") or env.get("cpu_count"))]
    return "\n".join([f"# Benchmark on {where}", "", how + ".", *([made] if made else []), "", *lines, "",
                      *notes, *([""] if notes else [])])


def plot_png(rows: list[dict]) -> bytes:
    """Latency p50 against mAP50-95, one labelled point per artifact (Agg canvas, no global pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    columns = 1 if len(rows) <= 8 else 2  # the legend below grows the figure, not over it (3 columns were cut)
    longest = max(len(f"{r['name']}: {r['format']} {r['precision']}") for r in rows)  # and wide enough for it
    width = min(max(7.0, columns * (0.06 * longest + 0.6)), 20.0)
    fig = Figure(figsize=(width, 4 + 0.18 * -(-len(rows) // columns)), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for i, r in enumerate(rows):  # a legend, not labels by the points: two precisions of one model drew theirs over
        x, y = r["latency_ms"]["p50"], r["map50_95"]  # each other, and a long name ran off the figure
        ax.scatter(x, y, color=f"C{(i + i // 10) % 10}", marker="os^Dv<>PX*"[i % 10], s=40, alpha=0.7, zorder=2,
                   label=f"{r['name']}: {r['format']} {r['precision']}")  # no two of 100 rows alike
    ax.set_xlabel(f"latency p50 (ms, batch {rows[0]['batch']})")
    ax.set_ylabel("mAP50-95")
    top = max((r["map50_95"] or 0) for r in rows) * 1.08  # the best point whole, not cut by the axis' top
    ax.set_ylim(0, top) if top > 0 else ax.set_ylim(bottom=0)  # every mAP 0 drew an axis from -0.04
    ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", fontsize=7, ncols=columns)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def report_paths(json_path: Path) -> list[Path]:
    """What `write_reports` writes: bench.json, its _env.json, .csv, .md and .png."""
    stem = json_path.with_suffix("")  # run.v2.json -> run.v2: with_suffix on it would drop '.v2' as well
    return [json_path, *(stem.with_name(stem.name + x) for x in ("_env.json", ".csv", ".md", ".png"))]


def write_reports(rows: list[dict], env: dict, json_path: Path, written: list[Path] | None = None) -> list[Path]:
    """bench.json (a list of rows with exactly KEYS), its _env.json, .csv, .md and .png, all written atomically;
    each path goes into `written` once it is, so a caller stopped by a Ctrl-C can say which were."""
    written = [] if written is None else written
    rows = [{k: shown(v) for k, v in r.items()} for r in rows]  # a file name of a byte no UTF-8 has: a traceback
    env = {k: shown(v) for k, v in env.items()}  # in the plot, after the timing, and nothing written
    writes = [(atomic_write_json, [{k: r[k] for k in KEYS} for r in rows]), (atomic_write_json, env),
              (atomic_write_text, csv_text(rows)), (atomic_write_text, markdown_text(rows, env)),
              (atomic_write_bytes, plot_png(rows))]  # the plot, the slow part, made before anything is written
    with held_signals():  # a Ctrl-C while writing waits, so the five files come from one bench, never two
        for path, (write, content) in zip(report_paths(json_path), writes):
            written.append(write(path, content))
    return written


def written_before_the_stop(written: list[Path], replaced: str) -> str:
    """What a Ctrl-C once bench had begun writing leaves (the CLI otherwise says nothing was written)."""
    return (f"{', '.join(str(p) for p in written)} {'was' if len(written) == 1 else 'were'} written before the stop"
            + (f", over the earlier bench ({replaced})" if replaced else ""))


def terminal_cells(r: dict, tag: str = "") -> dict[str, str]:
    """A row rounded for the terminal (bench.md and bench.json keep every digit and column), by header; `tag` from
    `device_tags`."""
    num = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
    lat = r["latency_ms"]
    return {"model": escape(r["name"]), "fmt": fmt_cell(r) + tag, "prec": r["precision"],
            "imgsz": str(r["imgsz"]),
            "p50": num(lat["p50"], ".2f"), "p90": num(lat["p90"], ".2f"), "p99": num(lat["p99"], ".2f"),
            "img/s": num(r["throughput_ips"], ".0f"), "MB": num(r["size_mb"], ".1f"), "mAP50": num(r["map50"], ".3f"),
            "mAP50-95": num(r["map50_95"], ".3f")}


TERMINAL_HEADERS = ["model", "fmt", "prec", "imgsz", "p50", "p90", "p99", "img/s", "MB", "mAP50", "mAP50-95"]
DROPPABLE = ["p99", "p90", "MB", "mAP50", "img/s"]  # left out, in this order, where a terminal is too narrow


def bench_table(rows: list[dict], env: dict, headers: list[str]) -> Table:
    one_size = len({r["imgsz"] for r in rows}) == 1
    size = f", imgsz {rows[0]['imgsz']}" if one_size else ""
    table = Table(title=f"yolodistill bench: latency in ms{size}, batch {rows[0]['batch']}")
    energy = env.get("energy", {})
    for h in headers + (["J/img"] if energy else []):
        table.add_column(h, justify="left" if h in {"model", "fmt", "prec"} else "right", min_width=len(h),
                         overflow="fold" if h == "model" else "ellipsis")  # a long run name wraps, never cut to …
    for row, tag in zip(rows, device_tags(rows)):
        joules = energy.get(row["artifact"], {}).get("energy_j_per_image")
        cells = terminal_cells(row, tag)
        table.add_row(*(cells[h] for h in headers), *(["-" if joules is None else f"{joules:.4g}"] if energy else []))
    return table


def print_table(rows: list[dict], env: dict, console: Console) -> None:
    """The rich table, with energy per image when a Jetson measured it. The input size goes in the title when every
    row shares it, else in a column: a 64 px checkpoint and its 96 px export are not the same measurement. Output that
    is not a terminal (a log, a pipe) gets the table whole, however wide; a terminal too narrow for it loses the
    DROPPABLE columns it cannot show, and says which, rather than cutting numbers to '…'."""
    from rich.measure import Measurement

    headers = [h for h in TERMINAL_HEADERS if h != "imgsz" or len({r["imgsz"] for r in rows}) > 1]
    width = lambda t: Measurement.get(console, console.options.update_width(10_000), t).maximum  # noqa: E731
    table = bench_table(rows, env, headers)
    if not console.is_terminal:
        print_whole(console, table)
    else:
        dropped = []
        while width(table) > console.width and len(dropped) < len(DROPPABLE):
            dropped.append(DROPPABLE[len(dropped)])
            table = bench_table(rows, env, [h for h in headers if h not in dropped])
        if dropped:
            table.caption = f"{', '.join(dropped)} left out for the terminal's width: see bench.md"
        console.print(table)
    for note in head_notes(rows):
        console.print(note, soft_wrap=True, highlight=False)
    for note in busy_notes(env.get("busy_elsewhere_cpus", {}), {r["artifact"]: r["name"] for r in rows},
                           env.get("usable_cores") or env.get("cpu_count")):
        console.print(f"[yellow]Note:[/] {escape(note)}", soft_wrap=True, highlight=False)
    named = {r["artifact"]: r["name"] for r in rows}  # a J/img of '-' said why, by row (sysinfo.PowerSampler.missing)
    for why in dict.fromkeys(e["missing"] for e in env.get("energy", {}).values() if "missing" in e):
        which = ", ".join(named[p] for p, e in env["energy"].items() if e.get("missing") == why)
        console.print(f"[yellow]Warning:[/] no energy per image for {escape(which)}: {escape(why)}", soft_wrap=True)


RECORD_KEYS = {"artifact", "format", "latency_ms"}  # in every bench.json yolodistill has written, KEYS has grown


def bench_rows(path: Path) -> list[dict] | None:
    """The rows at `path` if it holds what bench writes (a list of rows, each with an artifact, its format and
    latency), else None."""
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    ours = isinstance(rows, list) and all(isinstance(r, dict) and RECORD_KEYS <= set(r) for r in rows)
    return rows if ours else None


def describe_bench(path: Path) -> str:
    """An earlier bench record at `path` in a few words (rows, machine, date), empty when there is none. Files
    bench would write over that are not its own (a user's report.md beside --json report.json) are refused, and so
    are its own files changed since (bench writes them all within a second of the record)."""
    if not path.is_file():
        foreign = [p for p in report_paths(path) if p.exists()]
        if foreign:
            raise UserError(f"--json {path} would replace {foreign[0]}, which bench did not write: pass --json with "
                            f"another name (bench writes {', '.join(p.name for p in report_paths(path))})")
        return ""
    rows = bench_rows(path)
    if rows is None:
        raise UserError(f"--json {path} exists and is not an earlier bench record: pass --json with another name")
    if changed := [p for p in report_paths(path)[1:] if p.exists() and p.stat().st_mtime > path.stat().st_mtime + 60]:
        raise UserError(f"--json {path} would replace {changed[0]}, changed since bench wrote {path.name} (notes of "
                        "yours?): move it away, or pass --json with another name")
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
    try:
        env = json.loads(report_paths(path)[1].read_text())
        machine = (env.get("jetson") or {}).get("board") or env.get("gpu") or env.get("cpu")
    except (OSError, ValueError, AttributeError):
        machine = None
    n = f"{len(rows)} row{'s' if len(rows) != 1 else ''}"
    return ", ".join(x for x in (n, f"on {machine}" if machine else "", f"written {when}") if x)


def provenance() -> dict:
    """How the record was made: when, by which command and yolodistill."""
    import shlex
    import sys
    from datetime import datetime, timezone

    from . import __version__

    command = shlex.join(["yolodistill", *sys.argv[1:]]) if Path(sys.argv[0]).name == "yolodistill" else None
    return {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "command": command,
            "yolodistill": __version__}
