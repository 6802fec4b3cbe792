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
