"""Every misfit between teacher, student, data and arguments: one line, exit status 2, no traceback, nothing written."""

from __future__ import annotations

import shutil
import subprocess

from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from yolodistill.checks import OPTIMIZERS, check_data, check_fit, preflight
from yolodistill.cli import app
from yolodistill.data import make_synthetic
from yolodistill.errors import UserError

from .conftest import PYTHON, assert_one_line_error, logged_by_ultralytics, save_checkpoint


def data_variant(synth_data: Path, tmp_path: Path, **changes) -> Path:
    d = yaml.safe_load(synth_data.read_text())
    d.update(changes)
    out = tmp_path / f"variant-{len(list(tmp_path.glob('variant-*')))}-{'-'.join(changes)}.yaml"  # one per call
    out.write_text(yaml.safe_dump(d))
    return out


def run_cli(*args: str):
    return CliRunner().invoke(app, ["train", *args, "--epochs", "1", "--imgsz", "64", "--device", "cpu"])


@pytest.fixture
def cases(tmp_path, synth_data, teacher26):
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(b"this is not a checkpoint")
    txt = tmp_path / "model.txt"
    txt.write_text("hello")
    four = make_synthetic(tmp_path / "four", images=8, classes=4, imgsz=64)
    without_names = tmp_path / "nonames.yaml"
    without_names.write_text(yaml.safe_dump({k: v for k, v in yaml.safe_load(synth_data.read_text()).items()
                                             if k not in ("names", "nc")}))
    return {
        "class count": ([teacher26, "yolo26n.yaml", four], ["teacher has 3 classes but the data has 4"]),
        "class names": (
            [teacher26, "yolo26n.yaml", data_variant(synth_data, tmp_path, names={0: "square", 1: "circle", 2: "triangle"})],
            ["teacher class 0 is 'circle' but the data's is 'square'"],
        ),
        "channels": ([teacher26, "yolo26n.yaml", data_variant(synth_data, tmp_path, channels=1)],
                     ["3-channel", "1 channels: pass a teacher trained on 1-channel images (channels: 1 in its data yaml)"]),
        "channels not a count": ([teacher26, "yolo26n.yaml", data_variant(synth_data, tmp_path, channels="rgb")],
                                 ["channels: 'rgb' should be the images' channel count"]),  # 'student could not be built'
        "levels": ([teacher26, "yolov8n-p2.yaml", synth_data], ["teacher has 3 detection levels", "has 4"]),
        "segmentation teacher": (
            [save_checkpoint("yolo26n-seg.yaml", tmp_path / "seg.pt"), "yolo26n.yaml", synth_data], ["is a segment model"]
        ),
        "classification student": ([teacher26, "yolo26n-cls.yaml", synth_data], ["describes a classify model"]),
        "missing teacher": ([tmp_path / "nope.pt", "yolo26n.yaml", synth_data], ["does not exist"]),
        "corrupt teacher": ([bad, "yolo26n.yaml", synth_data], ["not a readable Ultralytics checkpoint"]),
        "not a .pt teacher": ([txt, "yolo26n.yaml", synth_data], ["should be a .pt file"]),
        "unreachable url teacher": (["http://127.0.0.1:9/yolo26x.pt", "yolo26n.yaml", synth_data],
                                    ["could not be downloaded"]),
        "offline official teacher": (["yolo26x.pt", "yolo26n.yaml", synth_data], ["is not on disk", "offline"]),
        "unknown student": ([teacher26, "yolo99z.yaml", synth_data], ["student 'yolo99z.yaml'"]),
        "exported student": ([teacher26, str(tmp_path / "best.onnx"), synth_data],
                             ["should be a model yaml or a .pt checkpoint"]),
        "data with missing paths": (
            [teacher26, "yolo26n.yaml", data_variant(synth_data, tmp_path, val="images/nowhere")],
            ["images not found", "fix its 'path:', 'train:' and 'val:' so they point at the image folders"]
        ),
        "data not yaml": ([teacher26, "yolo26n.yaml", txt], ["should be a dataset .yaml"]),
        "data download offline": (
            [teacher26, "yolo26n.yaml", data_variant(synth_data, tmp_path, val="images/nowhere",
                                                     download="http://127.0.0.1:9/data.zip")],
            ["Download failure", "connect this machine to the internet"]
        ),
        "missing data yaml": ([teacher26, "yolo26n.yaml", tmp_path / "nowhere.yaml"], ["does not exist", "check the path"]),
        "data yaml as student": ([teacher26, str(synth_data), synth_data],
                                 ["is not a model yaml", "looks like a data yaml: pass it as --data"]),
        "yolo-world student": ([teacher26, "yolov8s-world.yaml", synth_data],
                               ["is a YOLO-World model", "yolo26n.yaml"]),
        "yoloe student": ([teacher26, "yoloe-11s.yaml", synth_data], ["is a YOLOE model"]),
        "rt-detr student": ([teacher26, "rtdetr-l.yaml", synth_data], ["is an RT-DETR model (RTDETRDecoder head)"]),
        "data without names": ([teacher26, "yolo26n.yaml", without_names],
                               ["key missing: either 'names' or 'nc' are required",
                                f"data convert {without_names} --format yolo --out "]),
        "data yaml not a mapping": ([teacher26, "yolo26n.yaml", text_file(tmp_path / "scalar.yaml", "just words")],
                                    ["fix it: a data yaml is a mapping with 'train:' and 'val:'"]),
        "data yaml without train": ([teacher26, "yolo26n.yaml", text_file(tmp_path / "notrain.yaml", "val: images")],
                                    ["'train:' key missing", "fix it: a data yaml is a mapping"]),
    }


CASES = ["class count", "class names", "channels", "channels not a count", "levels", "segmentation teacher", "classification student",
         "missing teacher", "corrupt teacher", "not a .pt teacher", "unreachable url teacher",
         "offline official teacher", "unknown student", "exported student",
         "data with missing paths", "data not yaml", "missing data yaml",
         "data download offline", "data yaml as student", "yolo-world student", "yoloe student", "rt-detr student",
         "data without names", "data yaml not a mapping", "data yaml without train"]


def text_file(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_split_lists_of_any_name_are_read_as_ultralytics_reads_them(tmp_path):
    """train.list (or train.TXT) names the split's images as train.txt does; only .txt was read, so the split was
    'no images' and the advised data convert found none either."""
    from yolodistill.convert import convert

    data = make_synthetic(tmp_path / "d", images=10, imgsz=32)
    for split, name in (("train", "train.list"), ("val", "val.TXT")):
        files = sorted((data.parent / "images" / split).glob("*.png"))
        (data.parent / name).write_text("".join(f"./images/{split}/{f.name}\n" for f in files))
    listed = tmp_path / "d" / "listed.yaml"
    listed.write_text(yaml.safe_dump({"path": str(data.parent), "train": "train.list", "val": "val.TXT",
                                      "names": ["circle", "square", "triangle"]}))
    info = check_data(listed)
    assert len(info["names"]) == 3
    s = convert(listed, fmt="yolo", out=tmp_path / "clean")
    assert s.images["train"] + s.images["val"] == 10


def test_names_numbered_from_1_are_told_how_to_fix_not_sent_to_convert(synth_data, tmp_path):
    """Ultralytics refuses names keyed 1..N ('invalid class indices 1-3 defined in your dataset YAML'); the advised
    data convert refused the same yaml, so the user went round in a circle."""
    raw = yaml.safe_load(Path(synth_data).read_text())
    raw.update(path=str(Path(synth_data).parent), names={1: "circle", 2: "square", 3: "triangle"})
    bad = tmp_path / "one-based.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(UserError, match="number the names 0 to N-1 in the yaml, and the class ids in the label files "
                                        "to match") as e:
        check_data(bad)
    assert "data convert" not in str(e.value)


def test_a_data_yaml_whose_folders_are_missing_logs_no_blank_line_above_its_error(synth_data, tmp_path):
    """Ultralytics logs an empty line before it raises: a blank line above the one line of the error."""
    raw = yaml.safe_load(synth_data.read_text())
    data = tmp_path / "moved.yaml"
    data.write_text(yaml.safe_dump({**raw, "path": str(tmp_path / "nowhere")}))
    with logged_by_ultralytics() as logged, pytest.raises(UserError, match="images not found"):
        check_data(data)
    assert all(m.strip() for m in logged), logged


def test_the_convert_a_bad_data_yaml_is_sent_to_runs(synth_data, teacher26, tmp_path, monkeypatch):
    """Train's fix for a data yaml without names is a command: it must run, from the yaml's own folder too, where an
    --out beside the yaml was refused as inside the source."""
    folder = tmp_path / "mine"
    shutil.copytree(synth_data.parent, folder)
    raw = yaml.safe_load((folder / synth_data.name).read_text())
    (folder / "nonames.yaml").write_text(yaml.safe_dump({"path": str(folder), "train": raw["train"], "val": raw["val"]}))
    monkeypatch.chdir(folder)
    line = assert_one_line_error(run_cli("--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data",
                                         "nonames.yaml", "--project", str(tmp_path / "runs")), "data convert")
    command = line.split("check and clean it with: yolodistill ", 1)[1].split()
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    out = tmp_path / "mine-clean"
    assert yaml.safe_load((out / "data.yaml").read_text())["names"] and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("fault, needles", [
    # convert kept the unlabelled images as background, so its own output was refused with the same advice
    ("no labels", ["no image of its train split has labels (Ultralytics reads them from", "label the images (a .txt "
                   "of 'class x y w h' rows per image, under", "or point 'train:' at a labelled split"]),
    ("labels beside the images", ["no image of its train split has labels", "data convert"]),  # convert finds them
    # convert keeps empty label files as background, so its own output was refused with the same advice, for ever
    ("empty labels", ["no image of its train split has labels", "every label file there is empty: label the images"]),
    ("a missing folder", ["its train split names", "which does not exist; fix 'train:'"]),
    ("a list of missing files", ["has no images in its train split", "data convert"]),
    ("labels out of range", ["No valid images found", "data convert"]),  # Ultralytics' loader's, in the run folder
])
def test_a_dataset_wrong_inside_its_folders_is_one_line_and_leaves_no_run(synth_data, teacher26, tmp_path, fault,
                                                                          needles):
    """A yaml that resolves but whose folders Ultralytics cannot train on stopped with its traceback, and left a run
    folder that made the rerun 'run folder exists'."""
    folder = tmp_path / "mine"
    shutil.copytree(synth_data.parent, folder)
    raw = yaml.safe_load((folder / synth_data.name).read_text())
    raw["path"] = str(folder)
    if fault == "no labels":
        shutil.rmtree(folder / "labels" / "train")
    elif fault == "labels beside the images":
        for label in (folder / "labels" / "train").glob("*.txt"):
            label.rename(folder / "images" / "train" / label.name)
    elif fault == "empty labels":
        for label in (folder / "labels" / "train").glob("*.txt"):
            label.write_text("")
    elif fault == "a missing folder":
        raw["train"] = [raw["train"], "images/nope"]
    elif fault == "a list of missing files":
        (folder / "train.txt").write_text("images/train/gone1.png\nimages/train/gone2.png\n")
        raw["train"] = "train.txt"
    else:
        for label in (folder / "labels" / "train").glob("*.txt"):
            label.write_text("".join(f"9 {line.split(' ', 1)[1]}" for line in label.read_text().splitlines(True)))
    data = folder / "bad.yaml"
    data.write_text(yaml.safe_dump(raw))
    result = run_cli("--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data", str(data), "--project",
                     str(tmp_path / "runs"), "--name", "r")
    if fault == "labels out of range":  # after Ultralytics' own scan line, which counts the corrupt images
        assert result.exit_code == 2 and "Traceback" not in result.output and "24 corrupt" in result.output
        last = result.output.strip().splitlines()[-1]
        assert last.startswith("Error:") and all(n in last for n in needles), result.output
    else:
        assert_one_line_error(result, *needles)
    assert not (tmp_path / "runs" / "r").exists()


@pytest.mark.parametrize("case", CASES)
def test_misfit_is_one_clear_line(cases, case, tmp_path):
    (teacher, student, data), needles = cases[case]
    result = run_cli("--teacher", str(teacher), "--student", student, "--data", str(data),
                     "--project", str(tmp_path / "runs"))
    assert_one_line_error(result, *needles)
    assert not (tmp_path / "runs").exists()  # nothing written


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--imgsz", "70"], "--imgsz 70 is not a positive multiple of 32 (the model's largest stride): use 64 or 96"),
        (["--imgsz", "0"], "--imgsz 0 is not a positive multiple of 32 (the model's largest stride): use 32"),
        (["--seed", "-1"], "--seed must be between 0 and 4294967295 (NumPy's seed range), got -1"),
        (["--seed", "4294967296"], "--seed must be between 0 and 4294967295 (NumPy's seed range), got 4294967296"),
        (["--epochs", "0"], "--epochs must be a whole number >= 1"),
        (["--feat-loss", "kl"], "feat_loss must be one of l2, cwd, mgd"),
        (["--kd-cls", "-1"], "kd_cls must be a finite number >= 0"),
        (["lr00=0.1"], "unknown setting(s) lr00"),
        (["lr0"], "is not a key=value override"),
        # Ultralytics' way to resume, and a list of sizes it takes (at its largest): the generic words did not help
        (["resume", "model=last.pt"], "a run resumes with --resume PATH/last.pt (Ultralytics' `resume model=last.pt` "
                                      "would train it without its teacher)"),
        (["imgsz=64,64"], "imgsz=64,64 is 2 values: training takes one square size, e.g. --imgsz 64"),
        (["imgsz=[64,96]"], "imgsz=64,96 is 2 values: training takes one square size, e.g. --imgsz 96"),
        (["imgsz=[64]"], "imgsz=64 is a list: training takes one square size, e.g. --imgsz 64"),
        (["lr0=abc"], "'lr0=abc' is of invalid type str"),
        (["fliplr=3"], "fliplr=3"),
        (["batch=1.5"], "--batch must be a whole number of images >= 1, or for AutoBatch -1 or a fraction of GPU "
                        "memory such as batch=0.7, got 1.5"),  # a traceback from the data loader, after the folder
        (["epochs=2.5"], "--epochs must be a whole number >= 1, got 2.5"),  # 2.0 is 2 (test_config), 2.5 is not
        (["epochs=True"], "--epochs must be a whole number >= 1, got True"),  # trained 1 epoch, recorded true
        (["--workers", "-1"], "--workers must be 0 or more (0 loads the data in the training process), got -1"),
        (["optimizer=Foo"], "optimizer=Foo is not one Ultralytics trains with"),
        (["classes=[9]"], "classes=[9]: it takes the data's class ids as whole numbers, 0 to 2 (classes=0 or "
                            "classes=[0,2]), and [9]"),
        (["classes=[0,3]"], "and [3] would train on no label"),
        (["classes=[]"], "classes=[] keeps no class, so the run would train on no label"),  # trained, exit 0
        (["classes=abc"], "and ['abc'] would train on no label"),  # a ValueError in the first step, the folder left
        (["freeze=100"], "freeze=100 freezes every layer of the student (it has 24)"),  # the adapters hid Ultralytics'
        ([f"freeze={list(range(24))}"], "freezes every layer of the student"),  # own check: a backward() traceback
        ([f"freeze={[str(i) for i in range(24)]}"], "freezes every layer of the student"),
        *[([f"freeze={v}"], f"freeze={v.replace('0,1', '(0, 1)')} is neither a number of first layers (freeze=10) "
                            "nor a list of layer indices") for v in ("abc", "1.5", "-1", "True", "0,1")],
        (["cls=0"], "cls=0 turns kd_cls off too (kd_cls is scaled by Ultralytics' cls gain, as its cls_loss is)"),
        (["box=-1"], "box=-1 is below 0, and the distillation terms take Ultralytics' loss gains"),  # kd_box was < 0
        (["box=0"], "box=0 turns kd_box off too (kd_box is scaled by Ultralytics' box gain"),  # a YOLO26 pair
        (["--kd-cls", "0", "--kd-box", "0", "--kd-feat", "1", "--kd-balance", "auto", "box=0", "cls=0", "dfl=0"],
         "kd_balance auto measures each term's pull against the detection loss's, which box=0 cls=0 dfl=0 leave"),
        (["quantize=int8"], "quantize=int8 (Ultralytics' quantization-aware training) does not run with a teacher"),
        (["quantize=8"], "quantize=8 (Ultralytics' quantization-aware training)"),  # a traceback, its folder left
        (["cache=maybe"], "cache=maybe is not one Ultralytics caches with: say cache=ram"),  # trained uncached
        (["time=-1"], "time=-1 must be hours to train, above 0"),  # stopped after its first epoch
        (["cache=1"], "cache=1 is not one Ultralytics caches with"),  # Ultralytics caches only where cache is True
        (["time=1e400"], "time=inf must be hours to train"),  # an OverflowError once the first epoch ended
    ],
)
def test_bad_arguments(teacher26, synth_data, tmp_path, extra, needle):
    result = CliRunner().invoke(app, ["train", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data",
                                      str(synth_data), "--project", str(tmp_path), "--device", "cpu", *extra])
    assert_one_line_error(result, needle)


def test_class_names_are_compared_by_id_and_made_up_names_by_count_alone():
    from yolodistill.checks import check_names

    teacher = {0: "circle", 1: "square", 2: "triangle"}
    check_names(teacher, {2: "triangle", 0: "circle", 1: "square"}, "teacher", "")  # Ultralytics reads it by id
    check_names(teacher, ["circle", "square", "triangle"], "teacher", "")
    check_names(teacher, {0: "class_0", 1: "class_1", 2: "class_2"}, "teacher", "")  # a yaml with nc: and no names
    with pytest.raises(UserError, match="teacher class 0 is 'circle' but the data's is 'square'"):
        check_names(teacher, {1: "circle", 0: "square", 2: "triangle"}, "teacher", "")
    with pytest.raises(UserError, match="teacher class 0 is 'circle' but the data's is missing"):
        check_names(teacher, {1: "square", 2: "triangle", 3: "circle"}, "teacher", "")
    with pytest.raises(UserError, match="teacher has 3 classes but the data has 2: fix"):
        check_names(teacher, {0: "class_0", 1: "class_1"}, "teacher", "fix")


@pytest.mark.parametrize("names", [{2: "triangle", 0: "circle", 1: "square"}, None])
def test_data_with_ids_out_of_order_or_no_names_trains(teacher26, synth_data, tmp_path, names):
    """Both are yamls Ultralytics trains on; they were refused as naming other classes than the teacher's."""
    from yolodistill.config import resolve

    d = yaml.safe_load(synth_data.read_text())
    assert d["names"] in ({0: "circle", 1: "square", 2: "triangle"}, ["circle", "square", "triangle"])
    d.pop("names")
    d.update({"names": names} if names else {"nc": 3})
    variant = tmp_path / "variant.yaml"
    variant.write_text(yaml.safe_dump(d, sort_keys=False))
    from yolodistill.checks import preflight

    plan = preflight(teacher26, "yolo26n.yaml", variant, dict(resolve(None, epochs=1, imgsz=64,
                                                                      project=str(tmp_path / "runs"))[1]))
    assert plan.args["data"] == str(variant)


def test_refusal_after_building_the_student_is_the_only_line_printed(teacher26, synth_data, tmp_path):
    # the console script in its own process: Ultralytics' logger writes to the real stdout, which CliRunner misses
    out = subprocess.run([PYTHON, "-m", "yolodistill.cli", "train", "--teacher", str(teacher26), "--student",
                          "yolo26n.yaml", "--data", str(synth_data), "--project", str(tmp_path), "--imgsz", "70"],
                         capture_output=True, text=True, timeout=120)
    lines = [x for x in (out.stdout + out.stderr).splitlines() if x.strip()]
    assert out.returncode == 2 and len(lines) == 1 and lines[0].startswith("Error: --imgsz 70"), lines


def test_inputs_in_the_weights_folder_a_reused_run_writes_are_refused(teacher26, synth_data, tmp_path):
    """--exist-ok on the folder that holds the teacher: the run's best.pt would have replaced it with the student."""
    run = tmp_path / "tt"
    (run / "weights").mkdir(parents=True)
    inside = run / "weights" / "best.pt"
    inside.write_bytes(teacher26.read_bytes())
    result = run_cli("--teacher", str(inside), "--student", "yolo26n.yaml", "--data", str(synth_data),
                     "--project", str(tmp_path), "--name", "tt", "--exist-ok")
    assert_one_line_error(result, f"--teacher '{inside}' is in the weights folder this run writes")
    assert inside.read_bytes() == teacher26.read_bytes()
    from yolodistill.runfolder import check_inputs_outside_run

    exp = tmp_path / "exp" / "weights" / "last.pt"  # no --name: Ultralytics' exp, reused with --exist-ok
    exp.parent.mkdir(parents=True)
    exp.write_bytes(b"x")
    with pytest.raises(UserError, match="is in the weights folder this run writes"):
        check_inputs_outside_run({"project": str(tmp_path), "exist_ok": True}, student=exp)
    kept = exp.with_name("teacher.pt")  # a name the run never writes
    kept.write_bytes(b"x")
    check_inputs_outside_run({"project": str(tmp_path), "exist_ok": True}, teacher=kept)


@pytest.mark.parametrize("where", ["project", "name", "teacher", "working folder"])
def test_an_apostrophe_in_the_run_folder_or_a_checkpoint_path_is_refused(teacher26, synth_data, tmp_path, where,
                                                                         monkeypatch):
    """Ultralytics drops every ' from a checkpoint path before loading it: the run trained, then failed with a
    traceback loading its own best.pt (or the builtin distiller's teacher) from a folder that does not exist. A
    relative teacher is handed over resolved, so a working folder with a ' counts."""
    teacher, project, name = teacher26, tmp_path / "runs", "exp"
    if where in ("teacher", "working folder"):
        teacher = tmp_path / "Bob's" / "t.pt"
        teacher.parent.mkdir()
        teacher.write_bytes(teacher26.read_bytes())
    if where == "working folder":
        monkeypatch.chdir(teacher.parent)
        teacher = Path("t.pt")
    elif where == "project":
        project = tmp_path / "Bob's runs"
    else:
        name = "Bob's"
    result = run_cli("--teacher", str(teacher), "--student", "yolo26n.yaml", "--data", str(synth_data),
                     "--project", str(project), "--name", name)
    assert_one_line_error(result, "has an apostrophe (')")
    assert not (project / name).exists()


def test_a_mid_training_last_pt_as_teacher_is_refused_before_the_run_folder(mid_training, synth_data, tmp_path):
    """It holds the student with its teacher: it passed the fit checks, wrote the run folder, then failed with an
    AttributeError once Ultralytics had loaded it whole."""
    result = run_cli("--teacher", str(mid_training), "--student", "yolo26n.yaml", "--data", str(synth_data),
                     "--project", str(tmp_path), "--name", "m")
    assert_one_line_error(result, "was saved mid-run by a distillation run", "--resume")
    assert not (tmp_path / "m").exists()


def test_resuming_from_a_working_folder_with_an_apostrophe_is_refused(mid_training, tmp_path, monkeypatch):
    """The resumed run writes and then loads its best.pt beside the resolved last.pt: a relative path is no escape."""
    from yolodistill.resume import check_resume

    weights = tmp_path / "Bob's" / "weights"
    weights.mkdir(parents=True)
    (weights / "last.pt").write_bytes(mid_training.read_bytes())
    monkeypatch.chdir(weights)
    with pytest.raises(UserError, match=f"resume checkpoint '{weights / 'last.pt'}' has an apostrophe"):
        check_resume("last.pt", {})


@pytest.mark.parametrize("word, needle", [("pretrained=/no/such.pt", "pretrained= '/no/such.pt' does not exist"),
                                         ("pretrained=DATA", "data.yaml' should be a .pt file, not '.yaml'"),
                                         ("pretrained=maybe", "pretrained= 'maybe' should be a .pt file, and its "
                                                              "name has no suffix"),  # said not 'no suffix'
                                         ("pretrained=GARBAGE", "garbage.pt"),
                                         ("pretrained=SEGMENT", "segment"),
                                         ("cfg=mine.yaml", "use --config FILE instead of cfg=")])
def test_pretrained_and_cfg_words_are_checked_before_the_run_folder(teacher26, synth_data, tmp_path, word, needle):
    """A missing or non-.pt pretrained= was a traceback after the run folder was made, and so was a garbage .pt; a
    segmentation .pt trained quietly, its weights taken where they fit. cfg=, Ultralytics' own config argument, was
    recorded in args.yaml and ignored."""
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    seg = save_checkpoint("yolo26n-seg.yaml", tmp_path / "seg.pt")
    word = word.replace("DATA", str(synth_data)).replace("GARBAGE", str(tmp_path / "garbage.pt"))
    result = run_cli("--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data", str(synth_data),
                     "--project", str(tmp_path), "--name", "w", word.replace("SEGMENT", str(seg)))
    assert_one_line_error(result, needle)
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("split", ["train", "val"])
def test_a_run_inside_a_split_s_images_folder_is_refused(teacher26, synth_data, split):
    """Ultralytics reads a split's folder with its subfolders: the run's plots joined the split, for every later run
    (as --unlabeled folders are already refused)."""
    images = synth_data.parent / "images" / split
    before = sorted(images.rglob("*"))
    result = run_cli("--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data", str(synth_data),
                     "--project", str(images / "runs"), "--name", "r")
    assert_one_line_error(result, f"the run writes into '{images / 'runs' / 'r'}', inside the {split} images folder "
                                  f"'{images}': the next run would read its plots as {split} images")
    assert sorted(images.rglob("*")) == before


@pytest.mark.parametrize("name", ["mine", "new/../mine"])  # new does not exist: as written, mine did not either
def test_existing_named_run_is_never_overwritten(teacher26, synth_data, tmp_path, name):
    run = tmp_path / "mine"
    (run / "weights").mkdir(parents=True)
    (run / "weights" / "best.pt").write_bytes(b"precious")
    result = run_cli("--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data", str(synth_data),
                     "--project", str(tmp_path), "--name", name)
    assert_one_line_error(result, f"run folder '{run}' exists: pass --exist-ok")
    assert (run / "weights" / "best.pt").read_bytes() == b"precious" and not (tmp_path / "new").exists()


@pytest.mark.parametrize("name", ["mine", None])
def test_exist_ok_over_a_finished_run_says_what_it_replaces_once_every_check_passed(teacher26, synth_data, tmp_path,
                                                                                     name):
    from yolodistill.checks import preflight
    from yolodistill.config import resolve

    run = tmp_path / (name or "exp")
    (run / "weights").mkdir(parents=True)
    args = dict(resolve(None, epochs=1, imgsz=64, project=str(tmp_path), name=name, exist_ok=True)[1])

    def warned(teacher=teacher26) -> list[str]:
        with logged_by_ultralytics() as logged:
            preflight(teacher, "yolo26n.yaml", synth_data, dict(args))
        return [m for m in logged if "--exist-ok" in m]

    assert warned() == []  # no weights there yet: nothing to say
    (run / "weights" / "best.pt").write_bytes(b"precious")
    with logged_by_ultralytics() as logged, pytest.raises(UserError, match="does not exist"):
        preflight(tmp_path / "no-teacher.pt", "yolo26n.yaml", synth_data, dict(args))
    assert not [m for m in logged if "--exist-ok" in m]  # a refused run replaces nothing, and says nothing
    said = warned()
    assert len(said) == 1 and said[0].endswith(f"--exist-ok: this run replaces the weights, results.csv and plots of "
                                               f"the earlier run in '{run}' (a plot it does not make again, as with "
                                               "plots=False, stays)"), said  # it said plots, and old ones stayed
    for name in ("best_openvino_model", "best_int8_openvino_model"):  # stay beside the new best.pt, of the old one
        (run / "weights" / name).mkdir()
        (run / "weights" / name / "metadata.yaml").write_text("author: Ultralytics\ntask: detect\n")
    (run / "weights" / "notes.txt").write_text("mine")  # no export, and no more than a temp file is one
    (run / "weights" / ".last.pt.partial").write_bytes(b"")
    said = warned()
    assert len(said) == 1 and said[0].endswith("stays); its exports stay, of the earlier weights: "
                                               "best_int8_openvino_model, best_openvino_model (export again)"), said
    # a folder of other files (no best.pt: a user's, or a run cut short) was written over without a word
    (run / "weights" / "best.pt").unlink()
    (run / "results.csv").write_text("mine")
    said = warned()
    assert len(said) == 1 and f"writes into '{run}', which holds files already" in said[0], said


def test_a_run_folder_that_is_a_file_is_one_line(teacher26, synth_data, tmp_path):
    """--name of a file with --exist-ok was a NotADirectoryError traceback from Ultralytics' makedirs."""
    (tmp_path / "afile").write_text("mine")
    result = run_cli("--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data", str(synth_data),
                     "--project", str(tmp_path), "--name", "afile", "--exist-ok")
    assert_one_line_error(result, "run folder", "afile' is a file: pick another --name or --project")
    assert (tmp_path / "afile").read_text() == "mine"


def test_stride_mismatch(teacher26):
    from ultralytics.nn.tasks import DetectionModel, load_checkpoint

    teacher = load_checkpoint(teacher26)[0]
    student = DetectionModel("yolo26n.yaml", nc=3, verbose=False)
    student.stride = student.stride * 2
    with pytest.raises(UserError, match="strides"):
        check_fit(teacher, student, {"names": teacher.names, "nc": 3}, "odd.yaml")



def test_a_teacher_whose_names_do_not_fit_its_head_is_refused_before_training():
    """A checkpoint with an 80-class head and 3 names set by hand passed every check (names against the data only)
    and failed the first batch with a size-mismatch traceback; compare after plain and builtin had trained."""
    from ultralytics.nn.tasks import DetectionModel

    names = {0: "circle", 1: "square", 2: "triangle"}
    teacher, student = DetectionModel("yolo26n.yaml", nc=80, verbose=False), DetectionModel("yolo26n.yaml", nc=3,
                                                                                             verbose=False)
    teacher.names = student.names = names
    with pytest.raises(UserError, match=r"^teacher's head predicts 80 classes but its checkpoint names 3: set "
                                        r"model.names to one name per class"):
        check_fit(teacher, student, {"names": names}, "yolo26n.yaml")
    check_fit(student, student, {"names": names}, "yolo26n.yaml")  # a head of 3 with its 3 names fits


def test_a_teacher_of_other_levels_is_told_which_head_it_has():
    """A P2-P5 teacher with a P3-P5 student was told to pick "a student with the teacher's P3-P5 head"."""
    from ultralytics.nn.tasks import DetectionModel

    names = {0: "circle", 1: "square", 2: "triangle"}
    p2, p3 = (DetectionModel(cfg, nc=3, verbose=False) for cfg in ("yolo26n-p2.yaml", "yolo26n.yaml"))
    p2.names = p3.names = names
    with pytest.raises(UserError, match=r"teacher has 4 detection levels, student 'yolo26n.yaml' has 3: pick a student "
                                        r"with the teacher's P2-P5 head$"):
        check_fit(p2, p3, {"names": names}, "yolo26n.yaml")
    with pytest.raises(UserError, match=r"has 4: pick a student with the teacher's P3-P5 head$"):
        check_fit(p3, p2, {"names": names}, "yolo26n-p2.yaml")


def test_url_inside_a_checkpoint_is_never_followed(trained_student, tmp_path):
    """Only URLs the user types are fetched: a resumable last.pt naming a URL teacher is refused."""
    import torch

    from yolodistill.config import DistillConfig

    ckpt = torch.load(trained_student.parent / "last.pt", map_location="cpu", weights_only=False)
    (ckpt["ema"] or ckpt["model"]).yolodistill = DistillConfig().to_dict()  # as our trainer saves it
    ckpt.update(epoch=0, optimizer={}, train_args={**ckpt["train_args"], "distill_model": "http://127.0.0.1:9/t.pt"})
    torch.save(ckpt, tmp_path / "last.pt")
    result = CliRunner().invoke(app, ["train", "--resume", str(tmp_path / "last.pt")])
    assert_one_line_error(result, "is a URL", "only the --teacher and --student of train, compare and data "
                          "pseudo-label and export's --weights are fetched")


def test_device_auto_trains(teacher26, synth_data, tmp_path):
    """The default --help names, typed out: a traceback from Ultralytics' select_device on the old code."""
    result = CliRunner().invoke(app, ["train", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data",
                                      str(synth_data), "--project", str(tmp_path / "runs"), "--name", "5",
                                      "--device", "auto", "--epochs", "1", "--imgsz", "64", "--batch", "8",
                                      "--workers", "0", "plots=False"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "runs" / "5" / "weights" / "best.pt").is_file()


def test_optimizer_names_are_ultralytics_own():
    """OPTIMIZERS mirrors a set private to BaseTrainer.build_optimizer: each name must build there, in any case, and a
    name outside it must be the one Ultralytics refuses."""
    from types import SimpleNamespace

    from ultralytics.engine.trainer import BaseTrainer
    from ultralytics.nn.tasks import DetectionModel

    fake = SimpleNamespace(args=SimpleNamespace(lr0=0.01, optimizer="auto", warmup_bias_lr=0.1), data={"nc": 3})
    model = DetectionModel("yolo26n.yaml", nc=3, verbose=False)
    for name in (*OPTIMIZERS, "adamw", "sgd"):
        assert isinstance(BaseTrainer.build_optimizer(fake, model, name=name), torch.optim.Optimizer)
    with pytest.raises(NotImplementedError):
        BaseTrainer.build_optimizer(fake, model, name="Foo")


@pytest.mark.parametrize("command", ["train", "compare"])
def test_config_folder_is_one_line(command, teacher26, synth_data, tmp_path):
    result = CliRunner().invoke(app, [command, "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data",
                                      str(synth_data), "--config", str(tmp_path), "--project", str(tmp_path / "runs")])
    assert_one_line_error(result, f"config '{tmp_path}' is a folder")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("extra, needle", [
    ({"model": "yolo26s.yaml"}, "model=yolo26s.yaml would be replaced: --student sets it; use --student instead"),
    ({"distill_model": "other.pt"}, "distill_model=other.pt would be replaced: --teacher sets it"),
    ({"data": "coco8.yaml"}, "use --data instead"),
    ({"task": "segment"}, "task=segment cannot be changed"),
    ({"mode": "val"}, "mode=val cannot be changed"),
])
def test_arguments_the_run_sets_itself_are_refused(teacher26, synth_data, tmp_path, extra, needle):
    """Ultralytics' model=, distill_model=, task= and mode= would be overwritten by the run without a word."""
    from yolodistill.checks import preflight
    from yolodistill.config import resolve

    args = resolve(None, epochs=1, imgsz=64, project=str(tmp_path / "runs"), **extra)[1]
    with pytest.raises(UserError, match=needle):
        preflight(teacher26, "yolo26n.yaml", synth_data, args)
    recipe = tmp_path / "recipe.yaml"  # the same keys in a --config recipe: named as the file's
    recipe.write_text(yaml.safe_dump(extra))
    result = run_cli("--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data", str(synth_data),
                     "--config", str(recipe), "--project", str(tmp_path / "runs"))
    (key, value), = extra.items()
    in_file = needle.replace(f"{key}={value}", f"{key}: {value} in {recipe}").replace(f" instead of {key}=", " instead")
    assert_one_line_error(result, in_file)
    assert f"{key}={value}" not in result.output and "drop task=" not in result.output  # no such word was typed
    assert not (tmp_path / "runs").exists()


def test_empty_values_of_arguments_the_run_sets_are_no_conflict():
    """An Ultralytics args.yaml used as a recipe holds model: null, data: null and resume: false."""
    from yolodistill.checks import check_reserved

    check_reserved({"model": None, "data": None, "distill_model": None, "resume": False, "task": "detect",
                    "mode": "train"})
    with pytest.raises(UserError, match="resume=True would be replaced"):
        check_reserved({"resume": True})


def teacher_warnings(teacher, data, imgsz, tmp_path, times=1) -> list[str]:
    """What preflight warns of the teacher's size, from Ultralytics' own logger, over `times` checks of one run."""
    import logging

    from ultralytics.utils import LOGGER

    from yolodistill import checks
    from yolodistill.config import resolve

    checks.WARNED_SIZES.clear()  # a warning is given once per process: other tests may have given this one
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    LOGGER.addHandler(handler)
    try:
        for _ in range(times):
            checks.preflight(teacher, "yolo26n.yaml", data,
                             dict(resolve(None, epochs=1, imgsz=imgsz, project=str(tmp_path / "runs"))[1]))
    finally:
        LOGGER.removeHandler(handler)
    return [r.getMessage() for r in records if "The teacher was trained at" in r.getMessage()]


@pytest.mark.parametrize("imgsz, warned", [(64, False), (96, False), (128, True), (32, True)])
def test_a_teacher_distilled_far_from_its_training_size_is_warned_of(teacher26, synth_data, tmp_path, imgsz, warned):
    """A 192 px teacher scored 0.019 at 640 px on the GPU seed; within Ultralytics' scale augmentation (1.5x) no word."""
    said = teacher_warnings(teacher26, synth_data, imgsz, tmp_path)  # teacher26: train_args imgsz=64
    assert len(said) == warned
    if warned:
        assert f"trained at imgsz=64 and this run distils at imgsz={imgsz}" in said[0] and "--imgsz 64" in said[0]


def test_the_teacher_size_warning_is_given_once_per_teacher_and_size(teacher26, synth_data, tmp_path):
    """compare checks its plan, then each run again: one warning, not one per seed."""
    assert len(teacher_warnings(teacher26, synth_data, 128, tmp_path, times=3)) == 1


@pytest.mark.parametrize("train_args", [{"task": "detect"}, {}, None, {"imgsz": [640, "480"]}, {"imgsz": True},
                                        {"imgsz": [192, 256]}],
                         ids=["no-imgsz", "empty", "none", "list-with-text", "bool", "list"])
def test_a_teacher_of_unknown_size_gets_no_warning_and_no_traceback(teacher26, synth_data, tmp_path, train_args):
    """Ultralytics fills a missing imgsz with 640, which the teacher may never have seen: unknown is no warning."""
    ckpt = torch.load(teacher26, map_location="cpu", weights_only=False)
    if train_args is None:
        del ckpt["train_args"]
    else:
        ckpt["train_args"] = train_args
    torch.save(ckpt, tmp_path / "t.pt")
    assert teacher_warnings(tmp_path / "t.pt", synth_data, 192, tmp_path) == []
    if train_args == {"imgsz": [192, 256]}:  # a known size after all: its longer side, 256, is 2.5 times from 640
        assert len(teacher_warnings(tmp_path / "t.pt", synth_data, 640, tmp_path)) == 1


def small_data(tmp_path: Path) -> Path:
    """A data yaml of its own (the synthetic 3-class layout: images/ and labels/ of train and val) to break."""
    return make_synthetic(tmp_path / "own", images=6, classes=3, imgsz=32, seed=0)


def test_no_data_and_a_yml_data_file(synth_data, tmp_path):
    """No --data is named as such (not 'got a NoneType'), and .yml is a data yaml as much as .yaml is."""
    with pytest.raises(UserError, match=r"^no dataset: pass --data DATA\.yaml$"):
        check_data(None)
    yml = tmp_path / "data.yml"
    yml.write_text(synth_data.read_text())
    assert check_data(yml)["nc"] == 3


def test_each_split_is_checked_and_val_must_be_given(tmp_path):
    """A val: left empty was a TypeError traceback; a val split without labels trained, then validated on nothing."""
    data = small_data(tmp_path)
    raw = yaml.safe_load(data.read_text())
    no_val = tmp_path / "noval.yaml"
    no_val.write_text(yaml.safe_dump({**raw, "val": None}))
    with pytest.raises(UserError, match="has no val split: add a 'val:' path"):
        check_data(no_val)
    shutil.rmtree(data.parent / "labels" / "val")
    with pytest.raises(UserError, match="no image of its val split has labels"):
        check_data(data)


def test_a_list_split_with_some_files_gone_trains(tmp_path):
    """Only a list whose files are all gone is refused: Ultralytics skips a missing file as corrupt and trains on
    the rest."""
    data = small_data(tmp_path)
    raw = yaml.safe_load(data.read_text())
    listed = sorted(f"./{p.relative_to(data.parent)}" for p in (data.parent / "images" / "train").iterdir())
    (data.parent / "train.txt").write_text("\n".join([*listed, "./images/train/gone.png"]) + "\n")
    data.write_text(yaml.safe_dump({**raw, "train": "train.txt"}))
    assert check_data(data)["train"].endswith("train.txt")


def test_a_list_of_lines_relative_to_its_own_folder_is_refused_saying_why(tmp_path, monkeypatch):
    """Ultralytics reads a line without './' from the working folder: such a list passed the checks (they found its
    images from the list's folder), then Ultralytics' loader found none, and the line said only "No valid images"."""
    data = small_data(tmp_path)
    raw = yaml.safe_load(data.read_text())
    listed = sorted(str(p.relative_to(data.parent)) for p in (data.parent / "images" / "train").iterdir())
    (data.parent / "train.txt").write_text("\n".join(listed) + "\n")
    data.write_text(yaml.safe_dump({**raw, "train": "train.txt"}))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=r"its train list .* names 'images/train/.*', which Ultralytics reads from the "
                                        r"working folder .*: start each line with './'") as e:
        check_data(data)
    assert "\n" not in str(e.value)
    from yolodistill.data import rescued_line  # a line that names no image Ultralytics leaves out: no refusal

    assert rescued_line(data.parent / "train.txt", ["data.yaml", "./images/train/x.png"]) is None


def test_train_batch_edges():
    """0 and 1.0 are neither a whole batch nor a fraction (a float batch reached the data loader, after the run
    folder); -1, 1 and fractions below 1 are what Ultralytics trains with."""
    from yolodistill.checks import check_train_batch

    for batch in (-1, 1, 16, 0.5):
        check_train_batch(batch)
    for batch in (0, -2, 1.0, 0.0, True):
        with pytest.raises(UserError, match=f"got {batch!r}$"):
            check_train_batch(batch)


def test_autobatch_on_several_gpus_is_refused_before_any_work(monkeypatch):
    """Ultralytics refuses AutoBatch under DDP with a ValueError traceback once the run folder exists."""
    import torch

    from yolodistill.checks import check_train_batch, gpu_count

    assert [gpu_count(d) for d in (None, "", "cpu", "0", 0, "cuda:0", "0,1", [0, 1], "0,1,2,3", "mps")] == \
        [0, 0, 0, 1, 1, 1, 2, 2, 4, 0]
    for batch, device in ((-1, "0"), (0.7, "0"), (16, "0,1"), (-1, "cpu"), (-1, None)):
        check_train_batch(batch, device)
    for batch, device in ((-1, "0,1"), (0.7, [0, 1])):
        with pytest.raises(UserError, match=f"--batch {batch} \\(AutoBatch\\) runs on one GPU, and --device .* "
                                            "names 2: pass a whole batch, e.g. --batch 16"):
            check_train_batch(batch, device)
    # each GPU takes batch // GPUs: 0 failed in every worker's data loader, 3 over 2 trained 2 recorded as 3
    for batch, device, use in ((1, "0,1", 2), (3, [0, 1], 2), (6, "0,1,2,3", 4)):
        n = gpu_count(device)
        with pytest.raises(UserError, match=rf"^--batch {batch} is split over the {n} GPUs of --device .* as batch // "
                                            rf"{n}: .*; pass a multiple of {n}, e.g. --batch {use}$"):
            check_train_batch(batch, device)
    from yolodistill.resume import check_resumed_values  # a resume's new device against its recorded batch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # the recorded "0,1" is there: two GPUs
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)

    with pytest.raises(UserError, match="--batch -1 \\(AutoBatch\\) runs on one GPU"):
        check_resumed_values({"device": "0,1"}, {"batch": -1, "device": "0"})
    with pytest.raises(UserError, match="--batch 0.7 \\(AutoBatch\\) runs on one GPU"):
        check_resumed_values({"batch": 0.7}, {"batch": 16, "device": "0,1"})
    check_resumed_values({"device": "0,1"}, {"batch": 16, "device": "0"})
    check_resumed_values({"workers": 2}, {"batch": -1, "device": "0,1"})  # the run's own pair: Ultralytics' to judge
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)  # moved to a machine with one: a ValueError traceback
    with pytest.raises(UserError, match=r"^the run trained on --device 0,1, which this machine does not have: resume "
                                        r"it with --device \(e.g. --device cpu\), which a resume may change$"):
        check_resumed_values({"workers": 2}, {"batch": 16, "device": "0,1"})
    check_resumed_values({"device": "0"}, {"batch": 16, "device": "0,1"})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    with pytest.raises(UserError, match=r"^the run trained on --device 0, which this machine does not have"):
        check_resumed_values({}, {"batch": 16, "device": "0"})
    check_resumed_values({}, {"batch": 16, "device": "cpu"})
    check_resumed_values({}, {"batch": 16, "device": None})  # auto: Ultralytics' own pick


def test_a_data_yaml_over_voc_images_is_told_to_convert_the_voc(teacher26, tmp_path, monkeypatch):
    """train advised `data convert DATA.yaml --format yolo`, which then found no box: the XML beside the images is
    what to convert."""
    from .builders import make_voc

    voc = make_voc(tmp_path / "set" / "voc")
    (tmp_path / "set" / "data.yaml").write_text(f"path: {voc}\ntrain: JPEGImages\nval: JPEGImages\nnames: [cat, dog]\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["train", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data",
                                      "set/data.yaml", "--project", str(tmp_path / "runs"), "--device", "cpu"])
    assert_one_line_error(result, f"its images have Pascal VOC XML annotations near them ({voc / 'Annotations'}/")
    command = result.output.split("convert them with: ")[1].split()
    assert command == ["yolodistill", "data", "convert", str(voc), "--format", "voc", "--out", "set-clean"]
    converted = CliRunner().invoke(app, command[1:])  # the advice works
    assert converted.exit_code == 0 and (tmp_path / "set-clean" / "data.yaml").is_file(), converted.output


def test_cache_and_time_values_ultralytics_trains_with_pass():
    from yolodistill.checks import check_args

    for extra in ({"cache": "RAM"}, {"cache": "disk"}, {"cache": True}, {"cache": False}, {"time": 0}, {"time": 0.5}):
        check_args({"epochs": 1, "imgsz": 64, "batch": 8, **extra}, 32)


def test_bf16_autocast_is_refused_where_it_cannot_run(monkeypatch):
    """amp=bf16 on a CPU was a RuntimeError traceback at the first step, its run folder left to block the command."""
    from yolodistill import devices
    from yolodistill.checks import check_args

    args = {"epochs": 1, "imgsz": 64, "batch": 8, "amp": "bf16"}
    for device in ("cpu", None):
        monkeypatch.setattr(devices.torch.cuda, "is_available", lambda: False)
        with pytest.raises(UserError, match=r"^amp=bf16 needs a CUDA GPU with native bfloat16 \(Ampere or newer\), and "
                                            r"this machine has no CUDA GPU: use amp=True \(fp16\) or amp=False$"):
            check_args({**args, "device": device}, 32)
    monkeypatch.setattr(devices.torch.cuda, "is_available", lambda: True)  # a GPU machine, told to train on its CPU
    monkeypatch.setattr(devices.torch.cuda, "device_count", lambda: 2)
    with pytest.raises(UserError, match=r"which --device cpu is not"):
        check_args({**args, "device": "cpu"}, 32)
    capability = {0: (8, 0), 1: (7, 5)}  # an A100 beside a T4: each GPU named is checked, not the current one
    monkeypatch.setattr(devices.torch.cuda, "get_device_capability", lambda i: capability[i])
    for device in ("0", "cuda:0", None):  # auto: GPU 0
        check_args({**args, "device": device}, 32)
    for device in ("1", "0,1", "2", "-1"):  # -1: an idle GPU of Ultralytics' pick, the T4 as likely
        with pytest.raises(UserError, match=rf"which --device {device} is not"):
            check_args({**args, "device": device}, 32)
    capability[1] = (9, 0)  # two H100s: cuda and -1 are GPUs too, and a physical id Ultralytics maps is its index
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    for device in ("cuda", "-1", "cuda:1", "3", "5", "0,1"):
        check_args({**args, "device": device}, 32)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    capability[1] = (7, 5)
    capability[0] = (7, 0)  # a V100 left at auto: no "this machine has no CUDA GPU"
    with pytest.raises(UserError, match=r"which --device auto is not"):
        check_args({**args, "device": None}, 32)
    for amp in (True, False, "fp16", "fp32"):
        check_args({**args, "amp": amp, "device": "cpu"}, 32)
    from yolodistill.resume import check_resumed_values  # a run of amp=bf16 resumed on a CPU: the same traceback

    capability[0] = (8, 0)
    check_resumed_values({"device": "0"}, {"amp": "bf16", "batch": 8, "device": "0"})
    with pytest.raises(UserError, match=r"^amp=bf16 needs a CUDA GPU .* which --device cpu is not"):
        check_resumed_values({"device": "cpu"}, {"amp": "bf16", "batch": 8, "device": "0"})


def test_optimizer_names_match_in_any_case():
    """Ultralytics matches its optimizer names case-insensitively: optimizer=adamw trains and must not be refused."""
    from yolodistill.checks import check_args

    check_args({"epochs": 1, "imgsz": 64, "batch": 8, "optimizer": "adamw"}, 32)
    with pytest.raises(UserError, match="optimizer=adamx is not one Ultralytics trains with"):
        check_args({"epochs": 1, "imgsz": 64, "batch": 8, "optimizer": "adamx"}, 32)


def test_classes_true_is_no_class_id():
    """classes=True is an int to Python and 1 to NumPy: it trained on class 1 alone without a word."""
    from yolodistill.checks import check_with_models

    for classes in (True, [0, False]):
        with pytest.raises(UserError, match=r"would train on no label"):
            check_with_models({"classes": classes}, 3, None)


def test_classes_given_as_text_from_python_is_named_as_text():
    """train(classes='0') was told "classes=0: ... (classes=0 or ...)", the very thing passed, as the advice."""
    from yolodistill.checks import check_with_models

    with pytest.raises(UserError, match=r"^classes='0': it takes the data's class ids as whole numbers, 0 to 2 .* "
                                        r"and \['0'\] would train"):
        check_with_models({"classes": "0"}, 3, None)


def test_a_p6_pair_needs_an_imgsz_of_its_largest_stride(synth_data, tmp_path):
    """A P6 student's largest stride is 64: imgsz=96 is no multiple of it, and Ultralytics would round it silently."""
    from yolodistill.checks import preflight
    from yolodistill.config import resolve

    teacher = save_checkpoint("yolo26n-p6.yaml", tmp_path / "p6.pt")
    args = dict(resolve(None, epochs=1, imgsz=96, project=str(tmp_path / "runs"))[1])
    with pytest.raises(UserError, match="--imgsz 96 is not a positive multiple of 64"):
        preflight(teacher, "yolo26n-p6.yaml", synth_data, args)


def test_a_rate_the_default_optimizer_ignores_is_a_warning(teacher26, synth_data, tmp_path):
    """optimizer=auto (the default) ignores lr0= and momentum=: the docs' own example (lr0=0.005) changed nothing,
    said only in one Ultralytics line among the run's start, while distill.yaml recorded the rate."""
    args = dict(epochs=1, imgsz=64, batch=8, workers=0, device="cpu", project=str(tmp_path))
    for extra, said in (({"lr0": 0.0123}, "lr0=0.0123: optimizer=auto (the default) ignores it and picks the "
                         "optimizer and its rate itself; add optimizer=SGD (or AdamW) to train with it"),
                        ({"lr0": 0.0124, "momentum": 0.8}, "lr0=0.0124 and momentum=0.8: optimizer=auto"),
                        ({"lr0": 0.0125, "optimizer": "SGD"}, None)):
        with logged_by_ultralytics() as logged:
            preflight(teacher26, "yolo26n.yaml", synth_data, {**args, **extra})
        warned = [m for m in logged if "optimizer=auto" in m]
        assert warned == ([] if said is None else [m for m in logged if said in m])
        assert said is None or any(said in m for m in logged), logged


def test_split_refusals_takes_the_loader_s_words_only_from_the_loader(synth_data):
    """A file gone mid-run ('... does not exist') read as a data problem, with data convert's advice; the same words
    from Ultralytics' dataset builder are one."""
    from ultralytics.data.base import BaseDataset

    from yolodistill.checks import split_refusals

    with pytest.raises(FileNotFoundError, match="teacher.pt does not exist"):
        with split_refusals(synth_data):
            raise FileNotFoundError("teacher.pt does not exist")
    with pytest.raises(UserError, match="Error loading data from .*gone; check and clean it with: yolodistill data convert"):
        with split_refusals(synth_data):
            dataset = BaseDataset.__new__(BaseDataset)
            dataset.prefix = ""
            dataset.get_img_files(str(Path(synth_data).parent / "gone"))


def test_a_run_folder_of_a_byte_no_utf8_has_is_one_line(teacher26, synth_data, tmp_path):
    """--project with a Latin-1 byte in its name: a UnicodeEncodeError traceback in the name-length check, then in
    Ultralytics' args.yaml once the folder was made; plain Ultralytics cannot write that folder either."""
    from yolodistill.train import train

    project = tmp_path / b"r\xe9s".decode("utf-8", "surrogateescape")
    with pytest.raises(UserError, match=r"run folder '.*r\\xe9s/a' has a byte that is no UTF-8 in its name"):
        train(teacher26, "yolo26n.yaml", synth_data, project=project, name="a", epochs=1, imgsz=64, device="cpu")
    assert not project.exists()
