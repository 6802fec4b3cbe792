"""key=value words as Ultralytics reads them."""

from __future__ import annotations

import pytest

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


def test_scientific_notation_in_key_value_words_is_a_number():
    """As Ultralytics' own key=value parser reads it (lr0=1e-3 was 'of invalid type str', kd_cls=1e-3 refused)."""
    assert parse_overrides(["lr0=1e-3", "kd_cls=2.5E-2", "kd_box=+1e0", "name=1e3run", "project='1e5'"]) == {
        "lr0": 0.001, "kd_cls": 0.025, "kd_box": 1.0, "name": "1e3run", "project": "1e5"}  # quoted stays a string


def test_a_key_given_twice_is_refused():
    """The later word silently won (imgsz=64 imgsz=96 exported at 96); a flag and a word for one key are refused
    the same way (cli.py)."""
    with pytest.raises(UserError, match=r"^imgsz is given twice \(imgsz=64 and imgsz=96\): keep one$"):
        parse_overrides(["imgsz=64", "imgsz=96"])
    with pytest.raises(UserError, match="lr0 is given twice"):
        parse_overrides(["lr0=0.01", "--lr0=0.02"])
