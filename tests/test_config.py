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
    [("kd_cls: [1, 2\n", "not valid YAML"), ("- a\n- b\n", "must be a mapping"), ("nonsense_key: 1\n", "unknown setting")],
)
def test_bad_config_files(tmp_path, content, needle):
    f = tmp_path / "bad.yaml"
    f.write_text(content)
    with pytest.raises(UserError, match=needle):
        resolve(f)


def test_missing_config_file():
    with pytest.raises(UserError, match="does not exist"):
        resolve("no/such/recipe.yaml")

