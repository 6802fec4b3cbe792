from __future__ import annotations

import pytest

from yolodistill.config import resolve
from yolodistill.errors import UserError
from yolodistill.recipe import check_recipe


def test_kd_prefit_without_the_feature_term_is_refused():
    """kd_prefit fits the feature adapters: with kd_feat 0 (the default recipe, for a yaml student and for a trained
    one) it would do nothing."""
    for student in ("yolo26n.yaml", "best.pt"):
        distill, args = resolve(None, student=student, kd_prefit=50)
        with pytest.raises(UserError, match="kd_feat is 0"):
            check_recipe(distill, student, args)
    distill, args = resolve(None, student="best.pt", kd_prefit=50, kd_feat=1.0)
    check_recipe(distill, "best.pt", args)
    assert distill.kd_feat > 0 and distill.kd_prefit == 50


@pytest.mark.parametrize("student", ["yolo26n.yaml", "best.pt"])
def test_a_loss_gain_that_would_silence_or_reverse_a_term_is_refused(student):
    """The terms take Ultralytics' gains as its own losses do: box=0 cls=0 on a .pt student trained with both terms at
    0 while distill.yaml said 1 (and escaped the refusal of a run that never uses its teacher); box=-1 made kd_box
    negative, a weight refused when given as kd_box."""
    for words, needle in (({"cls": 0}, "cls=0 turns kd_cls off too"), ({"box": 0.0}, "box=0.0 turns kd_box off too"),
                          ({"dfl": -1}, "dfl=-1 is below 0"), ({"box": 0, "cls": 0}, "cls=0 turns kd_cls off too")):
        distill, args = resolve(None, student=student, **words)
        with pytest.raises(UserError, match=f"^{needle}"):
            check_recipe(distill, student, args)
    for words in ({"cls": 0, "kd_cls": 0}, {"box": 0, "kd_box": 0}, {"cls": 2.0, "box": 1}):  # said, or not silenced
        distill, args = resolve(None, student=student, **words)
        check_recipe(distill, student, args)
    distill, args = resolve(None, student=student, cls=0, box=0, kd_cls=0, kd_box=0)  # then nothing uses the teacher
    if student.endswith(".pt"):
        with pytest.raises(UserError, match="so the teacher would never be used"):
            check_recipe(distill, student, args)
