"""The command line: every option explained, key=value overrides parsed like Ultralytics."""

from __future__ import annotations

import subprocess

import pytest
from typer.testing import CliRunner

from yolodistill.cli import app, parse_overrides
from yolodistill.errors import UserError

from .conftest import PYTHON


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


def test_overrides_are_typed_like_ultralytics():
    assert parse_overrides(["lr0=0.01", "cos_lr=True", "optimizer=AdamW", "freeze=[0,1]", "name="]) == {
        "lr0": 0.01, "cos_lr": True, "optimizer": "AdamW", "freeze": [0, 1], "name": None,
    }
    with pytest.raises(UserError):
        parse_overrides(["=3"])


def test_console_script_entry_point():
    out = subprocess.run([PYTHON, "-m", "yolodistill.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "train" in out.stdout and "export" in out.stdout


def test_compare_bad_methods_is_one_line(teacher26, synth_data, tmp_path):
    result = CliRunner().invoke(app, ["compare", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data",
                                      str(synth_data), "--epochs", "1", "--methods", "plain,magic",
                                      "--project", str(tmp_path / "c")])
    assert result.exit_code == 2
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1 and "magic" in lines[0] and "Traceback" not in result.output
    assert not (tmp_path / "c").exists()


def test_info_lists_versions_and_format_support():
    result = CliRunner().invoke(app, ["info"], terminal_width=200)
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    import torch
    import ultralytics

    assert torch.__version__.split("+")[0] in flat and ultralytics.__version__ in flat
    assert "CPUExecutionProvider" in flat
    assert "yolodistill[openvino]" in flat  # brackets survive rich markup
    engine_ok = torch.cuda.is_available()
    assert ("engine" in flat) and (engine_ok or "TensorRT engines need" in flat)


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
