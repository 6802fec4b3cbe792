"""Recipes: flags override the --config file, which overrides configs/default.yaml; every key is documented."""

from __future__ import annotations

import re

import pytest
import yaml

from yolodistill.config import DistillConfig, read_recipe, recipe_path, resolve
from yolodistill.errors import UserError


def test_default_recipe_documents_every_key_and_matches_the_dataclass():
    text = recipe_path("default").read_text()
    recipe = yaml.safe_load(text)
    for key in DistillConfig.keys():
        assert key in recipe, key
        # the line before each distillation key is a comment explaining it
        before = text[: re.search(rf"^{key}:", text, re.M).start()].rstrip().splitlines()[-1]
        assert before.startswith("#"), key
    assert DistillConfig.from_dict(recipe) == DistillConfig()


def test_precedence_flags_over_file_over_default(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("kd_cls: 0.25\nkd_box: 0.5\nlr0: 0.002\nepochs: 7\n")
    distill, args = resolve(f, kd_box=3.0, epochs=None)
    assert distill.kd_cls == 0.25  # from the file
    assert distill.kd_box == 3.0  # the flag wins
    assert distill.feat_loss == DistillConfig().feat_loss  # the default
    assert args["lr0"] == 0.002 and args["epochs"] == 7 and args["imgsz"] == 640
    assert "kd_cls" not in args  # distillation keys never reach Ultralytics' argument check


def test_named_recipes_resolve_and_are_valid():
    distill, _ = resolve("logits")
    assert distill.kd_feat == 0.0 and distill.kd_cls > 0
    for path in recipe_path("default").parent.glob("*.yaml"):
        DistillConfig.from_dict(read_recipe(path))


@pytest.mark.parametrize(
    "content, needle",
    [("kd_cls: [1, 2\n", "not valid YAML"), ("- a\n- b\n", "must be a mapping"), ("nonsense_key: 1\n", "unknown setting"),
     ("", "is empty: write distillation keys"), ("# kd_cls: 2\n", "is empty")],  # not silently the defaults
)
def test_bad_config_files(tmp_path, content, needle):
    f = tmp_path / "bad.yaml"
    f.write_text(content)
    with pytest.raises(UserError, match=needle):
        resolve(f)


def test_missing_config_file():
    shipped = ", ".join(sorted(f.stem for f in recipe_path().parent.glob("*.yaml")))
    assert "default" in shipped and "logits" in shipped
    with pytest.raises(UserError, match=rf"does not exist: .*shipped recipe's name \({shipped}\)"):
        resolve("no/such/recipe.yaml")


def test_a_shipped_recipe_named_with_its_suffix(tmp_path, monkeypatch):
    """--config logits.yaml said the file did not exist, where --config logits found the shipped recipe; a file of
    that name in the working folder still wins."""
    monkeypatch.chdir(tmp_path)
    assert resolve("logits.yaml")[0] == resolve("logits")[0]
    (tmp_path / "logits.yaml").write_text("kd_cls: 0.25\n")
    assert resolve("logits.yaml")[0].kd_cls == 0.25


def test_config_folder_is_refused(tmp_path):
    with pytest.raises(UserError, match="is a folder: pass a recipe yaml"):
        resolve(tmp_path)


def test_a_student_with_its_own_weights_gets_the_trained_student_block(tmp_path):
    """The default recipe's trained_student block (chosen by the study's .pt arm) applies to a .pt student and to
    pretrained=PATH, not to a yaml student, and it stays under the --config file's keys and the flags."""
    block = read_recipe(recipe_path("default"))["trained_student"]
    assert block and set(block) <= set(DistillConfig.keys())
    yaml_student, _ = resolve(student="yolo26n.yaml")
    assert yaml_student == DistillConfig()
    for kwargs in ({"student": "runs/x/weights/best.pt"}, {"student": "YOLO26N.PT"},
                   {"student": "yolo26n.yaml", "pretrained": "mine.pt"}):
        trained, _ = resolve(**kwargs)
        assert all(getattr(trained, k) == v for k, v in block.items()), kwargs
        assert trained != yaml_student
    key, value = next(iter(block.items()))
    other = 0.25 if isinstance(value, float) else "student" if value != "student" else "teacher"
    f = tmp_path / "mine.yaml"
    f.write_text(yaml.safe_dump({key: other}))
    assert getattr(resolve(f, student="best.pt")[0], key) == other  # the user's file wins over the block
    assert getattr(resolve(student="best.pt", **{key: other})[0], key) == other  # and so does a flag
    f.write_text(yaml.safe_dump({"trained_student": {"kd_cls": 0.3}, "kd_cls": 2.0}))
    assert resolve(f, student="best.pt")[0].kd_cls == 0.3  # the file's own block, over its other keys
    assert resolve(f, student="yolo26n.yaml")[0].kd_cls == 2.0


@pytest.mark.parametrize("block, needle", [("[1, 2]", "must be a mapping"), ("{lr0: 0.1}", "distillation keys only"),
                                           ("{kd_feat: -1}", "kd_feat must be a number >= 0")])
@pytest.mark.parametrize("student", ["yolo26n.yaml", "best.pt"])
def test_a_bad_trained_student_block(tmp_path, block, needle, student):
    """Refused whichever student the run has: a bad block must not wait for the first .pt run to fail."""
    f = tmp_path / "bad.yaml"
    f.write_text(f"trained_student: {block}\n")
    with pytest.raises(UserError, match=needle):
        resolve(f, student=student)


@pytest.mark.parametrize("settings, needle", [({"kd_prefit": -1}, "whole number of batches"),
                                              ({"kd_prefit": 2.5}, "whole number of batches"),
                                              ({"kd_prefit": True}, "whole number of batches"),
                                              ({"kd_prefit": 10, "feat_loss": "cross"}, "l2, cwd or mgd")])
def test_kd_prefit_counts_batches_of_fittable_adapters(settings, needle):
    with pytest.raises(UserError, match=needle):
        DistillConfig(**settings)


@pytest.mark.parametrize("key, value", [("kd_cls", float("nan")), ("kd_cls", float("inf")), ("kd_box_ring", float("nan")),
                                        ("kd_warmup", float("inf")), ("temperature", float("nan")),
                                        ("cwd_tau", float("inf")), ("mgd_mask_ratio", float("nan"))])
def test_nan_and_infinite_settings_are_refused(key, value):
    """NaN passes every `<` check: --kd-cls nan trained a run of NaN losses to exit 0, and kd_warmup inf a run that
    never used its teacher."""
    with pytest.raises(UserError, match=f"^{key} must be"):
        DistillConfig(**{key: value})


def test_scientific_notation_is_a_number_in_recipes(tmp_path):
    """PyYAML reads 1e-3 as a string; --kd-cls 1e-3 was 0.001 while kd_cls: 1e-3 in a recipe was refused."""
    f = tmp_path / "sci.yaml"
    f.write_text("kd_cls: 1e-3\nlr0: 5E-4\nname: 1e3x\nproject: '1e5'\nclasses: [1e0]\ntrained_student: {kd_feat: 2e0}\n")
    assert read_recipe(f) == {"kd_cls": 0.001, "lr0": 0.0005, "name": "1e3x", "project": "1e5",  # quoted: a string
                              "classes": [1.0], "trained_student": {"kd_feat": 2.0}}
    distill, args = resolve(f, student="yolo26n.pt")
    assert (distill.kd_cls, distill.kd_feat, args["lr0"]) == (0.001, 2.0, 0.0005)


@pytest.mark.parametrize("key, value", [("kd_schedule", "step"), ("kd_final", 1.5), ("kd_final", -0.1),
                                        ("kd_balance", "manual"), ("kd_assign", "oracle"), ("kd_one2one", "yes")])
def test_bad_schedule_settings_are_one_line(key, value):
    with pytest.raises(UserError, match=key):
        DistillConfig(**{key: value})


@pytest.mark.parametrize("command", ["train", "compare"])
def test_a_bad_value_from_config_is_named_as_the_file_s_key(command, teacher26, synth_data, tmp_path):
    """'--epochs must be ...' sent a user who never typed --epochs looking for a flag; a value typed on the command
    line is still named as the flag."""
    from typer.testing import CliRunner

    from yolodistill.cli import app

    from .conftest import assert_one_line_error

    config = tmp_path / "mine.yaml"
    config.write_text("epochs: 0\nimgsz: 100\n")
    base = [command, "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data", str(synth_data),
            "--project", str(tmp_path / "runs"), "--config", str(config)]
    assert_one_line_error(CliRunner().invoke(app, [*base, "--epochs", "1"]),
                          f"imgsz: 100 in {config} is not a positive multiple of 32")
    assert_one_line_error(CliRunner().invoke(app, [*base, "--imgsz", "64"]), f"epochs in {config} must be a whole "
                          "number >= 1, got 0")
    result = CliRunner().invoke(app, [*base, "--imgsz", "64", "--epochs", "-1"])
    assert_one_line_error(result, "--epochs must be a whole number >= 1, got -1")  # typed: the flag
    config.write_text("kd_cls: -1\n")  # a distillation key, named without its flag's dashes
    assert_one_line_error(CliRunner().invoke(app, base), f"kd_cls in {config} must be a number >= 0, got -1")
    config.write_text("data: elsewhere.yaml\n")  # a key=value word's refusal, for a key the file set
    assert_one_line_error(CliRunner().invoke(app, base), f"data: elsewhere.yaml in {config} would be replaced: --data "
                          "sets it; use --data instead")
    assert not (tmp_path / "runs").exists()
