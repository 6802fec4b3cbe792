"""What every benchmark script shares: where the repository, its records and its page are, the command line a record
quotes, the work folder git never sees, and bad input as one line and exit status 2, as in the CLI."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from yolodistill.errors import UserError
from yolodistill.utils import atomic_write_text

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DOCS = REPO / "docs" / "benchmarks.md"
# runs, data and weights of every script: outside the repository, kept for a later session
CODE = ("yolodistill", "scripts", "configs", "pyproject.toml")  # what decides a record's numbers, for its git.dirty
BENCH_WORK = Path(os.environ.get("YOLODISTILL_BENCH") or Path.home() / ".cache" / "yolodistill-bench")


def exit_status(action, interrupted: str | None) -> int:
    """Run a script's work: bad input is one line on stderr and exit status 2, as in the CLI. Ctrl-C is one line too,
    "Interrupted." and how this script goes on (`interrupted`; None: a parent process says it), exit status 130: the
    library's own advice (yolodistill train --resume) would finish a run outside the script."""
    try:
        action()
    except UserError as e:
        print(f"Error: {e}", file=sys.stderr)
        return UserError.exit_code
    except KeyboardInterrupt:  # yolodistill.resume.TrainingInterrupted too
        if interrupted is not None:
            print(f"Interrupted. {interrupted}", file=sys.stderr)
        return 130
    return 0


def threaded_main(args, action, interrupted: str) -> int:
    """A script's main: `action(args)` on --threads CPU threads (recorded back into args: they decide the epoch times),
    bad input and Ctrl-C one line each (exit_status)."""
    from yolodistill.utils import cpu_threads

    with cpu_threads(args.threads) as threads:
        args.threads = threads
        return exit_status(lambda: action(args), interrupted)


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser whose errors are one line and exit status 2, as the scripts' own, not the usage block."""

    def error(self, message: str):
        print(f"Error: {message}: see --help", file=sys.stderr)
        raise SystemExit(2)


def whole_number(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low:
        raise argparse.ArgumentTypeError(f"must be a whole number >= {low}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type of counts of at least 1 (--threads, --batch, --batches)."""
    return whole_number(text, 1)


def count(text: str) -> int:
    """argparse type of --workers and seeds: 0 or more (0 workers load the data in the training process)."""
    return whole_number(text, 0)


def check_checkpoint(path: Path, what: str = "--teacher", exists: bool = True) -> None:
    """A teacher given as a file is a .pt checkpoint (from a yaml Ultralytics would build a model, KeyError
    'backbone'), and one that is there (`exists`): checked before any data is prepared or a plain run trains."""
    if Path(path).suffix.lower() != ".pt":
        raise UserError(f"{what} {path} is not a checkpoint (.pt): pass a teacher's weights")
    if exists and not Path(path).is_file():
        raise UserError(f"{what} {path} does not exist: give the path of a trained teacher's weights (.pt)")


def checkpoint_model(path: Path) -> Any:
    """The model a checkpoint holds (its EMA while a run is cut off, as last.pt keeps it), read without building
    anything; None for a file torch cannot read or that holds no Ultralytics model."""
    import torch
    from ultralytics.utils.patches import torch_load

    try:
        ckpt = torch_load(path, map_location="cpu", weights_only=False)
    except Exception:  # noqa: BLE001 - a truncated or foreign file fails in torch or pickle
        return None
    model = (ckpt.get("ema") or ckpt.get("model")) if isinstance(ckpt, dict) else None
    return model if isinstance(model, torch.nn.Module) else None


def checkpoint_task(path: Path, what: str, where: str) -> None:
    """A checkpoint of another task (a classifier's trained until 'Classify' object has no attribute 'stride'), by
    the model it holds, as yolodistill.loading reads one; a file that is no checkpoint is left to what loads it."""
    from yolodistill.loading import OTHER_DETECTORS, check_task, model_task

    if (model := checkpoint_model(path)) is None:
        return
    head = type(model.model[-1]).__name__ if hasattr(getattr(model, "model", None), "__getitem__") else ""
    if head in OTHER_DETECTORS:
        raise UserError(f"{where}: {what} '{path}' is {OTHER_DETECTORS[head]} model ({head} head), which yolodistill "
                        "does not distill: use a YOLO detection model such as yolo26n.pt")
    try:
        check_task(model_task(model), what, path)
    except UserError as e:
        raise UserError(f"{where}: {e}") from None


def check_outputs(args) -> None:
    """--results (a folder) and --docs (a file) can be written: a bad one is one line now, not a failed write once
    everything has trained."""
    from yolodistill.errors import check_output

    check_output(args.results, "--results")
    if Path(args.docs).is_dir():
        raise UserError(f"--docs '{args.docs}' is a folder: pass the page's file name, e.g. "
                        f"{Path(args.docs) / 'benchmarks.md'}")
    check_output(args.docs, "--docs", "file")


def command_line(argv: list[str] | None = None) -> str:
    """The line that started this process (or its script with `argv`), ready to paste as written: from the
    repository, `python scripts/NAME.py ...` (its paths relative to the repository); from elsewhere, `cd CWD &&`
    before it and the script's absolute path, as its other paths are relative to CWD."""
    script, cwd = Path(sys.argv[0]).resolve(), Path.cwd()
    words = ["python", str(script), *(sys.argv[1:] if argv is None else argv)]
    if cwd.resolve() == REPO and script.is_relative_to(REPO):  # not pytest's or an embedding program's argv[0]
        return shlex.join([words[0], str(script.relative_to(REPO)), *words[2:]])
    return f"cd {shlex.quote(str(cwd))} && {shlex.join(words)}"


def environment() -> dict[str, Any]:
    """report.environment(), with the CPU model and the commit the scripts ran from (dirty: the code changed since
    it, not the records and plots a study rewrites), which decide the numbers as much as the library versions do."""
    from yolodistill.report import environment as libraries
    from yolodistill.sysinfo import cpu_name

    env = libraries()
    env["machine"]["cpu"] = cpu_name()

    def git(*words: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(REPO), *words], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no", "--", *CODE) if commit else None
    env["git"] = {"commit": commit, "dirty": None if status is None else bool(status)}
    return env


def made_with(runs: list[dict[str, Any]], own: dict[str, Any]) -> dict[str, Any]:
    """Each setting as the runs recorded it: their one value, or the list of the values they differ by. Runs trained
    before runs kept it count with `own`'s value, this process's, as the record said of every run then."""
    out = {}
    for key, value in own.items():
        values = [r[key] if key in r else value for r in runs] or [value]
        seen = list({json.dumps(v, sort_keys=True): v for v in values}.values())
        out[key] = seen[0] if len(seen) == 1 else seen
    return out


def work_dir(path: Path) -> Path:
    """The absolute work folder, ignored by git from the inside: runs and weights never belong in the repository. One
    that cannot be a folder is one line, not a FileExistsError."""
    given, path = path, path.resolve()
    if path.exists() and not path.is_dir():
        raise UserError(f"--work '{given}' is a file: pass a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--work '{given}' cannot be made ({e.strerror}): pass a folder you can write") from None
    if not (path / ".gitignore").exists():
        atomic_write_text(path / ".gitignore", "*\n")
    return path


def keep_record(path: Path, plan: dict[tuple[str, int], str], work: Path) -> None:
    """A record holding runs that are not in --work (a fresh checkout's cache, another --work whose runs would train
    again) is not written over: the committed record would lose them. Refused before anything trains. Its runs the
    study no longer has (an arm or seed dropped from the study file), whose folder in this --work was deleted to
    train them again, or that wait on a source arm trained again (stale), leave it, as said."""
    try:
        had = json.loads(path.read_text()).get("runs", []) if path.is_file() else []
    except (ValueError, AttributeError):  # a record cut short or mid-merge: what it holds cannot be told
        raise UserError(f"'{path}' is not a readable record: mend it (git checkout -- {path}), or pass --results "
                        "FOLDER for a new one") from None
    had = [r for r in had if isinstance(r, dict)]
    here = {(r.get("arm"), r.get("seed")) for r in had if Path(str(r.get("run_dir"))).parent.parent.parent == work}
    had = list(dict.fromkeys((r.get("arm"), r.get("seed")) for r in had))
    kept = {run for run, state in plan.items() if state in ("done", "retrain", "validate")}

    def named(runs) -> str:
        return ", ".join(f"{arm} seed {seed}" for arm, seed in runs[:4]) + (", ..." if len(runs) > 4 else "")

    if absent := [r for r in had if plan.get(r) == "pending" or plan.get(r) == "train" and r not in here]:
        raise UserError(f"'{path}' records {len(absent)} finished run(s) that are not in --work '{work}' "
                        f"({named(absent)}): pass --results FOLDER for a new record, or --work where its runs are")
    if dropped := [r for r in had if r not in plan]:
        print(f"'{path}' drops {named(dropped)}: no longer in the study", flush=True)
    if gone := [r for r in had if plan.get(r) == "train"]:
        print(f"'{path}' drops {named(gone)} until trained again: its run is gone from --work", flush=True)
    if stale := [r for r in had if r in plan and r not in kept and plan[r] != "train"]:
        print(f"'{path}' drops {named(stale)} until trained again: its source arm is trained again", flush=True)


@contextlib.contextmanager
def own_files_unsaid():
    """train's `--exist-ok` line on a folder that holds files: a fresh ours run's folder holds the study's spec.json
    (and source.json), which the run never writes, so the line said at every such run what replaces nothing."""
    from ultralytics.utils import LOGGER

    def unsaid(record: logging.LogRecord) -> bool:
        return "--exist-ok: this run writes into" not in record.getMessage()

    LOGGER.addFilter(unsaid)
    try:
        yield
    finally:
        LOGGER.removeFilter(unsaid)
