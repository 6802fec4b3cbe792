"""The run folder: where a run writes, and what of the user's it must not write into or over.

Ultralytics makes the folder and writes into it without asking; these checks run before, so a refused run leaves
nothing behind and a reused one says what it replaces.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from .errors import UserError


def run_dir(args: dict[str, Any]) -> Path:
    """The folder the run writes: project/name, without --name Ultralytics' exp (reused only with --exist-ok).
    Resolved as Ultralytics resolves it: --name new/../exp is exp, an existing run, though new does not exist."""
    return (Path(args["project"]) / str(args.get("name") or "exp")).resolve()


def check_run_dir(args: dict[str, Any]) -> None:
    """An explicitly named run folder is never reused without --exist-ok (Ultralytics would write into it)."""
    if int(os.environ.get("RANK", -1)) > 0:  # under torchrun, rank 0 may have made the folder a moment ago
        return
    run = run_dir(args)
    named = args.get("name") or args.get("exist_ok")  # else Ultralytics numbers the folder past what is there
    if named and run.exists() and not run.is_dir():  # --exist-ok too: Ultralytics' makedirs fails with a traceback
        raise UserError(f"run folder '{run}' is a file: pick another --name or --project")
    if args.get("name") and not args.get("exist_ok") and run.exists():
        raise UserError(f"run folder '{run}' exists: pass --exist-ok to reuse it, or another --name")


def check_run_outside_splits(args: dict[str, Any], info: dict[str, Any]) -> None:
    """Ultralytics reads a split's folder with its subfolders: a run written inside one (--project in images/train)
    added its plots to that split, for every later run."""
    run = run_dir(args)
    for split in ("train", "val", "test"):
        for entry in info.get(split) if isinstance(info.get(split), list) else [info.get(split)]:
            if entry and Path(entry).is_dir() and (folder := Path(entry).resolve()) in (run, *run.parents):
                raise UserError(f"the run writes into '{run}', inside the {split} images folder '{folder}': the next "
                                f"run would read its plots as {split} images; pass --project outside it")


def warn_replaced(args: dict[str, Any]) -> None:
    """--exist-ok over a finished run replaces its files, as in Ultralytics, but not silently; said once every check
    has passed, so a refused run never says it."""
    run = run_dir(args)
    held = args.get("exist_ok") and run.is_dir() and any(p.is_file() for p in run.rglob("*"))
    if not held or int(os.environ.get("RANK", -1)) > 0:
        return
    from ultralytics.utils import LOGGER

    if (run / "weights" / "best.pt").is_file():
        from .artifacts import export_metadata, is_export

        exports = sorted(p.name for p in (run / "weights").iterdir()
                         if not p.name.startswith(".") and p.suffix.lower() != ".pt" and is_export(export_metadata(p)))
        LOGGER.warning(f"--exist-ok: this run replaces the weights, results.csv and plots of the earlier run in "
                       f"'{run}' (a plot it does not make again, as with plots=False, stays)"
                       + (f"; its exports stay, of the earlier weights: {', '.join(exports)} (export again)"
                          if exports else ""))
    else:  # not a run's folder, or one cut short: what of its files the run writes over
        LOGGER.warning(f"--exist-ok: this run writes into '{run}', which holds files already: its weights/, "
                       "args.yaml, distill.yaml, results.csv and plots replace any of the same name")


def check_inputs_outside_run(args: dict[str, Any], **inputs: Any) -> None:
    """A reused run folder (--exist-ok; without --name Ultralytics' exp) gets new weights/best.pt, last.pt and
    epochN.pt: a teacher or student read from one of them would be replaced by the student mid-run."""
    if args.get("exist_ok"):  # a new folder holds nothing of the user's
        check_inputs_outside([run_dir(args) / "weights"], "this run", **inputs)


def check_inputs_outside(weights: list[Path], writer: str, **inputs: Any) -> None:
    """No teacher or student is a best.pt, last.pt or epochN.pt in one of the `weights` folders `writer` fills."""
    folders = {Path(w).resolve() for w in weights}
    for role, path in inputs.items():
        written = isinstance(path, (str, Path)) and re.fullmatch(r"best\.pt|last\.pt|epoch\d+\.pt", Path(path).name)
        if written and Path(path).is_file() and (folder := Path(path).parent.resolve()) in folders:
            shown = "pretrained=" if role == "pretrained" else f"--{role}"
            raise UserError(f"{shown} '{path}' is in the weights folder {writer} writes ({folder}): copy it "
                            "elsewhere first, or pick another --name")


def claim_new(folder: Path) -> Path:
    """`folder`, or the next exp-N free, made at once: two unnamed comparisons started together both picked exp, as
    it is made only when the first run trains, and the second's compare.json replaced the first's."""
    from ultralytics.utils.files import increment_path

    while True:
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:  # taken meanwhile (or a file): the next number free now
            folder = increment_path(folder.parent / "exp")
