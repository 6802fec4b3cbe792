"""Run plans: a rerun of a comparison keeps the runs that finished with the same plan, and no other."""

from __future__ import annotations

import json

from yolodistill.plans import RUN_RECORD, finished_earlier, plan_changes, run_plan


def test_a_run_without_its_weights_trains_again(tmp_path):
    plan = {"method": "plain", "seed": 0}
    run_dir = tmp_path / "plain-seed0"
    (run_dir / "weights").mkdir(parents=True)
    (run_dir / RUN_RECORD).write_text(json.dumps({"plan": plan, "run": {"map50_95": 0.4}}))
    assert finished_earlier(run_dir, plan) is None  # best.pt gone
    (run_dir / "weights" / "best.pt").write_bytes(b"w")
    assert finished_earlier(run_dir, plan) == {"map50_95": 0.4}
    assert finished_earlier(run_dir, {**plan, "seed": 1}) is None
    (run_dir / RUN_RECORD).write_text("{half")
    assert finished_earlier(run_dir, plan) is None


def test_why_a_finished_run_trains_again_is_said_right(tmp_path):
    """The same settings with best.pt gone were called 'other settings', and a teacher moved to another path (same
    size and time) 'its best.pt is gone'."""
    plan = {"method": "ours", "seed": 0, "teacher": "/a/t.pt", "train_args": {"lr0": 0.01}, "distill": {"kd_cls": 1},
            "files": {"teacher": [1, 2]}}
    (tmp_path / RUN_RECORD).write_text(json.dumps({"plan": plan}))
    assert plan_changes(tmp_path, plan) == "its weights/best.pt is gone"
    assert plan_changes(tmp_path, {**plan, "teacher": "/b/t.pt"}) == "other settings: teacher"
    assert plan_changes(tmp_path, {**plan, "distill": {"kd_cls": 2}}) == "other settings: kd_cls"
    assert plan_changes(tmp_path / "none", plan) == ""


def test_only_ours_plans_depend_on_the_distillation_settings():
    """Another kd_cls changes what ours trains, not plain or builtin: a rerun keeps those runs."""
    base = {"epochs": 3, "device": "cpu"}
    for method in ("plain", "builtin"):
        assert run_plan(method, 0, base, "t.pt", {"kd_cls": 1.0}) == run_plan(method, 0, base, "t.pt", {"kd_cls": 2.0})
    assert run_plan("ours", 0, base, "t.pt", {"kd_cls": 1.0}) != run_plan("ours", 0, base, "t.pt", {"kd_cls": 2.0})


def test_a_student_retrained_into_the_same_file_is_another_plan(tmp_path):
    """Runs that started from a student checkpoint rewritten in place (same path, new weights) must train again."""
    student = tmp_path / "student.pt"
    student.write_bytes(b"first")
    base = {"model": str(student), "epochs": 3}
    before = run_plan("plain", 0, base, "t.pt", {})
    student.write_bytes(b"second, longer")
    assert run_plan("plain", 0, base, "t.pt", {}) != before
