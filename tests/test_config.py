"""Recipes: flags override the --config file, which overrides configs/default.yaml; every key is documented."""

from __future__ import annotations

import re
from pathlib import Path

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
    with pytest.raises(UserError, match=r"is a folder: pass a recipe yaml, or a shipped recipe's name \(default, "):
        resolve(tmp_path)


def test_messages_and_help_name_the_shipped_recipes_not_a_checkout_s_folder(tmp_path):
    """An installed yolodistill has no configs/ folder where the user is: the messages and --help said
    'such as configs/default.yaml' and 'see configs/'. They name the recipes --config takes, and the real file."""
    from typer.testing import CliRunner

    from yolodistill.cli import app

    (empty := tmp_path / "empty.yaml").write_text("# nothing\n")
    with pytest.raises(UserError) as refused:
        resolve(empty)
    named = str(refused.value).rsplit("as in the default recipe, ", 1)[1]
    assert Path(named) == recipe_path("default") and Path(named).is_file()
    shipped = sorted(f.stem for f in recipe_path().parent.glob("*.yaml"))
    for command in ("train", "compare"):
        flat = " ".join(CliRunner().invoke(app, [command, "--help"]).output.replace("│", " ").split())
        assert f"a shipped recipe's name: {', '.join(shipped[:-1])} or {shipped[-1]}" in flat and "configs/" not in flat


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
                                           ("{kd_feat: -1}", "kd_feat must be a finite number >= 0"),
                                           ("false", "must be a mapping .* got False"),  # were read as no block,
                                           ("0", "must be a mapping .* got 0"), ("''", "must be a mapping")])  # silently
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


def test_a_whole_kd_prefit_written_as_a_float_is_taken_as_epochs_2_0_is():
    """kd_prefit: 2.0 was refused as 'not a whole number' while epochs: 2.0 was taken."""
    assert DistillConfig(kd_prefit=2.0, kd_feat=1.0).kd_prefit == 2 and type(DistillConfig(kd_prefit=2.0).kd_prefit) is int


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


@pytest.mark.parametrize("text, message", [
    ("kd_cls: 2\nkd_box: 1\nkd_cls: 3\n", r"line 3: 'kd_cls' is given twice \(lines 1 and 3\): keep one$"),  # 3 won
    ("seed: 010\n", r"line 1: 010 reads as 8 in YAML 1.1 \(as octal\): write the number you mean, or quote it$"),
    ("time: 1:30\n", r"line 1: 1:30 reads as 90 in YAML 1.1 \(as base 60\)"),
    ("kd_cls: 1:30.5\n", r"line 1: 1:30.5 reads as 90.5 in YAML 1.1 \(as base 60\)"),  # trained at 90.5
    ("seed: 0_10\n", r"line 1: 0_10 reads as 8 in YAML 1.1 \(as octal\)")])
def test_a_recipe_says_one_thing_per_setting(tmp_path, text, message):
    """A key written twice took the last value, and YAML 1.1 read seed: 010 as 8 (--seed 010 is 10), silently."""
    (f := tmp_path / "r.yaml").write_text(text)
    with pytest.raises(UserError, match=f"^config '{f}' {message}"):
        read_recipe(f)


def test_a_recipe_s_folder_names_are_as_typed(tmp_path):
    """As a key=value word takes them: `name: 0123` trained into the folder 83, `name: 1:30` into 90."""
    (f := tmp_path / "r.yaml").write_text("name: 0123\nproject: 1:30\nseed: 7\nbase: &b {kd_cls: 2}\n"
                                          "trained_student:\n  <<: *b\n  kd_box: 3\n")
    assert read_recipe(f) == {"name": "0123", "project": "1:30", "seed": 7, "base": {"kd_cls": 2},
                              "trained_student": {"kd_cls": 2, "kd_box": 3}}  # a merge key is no key given twice
    (f := tmp_path / "s.yaml").write_text("name: ~\nproject: 'runs 2'\n")
    assert read_recipe(f) == {"name": None, "project": "runs 2"}
    (f := tmp_path / "t.yaml").write_text("seed: 007\nbatch: 00\nworkers: 0x10\nkd_cls: 0.5\n")  # alike in decimal
    assert read_recipe(f) == {"seed": 7, "batch": 0, "workers": 16, "kd_cls": 0.5}


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
    assert_one_line_error(CliRunner().invoke(app, base), f"kd_cls in {config} must be a finite number >= 0, got -1")
    config.write_text("data: elsewhere.yaml\n")  # a key=value word's refusal, for a key the file set
    assert_one_line_error(CliRunner().invoke(app, base), f"data: elsewhere.yaml in {config} would be replaced: --data "
                          "sets it; use --data instead")
    from yolodistill.compare import compare  # from Python too, where the key was named as a flag no caller passed
    from yolodistill.train import train

    config.write_text("epochs: 0\n")
    given = dict(teacher=teacher26, student="yolo26n.yaml", data=synth_data, config=config, imgsz=64,
                 project=tmp_path / "runs")
    with pytest.raises(UserError, match=f"^epochs in {re.escape(str(config))} must be a whole number >= 1, got 0$"):
        {"train": train, "compare": compare}[command](**given)
    with pytest.raises(UserError, match="^--epochs must be a whole number >= 1, got -1$"):
        {"train": train, "compare": compare}[command](**given, epochs=-1)
    assert not (tmp_path / "runs").exists()


# --- Mutation-testing gaps: each test below catches a change to config.py that the tests above let through. -----------


@pytest.mark.parametrize("key", ["kd_cls", "kd_box", "kd_feat", "kd_warmup", "kd_box_ring"])
def test_weights_take_0_and_refuse_a_negative_or_a_boolean(key):
    """default.yaml: each weight is off at 0 (kd_warmup 0 = none, kd_box_ring 0 = positives only); a negative weight
    pushes the student away from the teacher, and `kd_cls: yes` (YAML's true) is no number."""
    assert getattr(DistillConfig(**{key: 0}), key) == 0
    for bad in (-1, True, float("inf")):  # inf is >= 0: 'a number >= 0, got inf' named no rule it broke
        with pytest.raises(UserError, match=rf"^{key} must be a finite number >= 0, got {bad!r}$"):
            DistillConfig(**{key: bad})


@pytest.mark.parametrize("key", ["temperature", "cwd_tau"])
def test_temperatures_must_be_above_0(key):
    """A softmax temperature of 0 divides by zero: refused, as 'a number > 0'."""
    with pytest.raises(UserError, match=rf"^{key} must be a finite number > 0, got 0$"):
        DistillConfig(**{key: 0})


@pytest.mark.parametrize("key", ["init_from_teacher", "kd_one2one", "kd_gate"])
@pytest.mark.parametrize("value", ["yes", 1])
def test_switches_take_only_true_or_false(key, value):
    """A quoted 'yes' or a 1 is no switch: every true/false key (kd_gate included) says so rather than guessing."""
    with pytest.raises(UserError, match=rf"^{key} must be true or false"):
        DistillConfig(**{key: value})


@pytest.mark.parametrize("key, good, bad, text", [
    ("mgd_mask_ratio", (0, 0.99), (1, -0.1), r"in \[0, 1\)"),  # masking every location leaves nothing to rebuild from
    ("kd_final", (0, 1), (-0.1, 1.5), r"in \[0, 1\]"),  # 0: decays to nothing; 1: no decay
    ("unlabeled_ratio", (0.01, 0.99), (0, 1), "between 0 and 1, both excluded"),  # a share of each batch, rest labelled
    ("unlabeled_conf", (0, 0.99), (1, -0.1), r"in \[0, 1\)"),  # a confidence threshold nothing can pass at 1
])
def test_shares_include_and_exclude_their_ends(key, good, bad, text):
    """Each share's range as its message states it: the ends it names as included are accepted, the others refused."""
    for value in good:
        assert getattr(DistillConfig(**{key: value}), key) == value
    for value in bad:
        with pytest.raises(UserError, match=rf"^{key} must be {text}, got {value!r}$"):
            DistillConfig(**{key: value})


@pytest.mark.parametrize("key, value, choices", [("feat_loss", "kd", "l2, cwd, mgd, cross"),
                                                 ("kd_schedule", "step", "constant, linear, cosine"),
                                                 ("kd_assign", "oracle", "student, teacher"),
                                                 ("unlabeled_mode", "hard", "soft, pseudo, both")])
def test_every_choice_key_lists_its_choices(key, value, choices):
    """README: feat_loss, kd_schedule, kd_assign and unlabeled_mode each take one of a few names; any other is refused
    with the list, not run as some default."""
    with pytest.raises(UserError, match=rf"^{key} must be one of {choices}, got '{value}'$"):
        DistillConfig(**{key: value})


def test_unlabeled_takes_one_folder_or_a_list_and_keeps_plain_strings(tmp_path):
    """default.yaml: unlabeled is a list, or one folder; to_dict is pickled into checkpoints that must load without
    yolodistill, so Paths become plain strings."""
    assert DistillConfig(unlabeled="frames").unlabeled == ["frames"]
    assert DistillConfig(unlabeled=Path("frames")).unlabeled == ["frames"]
    saved = DistillConfig(unlabeled=[Path("a"), "b"]).to_dict()["unlabeled"]
    assert saved == ["a", "b"] and all(type(u) is str for u in saved)
    f = tmp_path / "mine.yaml"
    f.write_text("unlabeled: frames\n")
    assert resolve(f)[0].unlabeled == ["frames"]
    with pytest.raises(UserError, match="^unlabeled must be a folder or a list of folders, got 5$"):
        DistillConfig(unlabeled=5)


def test_losses_are_on_while_any_weight_is_above_0():
    """The feature term alone is a loss too: a trained student with kd_feat only uses its teacher and is not refused;
    with every weight 0 it never would (README: refused with one line)."""
    from yolodistill.recipe import check_recipe

    assert DistillConfig().losses_on and DistillConfig(kd_box=0).losses_on
    assert DistillConfig(kd_cls=0, kd_box=0, kd_feat=1.0).losses_on
    assert not DistillConfig(kd_cls=0, kd_box=0, kd_feat=0).losses_on
    distill, args = resolve(None, student="best.pt", kd_cls=0, kd_box=0, kd_feat=1.0)
    check_recipe(distill, "best.pt", args)
    distill, args = resolve(None, student="best.pt", kd_cls=0, kd_box=0)  # kd_feat 0 by default
    with pytest.raises(UserError, match="every distillation weight .* is 0 and the student is a .pt.*never be used"):
        check_recipe(distill, "best.pt", args)


def test_scientific_notation_with_a_sign_or_a_leading_dot_is_a_number(tmp_path):
    """YAML 1.2 floats all through: -1e1, +1e-1 and .5e0 are numbers, as 1e-3 is (YAML 1.1 made them strings)."""
    f = tmp_path / "sci.yaml"
    f.write_text("degrees: -1e1\nkd_final: +1e-1\nkd_box_ring: .5e0\n")
    assert read_recipe(f) == {"degrees": -10.0, "kd_final": 0.1, "kd_box_ring": 0.5}


def test_a_shipped_recipe_named_with_yml_or_an_upper_case_suffix(tmp_path, monkeypatch):
    """--config logits.yml or logits.YAML is the shipped logits recipe, as logits.yaml is; a path with folders is a
    file the user means, not a shipped recipe's name."""
    monkeypatch.chdir(tmp_path)
    assert resolve("logits.yml")[0] == resolve("logits.YAML")[0] == resolve("logits")[0]
    with pytest.raises(UserError, match="config 'elsewhere/logits.yaml' does not exist"):
        resolve("elsewhere/logits.yaml")


def test_a_config_that_is_neither_a_file_nor_a_folder_is_named_as_such(tmp_path):
    """A pipe (or a device) exists but is no recipe: 'not a file', not 'a folder'."""
    import os

    pipe = tmp_path / "pipe.yaml"
    os.mkfifo(pipe)
    with pytest.raises(UserError, match=r"is not a file: pass a recipe yaml"):
        resolve(pipe)


def test_an_undecodable_config_is_one_clear_line(tmp_path):
    """A binary file given as --config is refused as unreadable, not a UnicodeDecodeError traceback."""
    f = tmp_path / "binary.yaml"
    f.write_bytes(b"kd_cls: \xff\xfe\x00\x81\n")
    with pytest.raises(UserError, match=r"cannot be read \(UnicodeDecodeError\)"):
        resolve(f)


def test_a_run_s_distill_yaml_is_its_recipe_and_an_args_yaml_is_refused(tmp_path):
    """README: --config runs/.../distill.yaml takes the distillation settings that run used, not its train arguments
    or unlabelled folders; its args.yaml is refused (its model and folders are that run's)."""
    run = tmp_path / "exp"
    run.mkdir()
    (run / "distill.yaml").write_text(yaml.safe_dump({
        "distill": {"kd_cls": 0.3, "feat_loss": "l2", "unlabeled": ["/elsewhere/footage"]}, "teacher": "t.pt",
        "images": {"labelled": 8}, "train_args": {"epochs": 5, "model": "yolo26n.yaml"}}))
    distill, args = resolve(run / "distill.yaml", student="yolo26n.yaml")
    assert (distill.kd_cls, distill.feat_loss, distill.unlabeled) == (0.3, "l2", [])
    assert args["epochs"] == 100 and "model" not in args  # default.yaml's epochs, not the run's
    (run / "args.yaml").write_text("task: detect\nmode: train\nmodel: yolo26n.yaml\nsave_dir: runs/distill/exp\n")
    with pytest.raises(UserError, match="is a run's args.yaml .*pass the distill.yaml beside it"):
        resolve(run / "args.yaml")
    plain = tmp_path / "train"  # a plain Ultralytics run's: no distill.yaml to point to
    plain.mkdir()
    (plain / "args.yaml").write_text((run / "args.yaml").read_text())
    with pytest.raises(UserError, match=r"is a run's args.yaml .*: it is no yolodistill run's \(no distill.yaml "
                                        r"beside it\): pass a recipe, and train arguments as key=value$"):
        resolve(plain / "args.yaml")


def test_an_empty_trained_student_block_adds_nothing(tmp_path):
    """`trained_student:` left empty is no block: not an error, and the default recipe's block still applies."""
    f = tmp_path / "mine.yaml"
    f.write_text("trained_student:\nkd_cls: 0.5\n")
    assert resolve(f, student="yolo26n.yaml")[0] == DistillConfig(kd_cls=0.5)
    trained = resolve(f, student="best.pt")[0]
    assert (trained.kd_cls, trained.kd_assign, trained.kd_gate) == (0.5, "student", True)  # default.yaml's block


def test_pretrained_in_the_config_file_gets_the_trained_student_block_and_a_flag_overrides_it(tmp_path):
    """resolve: pretrained=PATH gives the student weights of its own, wherever it is set (here the --config file);
    pretrained=False typed on the command line wins over the file, and the student has none."""
    f = tmp_path / "mine.yaml"
    f.write_text("pretrained: mine.pt\n")
    trained = resolve(f, student="yolo26n.yaml")[0]
    assert (trained.kd_assign, trained.kd_gate) == ("student", True)  # default.yaml: kd_assign student, kd_gate true
    assert resolve(f, student="yolo26n.yaml", pretrained=False)[0] == DistillConfig()


def test_a_bad_trained_student_block_names_the_block_and_its_file(tmp_path):
    """The refusal says where the bad value is, the --config file's trained_student block, for a yaml student and
    for a .pt one, which the block applies to (it named neither the block nor the file), and names the file once
    where the CLI names a file's values (named_in_config said 'in bad.yaml in bad.yaml')."""
    from yolodistill.config import config_named_text

    f = tmp_path / "bad.yaml"
    f.write_text("trained_student: {kd_feat: -1}\n")
    for student in ("yolo26n.yaml", "best.pt"):
        with pytest.raises(UserError, match=rf"^trained_student in {re.escape(str(f))}: kd_feat must be a finite number >= "
                                            "0, got -1$") as e:
            resolve(f, student=student)
        assert config_named_text(e.value, {"config": str(f)}) is None
    f.write_text("trained_student: {lr0: 0.1}\n")
    with pytest.raises(UserError, match=rf"^trained_student in {re.escape(str(f))} takes distillation keys only, not "
                                        "lr0$"):
        resolve(f, student="yolo26n.yaml")


def test_ultralytics_type_refusal_of_a_file_s_value_names_the_file(teacher26, synth_data, tmp_path):
    """Ultralytics' own check ("'lr0=abc' is of invalid type str") named a key=value word nobody typed; the word typed
    over the file's value is named as typed."""
    from typer.testing import CliRunner

    from yolodistill.cli import app

    f = tmp_path / "mine.yaml"
    f.write_text("lr0: abc\n")
    argv = ["train", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data", str(synth_data), "--imgsz",
            "64", "--epochs", "1", "--device", "cpu", "--project", str(tmp_path), "--config", str(f)]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert f"Error: lr0: abc in {f} is of invalid type str. Valid 'lr0' types are" in " ".join(result.output.split())
    result = CliRunner().invoke(app, [*argv, "lr0=xyz"])
    assert result.exit_code == 2 and "Error: 'lr0=xyz' is of invalid type str" in result.output, result.output
    assert not list(tmp_path.glob("exp*"))


def test_a_refusal_of_a_file_s_value_names_the_file_s_key(tmp_path):
    """named_in_config: a flag spelled with dashes, or a key=value word, that the user never typed is named as the
    file's key (with its value once), and 'use --data instead of data=' / 'drop task=' drop the word never typed."""
    from yolodistill.checks import check_reserved, check_with_models
    from yolodistill.config import named_in_config

    f = tmp_path / "mine.yaml"
    f.write_text("kd_cls: -1\n")
    settings = {"config": str(f)}
    named = named_in_config(UserError("--kd-cls must be a number >= 0, got -1"), settings)
    assert str(named) == f"kd_cls in {f} must be a number >= 0, got -1"
    f.write_text("data: elsewhere.yaml\n")
    with pytest.raises(UserError) as refused:
        check_reserved(resolve(f)[1])
    assert str(named_in_config(refused.value, settings)) == (f"data: elsewhere.yaml in {f} would be replaced: --data "
                                                            "sets it; use --data instead")
    f.write_text("task: segment\n")
    with pytest.raises(UserError) as refused:
        check_reserved(resolve(f)[1])
    assert str(named_in_config(refused.value, settings)) == (f"task: segment in {f} cannot be changed: yolodistill "
                                                            "trains detection (task=detect); drop it")
    f.write_text("classes: 5\n")
    with pytest.raises(UserError) as refused:  # refused on the class ids, before the student is looked at
        check_with_models(resolve(f)[1], nc=3, student=None)
    assert str(named_in_config(refused.value, settings)).startswith(f"classes: 5 in {f}: it takes the data's class ids")


def test_a_refusal_of_what_the_user_typed_is_left_as_it_is(tmp_path):
    """named_in_config leaves an error alone where the value named is not the file's: a key=value word typed over the
    file's, the '--key=value' form it does not parse, no --config, or a --config it cannot read."""
    from yolodistill.checks import check_reserved
    from yolodistill.config import config_named_text, named_in_config

    f = tmp_path / "mine.yaml"
    f.write_text("data: elsewhere.yaml\nepochs: 0\n")
    with pytest.raises(UserError) as refused:
        check_reserved(resolve(f, data="typed.yaml")[1])  # data=typed.yaml on the command line wins over the file
    typed = refused.value
    assert str(typed).startswith("data=typed.yaml would be replaced")
    assert config_named_text(typed, {"config": str(f), "data": "typed.yaml"}) is None
    flag = UserError("--epochs must be a whole number >= 1, got -1")  # --epochs -1 typed over the file's 0
    assert config_named_text(flag, {"config": str(f), "epochs": -1}) is None
    dashed = UserError("--epochs=0 is not a whole number >= 1")
    assert config_named_text(dashed, {"config": str(f)}) is None
    assert config_named_text(typed, {}) is None
    assert config_named_text(typed, {"config": str(tmp_path / "gone.yaml")}) is None
    assert named_in_config(typed, {"config": str(f), "data": "typed.yaml"}) is typed and str(typed).startswith(
        "data=typed.yaml would be replaced")


def test_an_error_is_named_once_and_keeps_its_kind(tmp_path):
    """compare and the train it calls both name a file's keys: 'imgsz: 100 in a.yaml' became 'imgsz in a.yaml: 100 in
    a.yaml'; a rebuilt UserError lost DiskFull's exit status; a file's true read 'kd_gate in a.yaml true'."""
    from yolodistill.config import named_in_config
    from yolodistill.errors import DiskFull

    f = tmp_path / "a.yaml"
    f.write_text("imgsz: 100\nkd_gate: true\n")
    error = UserError("--imgsz 100 is not a positive multiple of 32")
    for _ in range(2):
        assert str(named_in_config(error, {"config": str(f)})) == f"imgsz: 100 in {f} is not a positive multiple of 32"
    full = named_in_config(DiskFull("kd_gate true changes nothing here: every weight is 0"), {"config": str(f)})
    assert isinstance(full, DiskFull) and str(full) == f"kd_gate: true in {f} changes nothing here: every weight is 0"


@pytest.mark.parametrize("given", ["flags", "config"])
def test_a_whole_number_written_as_a_float_is_that_number(tmp_path, given):
    """The command line reads --epochs 2.0 as 2; epochs=2.0 as a word, in a recipe or from Python was refused as
    'must be a whole number, got 2.0' (and Ultralytics refuses a float epochs). A fraction stays a fraction."""
    settings = {"epochs": 2.0, "imgsz": 64.0, "batch": 8.0, "patience": 3.0, "lr0": 1.0}
    (recipe := tmp_path / "r.yaml").write_text(yaml.safe_dump(settings))
    _, args = resolve(recipe) if given == "config" else resolve(None, **settings)
    assert {k: (args[k], type(args[k])) for k in settings} == {
        "epochs": (2, int), "imgsz": (64, int), "batch": (8, int), "patience": (3, int), "lr0": (1.0, float)}
    assert resolve(None, batch=0.7, epochs=2.5)[1] == {**resolve(None)[1], "batch": 0.7, "epochs": 2.5}


def test_a_recipe_key_that_is_no_name_is_one_line(tmp_path):
    """'1: 2' in a recipe was a TypeError traceback (its keys sorted with the names)."""
    f = tmp_path / "keys.yaml"
    f.write_text("1: 2\nkd_cls: 1\n")
    with pytest.raises(UserError, match="^unknown setting.s. 1: use a distillation key"):
        resolve(f, student="yolo26n.yaml")


def test_a_recipe_s_home_paths_are_the_home_folder(tmp_path, monkeypatch):
    """A recipe has no shell: `project: ~/runs` made a folder named ~ in the working folder, while `unlabeled:
    [~/footage]` beside it was read from the home folder."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    recipe = tmp_path / "mine.yaml"
    recipe.write_text("project: ~/runs\npretrained: ~/w.pt\nunlabeled: [~/footage, ./~x]\nname: ~n\n")
    distill, args = resolve(recipe)
    home = tmp_path / "home"
    assert (args["project"], args["pretrained"]) == (str(home / "runs"), str(home / "w.pt"))
    assert distill.unlabeled == [str(home / "footage"), "./~x"] and args["name"] == "~n"  # a name is no path
