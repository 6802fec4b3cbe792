"""Which runs of a study train now, settled before any does: a changed arm, or one whose start cannot exist, is
refused before the first epoch rather than an hour in."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from _cache import finished, read
from _study import arm_spec, same_source, spec_change

from yolodistill.errors import UserError


def plan_runs(study: dict[str, Any], root: Path, chosen: list[str], seeds_now: list[int], train: bool,
              datasets: dict[str, Path], prints: dict[str, str]) -> dict[tuple[str, int], str]:
    """Each run's state, settled before anything trains: done, train, pending, validate (trained to its end, killed
    in its final validation: its best.pt stands, for it and for the arms started from it), or (a finished run that
    started from another arm's best.pt, which has changed or is not there) retrain or stale. An arm changed since its
    runs, or an arm whose source run will not exist, is refused now rather than an hour in; a run folder with no
    checkpoint (it failed before its first epoch) is no run, whatever its spec.json says."""
    plan: dict[tuple[str, int], str] = {}
    for name, arm in study["arms"].items():
        spec = arm_spec(study, name, prints)
        for seed in arm.get("seeds", study["seeds"]):
            run_dir = root / name / f"seed{seed}"
            started = any((run_dir / "weights" / w).exists() for w in ("last.pt", "best.pt"))  # else: start again
            for path in (run_dir / "run.json", *[run_dir / "spec.json"] * started):
                if path.exists() and (what := spec_change(json.loads(path.read_text()), spec, run_dir,
                                                          datasets[arm.get("data", "labelled")])):
                    raise UserError(f"arm '{name}' changed since its seed-{seed} run in '{run_dir}' was made "
                                    f"({what}): rename the arm, or delete that folder to train it again")
            now = train and name in chosen and seed in seeds_now
            state = "done" if (run_dir / "run.json").exists() else "train" if now else "pending"
            source = plan[(spec["student"], seed)] if spec["from_arm"] else "done"
            best = root / spec["student"] / f"seed{seed}" / "weights" / "best.pt"
            if spec["from_arm"] and source == "done" and not best.is_file():  # its source's best.pt is gone
                if state == "done":  # finished: kept (said where it held the sha256); --report-only, --arms go on
                    if "source_sha256" in read(run_dir / "run.json"):
                        unchecked(name, spec["student"], seed, best)
                    plan[(name, seed)] = state
                    continue
                check_source_weights(name, spec["student"], seed, state, best)  # to start from now
            if state == "train" and (run_dir / "spec.json").exists() and finished(run_dir) and (
                    not spec["from_arm"] or same_source(read(run_dir / "source.json"), source, best)):
                state = "validate"
            if spec["from_arm"]:
                if state == "train" and source in ("pending", "stale"):
                    raise UserError(f"arm '{name}' starts from arm '{spec['student']}' at seed {seed}, which has not "
                                    "run: include it in --arms")
                if state == "done" and not same_source(read(run_dir / "run.json"), source, best):
                    state = "retrain" if now else "stale"
                    why = ("is not finished" if source not in ("done", "validate") else
                           "has a best.pt other than the one this run started from")
                    print(f"{name} seed {seed}: its source arm '{spec['student']}' {why}: "
                          f"{'training it again' if now else 'left out until it is trained again'}", flush=True)
            plan[(name, seed)] = state
    return plan


def check_source_weights(name: str, source: str, seed: int, state: str, best: Path) -> None:
    """A finished source run whose best.pt is gone cannot start an arm that trains now: it was said to have another
    best.pt, then the start failed on the missing file. Said before anything trains, once."""
    if state == "train":
        raise UserError(f"arm '{source}' seed {seed} is finished but its best.pt is missing ('{best}'), which arm "
                        f"'{name}' seed {seed} would start from now: put the file back; or leave '{name}' out of "
                        f"--arms for now; or, to train both again, delete '{best.parent.parent}'")


UNCHECKED: set[tuple[str, Path]] = set()  # said once per process: plan_runs settles the plan twice


def unchecked(name: str, source: str, seed: int, best: Path) -> str:
    """A finished run whose source arm's best.pt is gone: it stands (in the record, and for the arms not trained now),
    but what it started from can no longer be checked (by sha256). The line, said once on stderr."""
    line = (f"arm '{name}' seed {seed}: its source arm '{source}' best.pt is missing ('{best}'), so the start of this "
            "finished run cannot be checked: it is kept as it is; put the file back to check it")
    if (name, best) not in UNCHECKED:
        UNCHECKED.add((name, best))
        print(line, file=sys.stderr, flush=True)
    return line


def check_side_by_side(study: dict[str, Any], plan: dict[tuple[str, int], str], prints: dict[str, str]) -> None:
    """Arms whose processes train at once (--prepare-only, then one process per arm: parallel_study.sh) cannot hold one
    that starts from another's best.pt: that one was refused once the others had trained for the whole lease."""
    for (name, seed), state in plan.items():
        spec = arm_spec(study, name, prints)
        if state in ("train", "retrain") and spec["from_arm"] and plan[(spec["student"], seed)] != "done":
            source = spec["student"]
            raise UserError(f"arm '{name}' starts from the best.pt of arm '{source}' (seed {seed}), which is not "
                            f"finished: with the arms in processes side by side (parallel_study.sh), finish '{source}' "
                            f"first, then '{name}'")


def unchecked_notes(root: Path, runs: list[dict[str, Any]]) -> list[str]:
    """The record's notes of its finished runs whose source arm's best.pt is gone (unchecked)."""
    notes = []
    for run in runs:
        best = root / run["spec"]["student"] / f"seed{run['seed']}" / "weights" / "best.pt"
        if run["spec"].get("from_arm") and run.get("source_sha256") and not best.is_file():
            notes.append(unchecked(run["arm"], run["spec"]["student"], run["seed"], best))
    return notes
