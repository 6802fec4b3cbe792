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

    with pytest.raises(UserError, match="is a URL, and only the --teacher and --student of train, compare and data "
                       "pseudo-label and export's --weights are fetched"):
        require_file(Path("https://host/x.pt"), "teacher recorded in the run", (".pt",))  # one slash: still a URL
    with pytest.raises(UserError, match="is a URL"):
        require_file("HTTP://host/x.pt", "teacher", (".pt",))
    with pytest.raises(UserError, match=r"teacher 'yolo26s.yaml' should be a \.pt file, not '\.yaml'"):
        require_file("yolo26s.yaml", "teacher", (".pt",))  # a model yaml is no trained teacher, found or not
    run = tmp_path / "exp"
    (run / "weights").mkdir(parents=True)
    with pytest.raises(UserError, match=rf"is a folder: pass the file, e\.g\. {run / 'weights' / 'last.pt'}"):
        require_file(run, "resume checkpoint", (".pt",))
    for role in ("teacher", "teacher of the resumed run"):
        with pytest.raises(UserError, match=rf"is a folder: pass the file, e\.g\. {run / 'weights' / 'best.pt'}"):
            require_file(run, role, (".pt",))
    (run / "weights" / "best.pt").touch()  # the weights folder itself, and an export folder with no .pt inside
    with pytest.raises(UserError, match=rf"is a folder: pass the file, e\.g\. {run / 'weights' / 'best.pt'}"):
        require_file(run / "weights", "teacher", (".pt",))
    with pytest.raises(UserError, match=r"--data '.*weights' is a folder: pass the file$"):  # no .pt to offer
        require_file(run / "weights", "--data", (".yaml", ".yml"))
    (tmp_path / "best_openvino_model").mkdir()
    with pytest.raises(UserError, match=r"--data '.*best_openvino_model' is a folder: pass the file$"):
        require_file(tmp_path / "best_openvino_model", "--data", (".yaml", ".yml"))
    with pytest.raises(UserError, match="is an OpenVINO export folder: pass a .pt file, e.g. the checkpoint it was "
                                        "exported from"):
        require_file(tmp_path / "best_openvino_model", "teacher", (".pt",))
    from yolodistill.loading import build_student  # a student folder was told 'e.g. weights.yaml or weights.pt'

    with pytest.raises(UserError, match=r"student '.*weights' is a folder: pass the file, e\.g\. .*best\.pt$"):
        build_student(str(run / "weights"), nc=3, ch=3)


def test_ultralytics_error_marks_are_dropped():
    """Ultralytics writes 'ERROR ❌️ …'; after our 'Error:' the word and its emoji (and selector) would be noise."""
    e = RuntimeError("ERROR \u274c\ufe0f t.pt is not a loadable checkpoint (EOFError).\nRecommended fixes are ...")
    assert first_line(e) == "t.pt is not a loadable checkpoint (EOFError)."
    assert first_line(EOFError()) == first_line(EOFError("\u274c\n")) == "EOFError"  # no message: its kind


def test_checkpoint_paths_with_an_apostrophe_are_refused(tmp_path):
    """Ultralytics drops every ' from a checkpoint's path before loading it, so it would look for another file."""
    from yolodistill.errors import require_file

    folder = tmp_path / "Bob's runs"
    folder.mkdir()
    (folder / "best.pt").write_bytes(b"x")
    (folder / "data.yaml").write_text("names: [a]")
    with pytest.raises(UserError, match=r"--weights '.*Bob's runs/best.pt' has an apostrophe"):
        require_file(folder / "best.pt", "--weights", (".pt",))
    assert require_file(folder / "data.yaml", "--data", (".yaml",)) == folder / "data.yaml"  # read by our code


def test_an_apostrophe_only_in_the_real_path_is_no_obstacle(tmp_path, monkeypatch):
    """Ultralytics is handed the path as given, which has no ': a relative path from such a working folder, or a
    link into one, loads (export, bench and pseudo-label did before, and must still)."""
    from yolodistill.errors import require_file

    folder = tmp_path / "Bob's"
    folder.mkdir()
    (folder / "best.pt").write_bytes(b"x")
    (tmp_path / "link.pt").symlink_to(folder / "best.pt")
    assert require_file(tmp_path / "link.pt", "--weights", (".pt",)) == tmp_path / "link.pt"
    monkeypatch.chdir(folder)
    assert require_file("best.pt", "--weights", (".pt",)) == Path("best.pt")


@pytest.mark.parametrize("value", [None, 3, ""])
def test_require_file_of_no_path_is_one_line(value):
    from yolodistill.errors import require_file

    with pytest.raises(UserError, match=f"--weights must be the path of a file, got {value!r}"):
        require_file(value, "--weights", (".pt",))


def test_numbers_from_python_are_checked_by_type():
    """The CLI parses these; from Python a string or float got a TypeError, or a truncated value, deep inside."""
    from yolodistill.errors import check_batch, check_imgsz, check_seed

    for check, value, flag in [(check_batch, "2", "--batch"), (check_batch, 2.0, "--batch"),
                               (check_imgsz, "64", "--imgsz"), (check_seed, 1.5, "--seed"), (check_seed, True, "--seed")]:
        with pytest.raises(UserError, match=f"{flag} must be a whole number, got {value!r}"):
            check(value)
    check_batch(2), check_imgsz(64), check_imgsz(None), check_seed(0)
    import numpy as np

    from yolodistill.errors import check_number

    check_batch(np.int32(2)), check_imgsz(np.int64(64)), check_seed(np.int64(1)), check_number(np.float32(0.1), "x")
    with pytest.raises(UserError, match="--conf must be a number, got True"):
        check_number(True, "--conf")


def test_numbers_are_checked_at_the_edges_of_their_range():
    """Seeds NumPy refuses, a batch of 0 and an image size of 0 each failed later with a traceback or an empty run."""
    from yolodistill.errors import check_batch, check_imgsz, check_seed

    check_seed(2**32 - 1), check_batch(1)
    for check, value, message in [(check_seed, 2**32, "--seed must be between 0 and 4294967295"),
                                  (check_seed, -1, "--seed must be between 0"),
                                  (check_batch, 0, "--batch must be at least 1, got 0"),
                                  (check_imgsz, 0, "--imgsz 0 is not a positive multiple of 32"),
                                  (check_imgsz, -64, "--imgsz -64 is not a positive multiple of 32")]:
        with pytest.raises(UserError, match=message):
            check(value)


@pytest.mark.parametrize("imgsz, stride, use", [(40, 32, "use 32 or 64$"), (20, 32, "use 32$"),
                                               (100, 64, "use 64 or 128$")])
def test_an_image_size_off_the_stride_names_the_sizes_that_work(imgsz, stride, use):
    """Ultralytics rounds such a size up without a word; the message offers the multiples either side of it."""
    from yolodistill.errors import check_imgsz

    with pytest.raises(UserError, match=rf"^--imgsz {imgsz} is not a positive multiple of {stride} \(the .*{use}"):
        check_imgsz(imgsz, stride)
    check_imgsz(stride * 3, stride)


def test_an_output_of_the_wrong_kind_is_refused_and_an_existing_file_is_overwritten(tmp_path):
    """A file where a folder goes (or the reverse) is named as such, before any work; an existing output file is
    one the user asks to overwrite, not an unwritable folder."""
    (tmp_path / "taken").write_text("x")
    with pytest.raises(UserError, match=r"--project '.*taken' is a file: pass a folder"):
        check_output(tmp_path / "taken", "--project")
    with pytest.raises(UserError, match=r"--json '.*' is a folder: pass a file name, e\.g\. .*out\.json"):
        check_output(tmp_path, "--json", kind="file")
    assert check_output(tmp_path / "taken", "--json", kind="file") == tmp_path / "taken"
    around = tmp_path / "nox" / ".."  # nox does not exist: as written the path cannot be walked, so nothing "exists"
    with pytest.raises(UserError, match=r"--out '.*nox/\.\./taken' is a file: pass a folder"):
        check_output(around / "taken", "--out")
    with pytest.raises(UserError, match=r"--json '.*nox/\.\.' is a folder: pass a file name"):
        check_output(around, "--json", kind="file")
    assert check_output(around / "new", "--out") == tmp_path / "new"  # resolved, as it is written


def test_a_missing_file_is_named_with_what_to_do(tmp_path):
    from yolodistill.errors import require_file

    with pytest.raises(UserError, match=r"teacher '.*gone\.pt' does not exist: download it"):
        require_file(tmp_path / "gone.pt", "teacher", (".pt",), missing="download it")


def test_the_root_cause_of_a_chain_is_its_first_sentence_cut_to_the_limit():
    """Ultralytics wraps torch's error (raised inside its except block, so as __context__) in its own advice;
    torch's own message runs to hundreds of characters."""
    from yolodistill.errors import root_cause

    try:
        try:
            raise RuntimeError("PytorchStreamReader failed reading zip archive: failed finding central directory. "
                               "More on zip files.")
        except RuntimeError:
            raise TypeError("ERROR \u274c t.pt is not a loadable checkpoint.")  # noqa: B904, as Ultralytics raises it
    except TypeError as e:
        assert root_cause(e) == "PytorchStreamReader failed reading zip archive: failed finding central directory"
    long = root_cause(ValueError("word " * 40), limit=50)
    assert len(long) <= 50 and long.endswith("...") and long.startswith("word word")


def test_a_usage_error_is_one_line_naming_the_help_to_see():
    """Typer drew a usage line, a hint and a boxed panel; where Click has no context (a flag's value missing), the
    help named is the subcommand's the words typed lead to."""
    import typer

    from yolodistill.errors import usage_line

    app = typer.Typer()

    @app.command()
    def run(imgsz: int = typer.Option(640)):
        pass

    app.command("other")(lambda: None)
    command = typer.main.get_command(app)
    for argv, line in [(["nope"], "No such command 'nope' (see yolodistill --help)"),
                       (["run", "--imgsz"], "Option '--imgsz' requires an argument (see yolodistill run --help)")]:
        with pytest.raises(Exception) as e:
            command.main(argv, prog_name="yolodistill", standalone_mode=False)
        assert usage_line(e.value, command, argv) == line
    assert usage_line(ValueError("x"), command, ["run"]) is None


def test_an_input_batch_that_cannot_fit_in_memory_is_refused(monkeypatch):
    """export --imgsz 100000 and bench --batch 10000000 were a traceback, or took all the machine's memory."""
    import psutil

    from yolodistill.errors import check_input_size

    monkeypatch.setattr(psutil, "virtual_memory", lambda: type("M", (), {"available": 8 * 2**30})())
    check_input_size(16, 640)  # 79 MB of input: fits
    for batch, imgsz in ((1, 100000), (10000000, 64), (64, 4096)):
        with pytest.raises(UserError, match=rf"--batch {batch} at --imgsz {imgsz} needs .* GB for its input alone .* "
                                            r"this machine has 8 GB free .*: use a smaller --batch or --imgsz"):
            check_input_size(batch, imgsz)


def test_numpy_scalars_reach_a_public_function_as_python_numbers():
    """A sweep's np.float64 passed some checks and failed others ('--epochs must be a whole number, got
    np.int64(1)'), or reached yaml and Ultralytics' checks, which refuse it, once a run folder existed."""
    import numpy as np

    from yolodistill.errors import python_values

    @python_values
    def seen(*args, **kwargs):
        return args, kwargs

    args, kwargs = seen(np.int64(3), [np.float32(0.5), "a"], batch=np.int64(8), ok=np.bool_(True), arr=np.ones(2))
    assert args == (3, [0.5, "a"]) and type(args[0]) is int and type(args[1][0]) is float
    assert kwargs["batch"] == 8 and type(kwargs["batch"]) is int and kwargs["ok"] is True
    assert isinstance(kwargs["arr"], np.ndarray)  # an array is no scalar: left for the checks to name
    from collections import namedtuple

    pair = namedtuple("pair", "a b")(np.int64(1), 2)  # rebuilt from one iterable: a TypeError
    assert seen(pair)[0][0] is pair


def test_a_loaded_model_where_a_path_goes_is_named_by_its_kind_in_one_short_line():
    """A YOLO object passed as --teacher put its printout, 752 lines, in the "one line"."""
    from ultralytics import YOLO

    from yolodistill.errors import check_path, given

    model = YOLO("yolo26n.yaml")
    with pytest.raises(UserError) as e:
        check_path(model, "--teacher", "file")
    assert str(e.value) == ("--teacher must be the path of a file, got a YOLO object built from yolo26n.yaml: pass a "
                            "path instead (a trained .pt; for --student, yolo26n.yaml)")  # no file of weights
    assert given(model.model) == "a DetectionModel object: pass a path instead (a trained .pt)"
    assert given("x" * 100) == f"a str ('{'x' * 59}...)" and given([1, 2]) == "[1, 2]"


@pytest.mark.parametrize("errno_name", ["ENAMETOOLONG", "ENOSPC"])
def test_a_public_function_raises_the_one_line_error_of_a_path_too_long_or_a_full_disk(errno_name):
    """From Python the OSError came through bare, where the command printed one line: a script catching UserError
    crashed."""
    import errno

    from yolodistill.errors import DiskFull, python_values

    @python_values
    def writes(path):
        raise OSError(getattr(errno, errno_name), "os says", path)

    with pytest.raises(DiskFull if errno_name == "ENOSPC" else UserError,
                       match="is too long for the filesystem" if errno_name == "ENAMETOOLONG" else "no space left"):
        writes("some/file")

    @python_values
    def other():
        raise OSError(errno.EACCES, "denied")

    with pytest.raises(OSError) as e:
        other()
    assert not isinstance(e.value, UserError)  # another OSError is left as it is


def test_an_output_name_its_writer_would_take_past_255_bytes_is_refused_first(tmp_path):
    """bench --json of a 248-byte name ran the whole benchmark, then failed writing .NAME_env.json.XXXXXXXX;
    pseudo-label's --out of 253 bytes named its hidden .NAME.partial. An output written under its own name alone
    (data synth's --out) takes any name the filesystem does."""
    for name, kind, longest in (("日" * 81 + ".json", "file", 14), ("p" + "日" * 84, "folder", 9)):  # 248, 253 bytes
        with pytest.raises(UserError, match=rf"has a name of {len(name.encode())} bytes, and it is written under names "
                                            rf"up to {longest} bytes longer.*at most {255 - longest} bytes$"):
            check_output(tmp_path / name, "--json", kind, longest=longest)
        check_output(tmp_path / name, "--out", kind)  # no twin: as before
    check_output(tmp_path / ("b" * 236 + ".json"), "--json", "file", longest=14)  # 241 bytes: its twins fit
