"""The study file behind scripts/bench_efficacy.py: its schema, checked whole before anything trains, each arm's spec
(what decides its numbers), and the targets judged from the runs. Arms are data, not code branches: a new arm or
candidate recipe is a few lines of the study file. The study's data and its fingerprints are in _cache.py.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from yolodistill.errors import UserError
from yolodistill.plans import ADDED_SETTINGS

METHODS = ("plain", "builtin", "ours")
STUDY_KEYS = ("name", "data", "teacher", "student", "imgsz", "batch", "epochs", "seeds", "arms")
# optional keys; recipe: a YAML anchor the arms merge (<<: *recipe), read by nothing else
OPTIONAL_KEYS = ("format", "candidates", "targets", "train_args", "labelled", "split_seed", "description", "recipe")
TEACHER_KEYS = ("checkpoint", "model", "epochs")
ARM_KEYS = {"method", "student", "epochs", "distill", "config", "seeds", "train_args", "note", "data", "unlabeled"}
TARGET_KEYS = {"arm", "above", "by", "per_seed", "gap", "aim", "between", "share"}
ARM_DATA = ("labelled", "full")  # with a study's `labelled: SHARE`: its labelled part, or every train image labelled
PER_SEED = (None, "at_least", "above")
RESERVED = ("teacher-val", "teacher.json")  # files of the study folder beside the arms
ADDED_KEYS = ("dataset", "student_sha256")  # spec keys newer than some recorded runs: absent from one, not a change
# distillation settings newer than some recorded runs, each with the value that does what the code did before it
# existed: a run recorded without the setting stands for an arm only where the arm has it at that value
RUNNER_ARGS = {"model", "data", "epochs", "imgsz", "batch", "seed", "device", "workers", "project", "name",
               "exist_ok", "resume", "distill_model", "plots"}  # set by the study and the runner

def unique_keys_loader():
    """yaml's SafeLoader, refusing a key given twice in one mapping (safe_load keeps the last in silence: an arm
    listed twice lost its first definition). A key a merge (<<: *recipe) brings in may be set again."""
    import yaml

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen = set()
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node)
                    if key in seen:
                        raise yaml.constructor.ConstructorError(None, None, f"key {key!r} is given twice",
                                                                key_node.start_mark)
                    seen.add(key)
            return super().construct_mapping(node, deep)

    return Loader


def load_study(path: Path) -> dict[str, Any]:
    """The study file, checked whole before anything trains: a typo is one line now, not an error an hour in."""
    import yaml

    from yolodistill.errors import require_file

    try:
        text = require_file(path, "study file", (".yaml", ".yml")).read_text()
        study = yaml.load(text, Loader=unique_keys_loader()) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise UserError(f"study file '{path}' is not valid YAML: {str(e).splitlines()[0]}"
                        + (f" (line {mark.line + 1})" if mark else "")) from None
    if not isinstance(study, dict):
        raise UserError(f"study file '{path}' must be a mapping of key: value lines")
    missing = [k for k in STUDY_KEYS if k not in study]
    if missing:
        raise UserError(f"study file '{path}' lacks {', '.join(missing)}")
    where = f"study file '{path}'"
    if unknown := sorted(set(study) - {*STUDY_KEYS, *OPTIONAL_KEYS}, key=str):
        raise UserError(f"{where}: unknown key(s) {', '.join(map(str, unknown))} (known: "
                        f"{', '.join(STUDY_KEYS + OPTIONAL_KEYS)})")
    from yolodistill.convert import FORMATS

    texts = {"data": (bool, "a dataset folder or yaml, or synth"), "description": (lambda _: True, "text"),
             "format": (lambda f: f.strip().lower() in FORMATS, ", ".join(FORMATS))}
    for key, (ok, what) in texts.items():
        require(key not in study or (isinstance(study[key], str) and ok(study[key])),
                f"{where}: {key} must be {what}, got {study.get(key)!r}")
    if "format" in study:  # as convert reads it: " COCO " and coco are one format, and one data cache
        study["format"] = study["format"].strip().lower()
    require("format" in study or study["data"] == "synth", f"{where}: format missing: say which format the data "
            f"'{study['data']}' is in (format: {', '.join(FORMATS)})")
    require(folder_name(study["name"]), f"{where}: name must be a folder name (letters, digits, . _ -), got "
            f"{study['name']!r}")
    for key in ("imgsz", "batch", "epochs"):
        require(whole(study[key], 1), f"{where}: {key} must be a whole number >= 1, got {study[key]!r}")
    study["seeds"] = seed_list(study["seeds"], where)
    if "labelled" in study:
        share = study["labelled"]
        require(number(share) and 0 < share < 1, f"{where}: labelled must be a share between 0 and 1 (the part of the "
                f"train split that keeps its labels), got {share!r}")
        require(whole(study.setdefault("split_seed", 0), 0), f"{where}: split_seed must be a whole number >= 0")
    require("split_seed" not in study or "labelled" in study, f"{where}: split_seed needs labelled: SHARE (it seeds "
            "the split of the train images)")
    t = study["teacher"]
    if isinstance(t, dict) and (unknown := sorted(set(t) - set(TEACHER_KEYS), key=str)):
        raise UserError(f"{where}: teacher: unknown key(s) {', '.join(map(str, unknown))} (known: "
                        f"{', '.join(TEACHER_KEYS)})")
    require(isinstance(t, dict) and (t.get("checkpoint") or (t.get("model") and whole(t.get("epochs"), 1))),
            f"{where}: teacher needs a checkpoint, or a model yaml and epochs (a whole number >= 1) to train one")
    check_model(study["student"], "student", where)
    if t.get("model"):
        check_model(t["model"], "teacher model", where)
    check_train_args(study.get("train_args"), where)
    arms, candidates = study["arms"], study.get("candidates") or {}
    for key, section in (("arms", arms), ("candidates", candidates)):
        require(isinstance(section, dict) and (section or key == "candidates"),
                f"{where}: {key} must be a mapping of arm name to its settings")
    if clash := set(arms) & set(candidates):
        raise UserError(f"{where}: {', '.join(sorted(clash))} is both an arm and a candidate")
    arms = study["arms"] = {**arms, **candidates}  # candidates: arms of the recipe study
    for name, arm in arms.items():
        check_arm(study, name, arm)
    targets = study.setdefault("targets", [])
    require(isinstance(targets, list), f"{where}: targets must be a list")
    for target in targets:
        check_target(target, arms)
    return study


def require(ok: Any, message: str) -> None:
    if not ok:
        raise UserError(message)


def whole(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


def folder_name(name: Any) -> bool:
    """Study and arm names become folders under --work."""
    return isinstance(name, str) and bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name))


def official(model: str) -> bool:
    """An Ultralytics release name (yolo26n.pt) that is not on disk: Ultralytics downloads it, as for `yolo train`."""
    from ultralytics.utils.downloads import GITHUB_ASSETS_NAMES

    return model in GITHUB_ASSETS_NAMES and not Path(model).exists()


def check_model(model: Any, what: str, where: str, yaml_only: bool = False) -> None:
    """A model yaml must be one Ultralytics finds (a file, or a built-in name such as yolo26n.yaml), as it loads one,
    and a .pt a file (or a release Ultralytics downloads): a typo is one line now, not a FileNotFoundError once the
    teacher has trained. `yaml_only`: a script that builds the model from its yaml."""
    require(isinstance(model, str) and model, f"{where}: {what} must be a model yaml or a checkpoint, got {model!r}")
    suffix = Path(model).suffix.lower()
    require(not yaml_only or suffix in (".yaml", ".yml"), f"{where}: {what} '{model}' is not a model yaml: this "
            "script builds the student from its yaml (e.g. yolo26n.yaml)")
    if suffix == ".pt":
        require(Path(model).is_file() or official(model), f"{where}: {what} '{model}' does not exist: give the path "
                "of a checkpoint (.pt), or a model yaml such as yolo26n.yaml")
    if suffix == ".pt" and Path(model).is_file():
        from _common import checkpoint_task

        checkpoint_task(Path(model), what, where)
    if suffix not in (".yaml", ".yml"):
        return
    from ultralytics.nn.tasks import guess_model_task, yaml_model_load

    from yolodistill.loading import OTHER_DETECTORS, check_task

    try:
        cfg = yaml_model_load(model)
    except Exception:  # noqa: BLE001 - FileNotFoundError for an unknown name, a YAML error for a broken file
        raise UserError(f"{where}: {what} '{model}' is neither a model yaml Ultralytics knows (e.g. yolo26n.yaml) "
                        "nor a readable yaml file") from None
    try:
        head = str(cfg["head"][-1][-2])  # the output module, which guess_model_task reads
    except (KeyError, IndexError, TypeError):
        raise UserError(f"{where}: {what} '{model}' is not a model yaml (it has no backbone and head): use a "
                        "detection yaml such as yolo26n.yaml") from None
    require(head not in OTHER_DETECTORS, f"{where}: {what} '{model}' is {OTHER_DETECTORS.get(head)} model ({head} "
            "head), which yolodistill does not distill: use a YOLO detection yaml such as yolo26n.yaml")
    try:  # a classifier (yolo26n-cls.yaml) trained until its first batch: 'Classify' object has no attribute 'stride'
        check_task(guess_model_task(cfg), what, model)
    except UserError as e:
        raise UserError(f"{where}: {e}") from None


def seed_list(seeds: Any, where: str) -> list[int]:
    require(isinstance(seeds, list) and seeds and all(whole(s, 0) for s in seeds) and len(set(seeds)) == len(seeds),
            f"{where}: seeds must be a list of distinct whole numbers >= 0, got {seeds!r}")
    return seeds


def check_train_args(train_args: Any, where: str) -> None:
    """Ultralytics train arguments, by Ultralytics' own list; the ones the study itself sets are refused."""
    from ultralytics.utils import DEFAULT_CFG_KEYS

    if train_args is None:
        return
    require(isinstance(train_args, dict), f"{where}: train_args must be a mapping of Ultralytics train arguments")
    if unknown := sorted(set(train_args) - set(DEFAULT_CFG_KEYS)):
        raise UserError(f"{where}: train_args {', '.join(unknown)} are not Ultralytics train arguments")
    if owned := sorted(set(train_args) & RUNNER_ARGS):
        raise UserError(f"{where}: train_args {', '.join(owned)} are set by the study, not by train_args")
    from ultralytics.cfg import check_cfg

    from yolodistill.errors import first_line

    try:
        check_cfg(copy.deepcopy(train_args))  # Ultralytics' own type and range checks, as its get_cfg makes them
    except (TypeError, ValueError) as e:
        raise UserError(f"{where}: train_args: {first_line(e)}") from None
    from yolodistill.checks import check_optimizer  # the two Ultralytics refuses only once the run has started

    try:
        check_optimizer(train_args.get("optimizer"))
    except UserError as e:
        raise UserError(f"{where}: train_args {e}") from None
    if isinstance(pretrained := train_args.get("pretrained"), str):
        require(Path(pretrained).is_file() or official(pretrained), f"{where}: train_args pretrained={pretrained} "
                "does not exist: give the path of a checkpoint (.pt), or true or false")


def check_arm(study: dict[str, Any], name: str, arm: Any) -> None:
    from yolodistill.config import DistillConfig, resolve

    require(folder_name(name) and name not in RESERVED, f"arm {name!r}: an arm name must be a folder name (letters, "
            f"digits, . _ -) other than {', '.join(RESERVED)}")
    require(isinstance(arm, dict), f"arm '{name}': its settings must be a mapping, e.g. {{method: plain}}")
    require(isinstance(arm.get("note", ""), str), f"arm '{name}': note must be text, got {arm.get('note')!r}")
    if unknown := set(arm) - ARM_KEYS:
        raise UserError(f"arm '{name}': unknown key(s) {', '.join(sorted(unknown))} (known: "
                        f"{', '.join(sorted(ARM_KEYS))})")
    if arm.get("method") not in METHODS:
        raise UserError(f"arm '{name}': method must be one of {', '.join(METHODS)}, got {arm.get('method')!r}")
    arms, where = list(study["arms"]), f"arm '{name}'"
    seeds = seed_list(arm["seeds"], where) if "seeds" in arm else study["seeds"]
    if extra := set(seeds) - set(study["seeds"]):
        raise UserError(f"{where}: seeds {sorted(extra)} are not among the study's {study['seeds']}")
    if "epochs" in arm:
        require(whole(arm["epochs"], 1), f"{where}: epochs must be a whole number >= 1, got {arm['epochs']!r}")
    if (source := arm.get("student")) is not None:
        require(source in arms, f"{where}: student must name another arm (its best.pt of the same seed is the "
                f"start), got {source!r}")
        require(arms.index(source) < arms.index(name), f"{where} starts from arm '{source}', which must be listed "
                "before it")
        source_seeds = study["arms"][source].get("seeds", study["seeds"])
        if missing := sorted(set(seeds) - set(source_seeds)):
            raise UserError(f"{where} starts from arm '{source}', which does not run seed(s) {missing}")
    check_train_args(arm.get("train_args"), where)
    if "data" in arm or arm.get("unlabeled"):
        require("labelled" in study, f"{where}: data and unlabeled need the study's labelled: SHARE (the split of "
                "the train images into a labelled and an unlabelled part)")
    require(arm.get("data", "labelled") in ARM_DATA, f"{where}: data must be one of {', '.join(ARM_DATA)}")
    require(isinstance(arm.get("unlabeled", False), bool), f"{where}: unlabeled must be true or false")
    if arm.get("unlabeled"):
        require(arm["method"] == "ours" and arm.get("data", "labelled") == "labelled",
                f"{where}: unlabeled images are for method ours on the labelled part")
    if ("distill" in arm or "config" in arm) and arm["method"] != "ours":
        raise UserError(f"{where}: distillation settings (distill, config) apply to method ours only")
    distill = arm.get("distill") or {}
    require(isinstance(distill, dict), f"{where}: distill must be a mapping of distillation settings")
    if unknown := sorted(set(distill) - set(DistillConfig.keys())):
        raise UserError(f"{where}: {', '.join(unknown)} is not a distillation setting (Ultralytics arguments go in "
                        "train_args)")
    if arm["method"] == "ours":
        try:
            resolve(arm.get("config"), **start_of(study, arm), **distill)  # bad values fail here
        except UserError as e:
            raise UserError(f"{where}: {e}") from None


def check_target(target: Any, arms: dict[str, Any]) -> None:
    require(isinstance(target, dict), f"target {target!r} must be a mapping such as {{arm: ours, above: plain}}")
    if unknown := set(target) - TARGET_KEYS:
        raise UserError(f"target {target}: unknown key(s) {', '.join(sorted(unknown))} (known: "
                        f"{', '.join(sorted(TARGET_KEYS))})")
    kinds = [k for k in ("above", "gap", "between") if k in target]
    require(len(kinds) == 1, f"target {target}: give one of above: ARM, gap: SHARE, or between: [FROM, TO] with share")
    for key in ("arm", "above"):
        if key in target or key == "arm":
            require(target.get(key) in arms, f"target {target}: no arm {target.get(key)!r}")
    if "between" in target:
        ends = target["between"]
        require(isinstance(ends, list) and len(ends) == 2 and all(e in arms for e in ends) and "share" in target,
                f"target {target}: between needs two arm names [FROM, TO] and a share of the way from one to the "
                "other")
    if "gap" in target:
        require("plain" in arms, f"target {target}: the gap is measured against an arm named plain, and there is none")
    for key in ("by", "gap", "aim", "share"):
        require(key not in target or number(target[key]), f"target {target}: {key} must be a number >= 0")
        require(key == "by" or target.get(key, 0) <= 2, f"target {target}: {key} is a share, at most 2 (0.5 for "
                f"50 %; above 1 to beat the teacher or the far arm), got {target.get(key)!r}")
    require(target.get("per_seed") in PER_SEED, f"target {target}: per_seed must be at_least or above")


def start_of(study: dict[str, Any], arm: dict[str, Any]) -> dict[str, Any]:
    """What decides whether an arm's student has weights of its own (config.resolve's trained_student block): its
    start (another arm's best.pt, or the study's student) and any pretrained= in its train_args."""
    train_args = {**(study.get("train_args") or {}), **(arm.get("train_args") or {})}
    return {"student": "best.pt" if arm.get("student") is not None else study["student"],
            "pretrained": train_args.get("pretrained")}


def arm_spec(study: dict[str, Any], name: str, data: dict[str, str] | None = None) -> dict[str, Any]:
    """Everything that decides an arm's recipe. Device, threads and workers are left out: the first two decide speed,
    and workers which loader process's random stream augments each batch, as a seed does (each run's args.yaml and
    the record keep them). `data`: the fingerprint of each dataset (labelled, full), that of the one the arm trains
    on kept as `dataset`, so a run made on other data (another source, an edited one, another split) is not taken for
    this arm's."""
    from yolodistill.config import resolve

    arm = study["arms"][name]
    spec = {"method": arm["method"], "student": arm.get("student") or study["student"],
            "from_arm": arm.get("student") is not None, "epochs": arm.get("epochs", study["epochs"]),
            "imgsz": study["imgsz"], "batch": study["batch"],
            "train_args": {**(study.get("train_args") or {}), **(arm.get("train_args") or {})}}
    if "labelled" in study:  # only then: specs of studies without a split stay as their runs recorded them
        spec["data"] = arm.get("data", "labelled")
        spec["unlabeled"] = bool(arm.get("unlabeled"))
    if arm["method"] == "ours":
        spec["config"] = arm.get("config")
        spec["distill"] = resolve(arm.get("config"), **start_of(study, arm), **(arm.get("distill") or {}))[0].to_dict()
    if data is not None:
        spec["dataset"] = data[arm.get("data", "labelled")]
    if not spec["from_arm"] and (print_ := model_sha256(spec["student"])):
        spec["student_sha256"] = print_
    return spec


def recorded_spec(spec: dict[str, Any], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """An arm's spec as its record gives it: its student's content (student_sha256) only where each of its runs was
    made with it; a run recorded before that key stands unchecked (ADDED_KEYS), and the key would claim a check."""
    return {k: v for k, v in spec.items() if k != "student_sha256" or all(k in r["spec"] for r in runs)}


MODEL_SHA256: dict[tuple, str] = {}  # by path, size and mtime (a built-in name: by name): read once per process


def model_sha256(model: str) -> str | None:
    """A model's content, so a file edited or replaced at the same path is not taken for the one its runs (or a
    cached teacher) were made from: a .pt's sha256; a yaml's, of the model it describes as Ultralytics reads it
    (yolo26n.yaml: its package's yolo26.yaml at scale n; comments aside). None for a release name Ultralytics
    downloads (fixed by its name), or a file that is not there."""
    import hashlib

    from ultralytics.nn.tasks import yaml_model_load
    from ultralytics.utils.downloads import GITHUB_ASSETS_NAMES

    from _cache import sha256

    path, suffix = Path(model), Path(model).suffix.lower()
    if suffix not in (".yaml", ".yml", ".pt") or model in GITHUB_ASSETS_NAMES:
        return None
    key = (str(path.resolve()), path.stat().st_size, path.stat().st_mtime_ns) if path.is_file() else (model,)
    if key in MODEL_SHA256:
        return MODEL_SHA256[key]
    if suffix == ".pt":
        if not path.is_file():
            return None
        MODEL_SHA256[key] = sha256(path)
    else:
        try:
            cfg = model_config(yaml_model_load(model))
        except Exception:  # noqa: BLE001 - not there: check_model says so where it matters
            return None
        MODEL_SHA256[key] = hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()
    return MODEL_SHA256[key]


# set where a model is built or trained, not by its yaml: yaml_file (the path it was read from), nc (the data's
# classes replace the yaml's) and channels (added at build); a checkpoint's model.yaml differs from its yaml by these
BUILD_KEYS = ("yaml_file", "nc", "channels")


def model_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """What a model yaml (as yaml_model_load reads it) or a checkpoint's model.yaml says of the model built from it:
    the same for a yaml and the weights trained from it, as model_sha256 and _cache.made_from compare them."""
    return json.loads(json.dumps({k: v for k, v in cfg.items() if k not in BUILD_KEYS}, default=str))


def same_spec(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """A finished run still stands for its arm: the same settings, where a distillation setting added to yolodistill
    since then (absent from the old record) is not a change if the arm has it at the value that does what the code
    did before (ADDED_SETTINGS), nor is a key of ADDED_KEYS that the old run's spec lacks: a run recorded before its
    key existed cannot be checked by it (bench_efficacy checks its data by path instead)."""
    new = {k: v for k, v in json.loads(json.dumps(new)).items() if k in old or k not in ADDED_KEYS}
    old_distill, new_distill = old.get("distill"), new.get("distill")
    if old_distill is not None and new_distill is not None:
        old_distill = {**{k: v for k, v in ADDED_SETTINGS.items() if k in new_distill}, **old_distill}
    return ({k: v for k, v in old.items() if k != "distill"} == {k: v for k, v in new.items() if k != "distill"}
            and old_distill == new_distill)


def spec_change(old: dict[str, Any], spec: dict[str, Any], run_dir: Path, data_yaml: Path) -> str | None:
    """What differs between a run's recorded spec and the arm's now (None: nothing). A spec from before `dataset`
    was recorded is checked by the data.yaml its run trained on (Ultralytics' args.yaml): the same file, or one that
    still holds the same data (the source moved, and was converted again into a folder of its own)."""
    import yaml

    from _cache import dataset_fingerprint

    old = old.get("spec") or old
    if not same_spec(old, spec):
        return ", ".join(sorted(k for k in {*old, *spec} if old.get(k) != spec.get(k)
                                and (k in old or k not in ADDED_KEYS)))
    args = run_dir / "args.yaml"
    if "dataset" not in old and args.exists():
        used = Path(str(yaml.safe_load(args.read_text()).get("data")))
        if used != data_yaml and not (used.is_file() and dataset_fingerprint(used) == dataset_fingerprint(data_yaml)):
            return "data"
    return None


def same_source(record: dict[str, Any], source_state: str, best: Path) -> bool:
    """A finished run still stands on its source arm's best.pt: that run is finished and not trained again now, and
    its best.pt is the one this run started from (by sha256; a run recorded before that was kept is taken as is)."""
    from _cache import sha256

    return (source_state in ("done", "validate")
            and record.get("source_sha256", None) in (None, best.exists() and sha256(best)))


def check_runs_teacher(study: dict[str, Any], root: Path, plan: dict[tuple[str, int], str],
                       teacher: dict[str, Any]) -> None:
    """A finished run that distilled from another teacher file (by sha256) does not stand for its arm: refused, as a
    changed arm is, before anything trains. Plain runs use no teacher."""
    for (name, seed), state in plan.items():
        marker = root / name / f"seed{seed}" / "run.json"
        if state != "done" or study["arms"][name]["method"] == "plain" or not teacher.get("sha256"):
            continue
        used = json.loads(marker.read_text()).get("teacher_sha256")
        if used and used != teacher["sha256"]:
            raise UserError(f"arm '{name}' seed {seed} in '{marker.parent}' distilled from another teacher (sha256 "
                            f"{used[:12]}) than '{teacher['checkpoint']}' ({teacher['sha256'][:12]}): give the study "
                            "that teacher, or another --work")
