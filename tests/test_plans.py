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
    __import__("os").utime(run_dir / "weights" / "best.pt", ns=(1, 1))  # written before its record, as compare does
    assert finished_earlier(run_dir, plan) == {"map50_95": 0.4}
    assert finished_earlier(run_dir, {**plan, "seed": 1}) is None
    (run_dir / RUN_RECORD).write_text("{half")
    assert finished_earlier(run_dir, plan) is None


def test_a_run_whose_best_pt_was_replaced_trains_again(tmp_path):
    """A train --exist-ok into a kept run's folder left its record: the rerun kept it and quoted the old figures
    beside the new best.pt. The record keeps the digest of the best.pt it scored, so a folder copied back (new times)
    is kept (a record from before digests: judged by time)."""
    import os

    from yolodistill.utils import file_digest

    plan = {"method": "plain", "seed": 0}
    (tmp_path / "weights").mkdir()
    best = tmp_path / "weights" / "best.pt"
    best.write_bytes(b"scored")
    (tmp_path / RUN_RECORD).write_text(json.dumps({"plan": plan, "run": {"map50_95": 0.4},
                                                   "best_sha256": file_digest(best)}))
    assert finished_earlier(tmp_path, plan) == {"map50_95": 0.4}
    os.utime(best, ns=(1, 1))  # cp -r, scp: the same bytes at another time
    assert finished_earlier(tmp_path, plan) == {"map50_95": 0.4}
    best.write_bytes(b"another run's")
    assert finished_earlier(tmp_path, plan) is None
    assert plan_changes(tmp_path, plan) == "its weights/best.pt changed since"
    (tmp_path / RUN_RECORD).write_text(json.dumps({"plan": plan, "run": {"map50_95": 0.4}}))
    assert finished_earlier(tmp_path, plan) == {"map50_95": 0.4}
    # a record from before digests, its best.pt written over since (train --exist-ok): kept with the old figures
    os.utime(tmp_path / RUN_RECORD, ns=(10**18, 10**18))
    os.utime(best, ns=(2 * 10**18, 2 * 10**18))
    assert finished_earlier(tmp_path, plan) is None
    assert plan_changes(tmp_path, plan) == "its weights/best.pt changed since"


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


def test_a_run_an_earlier_version_recorded_is_kept_where_nothing_differs(tmp_path):
    """compare --exist-ok over an older comparison retrained its finished runs over "other settings: train images"
    (its fingerprints had no labels digest yet), "kd_gate" (added since, at the value that does what it did) or
    "dis" (recorded for ours, which never read it); one before compare-run.json, silently."""
    from yolodistill.plans import kept_how

    plan = {"method": "ours", "seed": 0, "train_args": {"epochs": 1},
            "distill": {"kd_cls": 1.0, "kd_gate": False, "kd_prefit": 0},
            "images": {"train": [18, "381a060c2fc32cd6", "beefbeefbeefbeef"], "val": [6, "aa", "bb"]}}
    older = {"method": "ours", "seed": 0, "train_args": {"epochs": 1, "dis": 2.0}, "distill": {"kd_cls": 1.0},
             "images": {"train": [18, "381a060c2fc32cd6"], "val": [6, "aa"]}}
    run_dir = tmp_path / "ours-seed0"
    (run_dir / "weights").mkdir(parents=True)
    (run_dir / "weights" / "best.pt").write_bytes(b"w")
    (run_dir / RUN_RECORD).write_text(json.dumps({"plan": older, "run": {"map50_95": 0.4}}))
    assert finished_earlier(run_dir, plan) == {"map50_95": 0.4} and "its labels were not compared" in kept_how(run_dir)
    assert finished_earlier(run_dir, {**plan, "images": {**plan["images"], "train": [17, "x", "y"]}}) is None
    assert plan_changes(run_dir, {**plan, "distill": {**plan["distill"], "kd_gate": True}}) == \
        "other settings: kd_gate"
    builtin = {**older, "method": "builtin"}  # builtin's dis is its own
    (run_dir / RUN_RECORD).write_text(json.dumps({"plan": builtin, "run": {"map50_95": 0.4}}))
    assert plan_changes(run_dir, {**plan, "method": "builtin", "distill": builtin["distill"]}) == \
        "other settings: dis"
    no_images = {k: v for k, v in older.items() if k != "images"}  # before images were recorded: kept, and said so
    (run_dir / RUN_RECORD).write_text(json.dumps({"plan": no_images, "run": {"map50_95": 0.4}}))
    assert finished_earlier(run_dir, plan) is not None and "images were not compared" in kept_how(run_dir)
    (run_dir / RUN_RECORD).unlink()  # before compare-run.json: trained again, and said why
    (run_dir / "results.csv").write_text("epoch\n1\n")
    assert plan_changes(run_dir, plan) == "cut short, or finished by an older yolodistill, which kept no record"
