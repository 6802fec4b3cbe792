"""The page's sections of the measuring scripts' records (overhead, feature-loss calibration, drift), and the pieces
every section of docs/benchmarks.md is made of; _docs.py puts the page together."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from yolodistill.report import fmt, markdown_table

OVERHEAD_COLUMNS = ("method", "s/epoch", "epochs timed", "vs built-in", "peak memory MiB", "teacher weights", "AMP")


def bullets(lines) -> str:
    return "".join(f"- {line}\n" for line in lines)


def machine_line(env: Mapping[str, Any]) -> str:
    """Where it ran, in one line: mAP and timings both move with the hardware and the library versions."""
    m, v, git = env["machine"], env["versions"], env.get("git") or {}
    commit = (f"; commit {git['commit'][:12]}{' (with changes)' if git.get('dirty') else ''}"
              if git.get("commit") else "")
    cpu = f" ({m['cpu']})" if m.get("cpu") else ""
    return (f"{m['platform']}, {m['cpu_count']} CPUs{cpu}, GPU {m['gpu'] or 'none'}; "
            + ", ".join(f"{k} {val}" for k, val in v.items()) + commit)


def code_block(*lines: str) -> str:
    return "```\n" + "\n".join(lines) + "\n```\n"


def overhead_rows(r: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for method, run in r["runs"].items():
        teacher = run["teacher"]
        rows.append({
            "method": method, "s/epoch": fmt(run["epoch_time_s"], 2), "epochs timed": len(run["epoch_times_s"]) - 1,
            "vs built-in": f"{run.get('vs_builtin', run['epoch_time_s'] / r['runs']['builtin']['epoch_time_s']):.2f}×",
            "peak memory MiB": fmt(run["peak_memory_mib"], 0),
            "teacher weights": None if teacher is None else
            f"{teacher['dtype']}{', channels-last' if teacher['channels_last'] else ''}",
            "AMP": "on" if run["amp"] else "off",
        })
    return rows


def overhead_rounds(r: Mapping[str, Any]) -> list[str]:
    """A repeated measurement's rounds, each a side-by-side run of every method."""
    if r.get("repeats", 1) < 2:
        return []
    slower = r["target"]["method"]
    rows = [{"round": i, **{m: fmt(t, 2) for m, t in times.items()},
             f"{slower}/built-in": f"{times[slower] / times['builtin']:.3f}×"}
            for i, times in enumerate(r["rounds"], 1)]
    return [f"Median of {r['repeats']} rounds, each training every method once (the order turned by one method a "
            "round): s/epoch is each method's median round, vs built-in the median of the ratios taken within a "
            "round. Seconds per epoch by round:\n", markdown_table(rows, tuple(rows[0]))]


def overhead_section(name: str, r: Mapping[str, Any], results_link: str = "") -> str:
    s, target = r["settings"], r["target"]
    verdict = "met" if target["met"] else "**MISSED**"
    parts = [
        f"## Overhead: {r['scale'].upper()}, {s['student']} with teacher {s['teacher_name']}\n",
        f"imgsz {s['imgsz']}, batch {s['batch']}, {s['epochs']} epochs on {s['data_name']} "
        f"({s['train_images']} train images), device {s['device']}. Record: `{name}`.\n",
        f"Target: ours at most {target['threshold']:.2f}× the built-in distiller's epoch time"
        + (f", checked on the slower of our recipes (`{target['method']}`)" if "method" in target else "")
        + f". Measured {target['value']:.3f}×: {verdict}.\n",
        markdown_table(overhead_rows(r), OVERHEAD_COLUMNS),
        *overhead_rounds(r),
        bullets(f"{k}: {v}" for k, v in r["definitions"].items()),
        "### Reproduce\n",
        code_block(r["command"]),
        f"Machine: {machine_line(r['environment'])}.\n",
    ]
    return "\n".join(parts)


SHARE_COLUMNS = ("batch", "start", "l2", "cwd", "mgd", "cross", "spread")


def shares_section(name: str, r: Mapping[str, Any], results_link: str = "") -> str:
    """scripts/bench_feature_shares.py: the feature losses' calibration, measured with a trained teacher."""
    s = r["settings"]
    rows = [{k: fmt(v, 2) if isinstance(v, float) else v for k, v in row.items()} for row in r["rows"]]
    parts = [
        f"## Feature-loss calibration: {s['student']} with teacher {s['teacher_name']}\n",
        f"Batches of {s['batch']} train images at {s['imgsz']} px from `{Path(s['data']).parent.name}`. "
        f"Record: `{name}`. "
        f"Largest spread {r['max_spread']:.2f}×.\n",
        markdown_table(rows, SHARE_COLUMNS),
        bullets([r["definition"]]),
        "### Reproduce\n",
        code_block(r["command"]),
        f"Machine: {machine_line(r['environment'])}.\n",
    ]
    return "\n".join(parts)


DRIFT_COLUMNS = ("epoch", "scale", "train all/det", "train all/det at 1", "det", "kd_cls", "kd_box", "kd_feat",
                 "all/det", "all/det at 1")


def drift_recipe(r: Mapping[str, Any]) -> str:
    """The recipe a drift record measured: the default for a trained student moves between commits, and records made
    before they kept it measured the one of their day (CWD features on, no gate, as their kd_feat column shows)."""
    recipe = next(iter(r["modes"].values())).get("recipe")
    if not recipe:
        return "the default recipe for a trained student of its day (the record does not keep it)"
    terms = ", ".join(f"{k} {recipe[k]:g}" for k in ("kd_cls", "kd_box", "kd_feat") if recipe.get(k))
    return (f"the default recipe for a trained student ({terms}"
            f"{', ' + recipe['feat_loss'] if recipe.get('kd_feat') else ''}"
            f"{', gated' if recipe.get('kd_gate') else ''}, assignment {recipe.get('kd_assign')})")


def drift_section(name: str, r: Mapping[str, Any], results_link: str = "") -> str:
    """scripts/bench_drift.py: the distillation pull on the backbone, epoch by epoch, per kd_balance mode."""
    s = r["settings"]
    parts = [
        f"## Distillation pull through a `.pt` fine-tune: {s['student']} with teacher {s['teacher_name']}\n",
        f"A student trained plainly for {s['start_epochs']} epochs (seed {s['seed']}), fine-tuned {s['epochs']} more "
        f"with {drift_recipe(r)}, at {s['imgsz']} px on `{Path(s['data']).parent.name}`. "
        f"Record: `{name}`. Growth of the pull at the schedule's factor 1, on the training batches and on validation "
        "images: " + ", ".join(f"{mode} {fmt(m.get('train growth'), 2)}× and {m['growth']:.2f}×"
                               for mode, m in r["modes"].items()) + ".\n",
    ]
    if all("train thirds" in m for m in r["modes"].values()):
        parts.append("Its mean over each third of the epochs, on the training batches: " + "; ".join(
            f"{mode} " + " → ".join(shown(v, 2) for v in m["train thirds"])
            for mode, m in r["modes"].items()) + ".\n")
    for mode, m in r["modes"].items():
        rows = [{k: shown(row.get(k), 3) if k != "epoch" else row[k] for k in DRIFT_COLUMNS} for row in m["rows"]]
        parts += [f"### kd_balance {mode}\n", markdown_table(rows, DRIFT_COLUMNS)]
    parts += [bullets([r["definition"]]), "### Reproduce\n", code_block(r["command"]),
              f"Machine: {machine_line(r['environment'])}.\n"]
    return "\n".join(parts)


def shown(value: Any, digits: int) -> str:
    """fmt's fixed decimals, but two significant digits where those decimals round a value that is not 0 to 0: a
    drift of ratios near 1e-4 read "0.00 → 0.00 → 0.00"."""
    if isinstance(value, float) and value and abs(value) < 0.5 * 10 ** -digits:
        return f"{value:.2g}"
    return fmt(value, digits)
