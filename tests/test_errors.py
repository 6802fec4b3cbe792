"""Output checks: a folder is writable only if a file can really be written there."""

from __future__ import annotations

from pathlib import Path

import pytest

from yolodistill.errors import UserError, check_output, first_line


def test_writable_folder_passes_and_keeps_nothing_of_the_probe(tmp_path):
    (tmp_path / "mine.txt").write_text("x")
    assert check_output(tmp_path / "runs" / "exp", "--project") == tmp_path / "runs" / "exp"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_folder_that_refuses_writes_even_to_root():
    """os.access says yes to root in /proc; the write probe does not."""
    with pytest.raises(UserError, match="'/proc' is not a writable folder"):
        check_output("/proc/runs", "--project")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_output_file_is_named_as_given():
    with pytest.raises(UserError, match=r"--json '/proc/bench.json' cannot be created: '/proc' is not"):
        check_output("/proc/bench.json", "--json", kind="file")


def test_ultralytics_missing_key_names_the_key(tmp_path):
    """Ultralytics says which key is missing only on the second line of its message."""
    from ultralytics.data.utils import check_det_dataset

    data = tmp_path / "nonames.yaml"
    data.write_text(f"path: {tmp_path}\ntrain: images\nval: images\n")
    with pytest.raises(SyntaxError) as e:
        check_det_dataset(str(data))
    line = first_line(e.value)
    assert "key missing: either 'names' or 'nc' are required" in line and "\n" not in line and "❌" not in line


def test_require_file_says_what_the_path_is_and_what_to_pass(tmp_path):
    from yolodistill.errors import require_file

    with pytest.raises(UserError, match="is a URL, and only train's and compare's --teacher"):
        require_file(Path("https://host/x.pt"), "--weights", (".pt",))  # a Path keeps one slash: still a URL
    with pytest.raises(UserError, match=r"teacher 'yolo26s.yaml' should be a \.pt file, not '\.yaml'"):
        require_file("yolo26s.yaml", "teacher", (".pt",))  # a model yaml is no trained teacher, found or not
    run = tmp_path / "exp"
    (run / "weights").mkdir(parents=True)
    with pytest.raises(UserError, match=rf"is a folder: pass the file, e\.g\. {run / 'weights' / 'last.pt'}"):
        require_file(run, "resume checkpoint", (".pt",))
    for role in ("teacher", "teacher of the resumed run"):
        with pytest.raises(UserError, match=rf"is a folder: pass the file, e\.g\. {run / 'weights' / 'best.pt'}"):
            require_file(run, role, (".pt",))


def test_ultralytics_error_marks_are_dropped():
    """Ultralytics writes 'ERROR ❌️ …'; after our 'Error:' the word and its emoji (and selector) would be noise."""
    e = RuntimeError("ERROR \u274c\ufe0f t.pt is not a loadable checkpoint (EOFError).\nRecommended fixes are ...")
    assert first_line(e) == "t.pt is not a loadable checkpoint (EOFError)."
