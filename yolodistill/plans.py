"""A comparison's run plans: what each run trains with, what it scored (its record), and which runs finished earlier
with the same plan, so that a rerun after a stop (Ctrl-C, an error, a full disk) keeps them and trains the rest."""

from __future__ import annotations

import csv
import json
import stat
from pathlib import Path
from typing import Any

RUN_RECORD = "compare-run.json"  # in a finished run's folder: its record and the plan it trained
# Distillation settings added since runs were first recorded, at the value that does what the code did before them:
# a record without one trained as this value does (scripts/_study.py's study runs too).
ADDED_SETTINGS = {"kd_gate": False, "kd_prefit": 0, "unlabeled": [], "unlabeled_ratio": 0.5, "unlabeled_mode": "soft",
                  "unlabeled_conf": 0.5}


def method_args(method: str, base: dict[str, Any]) -> dict[str, Any]:
    """The shared train args as one method trains with them: dis (the built-in distiller's weight) is builtin's."""
    return {k: v for k, v in base.items() if k != "dis" or method == "builtin"}


def run_plan(method: str, seed: int, base: dict[str, Any], teacher: str, distill: dict[str, Any],
             images: dict[str, list] | None = None) -> dict[str, Any]:
    """What a run trains with, as JSON reads it back: a run that finished with the same plan need not train again.
    Files are named with their size and time, so a teacher retrained into the same path is another plan; device 0
    and '0' are one. `images`: each split's count and names (`data.fingerprint`), train's and val's labels' digest:
    images deleted or relabelled under an unchanged data.yaml, or added to ours' unlabelled folder, are another plan."""
    args = {**method_args(method, base), "device": None if base.get("device") is None else str(base["device"])}
    teacher = None if method == "plain" else teacher
    files = {k: file_stamp(v) for k, v in (("teacher", teacher), ("model", base.get("model")),
                                            ("data", base.get("data")))}
    plan = {"method": method, "seed": seed, "train_args": args, "teacher": teacher,
            "distill": distill if method == "ours" else None, "files": files,
            "images": {k: v for k, v in (images or {}).items() if k != "unlabeled" or method == "ours"}}
    return json.loads(json.dumps(plan, default=str))


def file_stamp(path: Any) -> list[int] | None:
    """Size and modification time of a file, or None for what is not one (a model yaml Ultralytics ships)."""
    try:
        st = Path(str(path)).stat()
    except (OSError, ValueError):
        return None
    return [st.st_size, st.st_mtime_ns] if stat.S_ISREG(st.st_mode) else None


def saved_record(run_dir: Path) -> dict[str, Any] | None:
    """The record a finished run left in `run_dir` (its `plan` and `run`); None where there is none that reads."""
    try:
        saved = json.loads((run_dir / RUN_RECORD).read_text())
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) else None


def finished_earlier(run_dir: Path, plan: dict[str, Any]) -> dict[str, Any] | None:
    """The record of a run that finished in `run_dir` with this plan, its best.pt still the one it wrote; else None."""
    saved = saved_record(run_dir)
    if saved is None or not (run_dir / "weights" / "best.pt").is_file() or replaced(run_dir, saved):
        return None
    old, new = aligned(saved.get("plan"), plan)
    return saved.get("run") if old == new else None


def replaced(run_dir: Path, saved: dict[str, Any]) -> bool:
    """Whether the run's best.pt is no longer the one its record scored (another train --exist-ok into the folder):
    the record quoted the old figures beside the new file. By its bytes, so a folder copied back is kept; for a record
    from before digests were kept, by time: compare writes it after the run's last best.pt, so a best.pt written later
    is another run's (an upgraded comparison kept it, its old figures beside the new weights)."""
    from .utils import file_digest

    best = run_dir / "weights" / "best.pt"
    if "best_sha256" not in saved:
        try:
            return best.stat().st_mtime_ns > (run_dir / RUN_RECORD).stat().st_mtime_ns
        except OSError:
            return False
    return saved["best_sha256"] != file_digest(best)


def epoch_times(results_csv: Path) -> list[float]:
    """Seconds per epoch from results.csv, whose `time` column is cumulative since training started."""
    with open(results_csv, newline="") as f:
        cumulative = [float(row["time"]) for row in csv.DictReader(f, skipinitialspace=True)]
    return [b - a for a, b in zip([0.0, *cumulative], cumulative)]


def run_record(method: str, seed: int, save_dir: Path, metrics: dict[str, float]) -> dict[str, Any]:
    """What one run contributes: its final best.pt metrics and its epoch time (see DEFINITIONS)."""
    from .report import mean_std
    from .resume import MAP50, MAP50_95

    times = epoch_times(save_dir / "results.csv")
    return {
        "method": method,
        "seed": seed,
        "map50": float(metrics[MAP50]),
        "map50_95": float(metrics[MAP50_95]),
        "epoch_time_s": mean_std(times)[0],
        "epochs": len(times),
        "run_dir": str(save_dir),
        "best": str(save_dir / "weights" / "best.pt"),
        **chosen_optimizer(save_dir),
    }


def chosen_optimizer(run_dir: Path) -> dict[str, Any]:
    """The optimizer and lr0 a run trained with: optimizer=auto's choice, which Ultralytics writes into the
    checkpoint's train_args (args.yaml keeps 'auto'); {} where best.pt does not read."""
    import torch

    try:
        args = torch.load(run_dir / "weights" / "best.pt", map_location="cpu", weights_only=False)["train_args"]
        return {"optimizer": str(args["optimizer"]), "lr0": float(args["lr0"])}
    except Exception:  # noqa: BLE001 - a record without it, never a failed comparison
        return {}


def finished_runs(save_dir: Path, plans: dict[tuple[int, str], dict[str, Any]]) -> int:
    """How many of the planned runs finished, kept by a rerun with --exist-ok."""
    return sum(finished_earlier(save_dir / f"{m}-seed{s}", plan) is not None for (s, m), plan in plans.items())


def aligned(saved: Any, plan: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """A plan an earlier version saved, and `plan`, as they compare: what that version did not record is left out
    of `plan` (its `images`; their labels' digest), a setting added since is taken at the value that did what it did
    (ADDED_SETTINGS), and ours' dis, which it recorded though only builtin's distiller reads it, is dropped. A
    comparison made before retrained its finished runs over "other settings: kd_gate" where nothing differed."""
    if not isinstance(saved, dict):
        return saved, plan
    plan, saved = json.loads(json.dumps(plan)), json.loads(json.dumps(saved))
    if "images" not in saved:  # recorded before images were: such a run is kept as before
        plan.pop("images", None)
    elif isinstance(saved["images"], dict) and isinstance(plan.get("images"), dict):
        plan["images"] = {k: v[:len(saved["images"][k])] if isinstance(v, list) and isinstance(saved["images"].get(k),
                          list) else v for k, v in plan["images"].items()}
    if isinstance(saved.get("distill"), dict) and isinstance(plan.get("distill"), dict):
        saved["distill"] = {**{k: v for k, v in ADDED_SETTINGS.items() if k in plan["distill"]}, **saved["distill"]}
    if plan.get("method") != "builtin" and isinstance(saved.get("train_args"), dict):
        saved["train_args"].pop("dis", None)
    return saved, plan


def plan_changes(run_dir: Path, plan: dict[str, Any]) -> str:
    """Why a run in `run_dir` that ran earlier trains again, in a few words ('' where none ran there): the settings
    that differ from `plan`, its best.pt gone, or no record that it finished."""
    if (record := saved_record(run_dir)) is None:  # a run an older yolodistill finished, or one cut short
        return "cut short, or finished by an older yolodistill, which kept no record" if (
            run_dir / "weights" / "best.pt").is_file() and (run_dir / "results.csv").is_file() else ""
    if not isinstance(saved := record.get("plan"), dict):
        return ""
    saved, plan = aligned(saved, plan)
    groups = {"train_args": "", "distill": "", "files": " file", "images": " images"}  # how a key is named
    changed = [k for k in sorted({**saved, **plan}) if k not in groups and saved.get(k) != plan.get(k)]
    changed += [f"{k}{named}" for group, named in groups.items()
                for k in sorted({**(saved.get(group) or {}), **(plan.get(group) or {})})
                if (saved.get(group) or {}).get(k) != (plan.get(group) or {}).get(k)]
    if not changed:
        return "its weights/best.pt changed since" if replaced(run_dir, record) else "its weights/best.pt is gone"
    return "other settings: " + ", ".join(changed[:4]) + (" ..." if len(changed) > 4 else "")


def kept_how(run_dir: Path) -> str:
    """How a kept run was judged the same: with its images, or (recorded before they were) without."""
    if not isinstance(saved := (saved_record(run_dir) or {}).get("plan"), dict):
        return "with these settings"
    if "images" not in saved:
        return "with these settings (recorded before images were: its images were not compared)"
    older = any(isinstance(v, list) and len(v) < 3 for k, v in (saved["images"] or {}).items() if k != "unlabeled")
    return ("with these settings (recorded before labels were: its labels were not compared)" if older else
            "with these settings")


def reported_runs(save_dir: Path) -> set[str]:
    """The run folders an earlier compare.json in `save_dir` reports on (none where it does not read)."""
    try:
        return {Path(r["run_dir"]).name for r in json.loads((save_dir / "compare.json").read_text())["runs"]}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def rerun_advice(finished: int, planned: int, save_dir: Path, gone: bool, command: str, fix: bool = False,
                 over: tuple[str, ...] = ()) -> str:
    """What a stopped comparison kept, and the command that trains the rest (last: pasted as it is). `gone`: the
    comparison's new folder was removed, nothing having trained in it, so the same command starts it again. `fix`:
    stopped by an error, which the user fixes first. `over`: runs an earlier report lists that this one trained over,
    which that report (replaced only at the end) still describes as they were."""
    step = ("once fixed, " if fix else "") + ("start again" if gone else "continue")
    step = step[0].upper() + step[1:]
    if gone:
        return f"No run finished and {save_dir} was removed. {step} with: {command}"
    stale = (f"The earlier compare.json, .md and .png there describe {', '.join(over)} as they were before this rerun "
             "trained over them. " if over else "")
    return (f"{finished} of {planned} runs finished, kept in {save_dir} (a rerun with the same settings keeps them). "
            f"{stale}{step} with: {command} --exist-ok")
