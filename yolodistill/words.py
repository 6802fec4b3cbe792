"""Ultralytics-style `key=value` words on the command line: read as Ultralytics' CLI reads them, and where a word
names one of the command's own options, taken as that option (imgsz=320 is --imgsz 320). Also the options
themselves, defined once as data (`Opt`) and given to each command that takes them (`with_options`)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import typer
from rich.markup import escape

from .errors import UserError


TRAIN_WORDS = "any other Ultralytics train argument goes as key=value (cos_lr=True), as do cwd_tau= and mgd_mask_ratio="
HINTS = {"train": TRAIN_WORDS, "compare": TRAIN_WORDS,  # what a command's other key=value words are, by its name
         "export": "Ultralytics' opset=, workspace= and fraction= go as key=value (opset=12)"}
# what compare does for a cut-off comparison, where it is asked to resume (--resume, resume=)
COMPARE_GOES_ON = "run the same compare command again with --exist-ok, which keeps the runs that finished and trains " \
    "the rest"
# a flag another command has, given to one that lacks it: what it does here instead
MISSING = {("compare", "--resume"): f"compare has no --resume: {COMPARE_GOES_ON}"}


def command_name(ctx: typer.Context) -> str:
    """The command as typed after `yolodistill`: `data pseudo-label`, not `pseudo-label` (CliRunner's root is not
    yolodistill)."""
    return " ".join(ctx.command_path.split()[1:]) or ctx.info_name or "train"


def unknown_hint(item: str, command: str, known: list[str]) -> str:
    """What an unknown --flag is likely meant as: a key=value word (--cwd-tau, --cos-lr), the flag that sets it
    (--model is --student), else the closest known flag; a bare closest flag sent --cwd-tau to --data."""
    import difflib

    from .checks import SET_BY_FLAG

    name, word = command.split()[-1], item.lstrip("-").replace("-", "_")
    if word in key_words(name):
        return f" ({word} has no flag: write {word}=VALUE)"
    if name in ("train", "compare") and (flag := {**SET_BY_FLAG, "cfg": "--config"}.get(word)) and flag != item:
        return f" ({word} is given as {flag})"
    close = difflib.get_close_matches(item, known, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def key_words(command: str, refused: bool = False) -> set[str]:
    """The words a command takes as key=value beyond its own options: Ultralytics' train arguments and the recipe keys
    without a flag for train and compare, export's few; not those refused (model= is --student, quantize= is export's
    --int8), unless `refused`: the words it knows, to refuse by name."""
    if command == "export":
        from .export import EXPORT_WORDS

        return set(EXPORT_WORDS)
    if command not in ("train", "compare"):
        return set()
    from ultralytics.cfg import DEFAULT_CFG_DICT

    from .checks import FIXED_ARGS, SET_BY_FLAG
    from .config import DistillConfig

    known = set(DEFAULT_CFG_DICT) | set(DistillConfig.keys())
    if refused:
        return known
    return known - {*SET_BY_FLAG, *FIXED_ARGS, "seed", "quantize", "cfg", *(["dis"] if command == "train" else [])}


class Words(dict):
    """Parsed key=value words, and each one's text as typed (`raw`): a command's own option converts that text as
    its flag does (out=1e3 is the folder '1e3', not 1000.0; threads=True is no number of threads)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.raw: dict[str, str] = {}


def parse_overrides(items: list[str], command: str = "train", known: list[str] = ()) -> dict:
    """Parse Ultralytics-style `key=value` words; values are read by `read_word` (`lr0=0.01`, `cos_lr=True`).

    A word like `--imgsz` that the command does not know lands here too (unknown options pass through for
    key=value): name it as an unknown option, with the closest known one, instead of as a bad override."""
    words = HINTS.get(command.split()[-1], "its options go as --flag VALUE or flag=VALUE")
    out = Words()
    raw = out.raw  # each key's word as typed, to name it if given again
    for item in items:
        key, sep, value = item.partition("=")
        if (command.split()[-1], item) in MISSING:
            raise UserError(MISSING[command.split()[-1], item])
        if item.startswith("-") and not sep:
            raise UserError(f"unknown option '{item}'{unknown_hint(item, command, known)}: see yolodistill {command} "
                            f"--help; {words}")
        key = key.strip().lstrip("-").replace("-", "_")
        if not sep and key == "resume" and command == "train":  # Ultralytics' `yolo train resume model=last.pt`
            raise UserError("a run resumes with --resume PATH/last.pt (Ultralytics' `resume model=last.pt` would "
                            "train it without its teacher): yolodistill train --resume runs/distill/NAME/weights/last.pt")
        if not sep or not key:
            raise UserError(f"'{item}' is not a key=value override: {words}")
        if key in out:  # the later one silently won; a flag given with a word is refused the same way
            raise UserError(f"{key} is given twice ({key}={raw[key]} and {key}={value}): keep one")
        if not value.strip():  # as Ultralytics' own CLI refuses it: read as unset, epochs= trained the default 100
            own = {k.lstrip("-").replace("-", "_") for k in known}
            if known and key not in own | key_words(command.split()[-1], refused=True):  # told to get a value it
                # cannot take; model= (an empty $STUDENT) still needs one, as model=x is refused by name
                raw[key] = out[key] = value  # refused by name with the command's other unknown settings
                continue
            raise UserError(f"{key}= needs a value: write {key}=VALUE, or leave the word out for the default "
                            f"(see yolodistill {command} --help)")
        raw[key] = value
        out[key] = read_word(key, value)
    return out


TRUE, FALSE = {"1", "true", "t", "yes", "y", "on"}, {"0", "false", "f", "no", "n", "off"}  # as Click reads a switch
SWITCH_VALUES = "write true or false (yes/no, on/off and 1/0 are read too)"


def switch_word(key: str, text: str) -> bool | None:
    """A switch's word as its flag (Click) reads it: exist_ok=1 was refused by train ("of invalid type int") and taken
    by compare, kd_gate=yes refused where export's half=yes is taken, cos_lr=on refused beside kd_gate=on."""
    word = text.strip().lower()
    if word in TRUE | FALSE:
        return word in TRUE
    if word == "none":  # Ultralytics' unset
        return None
    raise UserError(f"{key}={text.strip()}: {SWITCH_VALUES}")


def read_word(key: str, value: str) -> Any:
    """A key=value word's value as Ultralytics' CLI reads it (`cfg.parse_key_value_pair`): name and project as typed,
    anything else a Python literal (classes=0,2 is (0, 2)), true/false/none, or the text. Read as YAML, name=2024-06-01
    was a date (a traceback in Ultralytics), name=on was True and name=007 was 7. device is also kept as typed, as
    --device takes it: device=0,1 is '0,1', not the tuple a plan or a message would then spell (0, 1)."""
    from ultralytics.cfg import parse_key_value_pair  # here, not above: --help does not need Ultralytics

    value = value.strip()
    return value if key == "device" and value.lower() != "none" else parse_key_value_pair(f"{key}={value}")[1]


def options(ctx: typer.Context) -> dict[str, Any]:
    """The command's options by name (its arguments, such as bench's files, are not settings)."""
    return {p.name: p for p in ctx.command.params if p.param_type_name == "option"}


def extra_words(ctx: typer.Context, items: list[str] | None = None) -> dict:
    """The command's key=value words (`items`, else the words Click left over), an unknown --option named with the
    closest of its own."""
    known = [o for p in options(ctx).values() for o in p.opts if o.startswith("--")]
    return parse_overrides(ctx.args if items is None else items, command_name(ctx), known)


def is_word(text: str, ctx: typer.Context) -> bool:
    """A key=value word among paths: its key is one of the command's options, or it has no folder in it (conf=0.3,
    an unknown setting); exp=2/best.onnx is a path."""
    key, sep, _ = text.partition("=")
    return bool(sep) and key.isidentifier() and (key in options(ctx) or "/" not in text)


def typed(ctx: typer.Context, key: str) -> bool:
    """Whether option `key` was given on the command line (or by environment), not left at its default."""
    source = ctx.get_parameter_source(key)
    return source is None or source.name not in {"DEFAULT", "DEFAULT_MAP"}


def own_words(ctx: typer.Context, words: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """For commands whose flags have defaults: the command's option values, where a key=value word (of `words`, else
    the command's extra words) naming one of its options sets it, as in train (imgsz=320 is --imgsz 320), converted
    as the flag would be; one also given as a flag is refused. Returns the values and the words left."""
    words = extra_words(ctx) if words is None else words
    raw, words, params = getattr(words, "raw", {}), dict(words), options(ctx)
    values = {k: v for k, v in ctx.params.items() if k in params}
    for key in [k for k in words if k in params]:
        value, param = words.pop(key), params[key]
        text = raw[key].strip() if key in raw else value  # as typed, converted below as the flag converts it
        if typed(ctx, key):
            flag = f"{param.opts[0]} {values[key]}"
            if isinstance(values[key], bool):  # --half, --no-simplify: a flag typed alone
                flag = param.opts[0] if values[key] else (getattr(param, "secondary_opts", None) or [flag])[0]
            raise UserError(f"{key} is given twice ({flag} and {key}={text}): keep one")
        if value is None and key == "device":  # device=none is Ultralytics' auto, as --device none is here
            value = text = param.default
        if value is None and param.default is not None:  # `simplify=none`: only an option without a default is unset
            raise UserError(f"{key}= needs a value (see yolodistill {command_name(ctx)} --help)")
        if isinstance(text, (list, tuple)):  # a dict of words from Python: the flag's text
            text = ",".join(map(str, text))
        elif text is not None and not isinstance(text, (str, bool, int, float)):
            text = str(text)
        values[key] = None if value is None else as_flag(ctx, key, text, value)
    return values, words


def as_flag(ctx: typer.Context, key: str, text: Any, value: Any) -> Any:
    """A word's text converted as its option's flag converts it (out=1e3 is the folder '1e3')."""
    param = options(ctx)[key]
    try:
        return param.process_value(ctx, text)
    except typer.BadParameter as e:
        if isinstance(value, (list, tuple)) and len(value) > 1:  # "a valid integer" of what was typed as several
            square = " (one square size such as 640)" if key == "imgsz" else ""
            raise UserError(f"{key}={text} is {len(value)} values: yolodistill {command_name(ctx)} takes "
                            f"one{square}") from None
        if param.is_bool_flag:  # "unable to interpret input": say what it takes
            raise UserError(f"{key}={text}: {SWITCH_VALUES}") from None
        raise UserError(f"{key}={text}: {e.message}") from None


def only_own_words(ctx: typer.Context) -> dict[str, Any]:
    """`own_words` for commands that take no other settings: a key=value word that is none of their options is
    refused by name."""
    values, words = own_words(ctx)
    if words:
        command = f"yolodistill {command_name(ctx)}"
        raise UserError(f"unknown setting(s) {', '.join(words)}: {command} takes only its options, as --flag VALUE "
                        f"or flag=VALUE (see {command} --help)")
    return values


@dataclass(frozen=True)
class Opt:
    """One command-line option: its parameter name, Python type and Typer definition."""

    name: str
    type: Any
    info: Any


def opt(name: str, type_: Any, help: str, *decls: str, default: Any = None) -> Opt:
    """Help is escaped: Typer reads it as Rich markup, where '[default: 640]' is a style tag and vanishes."""
    return Opt(name, type_, typer.Option(default, *decls, help=escape(help)))


def with_options(*groups: tuple[Opt, ...]):
    """Give a command the options of `groups` as keyword parameters, which Typer reads from its signature; the
    function takes them as **options."""

    def decorate(fn):
        params = [p for p in inspect.signature(fn, eval_str=True).parameters.values()
                  if p.kind is not inspect.Parameter.VAR_KEYWORD]
        params += [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=o.info, annotation=o.type)
                   for group in groups for o in group]
        fn.__signature__ = inspect.Signature(params)
        return fn

    return decorate
