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
    for words, needle in (({"cls": 0}, "cls=0 turns kd_cls off too"), ({"dfl": -1}, "dfl=-1 is below 0"),
                          ({"box": 0, "cls": 0}, "cls=0 turns kd_cls off too")):
        distill, args = resolve(None, student=student, **words)
        with pytest.raises(UserError, match=f"^{needle}"):
            check_recipe(distill, student, args)
    for words in ({"cls": 0, "kd_cls": 0}, {"box": 0, "kd_box": 0}, {"cls": 2.0, "box": 1},  # said, or not silenced
                  {"box": -1, "kd_box": 0, "kd_feat": 1.0, "feat_loss": "cwd"}):  # no term takes box: not refused
        distill, args = resolve(None, student=student, **words)
        check_recipe(distill, student, args)
    distill, args = resolve(None, student=student, cls=0, box=0, kd_cls=0, kd_box=0)  # then nothing uses the teacher
    if student.endswith(".pt"):
        with pytest.raises(UserError, match="so the teacher would never be used"):
            check_recipe(distill, student, args)


def test_box_zero_is_refused_only_where_it_turns_kd_box_off():
    """kd_box is box x CIoU, plus dfl x LD where both heads have DFL bins: box=0 silences a YOLO26 pair's term (and
    with dfl=0 a YOLO11 pair's), while a YOLO11 pair's LD part goes on; kd_one2one needs both one-to-one branches."""
    from ultralytics.nn.tasks import DetectionModel

    from yolodistill.recipe import check_pair

    y26, y11 = (DetectionModel(f"{name}.yaml", nc=3, verbose=False) for name in ("yolo26n", "yolo11n"))
    refused = {}
    for pair, (teacher, student) in {"26": (y26, y26), "11": (y11, y11), "mixed": (y11, y26)}.items():
        for words in ({"box": 0}, {"box": 0, "dfl": 0}, {"box": 0, "kd_box": 0}, {}):
            distill, args = resolve(None, student="yolo26n.yaml", **words)
            try:
                check_pair(distill, args, teacher, student)
            except UserError as e:
                refused[pair, tuple(words.items())] = str(e).split(":")[0]
    box, both = "box=0 turns kd_box off too (kd_box is scaled by Ultralytics' box gain, as its box_loss is)", \
        "box=0 turns kd_box off too (kd_box is scaled by Ultralytics' box gain, as its box_loss is, and dfl is 0)"
    assert refused == {("26", (("box", 0),)): box, ("26", (("box", 0), ("dfl", 0))): box,
                       ("11", (("box", 0), ("dfl", 0))): both,
                       ("mixed", (("box", 0),)): box, ("mixed", (("box", 0), ("dfl", 0))): box}
    distill, args = resolve(None, student="yolo26n.yaml", kd_one2one=True)
    check_pair(distill, args, y26, y26)
    with pytest.raises(UserError, match="which the teacher lacks"):
        check_pair(distill, args, y11, y26)


def test_a_balance_against_a_detection_loss_without_gradient_is_refused():
    """auto, epoch and cap measure each term against the detection loss's gradient; with box, cls and dfl at 0 there
    is none, and they measured every batch of the run in silence. dfl weighs DFL on a DFL head and, on YOLO26's
    (reg_max 1), Ultralytics' L1 loss on the box distances: a gradient either way."""
    from ultralytics.nn.tasks import DetectionModel

    from yolodistill.recipe import check_pair

    y26, y11 = (DetectionModel(f"{name}.yaml", nc=3, verbose=False) for name in ("yolo26n", "yolo11n"))
    refused = []
    for mode in ("auto", "epoch", "cap", "fixed"):
        for student in (y26, y11):
            for dfl in (0, 1.5):
                distill, args = resolve(None, student="yolo26n.yaml", kd_cls=0, kd_box=0, kd_feat=1, box=0, cls=0,
                                        dfl=dfl, kd_balance=mode)
                try:
                    check_pair(distill, args, y26, student)
                except UserError as e:
                    assert str(e).endswith("leave without a gradient: use --kd-balance fixed, or a loss gain above 0")
                    refused.append((mode, student.model[-1].reg_max, dfl, str(e).split(" measures")[0]))
    assert refused == [(mode, *head, f"kd_balance {mode}") for mode in ("auto", "epoch", "cap")
                       for head in ((1, 0), (16, 0))]  # dfl 1.5 gives either head a gradient
    distill, args = resolve(None, student="yolo26n.yaml", kd_balance="auto", box=0, cls=0, kd_cls=0, kd_box=0)
    check_pair(distill, args, y26, y26)  # every weight 0: no balance is made, nothing to refuse


def test_a_temperature_or_ring_that_acts_on_nothing_is_refused():
    """--temperature softens DFL bins, which a YOLO26 pair (reg_max 1) and a YOLO11 teacher with a YOLO26 student
    have none of in kd_box; --kd-box-ring is dropped where kd_gate weighs the positives alone (a .pt student's
    recipe). Both trained as the default and were recorded in distill.yaml as if in effect."""
    from ultralytics.nn.tasks import DetectionModel

    from yolodistill.recipe import check_pair

    y26, y11 = (DetectionModel(f"{name}.yaml", nc=3, verbose=False) for name in ("yolo26n", "yolo11n"))
    acts = {}
    for pair, (teacher, student) in {"26": (y26, y26), "11": (y11, y11), "mixed": (y11, y26)}.items():
        for words in ({"temperature": 7.0}, {"temperature": 7.0, "kd_feat": 1.0, "feat_loss": "cross"},
                      {"temperature": 7.0, "kd_box": 0}, {"temperature": 2.0}):
            distill, args = resolve(None, student="yolo26n.yaml", **words)
            try:
                check_pair(distill, args, teacher, student)
                acts[pair, tuple(words.items())] = True
            except UserError as e:
                assert str(e).startswith("temperature 7 softens DFL bins") and "drop --temperature" in str(e), e
                acts[pair, tuple(words.items())] = False
    assert [k for k, v in acts.items() if v] == [  # LD of kd_box (both DFL), cross with a DFL teacher, the default
        ("26", (("temperature", 2.0),)), ("11", (("temperature", 7.0),)),
        ("11", (("temperature", 7.0), ("kd_feat", 1.0), ("feat_loss", "cross"))), ("11", (("temperature", 2.0),)),
        ("mixed", (("temperature", 7.0), ("kd_feat", 1.0), ("feat_loss", "cross"))), ("mixed", (("temperature", 2.0),))]

    distill, args = resolve(None, student="best.pt", kd_box_ring=2.0)
    with pytest.raises(UserError, match="kd_box_ring 2 widens .* kd_gate, .* is on \\(the recipe's trained_student"):
        check_recipe(distill, "best.pt", args)
    for student, words in (("yolo26n.yaml", {"kd_box_ring": 2.0}), ("best.pt", {"kd_box_ring": 2.0, "kd_gate": False}),
                           ("best.pt", {}), ("best.pt", {"kd_box_ring": 0.0})):  # 0, positives only: the gate's own
        distill, args = resolve(None, student=student, **words)
        check_recipe(distill, student, args)


@pytest.mark.parametrize("student, words, refused", [
    ("yolo26n.yaml", {"kd_cls": 0, "kd_box": 0, "kd_schedule": "constant"}, "kd_schedule constant .* every "
     "distillation weight .* is 0: drop --kd-schedule"),
    ("yolo26n.yaml", {"kd_cls": 0, "kd_box": 0, "kd_balance": "auto"}, "kd_balance auto"),
    ("yolo26n.yaml", {"kd_cls": 0, "kd_box": 0, "kd_warmup": 3.0}, "kd_warmup 3"),
    ("yolo26n.yaml", {"kd_cls": 0, "kd_box": 0, "kd_gate": True}, "kd_gate true"),
    ("yolo26n.yaml", {"feat_loss": "mgd"}, "feat_loss mgd changes nothing here: kd_feat is 0: drop --feat-loss"),
    ("yolo26n.yaml", {"cwd_tau": 4.0}, "cwd_tau 4.0 .* kd_feat is 0: drop cwd_tau= \\(or cwd_tau from the --config recipe\\)$"),
    ("yolo26n.yaml", {"kd_feat": 1.0, "feat_loss": "l2", "mgd_mask_ratio": 0.3}, "mgd_mask_ratio 0.3 .* feat_loss is "
     "l2"),
    ("yolo26n.yaml", {"kd_schedule": "constant", "kd_final": 0.5}, "kd_final 0.5 .* kd_schedule is constant"),
    ("yolo26n.yaml", {"kd_cls": 0, "kd_box": 0}, None),  # the teacher start alone, and LAD
    ("yolo26n.yaml", {"kd_cls": 0, "kd_box": 0, "kd_one2one": True}, None),  # LAD on the one-to-one assigner too
    ("yolo26n.yaml", {"kd_cls": 0, "kd_box": 0, "kd_assign": "student", "kd_one2one": True}, "kd_one2one true changes "
     "nothing here: every distillation weight .* is 0 and kd_assign is student: drop --kd-one2one"),  # nor LAD
    ("yolo26n.yaml", {"kd_cls": 0, "kd_box": 0, "kd_schedule": "cosine"}, None),  # the default, spelt out
    ("yolo26n.yaml", {"kd_feat": 1.0, "feat_loss": "mgd", "mgd_mask_ratio": 0.3}, None),
    ("yolo26n.yaml", {"kd_schedule": "linear", "kd_final": 0.5}, None),
    ("best.pt", {"kd_cls": 0, "kd_box": 0, "unlabeled": ["foot"], "unlabeled_mode": "pseudo"}, None),  # the
])  # trained_student block's kd_gate is its default, not a setting given
def test_a_setting_that_shapes_a_term_the_run_lacks_is_refused(student, words, refused):
    """Settings of a term that is off trained as the default and were recorded in distill.yaml as if in effect."""
    distill, args = resolve(None, student=student, **words)
    if refused is None:
        check_recipe(distill, student, args)
        return
    with pytest.raises(UserError, match=refused):
        check_recipe(distill, student, args)


def test_a_setting_a_later_layer_idles_is_a_warning_not_a_refusal(tmp_path):
    """`--config features-l2.yaml --kd-feat 0` (an ablation, as flags > --config > default allow) was refused over
    the recipe's feat_loss: l2, which the user never typed; set in the same layer as what idles it, it is a slip."""
    from .conftest import logged_by_ultralytics

    for config, words, key in (("features-l2", {"kd_feat": 0.0}, "feat_loss l2"),
                               ("full", {"kd_cls": 0, "kd_box": 0, "kd_feat": 0}, "kd_gate true")):
        distill, args = resolve(config, student="yolo26n.yaml", **words)
        with logged_by_ultralytics() as logged:
            check_recipe(distill, "yolo26n.yaml", args)
            check_recipe(distill, "yolo26n.yaml", args)  # a later run in this process is told too
        assert sum(f"{key} changes nothing here" in line for line in logged) == 2, logged
        assert any(f"{key} changes nothing here" in line for line in logged), logged
    mine = tmp_path / "mine.yaml"
    mine.write_text("kd_feat: 0\nfeat_loss: mgd\n")  # one file sets both: refused
    distill, args = resolve(mine, student="yolo26n.yaml")
    with pytest.raises(UserError, match="feat_loss mgd changes nothing here: kd_feat is 0"):
        check_recipe(distill, "yolo26n.yaml", args)
    distill, args = resolve("features-l2", student="yolo26n.yaml", kd_feat=0.0, feat_loss="mgd")  # typed: refused
    with pytest.raises(UserError, match="feat_loss mgd changes nothing here"):
        check_recipe(distill, "yolo26n.yaml", args)


def test_a_run_that_never_uses_its_teacher_is_told_so_first():
    """A .pt student with every weight 0 and an idle --kd-schedule heard of the schedule first, then, once that was
    dropped, that the teacher was never used."""
    distill, args = resolve(None, student="best.pt", kd_cls=0, kd_box=0, kd_feat=0, kd_schedule="constant")
    with pytest.raises(UserError, match="the teacher would never be used"):
        check_recipe(distill, "best.pt", args)
    distill, args = resolve(None, student="best.pt", kd_cls=0, kd_box=0, kd_assign="teacher")  # LAD alone: no
    with pytest.raises(UserError, match=r"is a \.pt, which keeps its own weights, so no distillation term would use "
                                        r"the teacher \(it would only rank the student's anchors, kd_assign teacher\): "
                                        r"set a weight"):
        check_recipe(distill, "best.pt", args)  # distillation of a trained student (the no-op refusal)
