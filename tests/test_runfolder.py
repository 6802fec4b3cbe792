"""The run folder's checks on their own: what torchrun's later ranks skip, and what a reused folder refuses.

The refusals a user meets through `train` are tested with the rest of the preflight in test_checks.py.
"""

from __future__ import annotations

import pytest

from yolodistill.errors import UserError
from yolodistill.runfolder import check_inputs_outside_run, check_run_dir, warn_replaced


def test_run_folder_checks_under_torchrun_and_without_a_name(tmp_path, monkeypatch):
    """Rank 0 makes the run folder, so it checks it (only later ranks may find it made a moment ago); without --name
    or --exist-ok a file named exp is no clash: Ultralytics numbers the run past it."""
    (tmp_path / "mine").mkdir()
    named = {"project": str(tmp_path), "name": "mine"}
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(UserError, match="exists: pass --exist-ok"):
        check_run_dir(named)
    monkeypatch.setenv("RANK", "1")
    check_run_dir(named)
    monkeypatch.delenv("RANK")
    (tmp_path / "exp").write_text("mine")
    check_run_dir({"project": str(tmp_path), "name": None})
    with pytest.raises(UserError, match="is a file"):
        check_run_dir({"project": str(tmp_path), "name": None, "exist_ok": True})


def test_an_epoch_checkpoint_in_the_reused_weights_folder_is_refused_and_a_new_folder_refuses_nothing(tmp_path):
    """save_period writes epochN.pt there too; without --exist-ok the run gets a folder of its own, so a best.pt in
    the folder it would have reused is the user's to read."""
    weights = tmp_path / "exp" / "weights"
    weights.mkdir(parents=True)
    for name in ("epoch3.pt", "best.pt"):
        (weights / name).write_bytes(b"x")
    with pytest.raises(UserError, match="--teacher .*epoch3.pt' is in the weights folder this run writes"):
        check_inputs_outside_run({"project": str(tmp_path), "exist_ok": True}, teacher=weights / "epoch3.pt")
    check_inputs_outside_run({"project": str(tmp_path), "exist_ok": False}, teacher=weights / "best.pt")


def test_only_rank_zero_warns_of_a_replaced_run(tmp_path, monkeypatch):
    """Under torchrun every rank runs the checks: the --exist-ok warning was said once per GPU."""
    import logging

    from ultralytics.utils import LOGGER

    (tmp_path / "mine" / "weights").mkdir(parents=True)
    (tmp_path / "mine" / "weights" / "best.pt").write_bytes(b"precious")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    LOGGER.addHandler(handler)
    try:
        for rank in ("1", "0"):
            monkeypatch.setenv("RANK", rank)
            warn_replaced({"project": str(tmp_path), "name": "mine", "exist_ok": True})
    finally:
        LOGGER.removeHandler(handler)
    assert [r.getMessage().count("replaces the weights") for r in records] == [1]


def test_an_unnamed_comparison_claims_its_folder_as_it_picks_it(tmp_path):
    """Two unnamed comparisons started together both picked exp (made only when the first run trained), and the
    second's compare.json replaced the first's."""
    from yolodistill.runfolder import claim_new

    assert claim_new(tmp_path / "exp") == tmp_path / "exp" and (tmp_path / "exp").is_dir()
    assert claim_new(tmp_path / "exp") == tmp_path / "exp-2" and (tmp_path / "exp-2").is_dir()  # taken meanwhile
    (tmp_path / "exp-3").write_text("a file")
    assert claim_new(tmp_path / "exp-2") == tmp_path / "exp-4"
