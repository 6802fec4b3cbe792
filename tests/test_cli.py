"""The command line: every option explained, key=value overrides parsed like Ultralytics."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from yolodistill.cli import app
from yolodistill.errors import UserError

from .conftest import PYTHON, REPO, assert_one_line_error


def walk(command, path=()):
    """Every leaf command of the click tree Typer builds, with its path."""
    subs = getattr(command, "commands", None)
    if not subs:
        yield path, command
        return
    for name, sub in subs.items():
        yield from walk(sub, (*path, name))


def test_help_explains_every_option_and_argument():
    import typer.main

    leaves = dict(walk(typer.main.get_command(app)))
    assert {("train",), ("export",), ("bench",), ("data", "synth"), ("data", "convert")} <= set(leaves)
    for path, command in leaves.items():
        assert command.help and len(command.help) > 20, path
        for param in command.params:
            assert param.help and len(param.help) > 10, (path, param.name)
        result = CliRunner().invoke(app, [*path, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_help_at_80_columns_cuts_no_option_name(monkeypatch):
    """In a column of its own, --no-init-from-teacher was cut to '--no-init-from-te…' in an 80-column terminal."""
    import typer.main

    monkeypatch.setenv("COLUMNS", "80")
    for path, command in walk(typer.main.get_command(app)):
        output = CliRunner().invoke(app, [*path, "--help"]).output
        assert "…" not in output and max(map(len, output.splitlines())) <= 80, path
        for name in [o for p in command.params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")]:
            assert re.search(rf"(^|[ ,]){re.escape(name)}([ ,]|$)", output, re.M), (path, name)


@pytest.mark.parametrize("words", [["--kd-cls", "nan"], ["--kd-cls", "inf"], ["kd_warmup: .inf"],
                                   ["temperature: .nan"]])
def test_nan_or_infinite_distillation_setting_is_one_line(words, teacher26, synth_data, tmp_path):
    """A flag, or a recipe file's YAML (a key=value word reads .nan as text, as Ultralytics' CLI does)."""
    if ":" in words[0]:
        (tmp_path / "recipe.yaml").write_text(words[0] + "\n")
        words = ["--config", str(tmp_path / "recipe.yaml")]
    result = CliRunner().invoke(app, ["train", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data",
                                      str(synth_data), "--project", str(tmp_path / "runs"), "--epochs", "1",
                                      "--imgsz", "64", "--batch", "4", "--workers", "0", "--device", "cpu", *words])
    assert_one_line_error(result, "must be a finite number")
    assert not (tmp_path / "runs").exists()


def test_console_script_entry_point():
    """The installed `yolodistill` command, beside this Python (pip puts it there), and `python -m` as well."""
    script = Path(PYTHON).parent / ("yolodistill.exe" if os.name == "nt" else "yolodistill")
    assert script.exists(), f"{script}: pip install -e . installs the console script"
    for argv in ([str(script)], [PYTHON, "-m", "yolodistill.cli"]):
        out = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "train" in out.stdout and "export" in out.stdout, argv


def test_an_ascii_terminal_and_a_deleted_working_folder_get_words_not_tracebacks(tmp_path):
    """PYTHONIOENCODING=ascii with a path of 'é': the work done, then a UnicodeEncodeError traceback at the closing
    line. A working folder deleted under the shell: relative paths were a FileNotFoundError traceback."""
    script = Path(PYTHON).parent / "yolodistill"
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    out = subprocess.run([str(script), "data", "synth", "--out", str(tmp_path / "données"), "--images", "4",
                          "--imgsz", "32"], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0 and "donn\\xe9es" in out.stdout and "Traceback" not in out.stderr, out
    gone = tmp_path / "gone"
    gone.mkdir()
    out = subprocess.run(["sh", "-c", f"cd {gone} && rmdir {gone} && exec {script} data synth --out x --images 4"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.strip() == ("Error: the current folder no longer exists (deleted or "
                                                          "moved): cd into an existing folder and run the command "
                                                          "again"), out
    for words, said in (("--version", "yolodistill "), ("train --help", "Usage: yolodistill train"),
                        ("info", "yolodistill environment"), ("train --exist-ok --help", "Usage: yolodistill train"),
                        ("data synth --out x --help", "Usage: yolodistill data synth")):  # these read nothing
        gone.mkdir()
        out = subprocess.run(["sh", "-c", f"cd {gone} && rmdir {gone} && exec {script} {words}"],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and said in out.stdout and not out.stderr.strip(), out
    gone.mkdir()  # --help as an option's value is no help: the data went to $HOME/--help
    for words in ("data synth --out --help --images 4", "data synth --images 4 --out --help"):
        gone.mkdir(exist_ok=True)
        out = subprocess.run(["sh", "-c", f"cd {gone} && rmdir {gone} && exec {script} {words}"],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 2 and "the current folder no longer exists" in out.stderr, out


def run_main(argv, monkeypatch, capsys):
    """The console script in-process: its exit status and everything it printed."""
    from yolodistill.cli import main

    monkeypatch.setattr(sys, "argv", ["yolodistill", *argv])
    with pytest.raises(SystemExit) as stop:
        main()
    out = capsys.readouterr()
    return stop.value.code, out.out + out.err


@pytest.mark.parametrize("argv, needle", [
    (["trian"], "No such command 'trian'. Did you mean 'train'? (see yolodistill --help)"),
    (["train", "--epochs", "abc"], "Invalid value for '--epochs'"),
    (["export"], "Missing option '--weights' (see yolodistill export --help)"),
    (["data", "synth", "--n", "x"], "No such option: --n (see yolodistill data synth --help)"),
    (["info", "extra"], "unexpected extra argument"),
    (["data", "convert"], "Missing argument 'src'"),
    (["train", "--epochs"], "Option '--epochs' requires an argument (see yolodistill train --help)"),  # no context
    (["bench", "--weights", "best.pt"], "No such option: --weights: bench takes the files it times as arguments, as "
                                        "in yolodistill bench best.pt best.onnx (see"),  # export's flag; it said --imgsz
])
def test_usage_errors_of_the_console_script_are_one_line(argv, needle, monkeypatch, capsys):
    # Click finds these before any command runs; Typer would print a usage line, a hint and a boxed panel
    code, out = run_main(argv, monkeypatch, capsys)
    lines = [x for x in out.splitlines() if x.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("Error:"), out
    assert needle in lines[0] and "Traceback" not in out


@pytest.mark.parametrize("argv, code", [(["--help"], 0), (["export", "--help"], 0), ([], 2), (["data"], 2),
                                        (["train", "--bogus"], 2)])
def test_console_script_keeps_help_and_exit_statuses(argv, code, monkeypatch, capsys):
    status, out = run_main(argv, monkeypatch, capsys)
    assert status == code, out
    assert ("Usage" in out) == (argv != ["train", "--bogus"]), out  # help shown, or our own one-line error


@pytest.mark.parametrize("argv, needle", [
    (["demo", "--epochs", "1"], "see yolodistill demo --help; its options go as --flag VALUE or flag=VALUE"),
    (["data", "pseudo-label", "--foo"], "see yolodistill data pseudo-label --help; its options go as"),
    (["train", "--tacher", "x"], "(did you mean --teacher?): see yolodistill train --help; any other Ultralytics "
                                 "train argument goes as key=value"),
])
def test_an_unknown_option_names_the_command_as_typed_and_only_its_own_kind_of_words(argv, needle, monkeypatch,
                                                                                      capsys):
    # demo was told "any other Ultralytics train argument goes as key=value", then refused epochs=1 as not its own;
    # pseudo-label was sent to `yolodistill pseudo-label --help`, which is no command
    code, out = run_main(argv, monkeypatch, capsys)
    assert code == 2 and needle in out and "Traceback" not in out, out
    assert ("train argument" in out) == (argv[0] == "train"), out


def params(command: str) -> dict:
    """The click parameters of a top-level command, by name."""
    import typer.main

    return {p.name: p for p in dict(walk(typer.main.get_command(app)))[(command,)].params}


# Where compare and train may differ, and why; every other option must be the same in both.
TRAIN_ONLY = {
    "seed": "compare trains every method once per seed of --seeds",
    "resume": "compare starts each of its runs itself; an interrupted comparison is run again",
}
COMPARE_ONLY = {"seeds": "the seeds of the comparison", "methods": "which methods to compare"}


def test_compare_takes_every_train_option_with_the_same_meaning():
    train, compare = params("train"), params("compare")
    assert set(train) - set(compare) == set(TRAIN_ONLY)
    assert set(compare) - set(train) == set(COMPARE_ONLY)
    shared = set(train) & set(compare)
    assert {"imgsz", "batch", "device", "workers", "kd_cls", "kd_box", "kd_feat", "temperature", "feat_loss",
            "kd_warmup", "kd_schedule", "kd_final", "kd_balance", "kd_assign", "kd_one2one", "kd_gate", "kd_box_ring",
            "kd_prefit",
            "init_from_teacher", "unlabeled", "config", "epochs", "project", "name", "exist_ok"} <= shared
    import re

    for name in shared:
        t, c = train[name], compare[name]
        told = re.sub(r" \((with|not with) --resume[^)]*\)", "", t.help)  # train's --resume notes: compare lacks it
        assert (t.opts, t.secondary_opts, t.type_descriptor.annotation, t.is_flag, t.default, t.required, told) == (
            c.opts, c.secondary_opts, c.type_descriptor.annotation, c.is_flag, c.default, c.required, c.help), name


FLAGS = ["--teacher", "t.pt", "--student", "yolo26n.yaml", "--data", "d.yaml", "--imgsz", "320", "--device", "cpu",
         "--batch", "8", "--workers", "0", "--epochs", "3", "--kd-cls", "0.5", "--feat-loss", "cross",
         "--no-init-from-teacher", "--kd-one2one", "--unlabeled", "u1", "--unlabeled", "u2", "--unlabeled-mode",
         "pseudo", "--exist-ok", "lr0=0.01", "cos_lr=True"]


def test_the_same_flags_reach_train_and_compare_alike(monkeypatch):
    """Both commands hand train()'s and compare()'s keyword arguments the same settings from the same words."""
    import yolodistill.compare
    import yolodistill.train

    got = {}
    monkeypatch.setattr(yolodistill.train, "train", lambda **k: got.setdefault("train", k) and None)
    monkeypatch.setattr(yolodistill.compare, "compare", lambda **k: got.setdefault("compare", k))
    CliRunner().invoke(app, ["train", *FLAGS])
    result = CliRunner().invoke(app, ["compare", *FLAGS, "--seeds", "0,1"])
    assert result.exit_code == 0, result.output
    expected = dict(teacher="t.pt", student="yolo26n.yaml", data="d.yaml", imgsz=320, device="cpu", batch=8,
                    workers=0, epochs=3, kd_cls=0.5, feat_loss="cross", init_from_teacher=False, kd_one2one=True,
                    unlabeled=["u1", "u2"], unlabeled_mode="pseudo", exist_ok=True, lr0=0.01, cos_lr=True)
    assert {k: got["train"][k] for k in expected} == expected
    assert {k: got["compare"][k] for k in expected} == expected
    assert got["compare"]["seeds"] == "0,1" and "resume" not in got["train"] and "seed" not in got["train"]
    assert "kd_box" not in got["train"] and "unlabeled_ratio" not in got["compare"]  # flags left off stay unset
    assert type(got["train"]["batch"]) is int  # a whole number stays a count of images, never 8.0


@pytest.mark.parametrize("batch, expected", [("0.7", 0.7), ("-1", -1), ("12", 12)])
def test_batch_takes_autobatch_s_fraction_as_a_flag(batch, expected, monkeypatch):
    """--batch 0.7 was Click's 'Input should be a valid integer', while its help offered a fraction."""
    import yolodistill.train

    got = {}
    monkeypatch.setattr(yolodistill.train, "train", lambda **k: got.update(k))
    result = CliRunner().invoke(app, ["train", *FLAGS[:10], "--batch", batch])
    assert result.exit_code != 2, result.output
    assert got["batch"] == expected and type(got["batch"]) is type(expected)


@pytest.mark.parametrize("command", ["train", "compare"])
@pytest.mark.parametrize("words, needle", [
    (["--imgzs", "320"], "unknown option '--imgzs' (did you mean --imgsz?)"),
    (["--epochs", "3", "epochs=5"], "epochs is given twice (--epochs 3 and epochs=5): keep one"),
    (["lr0"], "'lr0' is not a key=value override"),
    (["--kd-cls", "0.5", "kd_cls=1"], "kd_cls is given twice (--kd-cls 0.5 and kd_cls=1): keep one"),  # as typed
    # a switch as typed: "--kd-gate False" was quoted, which no command takes
    (["--no-kd-gate", "kd_gate=true"], "kd_gate is given twice (--no-kd-gate and kd_gate=True): keep one"),
    (["--exist-ok", "exist_ok=True"], "exist_ok is given twice (--exist-ok and exist_ok=True): keep one"),
    (["--unlabeled", "a", "--unlabeled", "b", "unlabeled=c"],
     "unlabeled is given twice (--unlabeled a --unlabeled b and unlabeled=c): keep one"),  # was "['a', 'b']"
])
def test_misspelt_or_doubled_flags_are_one_line(command, words, needle, tmp_path):
    result = CliRunner().invoke(app, [command, "--teacher", "t.pt", "--project", str(tmp_path / "p"), *words])
    assert_one_line_error(result, needle, f"yolodistill {command} --help" if "unknown" in needle else "")
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("command", ["train", "compare"])
def test_a_word_naming_a_flag_is_read_as_that_flag(command, monkeypatch):
    """A switch's word went through Ultralytics' parser: exist_ok=1 was refused by train ("of invalid type int") and
    taken by compare, and kd_gate=yes was refused while export's half=yes was taken."""
    import yolodistill.compare
    import yolodistill.train

    got = {}
    monkeypatch.setattr(getattr(yolodistill, command), command, lambda **k: got.update(k))
    result = CliRunner().invoke(app, [command, *FLAGS[:6], "exist_ok=1", "kd_gate=yes", "init_from_teacher=off",
                                      "batch=16", "cos_lr=on", "plots=0"])
    assert result.exit_code != 2 and got, result.output  # (the stand-in returns no run to print)
    want = dict(exist_ok=True, kd_gate=True, init_from_teacher=False, batch=16, cos_lr=True, plots=False)
    assert {k: (got[k], type(got[k])) for k in want} == {k: (v, type(v)) for k, v in want.items()}
    for words, needle in ((["kd_gate=maybe"], "kd_gate=maybe: write true or false (yes/no, on/off and 1/0 are read too)"),
                          (["exist_ok=maybe"], "exist_ok=maybe: write true or false"),
                          (["cos_lr=maybe"], "cos_lr=maybe: write true or false"),  # Ultralytics' own switch
                          (["model="], "model= needs a value"),  # an empty $STUDENT: not dropped as unknown
                          (["epochs="], "epochs= needs a value: write epochs=VALUE")):
        assert_one_line_error(CliRunner().invoke(app, [command, *FLAGS[:6], *words]), needle)
    monkeypatch.undo()  # the real function names a setting it lacks, where "write projct=VALUE" was the advice
    assert_one_line_error(CliRunner().invoke(app, [command, *FLAGS[:6], "projct="]),
                          "unknown setting(s) projct: use a distillation key")


def test_compare_resume_says_what_compare_does_instead(tmp_path):
    """compare --resume was "unknown option '--resume': see yolodistill compare --help", where resume= says how to
    go on with a comparison cut off."""
    result = CliRunner().invoke(app, ["compare", "--teacher", "t.pt", "--project", str(tmp_path / "p"), "--resume",
                                      "runs/compare/exp"])
    assert_one_line_error(result, "compare has no --resume: run the same compare command again with --exist-ok, "
                                  "which keeps the runs that finished and trains the rest")


def test_compare_takes_seeds_and_methods_as_key_value_words(monkeypatch):
    """Both have defaults, so merge_overrides counted them as typed: seeds=0 was 'given twice (--seeds 0,1,2 and
    seeds=0)', though --seeds never was."""
    import yolodistill.compare

    got = {}
    monkeypatch.setattr(yolodistill.compare, "compare", lambda **k: got.update(k))
    result = CliRunner().invoke(app, ["compare", *FLAGS[:6], "seeds=0", "methods=plain,ours"])
    assert result.exit_code == 0, result.output
    assert got["seeds"] == 0 and got["methods"] == "plain,ours"
    result = CliRunner().invoke(app, ["compare", *FLAGS[:6], "--seeds", "1", "seeds=0"])
    assert_one_line_error(result, "seeds is given twice (--seeds 1 and seeds=0): keep one")


def test_info_lists_versions_and_format_support():
    result = CliRunner().invoke(app, ["info"], terminal_width=200)
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    import torch
    import ultralytics

    assert torch.__version__.split("+")[0] in flat and ultralytics.__version__ in flat
    assert f"yolodistill │ {importlib.metadata.version('yolodistill')} │" in flat  # its own, for a bug report
    assert "CPUExecutionProvider" in flat
    assert "yolodistill[openvino]" in flat  # brackets survive rich markup
    engine_ok = torch.cuda.is_available()
    assert ("engine" in flat) and (engine_ok or "TensorRT engines need" in flat)
    from yolodistill.parity import runtime_precision

    bf16 = runtime_precision("openvino", "fp32") == "bf16"  # this CPU's OpenVINO default, said where export uses it
    assert ("computes fp32 and fp16 models in bf16 on this CPU by default" in here_column(result.output)) == bf16


def test_info_in_a_narrow_terminal_cuts_nothing_and_names_torch_s_build(monkeypatch):
    """At 60 columns the install command it recommends was cut to 'yolodistill[openvin…'; its torch version was
    the package's (2.14.1), compare.json's the build's (2.14.1+cu130), on which the gpu line depends."""
    import torch

    result = CliRunner().invoke(app, ["info"], terminal_width=60)
    assert result.exit_code == 0 and "…" not in result.output, result.output
    assert "yolodistill[openvino]" in result.output
    assert f"│ {torch.__version__} " in result.output
    import platform  # one long word: cut to 'Linux-…-with-gl…' at 50 columns, folded now

    monkeypatch.setattr(platform, "platform", lambda: "Linux-6.18.44-fc-v1300-x86_64-with-glibc2.36-and-more-words")
    narrow = CliRunner().invoke(app, ["info"], terminal_width=50).output
    values = "".join(cells[2].strip() for line in narrow.splitlines() if len(cells := line.split("│")) == 4)
    assert "…" not in narrow and "Linux-6.18.44-fc-v1300-x86_64-with-glibc2.36-and-more-words" in values


def test_version_is_printed_alone_and_exits_0():
    """`yolodistill --version`, as pip shows it; it was 'No such option', status 2."""
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output == f"yolodistill {importlib.metadata.version('yolodistill')}\n"


@pytest.mark.parametrize("argv", [["data", "synth", "--out", "{long}"], ["bench", "{long}.pt"],
                                  ["export", "--weights", "{long}.pt"],
                                  ["train", "--teacher", "{long}.pt", "--student", "yolo26n.yaml", "--data", "d.yaml"]])
def test_a_name_too_long_for_the_filesystem_is_one_line(argv, tmp_path, monkeypatch):
    """A name of 300 bytes made the first stat() of any path raise ENAMETOOLONG: a traceback and exit 1."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, [a.format(long="y" * 300) for a in argv])
    assert_one_line_error(result, "is too long for the filesystem (a file or folder name may hold at most 255 bytes")
    assert list(tmp_path.iterdir()) == []


def test_a_data_yaml_name_too_long_is_that_not_a_bad_yaml(teacher26, tmp_path, monkeypatch):
    """check_data wrapped the OSError as 'fix it: a data yaml is a mapping with train: and val:'."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["train", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data",
                                      "y" * 300 + ".yaml", "--project", str(tmp_path / "runs")])
    assert_one_line_error(result, "is too long for the filesystem")
    assert "mapping" not in result.output


def test_python_dash_m_runs_the_console_script():
    """`python -m yolodistill` had no __main__ ('cannot be directly executed'), as pip users try first."""
    run = subprocess.run([PYTHON, "-m", "yolodistill", "bench", "--weights", "x.pt"], capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.startswith("Error: No such option: --weights: bench takes"), run.stderr
    version = subprocess.run([PYTHON, "-m", "yolodistill", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout == f"yolodistill {importlib.metadata.version('yolodistill')}\n"


def here_column(output: str) -> str:
    """The export table's last column, its wrapped lines joined."""
    return " ".join(cells[3].strip() for line in output.splitlines() if len(cells := line.split("│")) == 5)


def test_info_tells_the_cores_this_process_may_use_from_the_machine_s(monkeypatch):
    # under taskset or a container's CPU set, os.cpu_count() counts cores that timings never ran on
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    flat = " ".join(CliRunner().invoke(app, ["info"], terminal_width=200).output.split())
    assert "cpu_count │ 4" in flat and "usable_cores │ 1" in flat


def test_info_says_where_openvino_computes_in_bf16(monkeypatch):
    from yolodistill import runtimes

    monkeypatch.setattr(runtimes, "runtime_precision", lambda fmt, precision: "bf16" if fmt == "openvino" else precision)
    rows = {r["format"]: r for r in runtimes.format_support()}
    assert rows["openvino"]["detail"] == "computes fp32 and fp16 models in bf16 on this CPU by default"
    assert rows["onnx"]["detail"] == "ready"
    here = here_column(CliRunner().invoke(app, ["info"], terminal_width=200).output)
    assert "available: computes fp32 and fp16 models in bf16 on this CPU by default (export reports its mAP50-95)" \
        in here


def test_one_line_check_catches_tracebacks_and_raised_exceptions():
    """The helper every bad-input test uses fails on each way a command can break the one-line rule."""
    from typer.testing import Result

    def result(output: str, code: int = 2, exception: BaseException | None = None):
        return Result(runner=CliRunner(), stdout_bytes=output.encode(), stderr_bytes=b"", output_bytes=output.encode(),
                      return_value=None, exit_code=code, exception=exception)

    assert_one_line_error(result("Error: bad --imgsz\n"), "--imgsz")
    for bad in (result("Error: x\nTraceback (most recent call last):\n"), result("Error: x\n", code=1),
                result("Error: x\n", exception=ValueError("boom")), result("Error: x\nsecond line\n"),
                result("not an error line\n")):
        with pytest.raises(AssertionError):
            assert_one_line_error(bad)
    assert_one_line_error(result("Error: x\n", exception=SystemExit(2)))
    with pytest.raises(AssertionError):
        assert_one_line_error(result("Error: x\n"), "not there")


def test_error_messages_keep_square_brackets(tmp_path):
    from yolodistill.cli import user_errors

    @user_errors
    def boom():
        raise UserError("pip install 'yolodistill[openvino]'")

    import typer

    app2 = typer.Typer()
    app2.command()(boom)
    result = CliRunner().invoke(app2, [])
    assert result.exit_code == 2 and "yolodistill[openvino]" in result.output


def rendered_help(path: tuple[str, ...]) -> str:
    """A command's --help as one line of words: Rich's table borders gone, its wrapped lines joined."""
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    return " ".join(result.output.replace("│", " ").split())


def test_the_distillation_flags_help_gives_the_default_recipe_s_values():
    """--kd-feat's help said 1 for a .pt student after the default recipe's trained_student block had dropped it."""
    import re

    from yolodistill.options import DISTILL_OPTIONS
    from yolodistill.config import resolve

    words = {"on": True, "off": False}
    recipes = {"yaml": resolve(None, student="yolo26n.yaml")[0], "pt": resolve(None, student="yolo26n.pt")[0]}
    checked = 0
    for option in DISTILL_OPTIONS:
        for note in re.findall(r"\[default: ([^\]]*)\]", option.info.help.replace("\\[", "[")):
            yaml_value, _, pt = note.removeprefix("from the recipe").lstrip(",: ").partition(", or ")
            pt_value = pt.removesuffix(" for a student with weights of its own (.pt)") or yaml_value
            for kind, shown in (("yaml", yaml_value), ("pt", pt_value)):
                value = getattr(recipes[kind], option.name)
                expected = words.get(shown, shown)
                number = isinstance(value, (int, float)) and not isinstance(value, bool)
                assert (value == float(expected) if number else value == expected), (option.name, kind, note, value)
            checked += 1
    assert checked >= 15


def test_help_shows_the_default_notes_written_in_help_strings():
    """Typer reads help as Rich markup, where a '[default: 640]' written in a help string is a tag it drops."""
    import re

    import typer.main

    notes = 0
    for path, command in walk(typer.main.get_command(app)):
        shown = rendered_help(path)
        for param in command.params:
            for note in re.findall(r"\[default: [^\]]*\]", param.help.replace("\\[", "[")):
                assert " ".join(note.split()) in shown, (path, param.name, note)
                notes += 1
    assert notes >= 30
    train = rendered_help(("train",))
    assert "Random seed. [default: from the config, 0]" in train and "[default: from the recipe, 1]" in train
    assert "Epochs to train. [default: from the config, 100]" in train
    assert "[default: teacher, or student for a student with weights of its own (.pt)]" in train
    assert "Export image size. [default: the checkpoint's train imgsz]" in rendered_help(("export",))
    assert "Inference image size. [default: the teacher's train imgsz]" in rendered_help(("data", "pseudo-label"))
    bench = rendered_help(("bench",))
    assert "[default: newest run's best.pt and its exports, found under ./runs/distill, else ./runs/detect]" in bench
    assert "Where to write bench.json. [default: beside the first artifact]" in bench


def test_resume_help_and_readme_name_every_setting_a_resume_may_change():
    """The help named four (README eight): patience= and close_mosaic= were taken with --resume, and its help said
    they must be the run's own."""
    from yolodistill.options import TRAIN_ONLY
    from yolodistill.resume import RESUMABLE

    told = next(o for o in TRAIN_ONLY if o.name == "resume").info.help
    readme = (REPO / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `--resume"))
    internal = {"distill_model", "save_dir", "data", "augmentations", "channels_last"}  # set by the run, or --data
    for key in sorted(RESUMABLE - internal):
        word = f"--{key}" if key in ("imgsz", "batch", "device", "workers") else f"{key}="
        assert word in told and f"`{word}`" in row, key


def test_compare_help_says_nothing_of_resume_which_it_lacks():
    """compare shares train's --teacher, --student and --data, whose help spoke of --resume, a flag compare lacks."""
    train, compare = rendered_help(("train",)), rendered_help(("compare",))
    assert "--resume" not in compare and "Required." in compare
    assert "Required (with --resume: only where the run's teacher moved)." in train


def test_ctrl_c_after_the_last_epoch_points_at_the_weights_not_at_resume(teacher26, synth_data, tmp_path, monkeypatch):
    """Ctrl-C in the final validation finds last.pt stripped like any finished run's: --resume would refuse it."""
    from yolodistill.resume import check_resume
    from yolodistill.train import DistillationTrainer

    final_eval = DistillationTrainer.final_eval

    def late_ctrl_c(self):
        final_eval(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(DistillationTrainer, "final_eval", late_ctrl_c)
    command = ["train", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data", str(synth_data),
               "--epochs", "1", "--imgsz", "64", "--batch", "8", "--workers", "0", "--device", "cpu", "--project",
               str(tmp_path), "--name", "run", "plots=False"]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 130, result.output
    weights = tmp_path / "run" / "weights"
    with pytest.raises(UserError, match="finished run"):
        check_resume(weights / "last.pt", {})  # the scenario: a resume hint here would be refused
    flat = " ".join(result.output.split())
    assert "--resume" not in flat
    assert f"The run had finished its epochs; its weights are {weights / 'best.pt'}" in flat
    assert "final validation was cut short" in flat

    def early_ctrl_c(self):  # the same folder again (--exist-ok), cut off before its first epoch is saved
        raise KeyboardInterrupt

    monkeypatch.setattr(DistillationTrainer, "save_model", early_ctrl_c)
    again = CliRunner().invoke(app, [*command, "--exist-ok"])
    assert again.exit_code == 130, again.output
    flat = " ".join(again.output.split())  # the old last.pt is not this run's; the folder needs --exist-ok again
    assert f"a new run (no epoch had finished): the same command with --exist-ok reuses this run folder, {tmp_path / 'run'}" in flat


def test_resume_as_key_value_is_one_line_or_nothing(teacher26, tmp_path):
    """resume=True (Ultralytics' 'the newest run') was a TypeError traceback; resume=False means no resume."""
    base = ["train", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--project", str(tmp_path / "runs")]
    assert_one_line_error(CliRunner().invoke(app, [*base, "--data", str(tmp_path / "d.yaml"), "resume=True"]),
                          "resume=True names no checkpoint", "--resume runs/distill/NAME/weights/last.pt")
    off = CliRunner().invoke(app, [*base, "--data", str(tmp_path / "missing.yaml"), "resume=False"])
    assert_one_line_error(off, "missing.yaml")  # passed on to the next check, as a run without resume=


@pytest.mark.parametrize("nncf", [False, True])
def test_info_says_whether_openvino_int8_works_here(monkeypatch, nncf):
    """openvino showed 'available' where INT8 export would stop for want of nncf."""
    import types

    from yolodistill import runtimes

    monkeypatch.setitem(sys.modules, "nncf", types.ModuleType("nncf") if nncf else None)
    rows = {r["format"]: r for r in runtimes.format_support()}
    if not rows["openvino"]["available"]:
        pytest.skip("openvino is not installed here")
    here = here_column(CliRunner().invoke(app, ["info"], terminal_width=200).output)
    assert ("not INT8: OpenVINO INT8 calibration needs nncf: pip install nncf" in here) is not nncf
    assert ("int8" in rows["openvino"]) is not nncf


@pytest.mark.parametrize("command, target", [(["export", "--weights", "w.pt"], "yolodistill.export.export_model"),
                                             (["bench"], "yolodistill.bench.bench")])
def test_a_ctrl_c_in_export_or_bench_says_what_was_kept(command, target, monkeypatch):
    """A Ctrl-C ended export and bench with no word (Click's exit status 130, nothing printed)."""
    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(target, interrupted)
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 130 and "Interrupted." in result.output and "Traceback" not in result.output
    assert ("Nothing was exported" if command[0] == "export" else "Nothing was written") in result.output


def test_flags_left_off_leave_the_recipe_s_settings_alone(tmp_path, monkeypatch):
    """A flag left off is no setting: an unset --exist-ok (False) or --unlabeled (empty) handed on as given would
    override the --config recipe's exist_ok and unlabeled, which only flags typed may do."""
    import types

    import yolodistill.compare
    import yolodistill.train
    from yolodistill.config import resolve

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"exist_ok: true\nunlabeled: [{tmp_path / 'footage'}]\n")
    got, run = {}, types.SimpleNamespace(best=tmp_path / "best.pt", save_dir=tmp_path)
    monkeypatch.setattr(yolodistill.train, "train", lambda **k: got.setdefault("train", k) and run)
    monkeypatch.setattr(yolodistill.compare, "compare", lambda **k: got.setdefault("compare", k))
    for command in ("train", "compare"):
        result = CliRunner().invoke(app, [command, *FLAGS[:6], "--config", str(recipe)])
        assert result.exit_code == 0, result.output
        assert command == "compare" or f"Student weights: {run.best}" in result.output  # what train tells to ship
        settings = {k: v for k, v in got[command].items() if k not in ("teacher", "data", "config", "seeds", "methods",
                                                                          "console")}
        distill, args = resolve(got[command]["config"], **settings)
        assert args["exist_ok"] is True and distill.unlabeled == [str(tmp_path / "footage")], (command, settings)


def test_every_command_s_defaults_are_its_python_function_s(monkeypatch, tmp_path):
    """Each command calls one importable function: a flag left off must mean what that function does by default,
    as the help's defaults say (compare trains seeds 0, 1, 2 and every method, export writes onnx, ...)."""
    import inspect
    import types

    monkeypatch.chdir(tmp_path)  # its relative paths (o, w.pt) name nothing in the repository

    import yolodistill.bench
    import yolodistill.compare
    import yolodistill.convert
    import yolodistill.data
    import yolodistill.demo
    import yolodistill.export
    import yolodistill.pseudo

    shown = types.SimpleNamespace(render=lambda: "done")
    cases = [(yolodistill.compare, "compare", ["compare", *FLAGS[:6]], {}),
             (yolodistill.export, "export_model", ["export", "--weights", "w.pt"], {}),
             (yolodistill.pseudo, "pseudo_label", ["data", "pseudo-label", "--teacher", "t.pt", "--images", "i",
                                                   "--out", "o"], {}),
             (yolodistill.data, "make_synthetic", ["data", "synth", "--out", "o"], {}),
             (yolodistill.convert, "convert", ["data", "convert", "src", "--format", "voc", "--out", "o"], {}),
             (yolodistill.bench, "bench", ["bench"], {"json_path": "json"}),
             (yolodistill.demo, "demo", ["demo"], {})]
    checked = set()
    for module, name, argv, renamed in cases:
        function, got = getattr(module, name), {}
        monkeypatch.setattr(module, name, lambda *a, _got=got, **k: _got.update(k) or shown)
        result = CliRunner().invoke(app, argv)
        assert result.exit_code == 0, (argv, result.output)
        typed = {renamed.get(w, w)[2:].replace("-", "_") for w in argv if w.startswith("--")}
        defaults = {k: p.default for k, p in inspect.signature(function).parameters.items()
                    if p.default is not inspect.Parameter.empty and k in got
                    and renamed.get(k, k) not in typed | {"console"}}
        for key, default in defaults.items():
            value = got[key]
            if key in ("seeds", "methods") and isinstance(value, str):  # compare reads "0,1,2" as its seeds
                value = tuple(type(default[0])(v) for v in value.split(","))
            assert (str(value) if isinstance(value, Path) else value) == default, (argv[0], key, value, default)
            checked.add((argv[0], renamed.get(key, key)))
    assert {("compare", "seeds"), ("compare", "methods"), ("export", "format"), ("export", "max_drop"),
            ("data", "conf"), ("bench", "json"), ("demo", "out")} <= checked
    assert len(checked) >= 35


def test_a_ctrl_c_s_own_account_wins_over_the_command_s_fallback(monkeypatch):
    """bench says which reports a Ctrl-C left written; its fallback 'Nothing was written' would then be false."""
    import yolodistill.bench

    def stopped(*a, **k):
        raise KeyboardInterrupt("bench.json and bench.md were written before the stop")

    monkeypatch.setattr(yolodistill.bench, "bench", stopped)
    result = CliRunner().invoke(app, ["bench"])
    assert result.exit_code == 130 and "Traceback" not in result.output, result.output
    flat = " ".join(result.output.split())
    assert "Interrupted. bench.json and bench.md were written before the stop" in flat
    assert "Nothing was written" not in flat


def test_ctrl_d_is_one_word_and_status_1(monkeypatch, capsys):
    """An end of input (Ctrl-D) reaches the console script as Click's Abort: one 'Aborted.' and Click's status 1,
    never a traceback or the usage-error status 2."""
    import yolodistill.sysinfo

    def stopped():
        raise EOFError

    monkeypatch.setattr(yolodistill.sysinfo, "info_tables", stopped)
    code, out = run_main(["info"], monkeypatch, capsys)
    assert code == 1 and [x for x in out.splitlines() if x.strip()] == ["Aborted."], out


@pytest.mark.parametrize("module, function, argv", [
    ("pseudo", "pseudo_label", ["pseudo-label", "--teacher", "t.pt", "--images", "i", "--out", "o"]),
    ("convert", "convert", ["convert", "voc", "--format", "voc", "--out", "o"]),
])
def test_a_ctrl_c_in_data_commands_says_interrupted_like_every_long_command(monkeypatch, module, function, argv):
    """pseudo-label runs a teacher over a whole folder and convert copies one, as long as an export: they ended with
    Typer's bare status 130 and no word. That their staging leaves nothing is tested in test_pseudo and
    test_convert."""
    import importlib

    def stopped(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib.import_module(f"yolodistill.{module}"), function, stopped)
    result = CliRunner().invoke(app, ["data", *argv])
    assert result.exit_code == 130, result.output
    assert result.output.split() == "Interrupted. Nothing was written: --out is as it was".split()


def test_a_file_named_like_a_setting_is_benched_as_a_file(monkeypatch, tmp_path):
    """bench reads a word such as imgsz=320 as a setting, as Ultralytics does, but an artifact on disk of that form
    (a run named exp=2) is the user's file: it is benched, not refused as an unknown setting."""
    import yolodistill.bench

    got = {}
    monkeypatch.setattr(yolodistill.bench, "bench", lambda artifacts, **k: got.update(artifacts=artifacts, **k))
    monkeypatch.chdir(tmp_path)
    Path("exp=2.onnx").write_bytes(b"")
    result = CliRunner().invoke(app, ["bench", "exp=2.onnx", "runs=7"])
    assert result.exit_code == 0, result.output
    assert got["artifacts"] == [Path("exp=2.onnx")] and got["runs"] == 7


def test_a_home_path_after_an_equals_sign_is_the_home_folder(monkeypatch, capsys, tmp_path):
    """The shell expands `--out ~/x` but leaves `--out=~/x` (and Ultralytics' `project=~/runs`) alone: a folder
    named ~ was made in the working folder."""
    from yolodistill.cli import home_expanded

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    code, out = run_main(["data", "synth", "--out=~/synth", "--images", "4", "--imgsz", "32"], monkeypatch, capsys)
    assert code == 0, out
    assert (tmp_path / "home" / "synth" / "data.yaml").is_file() and not (tmp_path / "~").exists()
    assert home_expanded(["project=~/runs", "--name=a~b", "~/x", "lr0=0.1", "a~", "~"]) == [
        f"project={tmp_path / 'home' / 'runs'}", "--name=a~b", str(tmp_path / "home" / "x"), "lr0=0.1", "a~",
        str(tmp_path / "home")]  # quoted ("~/My Data"): --unlabeled read the home folder, --project made ./~
    names = ["--name", "~", "--name=~/x", "name=~", "--names", "~/a", "names=~"]  # names, not paths: a run into $HOME
    assert home_expanded(names) == names


def test_a_training_whose_output_closes_says_so_in_one_line(teacher26, synth_data, tmp_path):
    """`train ... | head -2`: 38 "Logging error" blocks on stderr, exit 1, and no word of the run or how to go on."""
    import os
    import subprocess

    run = subprocess.Popen([PYTHON, "-m", "yolodistill.cli", "train", "--teacher", str(teacher26), "--student",
                            "yolo26n.yaml", "--data", str(synth_data), "--imgsz", "64", "--epochs", "2", "--batch", "8",
                            "--workers", "0", "--device", "cpu", "--project", str(tmp_path), "--name", "p"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "OMP_NUM_THREADS": "1"})
    run.stdout.readline()  # as `| head -1`: read a line, then the pipe is gone
    run.stdout.close()
    _, err = run.communicate(timeout=600)
    lines = [line for line in err.splitlines() if line.strip()]
    assert run.returncode == 1 and len(lines) == 1, err[-3000:]
    assert lines[0].startswith("Error: the output was closed (a pipe such as `| head` ended), which stopped the run: ")
    assert "continue with: " in lines[0]


def test_info_fits_its_tables_to_the_terminal_with_whole_words():
    """Every info table was printed at its own width, about 330 columns: at 80 every row of 'Export formats' wrapped
    into 3 to 5 lines and its columns ran into each other."""
    result = CliRunner().invoke(app, ["info"], terminal_width=80)
    assert result.exit_code == 0 and "…" not in result.output
    assert max(map(len, result.output.splitlines())) <= 80 and "yolodistill[openvino]" in result.output


def test_bench_takes_threads_as_its_python_function_and_the_demo_do(monkeypatch):
    """The .pt rows ran on every core whatever OMP_NUM_THREADS said, with no flag to say otherwise: on a machine
    shared with other work, p90 was 16 times p50 (its Python function and the demo took threads=)."""
    import yolodistill.bench

    got = {}
    monkeypatch.setattr(yolodistill.bench, "bench", lambda artifacts, **k: got.update(k))
    assert CliRunner().invoke(app, ["bench", "best.pt", "--threads", "1"]).exit_code == 0 and got["threads"] == 1
    assert CliRunner().invoke(app, ["bench", "best.pt", "threads=2"]).exit_code == 0 and got["threads"] == 2
    assert CliRunner().invoke(app, ["bench", "best.pt"]).exit_code == 0 and got["threads"] is None
