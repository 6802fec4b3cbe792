"""Recipes: configs/default.yaml, then a user's --config file, then command-line flags, each overriding the last.

A recipe mixes two kinds of keys: the distillation settings below (`DistillConfig`), which Ultralytics does not know
and which travel on their own path, and ordinary Ultralytics train arguments (epochs, imgsz, lr0, ...), which are
checked against Ultralytics' own list.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .balance import MODES as BALANCE_MODES
from .errors import UserError, check_path
from .features import FEATURE_LOSSES
from .schedule import SCHEDULES, kd_factor


TRAINED_STUDENT = "trained_student"  # a recipe's block of distillation keys for a student with weights of its own
CHOICES = {"feat_loss": FEATURE_LOSSES, "kd_schedule": SCHEDULES, "kd_balance": BALANCE_MODES,
           "kd_assign": ("student", "teacher"), "unlabeled_mode": ("soft", "pseudo", "both")}


class NumberLoader(yaml.SafeLoader):
    """PyYAML's safe loader (YAML 1.1) with YAML 1.2's floats: a plain `1e-3` is 0.001, as Ultralytics' own key=value
    parser reads it, where 1.1 wants `1.0e-3` and makes `1e-3` a string. A quoted "1e3" stays a string."""


NumberLoader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)[eE][-+]?\d+$"),
                                   list("-+0123456789."))
AS_TYPED = ("name", "project")  # folder names, as a key=value word takes them: `name: 0123` was the folder 83


def construct_int(loader: NumberLoader, node: yaml.ScalarNode) -> int:
    """YAML 1.1's octal and base-60 numbers refused where they read otherwise than as decimals: `seed: 010`
    trained seed 8, where --seed 010 is 10 (`007` is 7 either way)."""
    text = loader.construct_scalar(node)
    read = yaml.SafeLoader.construct_yaml_int(loader, node)
    digits = text.replace("_", "")
    if ":" in digits or (re.fullmatch(r"[-+]?0[0-7]+", digits) and int(digits, 10) != read):
        refuse_reading(text, read, node)
    return read


def construct_float(loader: NumberLoader, node: yaml.ScalarNode) -> float:
    """YAML 1.1's base-60 floats refused: `kd_cls: 1:30.5` trained at 90.5."""
    read = yaml.SafeLoader.construct_yaml_float(loader, node)
    if ":" in (text := loader.construct_scalar(node)):
        refuse_reading(text, read, node)
    return read


def refuse_reading(text: str, read: float, node: yaml.ScalarNode) -> None:
    """One message for both: the number as written, and what YAML 1.1 made of it."""
    base = "base 60" if ":" in text else "octal"
    raise yaml.constructor.ConstructorError(None, None, f"{text} reads as {read} in YAML 1.1 (as {base}): write the "
                                            "number you mean, or quote it", node.start_mark)


def construct_mapping(loader: NumberLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    """A key given twice refused (the last one won, silently); `AS_TYPED` keys' plain values as text."""
    lines: dict[str, int] = {}
    for i, (key, value) in enumerate(node.value):
        if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
            if key.value in lines:
                raise yaml.constructor.ConstructorError(None, None, f"'{key.value}' is given twice (lines "
                                                        f"{lines[key.value]} and {key.start_mark.line + 1}): keep one",
                                                        key.start_mark)
            lines[key.value] = key.start_mark.line + 1
            if key.value in AS_TYPED and isinstance(value, yaml.ScalarNode) and value.style is None and \
                    loader.resolve(yaml.ScalarNode, value.value, (True, False)) != "tag:yaml.org,2002:null":
                node.value[i] = (key, yaml.ScalarNode("tag:yaml.org,2002:str", value.value, value.start_mark,
                                                      value.end_mark))
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


NumberLoader.add_constructor("tag:yaml.org,2002:int", construct_int)
NumberLoader.add_constructor("tag:yaml.org,2002:float", construct_float)
NumberLoader.construct_mapping = construct_mapping


def load_yaml(text: str) -> Any:
    """A recipe file, read as YAML with `NumberLoader`."""
    return yaml.load(text, Loader=NumberLoader)


def is_number(value: Any) -> bool:
    """A finite int or float: NaN passes every `<` check and trained a run of NaN losses to exit 0."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class DistillConfig:
    """The distillation settings of one run (documented key by key in configs/default.yaml)."""

    kd_cls: float = 1.0
    kd_box: float = 1.0
    kd_feat: float = 0.0
    temperature: float = 2.0
    feat_loss: str = "cwd"
    kd_warmup: float = 1.0
    kd_schedule: str = "cosine"
    kd_final: float = 0.1
    kd_balance: str = "fixed"
    kd_assign: str = "teacher"
    kd_one2one: bool = False
    kd_gate: bool = False
    kd_box_ring: float = 0.5
    kd_prefit: int = 0
    cwd_tau: float = 1.0
    mgd_mask_ratio: float = 0.65
    init_from_teacher: bool = True
    unlabeled: list = dataclasses.field(default_factory=list)
    unlabeled_ratio: float = 0.5
    unlabeled_mode: str = "soft"
    unlabeled_conf: float = 0.5

    def __post_init__(self):
        for key in ("init_from_teacher", "kd_one2one", "kd_gate"):
            if not isinstance(getattr(self, key), bool):
                raise UserError(f"{key} must be true or false, got {getattr(self, key)!r}")
        for key in ("kd_cls", "kd_box", "kd_feat", "kd_warmup", "kd_box_ring"):
            value = getattr(self, key)
            if not is_number(value) or value < 0:
                raise UserError(f"{key} must be a finite number >= 0, got {value!r}")  # inf is >= 0
        if isinstance(self.kd_prefit, float) and self.kd_prefit.is_integer():  # 2.0, as epochs: 2.0 is taken
            self.kd_prefit = int(self.kd_prefit)
        if not isinstance(self.kd_prefit, int) or isinstance(self.kd_prefit, bool) or self.kd_prefit < 0:
            raise UserError(f"kd_prefit must be a whole number of batches >= 0, got {self.kd_prefit!r}")
        if self.kd_prefit and self.feat_loss == "cross":
            raise UserError("kd_prefit fits the adapters of feat_loss l2, cwd or mgd; cross trains its adapters "
                            "through the teacher's head on the assigner's boxes: set kd_prefit: 0 or another feat_loss")
        for key in ("temperature", "cwd_tau"):
            value = getattr(self, key)
            if not is_number(value) or value <= 0:
                raise UserError(f"{key} must be a finite number > 0, got {value!r}")
        if isinstance(self.unlabeled, (str, Path)):
            self.unlabeled = [self.unlabeled]
        if not isinstance(self.unlabeled, (list, tuple)) or not all(isinstance(u, (str, Path)) for u in self.unlabeled):
            raise UserError(f"unlabeled must be a folder or a list of folders, got {self.unlabeled!r}")
        self.unlabeled = [str(u) for u in self.unlabeled]
        ranges = {"mgd_mask_ratio": (lambda v: 0 <= v < 1, "in [0, 1)"), "kd_final": (lambda v: 0 <= v <= 1, "in [0, 1]"),
                  "unlabeled_ratio": (lambda v: 0 < v < 1, "between 0 and 1, both excluded"),
                  "unlabeled_conf": (lambda v: 0 <= v < 1, "in [0, 1)")}
        for key, (fits, text) in ranges.items():
            value = getattr(self, key)
            if not is_number(value) or not fits(value):
                raise UserError(f"{key} must be {text}, got {value!r}")
        for key, choices in CHOICES.items():
            if getattr(self, key) not in choices:
                raise UserError(f"{key} must be one of {', '.join(choices)}, got {getattr(self, key)!r}")

    @property
    def losses_on(self) -> bool:
        """Whether any distillation loss term is on (otherwise the teacher gives the start, and LAD's ranking)."""
        return any((self.kd_cls, self.kd_box, self.kd_feat))

    def to_dict(self) -> dict[str, Any]:
        """Plain types only: it is pickled into checkpoints that must load without yolodistill installed."""
        return dataclasses.asdict(self)

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DistillConfig:
        return cls(**{k: v for k, v in d.items() if k in cls.keys()})

    def weight_scale(self, epoch: int, epochs: int) -> float:
        """Factor of every distillation weight at a 0-based epoch of `epochs`: warm-up times decay (schedule.py)."""
        return kd_factor(self.kd_schedule, self.kd_final, self.kd_warmup, epoch, epochs)


def recipe_path(name: str = "default") -> Path:
    """Path of a named recipe shipped in configs/ (installed as the package `yolodistill.configs`)."""
    return Path(str(importlib.resources.files("yolodistill.configs") / f"{name}.yaml"))


def shipped_recipes() -> str:
    """The shipped recipes' names, as --config takes them: an installed user has no configs/ folder to look in."""
    return ", ".join(sorted(f.stem for f in recipe_path().parent.glob("*.yaml")))


def read_recipe(path: str | Path) -> dict[str, Any]:
    """Load a recipe file into a flat dict, with a clear error for a missing or malformed file."""
    p = check_path(path, "--config", "recipe yaml")  # config=5 from Python was a TypeError
    if not p.is_file():
        bare = p.stem if p.suffix.lower() in (".yaml", ".yml") and len(p.parts) == 1 else str(path)
        named = recipe_path(bare)
        if named.is_file():  # --config fast (or fast.yaml, not in this folder) means the shipped configs/fast.yaml
            p = named
        elif p.exists():
            raise UserError(f"config '{path}' is {'a folder' if p.is_dir() else 'not a file'}: pass a recipe yaml, "
                            f"or a shipped recipe's name ({shipped_recipes()})")
        else:
            raise UserError(f"config '{path}' does not exist: pass a recipe yaml, or a shipped recipe's name "
                            f"({shipped_recipes()})")
    try:
        d = load_yaml(p.read_text(encoding="utf-8-sig"))
    except yaml.constructor.ConstructorError as e:  # ours (a key twice, an octal number), or a tag PyYAML lacks
        where = f" line {e.problem_mark.line + 1}" if e.problem_mark else ""
        raise UserError(f"config '{p}'{where}: {e.problem}") from None
    except yaml.YAMLError as e:
        raise UserError(f"config '{p}' is not valid YAML: {str(e).splitlines()[0]}") from None
    except (OSError, UnicodeDecodeError) as e:  # unreadable: permissions, a device, a binary file
        raise UserError(f"config '{p}' cannot be read ({type(e).__name__}): pass a readable recipe yaml, or a "
                        f"shipped recipe's name ({shipped_recipes()})") from None
    if d is None:  # empty, or comments only: running the defaults instead would hide a wrong file
        raise UserError(f"config '{p}' is empty: write distillation keys or Ultralytics train arguments in it as "
                        f"key: value lines, as in the default recipe, {recipe_path()}")
    if not isinstance(d, dict):
        raise UserError(f"config '{p}' must be a mapping of key: value lines")
    if isinstance(d.get("distill"), dict) and "train_args" in d:  # a run's distill.yaml: the recipe that run used,
        return {k: v for k, v in d["distill"].items() if k != "unlabeled"}  # without its data's unlabelled folders
    d = {k: home_path(v) if k in RECIPE_PATHS else v for k, v in d.items()}
    if {"task", "mode", "save_dir"} <= set(d):  # its paths and model would be taken as this run's
        beside = ("pass the distill.yaml beside it for the run's recipe" if (p.parent / "distill.yaml").is_file()
                  else "it is no yolodistill run's (no distill.yaml beside it): pass a recipe")
        raise UserError(f"config '{p}' is a run's args.yaml (Ultralytics' arguments, with that run's model and "
                        f"folders): {beside}, and train arguments as key=value")
    return d


RECIPE_PATHS = ("project", "pretrained", "unlabeled")  # a recipe's keys that name files or folders


def home_path(value: Any) -> Any:
    """A recipe has no shell to expand ~: `project: ~/runs` made a folder named ~ in the working folder, while
    `unlabeled: [~/footage]` was read from the home folder."""
    if isinstance(value, list):
        return [home_path(v) for v in value]
    return os.path.expanduser(value) if isinstance(value, str) and (value == "~" or value.startswith("~/")) else value


def trained_student_block(recipe: dict[str, Any], source: str) -> dict[str, Any]:
    """Pop a recipe's `trained_student:` block: distillation keys only, as a mapping."""
    block = recipe.pop(TRAINED_STUDENT, None)
    block = {} if block is None else block  # false, 0 and '' were read as no block, silently
    if not isinstance(block, dict):
        raise UserError(f"{TRAINED_STUDENT} in {source} must be a mapping of distillation keys, e.g. "
                        f"{{kd_feat: 1.0}}, got {block!r}")
    foreign = sorted(k for k in block if k not in DistillConfig.keys())
    if foreign:
        raise UserError(f"{TRAINED_STUDENT} in {source} takes distillation keys only, not {', '.join(foreign)}")
    return block


def check_known(settings: dict[str, Any]) -> None:
    """Every key is a distillation key or an Ultralytics train argument (a typo would otherwise be ignored)."""
    from ultralytics.utils import DEFAULT_CFG_KEYS

    distill_keys = set(DistillConfig.keys())
    unknown = sorted(str(k) for k in settings if k not in distill_keys and k not in DEFAULT_CFG_KEYS)  # 1: 2 was a
    # TypeError traceback (sorting a number with names)
    if unknown:
        raise UserError(
            f"unknown setting(s) {', '.join(unknown)}: use a distillation key ({', '.join(sorted(distill_keys))}) "
            "or an Ultralytics train argument"
        )


def whole_numbers(settings: dict[str, Any]) -> dict[str, Any]:
    """2.0 where Ultralytics takes a whole number is 2, as the command line reads --epochs 2.0: epochs=2.0 (a word, a
    recipe, Python) was refused as 'must be a whole number, got 2.0'."""
    from ultralytics.cfg import CFG_INT_KEYS

    return {k: int(v) if k in {*CFG_INT_KEYS, "imgsz", "batch"} and isinstance(v, float) and v.is_integer() else v
            for k, v in settings.items()}


def resolve(config: str | Path | None = None, *, student: Any = None,
            **flags: Any) -> tuple[DistillConfig, dict[str, Any]]:
    """Merge default recipe < config file < flags, and split into (distillation settings, Ultralytics train args).

    Where the student has weights of its own (`student` a .pt, or `pretrained=PATH`), each recipe's
    `trained_student:` block applies on top of that recipe's other keys, under what comes after it.
    """
    from .start import has_own_weights

    sources = ["the default recipe"] + ([config] if config is not None else [])
    layers = [whole_numbers(read_recipe(recipe_path("default")))]
    layers += [whole_numbers(read_recipe(config))] if config is not None else []
    blocks = [trained_student_block(layer, source) for layer, source in zip(layers, sources)]
    given = whole_numbers({k: v for k, v in flags.items() if v is not None})
    pretrained = {k: v for layer in [*layers, given] for k, v in layer.items()}.get("pretrained")
    own = has_own_weights(student, pretrained)
    distill_keys = set(DistillConfig.keys())

    def merge(with_blocks: bool) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for layer, block in zip(layers, blocks):
            merged.update(layer)
            merged.update(block if with_blocks else {})
        return {**merged, **given}

    def traced(distill: DistillConfig, with_blocks: bool) -> DistillConfig:
        """`origin`: which layer set each distillation key (0 the default recipe, then --config, then flags)."""
        distill.origin = {}
        for i, (layer, block) in enumerate(zip(layers, blocks)):
            distill.origin.update(dict.fromkeys((k for k in layer if k in distill_keys), i))
            distill.origin.update(dict.fromkeys(block if with_blocks else {}, i))
        distill.origin.update(dict.fromkeys((k for k in given if k in distill_keys), len(layers)))
        return distill

    base = merge(False)
    check_known(base)
    base_distill = DistillConfig.from_dict({k: v for k, v in base.items() if k in distill_keys})
    for block, source in zip(blocks, sources):  # a bad value in a block fails every run, named as the block's
        try:
            if block:
                DistillConfig.from_dict({**base_distill.to_dict(), **block})
        except UserError as e:
            raise UserError(f"{TRAINED_STUDENT} in {source}: {e}") from None
    if not own:  # no block applies: the recipe is the one checked above
        return traced(base_distill, False), {k: v for k, v in base.items() if k not in distill_keys}
    merged = merge(True)
    distill = DistillConfig.from_dict({k: v for k, v in merged.items() if k in distill_keys})
    return traced(distill, True), {k: v for k, v in merged.items() if k not in distill_keys}


def as_written(value: Any) -> Any:
    """A setting's value as a recipe and our messages write it (kd_gate true, not True): named_in_config finds a
    refusal's value by it."""
    return str(value).lower() if isinstance(value, bool) else value


def config_keys_named(function):
    """`train` and `compare` name a bad value their `config` file set as the file's key (`named_in_config`), from
    Python as on the command line: '--epochs must be ...' sent a caller who gave no epochs= looking for one."""
    import functools
    import inspect

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except UserError as e:
            given = inspect.signature(function).bind_partial(*args, **kwargs).arguments
            raise named_in_config(e, {**given.pop("overrides", {}), **given}) from None  # e itself, its type and
            # attributes kept (DiskFull's exit status, compare's advice)

    return wrapper


def named_in_config(error: UserError, settings: dict[str, Any]) -> UserError:
    """An error about a value the --config file set names the file's key, not a flag or key=value word the user
    never typed ('--epochs must be ...' read as if --epochs had been given); any other error as it is. The error
    itself, renamed once (compare's wrapper sees what train's named: 'imgsz in a.yaml: 100 in a.yaml')."""
    if not getattr(error, "named_in_config", False):
        text = config_named_text(error, settings)
        error.args, error.named_in_config = (text,) if text is not None else error.args, True
    return error


def config_named_text(error: UserError, settings: dict[str, Any]) -> str | None:
    """`named_in_config`'s new message; None where the error is not about a value the file set."""
    import re

    text = str(error)
    if quoted := re.match(r"'([a-z0-9_]+=[^']*)' ", text):  # Ultralytics' "'lr0=abc' is of invalid type str. ..."
        text = quoted[1] + text[quoted.end() - 1:]
    config, m = settings.get("config"), re.match(r"(--)?([a-z0-9][a-z0-9_-]*)(=?)", text)
    if not config or not m or (m[1] and m[3]):  # '--key ...', 'key=value ...' or 'key ...'
        return None
    key, rest = m[2].replace("-", "_"), text[m.end():]
    if rest.startswith(f" in {config}") or f" in {config}:" in text:  # named already ('trained_student in
        return None  # mine.yaml: ...', 'seed: 3 in mine.yaml: ...')
    try:
        layer = read_recipe(config)
    except UserError:
        return None
    shown = as_written(layer.get(key))
    value = f"{'' if m[3] else ' '}{shown}"
    if key not in layer or (m[3] and not rest.startswith(value)) or (not m[3] and key in settings):
        return None  # not the file's value: the flag or word typed (which wins over the file) is the one named
    if rest.startswith(value + " ") or rest.startswith(value + ":"):  # '--imgsz 100 is not ...': the value named once
        rest = rest[len(value):].replace(f" instead of {key}=", " instead").replace(f"drop {key}=", "drop it")
        return f"{key}: {shown} in {config}{rest}"
    return f"{key} in {config}{rest}"
