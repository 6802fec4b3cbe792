"""`yolodistill compare`: does distilling beat training the student alone, and does our recipe beat Ultralytics' own?

Per seed and with identical Ultralytics settings it trains the plain student, the student with Ultralytics' built-in
distiller at its default weight, and the student with our recipe; validates the teacher once; and writes
compare.json, compare.md and compare.png beside the runs in project/NAME/{method}-seed{S}/. One seed proves
little on a short schedule, where seed noise can exceed the effect, hence the spread over seeds.

Each finished run leaves compare-run.json in its folder (its record and the settings it trained with), so a Ctrl-C
costs only the run it cut: the same command with --exist-ok keeps every run whose settings match and trains the rest.
"""

from __future__ import annotations

import errno
import json
import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from numbers import Integral
from pathlib import Path
from typing import Any, Iterable

from rich.console import Console
from rich.markup import escape

from .config import config_keys_named
from .errors import (DiskFull, UserError, batch_of_one_refused, check_name, check_output, check_seed, check_switch,
                     disk_full, out_of_space, python_values)
from .locks import compare_folder, hold_picked, holding
from .plans import (RUN_RECORD, chosen_optimizer, file_stamp, finished_earlier, finished_runs, kept_how, method_args,
                    plan_changes, reported_runs, rerun_advice, run_plan, run_record)
from .report import (DEFINITIONS, compare_markdown, compare_plot, compare_table, environment, epochs_note,
                     method_descriptions, optimizer_note, print_whole, summarize, unlabeled_note, write_json)
from .utils import atomic_write_text, file_digest, held_signals, sticky_interrupt
from .words import COMPARE_GOES_ON

METHODS = ("plain", "builtin", "ours")
TRAIN_PROJECT = "runs/distill"  # train's default folder, which configs/default.yaml names; compare's is runs/compare
# Validation settings the students' final evaluation takes from the shared train args; the teacher gets the same.
VAL_KEYS = ("imgsz", "device", "workers", "conf", "iou", "max_det", "single_cls", "classes", "half")


@dataclass
class CompareResult:
    """Where the comparison wrote its files, and what it found."""

    save_dir: Path
    json_path: Path
    md_path: Path
    plot_path: Path
    summary: dict[str, dict[str, Any]]
    teacher: dict[str, Any]
    runs: list[dict[str, Any]]
    notes: list[str]


class CompareInterrupted(KeyboardInterrupt):
    """Ctrl-C during a comparison: what finished, and the command that trains the rest."""

    def __init__(self, finished: int, planned: int, save_dir: Path, command: str, gone: bool = False,
                 over: tuple[str, ...] = ()):
        super().__init__(rerun_advice(finished, planned, save_dir, gone, command, over=over))


def split_list(value: str | Iterable[Any]) -> list[str]:
    """Items of '0,1,2' from the command line or of a sequence from Python. An empty item between two others ('0,,1')
    is a ValueError: something left out by a slip, not a list of two; a trailing comma is none."""
    if isinstance(value, str):
        items = [v.strip() for v in value.strip().rstrip(",").split(",")]
        if len(items) > 1 and "" in items:
            raise ValueError(f"an empty item in {value!r}")
        return [v for v in items if v]
    if isinstance(value, (bytes, bytearray)):  # b"0" iterated as 48
        raise TypeError(f"bytes {value!r}")
    items = [value] if isinstance(value, Integral) else list(value)
    return [str(v).strip() for v in items if str(v).strip()]


def parse_seeds(seeds: str | Iterable[int]) -> list[int]:
    """Distinct whole numbers: a repeated seed would train into the folder of the first."""
    try:
        out = [int(s) for s in split_list(seeds)]
    except (TypeError, ValueError):  # TypeError: not a sequence (seeds=None from Python)
        raise UserError(f"--seeds must be whole numbers separated by commas (0,1,2), got {seeds!r}") from None
    if not out:
        raise UserError("no seeds: pass at least one, e.g. --seeds 0,1,2")
    for s in out:
        check_seed(s, "--seeds")
    if len(set(out)) < len(out):
        raise UserError(f"--seeds repeats a seed ({', '.join(map(str, out))}): each seed trains once per method")
    return out


def parse_methods(methods: str | Iterable[str]) -> list[str]:
    """Known methods in the canonical order, so tables always read plain, builtin, ours."""
    try:
        names = [m.lower() for m in split_list(methods)]
    except (TypeError, ValueError):  # not a sequence (methods=None from Python), or an item left out
        raise UserError(f"--methods must be some of {', '.join(METHODS)} separated by commas, got {methods!r}") from None
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        raise UserError(f"unknown method(s) {', '.join(unknown)}: choose from {', '.join(METHODS)}")
    if not names:
        raise UserError(f"no methods: pass some of {', '.join(METHODS)}, e.g. --methods plain,ours")
    return [m for m in METHODS if m in names]


def advised(error: UserError, advice: str) -> UserError:
    """A refusal whose message ends with `advice` (the compare command to continue with), kept apart so that a caller
    running its own command (the demo) can give its own."""
    error.advice = advice
    return error


def compare_dir(project: str | Path, name: str | None, exist_ok: bool) -> Path:
    """project/NAME, or the next free exp, exp-2, ... as Ultralytics names runs; a named folder that exists is
    reused only with exist_ok, and not where it holds a compare.md or .png without the compare.json compare writes
    with them (a user's, which the report would replace)."""
    from ultralytics.utils.files import increment_path

    check_switch(exist_ok, "exist_ok")  # 'no' from Python was read as true, and a comparison written over
    check_name(name)
    root = check_output(Path(str(project)).resolve(), "--project")  # str: name=5 from Python is a number
    named = name not in (None, "")
    out = (root / str(name)).resolve() if named else increment_path(root / "exp", exist_ok=exist_ok)
    if out.exists() and not out.is_dir():  # said to exist, then --exist-ok blamed --project for it
        raise UserError(f"compare folder '{out}' is a file: pick another --name or --project")
    if named and out.exists() and not exist_ok:  # new/../exp, with no folder new, is exp
        raise UserError(f"compare folder '{out}' exists: pass --exist-ok to reuse it, or another --name")
    mine = [n for n in ("compare.md", "compare.png") if (out / n).exists()]
    if mine and not (out / "compare.json").is_file():
        raise UserError(f"compare folder '{out}' holds {mine[0]}, which compare did not write (no compare.json beside "
                        "it) and would replace: move it away, or pass another --name")
    return out


def cli_command(teacher, student, data, epochs, seeds, methods, config, save_dir: Path, overrides: dict) -> str:
    """The `yolodistill compare` line that repeats this comparison, whichever way and wherever it was started."""
    words = ["yolodistill", "compare", "--teacher", str(teacher), "--student", str(student), "--data", str(data),
             "--epochs", str(epochs), "--seeds", ",".join(map(str, seeds)), "--methods", ",".join(methods)]
    if config is not None:  # a file by its absolute path; a shipped recipe's name (--config fast) as it is
        words += ["--config", str(Path(config).resolve()) if Path(config).is_file() else str(config)]
    words += ["--project", str(save_dir.parent), "--name", save_dir.name]
    words += [f"{k}={v if plain_word(k, v) else json.dumps(v, ensure_ascii=False)}"  # a folder of 日本 as written
              for k, v in overrides.items() if v is not None]
    return shlex.join(words)


def absolute_paths(overrides: dict[str, Any]) -> dict[str, Any]:
    """The settings that name files or folders (--unlabeled, pretrained=), absolute where they exist: the command
    compare prints, and the run plans a rerun compares, then mean the same from any folder."""
    def absolute(value: Any) -> Any:
        return str(Path(value).resolve()) if isinstance(value, (str, Path)) and Path(value).exists() else value

    out = dict(overrides)
    for key in ("unlabeled", "pretrained"):
        if isinstance(out.get(key), (list, tuple)):
            out[key] = [absolute(v) for v in out[key]]
        elif key in out:
            out[key] = absolute(out[key])
    return out


def plain_word(key: str, value: Any) -> bool:
    """A string that key=value reads back as that string; '0' (device=0) would come back a number, so it is quoted."""
    from .words import read_word

    return isinstance(value, str) and value == value.strip() and read_word(key, value) == value


def drop_untrained(save_dir: Path, existed: bool) -> bool:
    """Remove a comparison's new folder where no run wrote weights in it, as train removes a run stopped before its
    first batch (an error or a Ctrl-C): the same command then starts again. Whether it was removed."""
    gone = not existed and not any(save_dir.glob("*/weights/*"))
    if gone:
        shutil.rmtree(save_dir, ignore_errors=True)
    return gone


def recorded_images(run_dir: str | Path) -> dict[str, Any]:
    """The images a run of ours trained on, as its distill.yaml records them; empty where it does not read."""
    from .resume import read_record

    images = (read_record(Path(run_dir) / "distill.yaml") or {}).get("images")
    return images if isinstance(images, dict) else {}


def validate_teacher(teacher: str, data: str, args: dict[str, Any], save_dir: Path) -> dict[str, Any]:
    """The teacher's mAP on the val split, with the settings the students' final validation used."""
    from ultralytics import YOLO

    import torch

    from .devices import device_words

    kwargs = {k: args[k] for k in VAL_KEYS if k in args}
    cuda = torch.cuda.is_available() and not device_words(args.get("device")).startswith(("cpu", "mps", "npu", "xpu"))
    if cuda and args.get("amp", True) not in (False, "fp32"):  # Ultralytics' trainer.amp (its own check aside)
        kwargs["quantize"] = 16  # the students' final validation ran in fp16 on a GPU with AMP (Ultralytics' validator
        # keeps the precision it trained with): the teacher in fp32 beside them moved the gap by that difference
    batch = args.get("batch")
    if isinstance(batch, int) and batch >= 1:
        kwargs["batch"] = 2 * batch  # Ultralytics' trainer validates at twice the train batch
    from .checks import split_refusals

    with split_refusals(data):  # a val split only Ultralytics' loader refuses: one line, as train's
        metrics = YOLO(teacher).val(data=data, plots=False, project=str(save_dir), name="teacher-val", exist_ok=True,
                                    **kwargs)
    return {"map50": float(metrics.box.map50), "map50_95": float(metrics.box.map), "val_dir": str(metrics.save_dir)}


def train_run(method: str, seed: int, base: dict[str, Any], ours: dict[str, Any]) -> tuple[Path, dict[str, float]]:
    """Train one method at one seed into base['project']/METHOD-seedS; return the folder and the final metrics.

    plain and builtin get the same Ultralytics args, builtin adding only the teacher; ours gets the same args
    through `resolve`, plus its distillation settings.
    """
    from .checks import split_refusals
    from .strips import whole_strips
    from .resume import best_epoch_metrics, remove_unstarted
    from .train import UltralyticsTrainer, train

    name = f"{method}-seed{seed}"
    if method == "ours":
        result = train(**ours, seed=seed, project=base["project"], name=name, exist_ok=True)
        save_dir, metrics = result.save_dir, result.metrics
    else:
        args = {**method_args(method, base), "seed": seed, "name": name, "exist_ok": True}
        if method == "builtin":
            args["distill_model"] = ours["teacher"]
        # refused once its folder exists (Ultralytics' constructor makes it), or its teacher gone: as train's, none of
        # it is left behind
        try:
            trainer = UltralyticsTrainer(overrides=args)
            with whole_strips(), sticky_interrupt(trainer), batch_of_one_refused(), split_refusals(base.get("data")):
                trainer.train()
        except (UserError, OSError):
            remove_unstarted(Path(base["project"]) / name)
            raise
        save_dir, metrics = Path(trainer.save_dir), trainer.metrics
    return save_dir, dict(metrics or best_epoch_metrics(save_dir / "results.csv"))  # none under DDP


def check_dis(args: dict[str, Any], methods: list[str], config: Any, student: Any) -> None:
    """dis= weighs Ultralytics' built-in distiller: builtin's alone. Ours reads --config again, and train refuses it:
    a recipe's own dis is refused when ours is compared, whatever dis= the command line gives."""
    from .config import resolve

    if args.get("dis") is None:
        return
    if "builtin" not in methods:
        raise UserError(f"dis={args['dis']} weighs the builtin method, which --methods {','.join(methods)} leaves "
                        "out: add builtin, or leave dis= out")
    if "ours" in methods and config is not None and (own := resolve(config, student=student)[1].get("dis")) is not None:
        raise UserError(f"dis: {own} in {config} would reach ours too, which does not take it: give dis= on the "
                        "command line instead, where compare passes it to builtin alone")


@python_values
@config_keys_named
@holding(compare_folder, "--name")
def compare(
    teacher: str | Path | None = None,
    student: str | Path | None = None,
    data: str | Path | None = None,
    epochs: int | None = None,
    seeds: str | Iterable[int] = (0, 1, 2),
    methods: str | Iterable[str] = METHODS,
    config: str | Path | None = None,
    project: str | Path | None = None,
    name: str | None = None,
    exist_ok: bool | None = None,
    console: Console | None = None,
    **overrides: Any,
) -> CompareResult:
    """Train each method once per seed, validate the teacher, and write compare.json, compare.md and compare.png.

    `seeds` and `methods` take sequences or comma-separated strings. `overrides` are Ultralytics train args shared
    by every run and distillation keys (kd_cls, ...) for "ours"; both override `config` as in `yolodistill train`,
    and `epochs` comes from them the same way when not given. Every input is checked before anything is trained or
    written.
    """
    from .checks import SET_BY_FLAG, Plan, preflight
    from .runfolder import check_inputs_outside, claim_new
    from .devices import check_device
    from .recipe import check_pair, check_recipe
    from .config import DistillConfig, resolve
    from .options import as_typed
    import torch
    from ultralytics.data.utils import check_det_dataset

    from .data import fingerprint
    from .unlabeled import unlabeled_sources

    console = console or Console(soft_wrap=True)
    seeds, methods = parse_seeds(seeds), parse_methods(methods)
    reserved = sorted(k for k in overrides if k == "seed" or k in SET_BY_FLAG)  # set per run by compare itself
    if "resume" in reserved:  # compare has no resume of its own: a rerun keeps what finished
        raise UserError(f"compare does not take resume=: {COMPARE_GOES_ON}")
    if reserved:
        raise UserError(f"compare sets {', '.join(reserved)} itself: use --teacher, --student, --data and --seeds")
    if "ours" not in methods:  # distillation settings set ours alone: without it they would change nothing, silently
        flags = [as_typed(k) for k in sorted(overrides) if k in DistillConfig.keys()]
        if config and resolve(config, student=student)[0] != resolve(None, student=student)[0]:
            flags.append(f"--config {config}")  # a --config of train args alone is the methods' shared settings
        if flags:
            raise UserError(f"{', '.join(flags)} {'set' if len(flags) > 1 else 'sets'} ours, which --methods "
                            f"{','.join(methods)} leaves out: add ours, or leave {'them' if len(flags) > 1 else 'it'} "
                            "out")
    check_device(overrides.get("device"))  # at once; preflight turns auto into Ultralytics' own, as train's does
    if isinstance(overrides.get("device"), torch.device):  # as its words: the command and the records are JSON
        overrides["device"] = str(overrides["device"])
    overrides = absolute_paths(overrides)
    distill, args = resolve(config, epochs=epochs, student=student, **overrides)
    if "ours" in methods:  # train refuses these at once; found after plain and builtin trained, hours would be lost
        check_recipe(distill, student, args)
    check_dis(args, methods, config, student)
    if isinstance(batch := args.get("batch"), (int, float)) and not isinstance(batch, bool) and (
            batch == -1 or 0 < batch < 1):  # AutoBatch's; 0 or -2 the batch check names
        raise UserError(f"--batch {batch} (AutoBatch) picks each method's batch by its own memory use (ours' holds "
                        "the teacher too), and a comparison trains every method at one: pass a whole batch, e.g. "
                        "--batch 16")
    if config is not None and (own := args.get("seed")) != resolve(None, student=student)[1].get("seed"):  # was left
        raise UserError(f"seed: {own} in {config}: compare trains each method once per --seeds; pass --seeds {own}")
    epochs = args.get("epochs")
    # the recipe's folder keys, as train takes them from it (a flag wins); train's default folder, which resolve and
    # configs/default.yaml give, leaves compare's own
    if project is None and args.get("project") != TRAIN_PROJECT:
        project = args.get("project")
    name = name if name is not None else args.get("name")
    exist_ok = exist_ok if exist_ok is not None else args.get("exist_ok") is True
    save_dir = compare_dir(project or "runs/compare", name, exist_ok)
    existed = save_dir.exists()
    check_inputs_outside([save_dir / f"{m}-seed{s}" / "weights" for s in seeds for m in methods], "this comparison",
                         teacher=teacher, student=student, pretrained=overrides.get("pretrained"))  # before any trains
    plan = preflight(teacher, student, data, {**args, "project": str(save_dir), "name": None})
    if "ours" in methods:
        check_pair(distill, plan.args, plan.teacher, plan.student)
    plan = Plan(plan.args, None)  # the models the checks loaded, let go: each run loads its own (a yolo26x: 220 MB a run)
    images = fingerprint(check_det_dataset(str(plan.args["data"])), labels=True)
    if "ours" in methods:
        footage = unlabeled_sources(distill, plan.args["data"], save_dir).unlabeled
        images.update({"unlabeled": fingerprint({"train": footage})["train"]} if footage else {})
    if name in (None, "") and not existed:  # unnamed and new: made now, where another comparison may pick it too
        while not hold_picked(save_dir := claim_new(save_dir), "--name"):  # held as a named one's folder is (an
            pass  # unnamed --exist-ok one took it); held already by an unnamed --exist-ok one: the next exp-N
        plan.args["project"] = str(save_dir)
    base = {k: v for k, v in plan.args.items() if k not in ("distill_model", "name", "seed")}
    ours = dict(teacher=plan.args["distill_model"], student=plan.args["model"], data=plan.args["data"],
                config=config, epochs=epochs, **method_args("ours", overrides))  # dis is builtin's

    console.print(f"Comparing {', '.join(methods)} over seeds {', '.join(map(str, seeds))} in {escape(str(save_dir))}")
    if (save_dir / "compare.json").is_file():  # --exist-ok: an earlier comparison's report, replaced at the end
        others = sorted(p.name for p in save_dir.glob("*-seed*") if p.is_dir() and
                        p.name not in {f"{m}-seed{s}" for s in seeds for m in methods})
        console.print("[yellow]This replaces the earlier compare.json, .md and .png there once it finishes[/]"
                      + (f"; runs it does not plan are left as they are ({escape(', '.join(others))})" if others else ""))
    command = cli_command(ours["teacher"], ours["student"], ours["data"], epochs, seeds, methods, config, save_dir,
                          overrides)
    jobs = [(seed, method) for seed in seeds for method in methods]
    plans = {(s, m): run_plan(m, s, base, ours["teacher"], distill.to_dict(), images) for s, m in jobs}
    runs, over, reported = [], [], reported_runs(save_dir)  # over: the earlier report's runs, trained over
    # the input files, checked before each run: Ultralytics' constructor met a data yaml deleted meanwhile with a
    # traceback, and ours read a --config edited meanwhile (its settings not the others', its record the first's);
    # a named dataset or recipe (coco8.yaml, logits) is no file
    files = {Path(str(p)): file_stamp(p) for p in (ours["teacher"], ours["data"], config)
             if p is not None and Path(str(p)).is_file()}
    try:
        teacher_metrics = validate_teacher(ours["teacher"], ours["data"], base, save_dir)
        for i, (seed, method) in enumerate(jobs, 1):
            step = escape(f"[{i}/{len(jobs)}]")
            planned, run_dir = plans[seed, method], save_dir / f"{method}-seed{seed}"
            run = finished_earlier(run_dir, planned)
            if run is None and (gone := next((f for f in files if not f.is_file()), None)):
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(gone))
            if run is None and (edited := next((f for f, was in files.items() if file_stamp(f) != was), None)):
                raise UserError(f"{edited} changed while the comparison ran, and every method trains with the same "
                                "inputs: put it back as it was, or compare anew")
            if run is None:
                if changes := plan_changes(run_dir, planned):
                    over += [run_dir.name] if run_dir.name in reported else []
                    console.print(f"[yellow]{step} {method} seed {seed} ran earlier ({escape(changes)}): "
                                  "trained again, over it[/]")
                console.print(f"[bold]{step} {method} seed {seed}[/] ...")
                (run_dir / RUN_RECORD).unlink(missing_ok=True)  # another plan's: retrained
                run = run_record(method, seed, *train_run(method, seed, base, ours))
                write_json(Path(run["run_dir"]) / RUN_RECORD, {"plan": planned, "run": run,
                                                                "best_sha256": file_digest(run["best"])})
            else:  # a record from before runs named their optimizer: read it, for optimizer_note
                run = run if "optimizer" in run else {**run, **chosen_optimizer(run_dir)}
                console.print(f"{step} {method} seed {seed}: finished earlier {kept_how(run_dir)}, kept")
            console.print(f"{step} {method} seed {seed}: mAP50-95 {run['map50_95']:.3f}, "
                          f"{run['epoch_time_s']:.1f} s/epoch")
            runs.append(run)
    except (UserError, OSError) as e:  # found once runs began: Ultralytics' batch-of-one refusal, a full disk, an
        gone = drop_untrained(save_dir, existed)  # input deleted while it ran
        finished = finished_runs(save_dir, plans)
        if isinstance(e, DiskFull) or (not isinstance(e, UserError) and disk_full(e) is not None):  # DiskFull: ours'
            stale = f" (the earlier report still describes {', '.join(over)} as they were)" if over else ""
            then = f"continue with ({finished} of {len(jobs)} runs finished, kept by it{stale}): {command} --exist-ok"
            raise advised(out_of_space(save_dir, then=then), then) from None  # (train's says train --resume)
        if isinstance(e, FileNotFoundError) and e.filename:  # Ultralytics loads builtin's teacher when its run starts
            e = UserError(f"{e.filename} is gone: it was moved or deleted while the comparison ran; put it back")
        if not isinstance(e, UserError):
            raise
        if gone:  # as train's refusal: nothing of the comparison is left
            raise e from None
        advice = rerun_advice(finished, len(jobs), save_dir, gone, command, fix=True, over=tuple(over))
        error = advised(UserError(f"{e}. {advice}"), advice)
        error.named_in_config = getattr(e, "named_in_config", False)  # train named a --config key already
        raise error from None
    except KeyboardInterrupt:
        gone = drop_untrained(save_dir, existed)
        raise CompareInterrupted(finished_runs(save_dir, plans), len(jobs), save_dir, command, gone,
                                 tuple(over)) from None

    written = False  # a Ctrl-C once every run finished: the report's state, and the command that writes it
    try:
        summary, notes = summarize(runs, teacher_metrics["map50_95"])
        notes += epochs_note(runs, epochs)
        notes += unlabeled_note(next((recorded_images(r["run_dir"]) for r in runs if r["method"] == "ours"), {}))
        notes += optimizer_note(runs)
        record = {
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command,
            "argv": sys.argv,
            "args": {"teacher": str(teacher), "student": str(student), "data": str(data), "epochs": epochs,
                     "seeds": seeds, "methods": methods, "config": None if config is None else str(config),
                     "overrides": overrides},
            "train_args": base, "methods": method_descriptions(methods, base, distill.to_dict()),
            "environment": environment(), "definitions": DEFINITIONS, "teacher": teacher_metrics, "runs": runs,
            "summary": summary, "notes": notes,
        }
        with held_signals():  # a Ctrl-C waits: the three are one comparison's (it left a new .json beside an old .png)
            json_path = write_json(save_dir / "compare.json", record)
            md_path = atomic_write_text(save_dir / "compare.md", compare_markdown(record))
            plot_path = compare_plot(record, save_dir / "compare.png")
            written = True  # a Ctrl-C held over the writes lands after this line
    except KeyboardInterrupt:
        raise (KeyboardInterrupt(f"Every run had finished and the report is written: {json_path}, compare.md, "
                                 "compare.png") if written else
               CompareInterrupted(len(jobs), len(jobs), save_dir, command)) from None
    print_whole(console, compare_table(record))
    for note in notes:
        console.print(f"[yellow]Note:[/] {escape(note)}")
    console.print(f"Results: {escape(str(json_path))}, {md_path.name}, {plot_path.name}", soft_wrap=True)
    return CompareResult(save_dir, json_path, md_path, plot_path, summary, teacher_metrics, runs, notes)
