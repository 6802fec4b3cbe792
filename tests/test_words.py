"""key=value words as Ultralytics reads them."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer  # the annotations of cli_app's command are read from this module's names

from yolodistill.errors import UserError
from yolodistill.words import parse_overrides


def test_overrides_are_typed_like_ultralytics():
    assert parse_overrides(["lr0=0.01", "cos_lr=True", "optimizer=AdamW", "freeze=[0,1]", "name=exp"]) == {
        "lr0": 0.01, "cos_lr": True, "optimizer": "AdamW", "freeze": [0, 1], "name": "exp",
    }
    with pytest.raises(UserError):
        parse_overrides(["=3"])


@pytest.mark.parametrize("word", ["epochs=", "lr0= ", "device="])
def test_a_word_without_a_value_is_refused(word):
    """Read as unset, `epochs=` trained Ultralytics' default 100 epochs without a word; Ultralytics' CLI refuses it."""
    key = word.split("=")[0]
    with pytest.raises(UserError, match=f"^{key}= needs a value: write {key}=VALUE, or leave the word out"):
        parse_overrides([word])


def test_an_empty_word_of_a_setting_the_command_lacks_is_left_to_its_unknown_check():
    """`name=` in export was told to "write name=VALUE, or leave the word out for the default", and name=x was then
    refused as a setting export does not have."""
    assert parse_overrides(["name="], "export", ["--imgsz", "--half"]) == {"name": ""}
    with pytest.raises(UserError, match="^imgsz= needs a value"):  # its own option: a value is what it lacks
        parse_overrides(["imgsz="], "export", ["--imgsz", "--half"])
    with pytest.raises(UserError, match="^opset= needs a value"):  # one of export's Ultralytics words
        parse_overrides(["opset="], "export", ["--imgsz"])


def test_scientific_notation_in_key_value_words_is_a_number():
    """As Ultralytics' own key=value parser reads it (lr0=1e-3 was 'of invalid type str', kd_cls=1e-3 refused)."""
    words = ["lr0=1e-3", "kd_cls=2.5E-2", "kd_box=+1e0", "name=1e3run", "project=1e5", "seed='1e5'"]
    assert parse_overrides(words) == {"lr0": 0.001, "kd_cls": 0.025, "kd_box": 1.0, "name": "1e3run", "project": "1e5",
                                      "seed": "1e5"}  # quoted: text


def test_words_are_read_as_ultralytics_cli_reads_them():
    """Read as YAML, name=2024-06-01 was a date (a traceback in Ultralytics' get_save_dir), name=on trained into
    True/, name=007 into 7/, and classes=0,2 was refused; each word is checked against Ultralytics' own parser."""
    from ultralytics.cfg import parse_key_value_pair

    words = ["name=2024-06-01", "project=007", "workers=0", "classes=0,2", "cos_lr=True", "half=false", "mode=None",
             "imgsz=[64, 96]", "amp=on", "seed=1_000", "lr0=.5", "hsv_h=1e-3", "save_dir=runs/a=b"]
    got = parse_overrides(words)
    assert got == dict(parse_key_value_pair(w) for w in words)
    assert got["name"] == "2024-06-01" and got["project"] == "007" and got["classes"] == (0, 2) and got["amp"] == "on"
    # device as --device takes it: Ultralytics' (0, 1) spelt a compare plan's device apart from --device 0,1's
    assert parse_overrides(["device=0,1"]) == {"device": "0,1"} and parse_overrides(["device=0"]) == {"device": "0"}
    assert parse_overrides(["device=None"]) == {"device": None}


def test_a_key_given_twice_is_refused():
    """The later word silently won (imgsz=64 imgsz=96 exported at 96); a flag and a word for one key are refused
    the same way (cli.py)."""
    with pytest.raises(UserError, match=r"^imgsz is given twice \(imgsz=64 and imgsz=96\): keep one$"):
        parse_overrides(["imgsz=64", "imgsz=96"])
    with pytest.raises(UserError, match="lr0 is given twice"):
        parse_overrides(["lr0=0.01", "--lr0=0.02"])


def test_an_unknown_option_is_named_with_the_closest_known_one():
    """`--imgsz` where the command has `--imgz` lands among the key=value words: it is named as an option."""
    with pytest.raises(UserError, match=r"^unknown option '--imgszz' \(did you mean --imgz\?\): see yolodistill "
                                        r"export --help; Ultralytics' opset="):
        parse_overrides(["--imgszz"], "export", known=["--imgz", "--half"])


@pytest.mark.parametrize("command, item, hint", [
    ("train", "--cwd-tau", "(cwd_tau has no flag: write cwd_tau=VALUE)"),  # was "did you mean --data?"
    ("compare", "--mgd-mask-ratio", "(mgd_mask_ratio has no flag: write mgd_mask_ratio=VALUE)"),
    ("train", "--cos-lr", "(cos_lr has no flag: write cos_lr=VALUE)"),
    ("export", "--opset", "(opset has no flag: write opset=VALUE)"),
    ("export", "--cwd-tau", None),  # export takes no recipe key: no advice towards one
    ("export", "--cos-lr", None),  # nor Ultralytics' train arguments: cos_lr= would be refused
    ("export", "--model", None),  # export has no --student
    ("train", "--cfg", "(cfg is given as --config)"),
    ("train", "--quantize", None),  # refused with a teacher: no advice towards quantize=
    ("train", "--model", "(model is given as --student)"),  # model= is refused: not advised
    ("compare", "--seed", "(did you mean --seeds?)"),  # compare sets seed= itself
])
def test_an_unknown_flag_that_is_a_key_value_word_says_how_to_write_it(command, item, hint):
    """A key that goes as key=value, typed as a flag, got the closest flag by spelling: --cwd-tau was sent to
    --data, which has nothing to do with it."""
    from yolodistill.options import DISTILL_OPTIONS, RUN_OPTIONS

    known = [f"--{o.name.replace('_', '-')}" for o in (*RUN_OPTIONS, *DISTILL_OPTIONS)] + ["--seeds"]
    with pytest.raises(UserError) as caught:
        parse_overrides([item, "2"], command, known=known)
    assert str(caught.value).startswith(f"unknown option '{item}'")
    message = str(caught.value)
    assert hint in message if hint else "no flag" not in message and "given as" not in message


def test_words_are_read_forgivingly():
    """Dashes in a key are Ultralytics' underscores, spaces around a key are dropped, and a value YAML cannot read
    stays the text typed."""
    assert parse_overrides(["cos-lr=True", " lr0 =0.5", "name=[a"]) == {"cos_lr": True, "lr0": 0.5, "name": "[a"}


def cli_app(seen: dict):
    """A real Typer command taking its options the way yolodistill's do (`with_options`, key=value words)."""
    from yolodistill.options import RUN_CONTEXT
    from yolodistill.words import is_word, only_own_words, opt, with_options

    app = typer.Typer()
    options = (opt("imgsz", int, "image size [pixels]", "--imgsz", default=640),
               opt("half", bool, "FP16", "--half/--no-half", default=False),
               opt("name", str | None, "a name", "--name"),
               opt("out", Path, "a folder", "--out", default=Path("runs/demo")))

    @app.command(context_settings=RUN_CONTEXT)
    @with_options(options)
    def run(ctx: typer.Context, **_):
        seen["words"] = [a for a in ctx.args if is_word(a, ctx)]
        seen.update(only_own_words(ctx))

    @app.command()
    def other():
        pass

    return app


@pytest.mark.parametrize("argv, want", [(["imgsz=320", "name=None"], {"imgsz": 320, "half": False, "name": None}),
                                        (["--half", "name=2024-01-01"],
                                         {"imgsz": 640, "half": True, "name": "2024-01-01"}),
                                        # the text as typed, as --out 1e3 takes it: out=1e3 was refused as 1000.0
                                        (["out=1e3", "half=false"], {"out": Path("1e3"), "half": False}),
                                        (["out=[1,2]"], {"out": Path("[1,2]")}),  # was the folder '1,2'
                                        (["out=1_000"], {"out": Path("1_000")})])
def test_a_word_naming_an_option_sets_it_as_the_flag_would(argv, want):
    """imgsz=320 is --imgsz 320, converted as the flag is; a date stays the text typed; none unsets an option
    without a default."""
    from typer.testing import CliRunner

    seen = {}
    result = CliRunner().invoke(cli_app(seen), ["run", *argv])
    assert result.exit_code == 0, result.output
    assert {k: seen[k] for k in want} == want


@pytest.mark.parametrize("argv, message", [
    (["--imgsz", "64", "imgsz=96"], "imgsz is given twice (--imgsz 64 and imgsz=96): keep one"),
    (["--half", "half=false"], "half is given twice (--half and half=false): keep one"),  # as typed
    (["--no-half", "half=true"], "half is given twice (--no-half and half=true): keep one"),
    (["imgsz=none"], "imgsz= needs a value (see yolodistill run --help)"),
    (["imgsz=64,96"], "imgsz=64,96 is 2 values: yolodistill run takes one (one square size such as 640)"),  # as
    (["imgsz=[64,96]"], "imgsz=[64,96] is 2 values"),  # typed (a tuple was named '(64, 96)'), and what to pass: the
    # parser's "Input should be a valid integer" said neither
    (["conf=0.3"], "unknown setting(s) conf: yolodistill run takes only its options"),
    (["imgsz=True"], "imgsz=True: "),  # read as Python's True, it was 1: --imgsz True is no number
    (["imgsz=[64]"], "imgsz=[64]: Input should be a valid integer"),  # one value, not "is 1 values"
    (["--imgsz", "64", "imgsz=0x40"], "imgsz is given twice (--imgsz 64 and imgsz=0x40): keep one"),  # as typed
    (["imgsz=0x40"], "imgsz=0x40: ")])  # and 0x40 was 64, which --imgsz 0x40 is not
def test_a_word_that_cannot_set_an_option_is_refused(argv, message):
    from typer.testing import CliRunner

    result = CliRunner().invoke(cli_app({}), ["run", *argv])
    assert isinstance(result.exception, UserError) and message in str(result.exception)


def test_a_word_among_paths_is_one_with_no_folder_or_an_option_s_key():
    """exp=2/best.onnx is a file, imgsz=a/b a word for the option (and refused as a size)."""
    from typer.testing import CliRunner

    seen = {}
    CliRunner().invoke(cli_app(seen), ["run", "exp=2/best.onnx", "conf=0.3", "name=a/b"])
    assert seen["words"] == ["conf=0.3", "name=a/b"]


def test_option_help_keeps_its_brackets():
    """Typer reads help as Rich markup, where '[default: 640]' (here '[pixels]') is a style tag and vanished."""
    from typer.testing import CliRunner

    assert "image size [pixels]" in CliRunner().invoke(cli_app({}), ["run", "--help"], terminal_width=200).output
