"""Unlabelled images: mixed into each batch at the set ratio, through the same augmentation; kept out of the
detection loss; taught by the teacher alone; checked before anything is written; carried by resume."""

from __future__ import annotations

import csv
import math
import os
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from ultralytics.nn.tasks import load_checkpoint

from yolodistill.config import DistillConfig, resolve
from yolodistill.errors import UserError
from yolodistill.model import KD_TERMS, UNLABELED_TERMS, KDModel, head_branches
from yolodistill.train import train
from yolodistill.unlabeled import MixedBatchSampler, check_sources, find_images, unlabeled_sources

from .test_features import with_batch_statistics
from .test_model import make_batch, make_student

FAST = dict(epochs=1, imgsz=64, batch=8, workers=0, device="cpu", plots=False)


@pytest.fixture(scope="module")
def footage(tmp_path_factory) -> Path:
    """A folder of unlabelled images in subfolders, as footage arrives: images of another synthetic set (not the
    data's val split, which is refused) without labels, a stray .txt that must not be read as labels, and one file
    that is not an image at all."""
    from yolodistill.data import make_synthetic

    other = make_synthetic(tmp_path_factory.mktemp("other"), images=32, classes=3, imgsz=96, seed=1).parent
    root = tmp_path_factory.mktemp("footage")
    for i, img in enumerate(sorted((other / "images" / "val").iterdir())):
        sub = root / f"cam{i % 2}"
        sub.mkdir(exist_ok=True)
        shutil.copy(img, sub / img.name)
        (sub / f"{img.stem}.txt").write_text("0 0.5 0.5 0.9 0.9\n")  # not a label: never read
    (root / "cam0" / "broken.jpg").write_bytes(b"not a jpeg")
    return root


def test_sampler_mixes_the_set_ratio_and_covers_the_labelled_set():
    sampler = MixedBatchSampler(n_labelled=10, n_unlabelled=7, batch=4, ratio=0.5, seed=1)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 5
    for b in batches:
        assert len(b) == 4 and all(i < 10 for i in b[:2]) and all(i >= 10 for i in b[2:])  # labelled first
    assert sorted(i for b in batches for i in b[:2]) == list(range(10))  # an epoch: each labelled image once
    drawn = [i - 10 for b in batches for i in b[2:]]
    assert sorted(drawn[:7]) == list(range(7))  # every unlabelled image before any repeats
    assert list(sampler) != batches  # a new shuffle next epoch
    assert list(MixedBatchSampler(10, 7, batch=4, ratio=0.5, seed=1)) == batches  # seeded by (seed, pass)
    quarter = MixedBatchSampler(10, 7, batch=8, ratio=0.25)
    assert (quarter.k_labelled, quarter.k_unlabelled) == (6, 2)


def test_each_pass_reshuffles_the_labelled_images():
    """A new epoch, a new order of the labelled images (the unlabelled draws moving on alone would hide a repeat)."""
    sampler = MixedBatchSampler(n_labelled=10, n_unlabelled=7, batch=4, ratio=0.5, seed=1)
    orders = [[i for b in sampler for i in b[:2]] for _ in range(3)]
    assert all(sorted(o) == list(range(10)) for o in orders) and len({tuple(o) for o in orders}) == 3


def test_every_unlabelled_image_is_drawn_before_any_repeats_across_passes():
    """Each pass started a fresh permutation and kept only its first draws: 20 passes of 12 draws reached 88 of 100
    images, where the docstring promised each before any repeats."""
    sampler = MixedBatchSampler(n_labelled=12, n_unlabelled=100, batch=4, ratio=0.5, seed=0)
    drawn = [i - 12 for _ in range(20) for b in sampler for i in b[2:]]
    assert len(drawn) == 240 and sorted(drawn[:100]) == list(range(100)) and sorted(drawn[100:200]) == list(range(100))
    again = MixedBatchSampler(n_labelled=12, n_unlabelled=100, batch=4, ratio=0.5, seed=0)
    assert [i - 12 for _ in range(20) for b in again for i in b[2:]] == drawn  # still seeded


def test_ddp_ranks_stay_disjoint_when_the_images_do_not_split_evenly():
    """Carried over passes, shards of unequal length (101 images on 3 ranks) let the ranks drift into drawing the same
    image at the same step; each permutation is wrapped to a multiple of the ranks, as the labelled one is."""
    samplers = [MixedBatchSampler(12, 101, batch=4, ratio=0.5, seed=0, rank=r, world_size=3) for r in range(3)]
    for _ in range(60):  # drift began after the shortest shard's first refill (pass 9)
        steps = zip(*[list(s) for s in samplers])
        for step in steps:
            drawn = [set(b[2:]) for b in step]
            assert not (drawn[0] & drawn[1] or drawn[0] & drawn[2] or drawn[1] & drawn[2])
    few = [list(MixedBatchSampler(4, 2, batch=4, ratio=0.5, rank=r, world_size=3)) for r in range(3)]  # 2 on 3 ranks
    assert all(len(b) == 4 and all(i >= 4 for i in b[2:]) for s in few for b in s)


def test_ddp_ranks_get_equal_batches_and_disjoint_images():
    """Under DDP a rank with one batch fewer would hang the others at the gradient all-reduce; and ranks that drew
    the same unlabelled images would spend the extra GPUs on copies."""
    samplers = [MixedBatchSampler(9, 6, batch=4, ratio=0.5, seed=1, rank=r, world_size=2) for r in (0, 1)]
    shards = [list(s) for s in samplers]
    assert len(shards[0]) == len(shards[1]) == len(samplers[0]) == len(samplers[1]) == 3
    labelled = [i for s in shards for b in s for i in b if i < 9]
    assert sorted(set(labelled)) == list(range(9)) and len(labelled) == 10  # all of them, one wrapped around
    first = [{i for b in s[:1] for i in b if i >= 9} for s in shards]
    assert first[0] and first[1] and not first[0] & first[1]  # the same permutation, sharded


def test_find_images_skips_what_it_cannot_read(footage):
    images, shapes, bad = find_images([footage])
    assert len(images) == 8 and all(Path(f).suffix == ".png" for f in images)  # the .txt files are not images
    assert [Path(b).name for b in bad] == ["broken.jpg"]
    assert all(h > 0 and w > 0 for h, w in shapes.values())


def test_an_image_whose_data_does_not_decode_is_skipped(footage, tmp_path):
    """A JPEG whose header verifies but whose scan names a component it lacks: PIL's verify() passed it, then
    Ultralytics' loader failed mid-run ('Image Not Found') and pseudo-label's predict with an OSError."""
    import cv2

    good = sorted(footage.rglob("*.png"))[0]
    cv2.imwrite(str(tmp_path / "ok.jpg"), cv2.imread(str(good)))
    data = bytearray((tmp_path / "ok.jpg").read_bytes())
    data[data.find(b"\xff\xda") + 5] = 9  # the scan's first component id: no such component
    (tmp_path / "bad.jpg").write_bytes(bytes(data))
    images, _, bad = find_images([tmp_path])
    assert [Path(f).name for f in images] == ["ok.jpg"] and [Path(b).name for b in bad] == ["bad.jpg"]
    (tmp_path / "fixed.jpg").write_bytes((tmp_path / "ok.jpg").read_bytes())
    os.replace(tmp_path / "fixed.jpg", tmp_path / "bad.jpg")  # replaced by a good one: read again, not cached
    assert len(find_images([tmp_path])[0]) == 2


def test_find_images_follows_linked_folders(footage, tmp_path):
    """Footage often arrives as links to cameras' folders; Ultralytics' own glob follows them."""
    (tmp_path / "cams").mkdir()
    (tmp_path / "cams" / "cam0").symlink_to(footage / "cam0", target_is_directory=True)
    images, _, bad = find_images([tmp_path / "cams"])
    assert len(images) == 4 and [Path(b).name for b in bad] == ["broken.jpg"]


def test_unlabelled_images_give_no_detection_loss_and_live_distillation_terms(teacher26):
    """Two labelled and two unlabelled images: the detection loss is that of the labelled pair alone, the unlabelled
    terms are finite and non-zero, and teacher and student see the very same pixels."""
    teacher = with_batch_statistics(load_checkpoint(teacher26)[0])
    settings = DistillConfig(kd_cls=1.0, kd_box=1.0, kd_feat=1.0, feat_loss="l2", unlabeled=["x"], unlabeled_conf=0.0)
    model = KDModel(teacher, with_batch_statistics(make_student()), settings).train()
    for m in model.student_model.modules():  # running statistics: each image's output independent of the others'
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
    batch = make_batch(b=4)
    batch["unlabeled"] = torch.tensor([False, False, True, True])
    seen = {}
    model.teacher_model.register_forward_pre_hook(lambda m, a: seen.__setitem__("teacher", a[0]))
    model.student_model.register_forward_pre_hook(lambda m, a: seen.__setitem__("student", a[0]))
    given, assign = {}, model.assign
    model.assign = lambda teacher: given.setdefault("teacher", teacher) and assign(teacher)
    torch.manual_seed(0)
    loss, items = model.loss(batch)
    assert seen["teacher"] is seen["student"] is batch["img"]
    assert loss.shape[0] == 3 + len(KD_TERMS) + len(UNLABELED_TERMS)
    for k in UNLABELED_TERMS:
        assert math.isfinite(items[k].item()) and items[k].item() > 0, k
    labelled = {"img": batch["img"][:2], **{k: batch[k] for k in ("batch_idx", "cls", "bboxes")}}
    assign(given["teacher"])  # LAD (the default): the loss's own teacher predictions rank the labelled pair again
    alone, _ = model.student_model.loss(labelled, model.student_model(labelled["img"]))
    torch.testing.assert_close(loss[:3], alone)  # the unlabelled images add nothing to detection
    loss.sum().backward()  # and their terms reach the student
    assert sum(p.grad.abs().sum() for p in model.student_model.parameters() if p.grad is not None) > 0


def test_pseudo_mode_labels_unlabelled_images_with_the_teachers_detections(teacher26):
    teacher = load_checkpoint(teacher26)[0]
    batch = make_batch(b=4)
    batch["unlabeled"] = torch.tensor([False, False, True, True])
    model = KDModel(teacher, make_student(), DistillConfig(unlabeled=["x"], unlabeled_mode="pseudo",
                                                           unlabeled_conf=0.0)).train()
    t = head_branches(model.teacher_model(batch["img"]))
    det_batch, _, _ = model.detection_inputs(batch, None, t, slice(0, 2))
    added = det_batch["batch_idx"][len(batch["batch_idx"]):]
    assert len(added) > 0 and set(added.tolist()) <= {2.0, 3.0}  # pseudo-labels on the unlabelled images only
    assert torch.equal(det_batch["batch_idx"][:2], batch["batch_idx"])  # the true labels kept
    assert (det_batch["bboxes"] >= 0).all() and (det_batch["bboxes"][:, 2:] <= 1.0001).all()  # normalised xywh
    _, items = model.loss(batch)
    assert all(items[k].item() == 0 for k in UNLABELED_TERMS)  # pseudo alone: no soft terms


def test_pseudo_mode_with_every_weight_at_zero_still_labels_the_unlabelled_images(teacher26, monkeypatch):
    """With every weight at 0 the teacher was freed and the unlabelled images entered the detection loss without a
    label, as all background; the check that accepts this run must meet a loss that labels them."""
    import yolodistill.model as model_module

    calls, real = [], model_module.pseudo_labels
    monkeypatch.setattr(model_module, "pseudo_labels", lambda *a, **k: calls.append(1) or real(*a, **k))
    batch = make_batch(b=4)
    batch["unlabeled"] = torch.tensor([False, False, True, True])
    off = dict(kd_cls=0.0, kd_box=0.0, kd_feat=0.0)
    settings = DistillConfig(unlabeled=["x"], unlabeled_mode="pseudo", unlabeled_conf=0.0, **off)
    model = KDModel(load_checkpoint(teacher26)[0], make_student(), settings).train()
    assert model.teacher_model is not None
    loss, items = model.loss(batch)
    assert calls == [1] and torch.isfinite(loss).all() and all(items[k].item() == 0 for k in KD_TERMS)


def test_one_epoch_with_unlabelled_folders(teacher26, synth_data, footage, tmp_path):
    result = train(teacher26, "yolo26n.yaml", synth_data, project=tmp_path, name="run", unlabeled=[str(footage)],
                   unlabeled_ratio=0.25, kd_feat=1.0, unlabeled_conf=0.0, **FAST)
    with open(result.save_dir / "results.csv") as f:
        (row,) = [{k.strip(): float(v) for k, v in r.items()} for r in csv.DictReader(f)]
    for k in (*KD_TERMS, *UNLABELED_TERMS):
        assert math.isfinite(row[f"train/{k}"]) and row[f"train/{k}"] > 0, k
    recipe = yaml.safe_load((result.save_dir / "distill.yaml").read_text())
    assert recipe["images"] == {"labelled": 24, "unlabeled": 8, "unlabeled_skipped": 1, "batch_labelled": 6,
                                "batch_unlabeled": 2}
    assert recipe["distill"]["unlabeled"] == [str(footage.resolve())]
    assert not list(footage.rglob("*.cache")) and not (footage.parent / f"{footage.name}.cache").exists()


def test_ultralytics_reads_the_size_of_the_last_mixed_batch(teacher26, synth_data, footage, tmp_path):
    """Ultralytics takes len(loader.sampler) % batch for the last batch's size and refuses a last batch of 1 below
    imgsz 64. The mixed sampler's length counted batches: 24 labelled images, 3 + 4 per batch, are 8 batches of 7,
    read as a last batch of 1 (8 % 7), and the run was refused."""
    from yolodistill.unlabeled import SamplerView

    view = SamplerView(MixedBatchSampler(n_labelled=24, n_unlabelled=8, batch=7, ratio=0.5))
    assert (view.k_labelled, view.k_unlabelled, len(view.batches), len(view)) == (3, 4, 8, 56)
    ragged = MixedBatchSampler(n_labelled=25, n_unlabelled=8, batch=7, ratio=0.5)  # a last batch of 1 + 4
    assert len(SamplerView(ragged)) % 7 == len(list(ragged)[-1]) == 5
    result = train(teacher26, "yolo26n.yaml", synth_data, project=tmp_path, name="run", unlabeled=[str(footage)],
                   **{**FAST, "imgsz": 32, "batch": 7})
    assert (result.save_dir / "weights" / "best.pt").is_file()


def test_mosaics_never_mix_the_two_kinds_and_close_mosaic_ends_both(synth_data, footage):
    """The README's promise: an unlabelled mosaic is of unlabelled images only (a labelled tile would bring its boxes
    in), each batch holds its share of each kind, and close_mosaic switches both datasets off together."""
    from ultralytics.cfg import get_cfg
    from ultralytics.data import build_yolo_dataset
    from ultralytics.data.augment import Mosaic
    from ultralytics.data.utils import check_det_dataset

    from yolodistill.unlabeled import mixed_loader

    cfg = get_cfg(overrides={"imgsz": 64, "batch": 8, "mosaic": 1.0, "close_mosaic": 1, "workers": 0})
    data = check_det_dataset(str(synth_data))
    labelled = build_yolo_dataset(cfg, data["train"], 8, data, mode="train", stride=32)
    loader, _ = mixed_loader(labelled, cfg, [str(footage)], 0.25, 8, data, 32, 0, -1, 1, 0)
    dataset = loader.dataset
    batches = [next(iter(loader)) for _ in range(4)]
    for batch in batches:
        assert batch["unlabeled"].tolist() == [False] * 6 + [True] * 2
        assert set(batch["batch_idx"].long().tolist()) <= set(range(6))  # boxes on labelled images only
    assert sum(len(b["batch_idx"]) for b in batches) > 0

    def mosaics(ds) -> bool:  # a Mosaic that is ever applied
        return any(isinstance(t, Mosaic) and t.p > 0 for t in ds.transforms.transforms[0].transforms)

    assert mosaics(dataset.labelled) and mosaics(dataset.unlabelled)
    dataset.close_mosaic(cfg)  # as Ultralytics' trainer calls it on its loader's dataset
    assert not mosaics(dataset.labelled) and not mosaics(dataset.unlabelled)


def test_data_yaml_unlabeled_key_and_resume_keep_the_sources(teacher26, synth_data, footage, tmp_path):
    from yolodistill.resume import check_resume
    from yolodistill.unlabeled import unlabeled_sources

    data = yaml.safe_load(synth_data.read_text())
    data["unlabeled"] = [str(footage)]
    mine = tmp_path / "data.yaml"
    mine.write_text(yaml.safe_dump(data))
    assert unlabeled_sources(DistillConfig(), mine).unlabeled == [str(footage.resolve())]
    assert unlabeled_sources(DistillConfig(), synth_data).unlabeled == []  # none declared: none used

    from yolodistill.train import DistillationTrainer

    from .test_train import make_trainer

    first = make_trainer(teacher26, synth_data, tmp_path, "run", epochs=2, unlabeled=[str(footage.resolve())])

    class Stop(Exception):
        pass

    def stop(t):
        raise Stop

    first.add_callback("on_model_save", stop)
    with pytest.raises(Stop):
        first.train()
    moved = footage.parent / f"{footage.name}-moved"
    footage.rename(moved)  # a resume whose unlabelled folder is gone: one line, before any work
    try:
        with pytest.raises(UserError, match="the resumed run's unlabelled folder .* does not exist: put it back there, or start a new run"):
            check_resume(tmp_path / "run" / "weights" / "last.pt", {})
    finally:
        moved.rename(footage)
    args, distill, _ = check_resume(tmp_path / "run" / "weights" / "last.pt", {})
    assert distill.unlabeled == [str(footage.resolve())]
    resumed = DistillationTrainer(overrides=args, distill=distill)
    resumed.train()
    assert yaml.safe_load((tmp_path / "run" / "distill.yaml").read_text())["images"]["unlabeled"] == 8


def test_a_bad_unlabeled_entry_in_the_data_yaml_is_named_as_such(synth_data, tmp_path):
    from yolodistill.unlabeled import unlabeled_sources

    data = yaml.safe_load(synth_data.read_text())
    mine = tmp_path / "data.yaml"
    for entry, message in [(5, "must be a folder or a list of folders"), ({"a": 1}, "must be a folder or a list"),
                           (["nothere"], "'unlabeled:' entry of .* does not exist")]:
        mine.write_text(yaml.safe_dump({**data, "unlabeled": entry}))
        with pytest.raises(UserError, match=message) as e:
            unlabeled_sources(DistillConfig(), mine)
        assert "--unlabeled" not in str(e.value)  # the user wrote the data yaml, not the flag
    for key in ("unlabelled", "Unlabeled"):  # read as no folder at all, silently
        mine.write_text(yaml.safe_dump({**data, key: "somewhere"}))
        with pytest.raises(UserError, match=f"^'{key}:' in '{mine}' is not read: the key is 'unlabeled:'; rename it$"):
            unlabeled_sources(DistillConfig(), mine)


def test_videos_in_the_footage_are_named_not_dropped_without_a_word(footage, tmp_path):
    """Footage is often clips: a .mp4 beside the images was left out with no word, and a folder of clips alone was
    'no readable images'. Nothing under the footage folder is written."""
    import shutil

    from .conftest import logged_by_ultralytics

    mixed, clips = tmp_path / "mixed", tmp_path / "clips"
    shutil.copytree(footage, mixed)
    clips.mkdir()
    for folder in (mixed, clips):
        (folder / "cam0.mp4").write_bytes(b"not decoded")
    with logged_by_ultralytics() as logged:
        assert check_sources([mixed]) == [str(mixed.resolve())]
    said = f"WARNING ⚠️ --unlabeled: 1 video(s) left out, e.g. {mixed / 'cam0.mp4'}: only images are read; extract "
    assert [m for m in logged if "video" in m] == [said + "their frames to use them (e.g. ffmpeg -i clip.mp4 -vf fps=2 "
                                                   "frames/%06d.jpg)"]
    with pytest.raises(UserError, match="no readable images and 1 video.s., which are not read: extract their frames"):
        check_sources([clips])
    with logged_by_ultralytics() as logged:
        check_sources([footage])
    assert not [m for m in logged if "video" in m]


def test_bad_unlabelled_sources_are_one_line(synth_data, footage, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    train_images = sorted(str(p) for p in (synth_data.parent / "images" / "train").iterdir())
    cases = [([tmp_path / "missing"], "does not exist"), ([synth_data], "is not a folder"),
             ([empty], "no readable images"), ([synth_data.parent / "images"], "holds 24 of the labelled training"),
             ([""], "^--unlabeled must be the path of a folder, got ''$"),  # '' was the working folder, trained on
             ([5], "^--unlabeled must be the path of a folder, got 5$")]
    for folders, message in cases:
        with pytest.raises(UserError, match=message):
            check_sources(folders, train_images)
    assert check_sources([footage], train_images) == [str(footage.resolve())]
    val = synth_data.parent / "images" / "val"  # trained on, they would flatter the val mAP that picks best.pt
    with pytest.raises(UserError, match="holds 8 of the data's val/test images"):
        unlabeled_sources(DistillConfig(unlabeled=[str(val)]), synth_data)


def test_copies_of_val_or_train_images_are_refused_as_footage(synth_data, footage, tmp_path):
    """Only the files themselves were refused (by real path): a val image copied into the footage was trained on."""
    mixed = tmp_path / "mixed"
    shutil.copytree(footage, mixed)
    val = sorted((synth_data.parent / "images" / "val").iterdir())
    shutil.copy(val[0], mixed / "cam0" / "renamed.png")
    with pytest.raises(UserError, match=r"holds 1 of the data's val/test images \(or copies\), first '.*renamed.png'"):
        unlabeled_sources(DistillConfig(unlabeled=[str(mixed)]), synth_data)
    train = sorted(str(p) for p in (synth_data.parent / "images" / "train").iterdir())
    shutil.copy(train[0], mixed / "cam1" / "also.png")
    with pytest.raises(UserError, match=r"holds 1 of the labelled training images themselves \(or copies\), first "
                                        r"'.*also.png'"):  # named: in a footage folder of thousands, findable
        check_sources([mixed], train)
    assert check_sources([footage], train, held_out=[str(v) for v in val]) == [str(footage.resolve())]
    gone = tmp_path / "gone.png"  # a split image that cannot be read is no copy of anything, not a traceback
    assert check_sources([footage], [str(gone)]) == [str(footage.resolve())]


def test_rect_batches_cannot_mix_unlabelled_images(footage):
    from yolodistill.recipe import check_recipe

    with pytest.raises(UserError, match="rect=True"):
        check_recipe(DistillConfig(unlabeled=[str(footage)]), "yolo26n.yaml", {"rect": True})
    check_recipe(DistillConfig(unlabeled=[str(footage)]), "yolo26n.yaml", {"rect": False})


def test_batch_one_and_pseudo_mode_without_weights(footage):
    """--batch 1 trained with no unlabelled image at all, silently; pseudo mode with every weight at 0 was refused
    as if the images were learned from the distillation terms, where the teacher's detections label them."""
    from yolodistill.recipe import check_recipe

    with pytest.raises(UserError, match="--batch 1 leaves no room for unlabelled images"):
        check_recipe(DistillConfig(unlabeled=[str(footage)]), "yolo26n.yaml", {"batch": 1})
    with pytest.raises(UserError, match=r"--batch 2 \(2 over 2 GPUs\) leaves no room .*: use --batch 4 or more"):
        check_recipe(DistillConfig(unlabeled=[str(footage)]), "yolo26n.yaml", {"batch": 2, "device": "0,1"})
    check_recipe(DistillConfig(unlabeled=[str(footage)]), "yolo26n.yaml", {"batch": 4, "device": "0,1"})
    off = dict(kd_cls=0.0, kd_box=0.0, kd_feat=0.0, init_from_teacher=False)
    for mode in ("pseudo", "both"):  # the recipe a .pt student gets (its trained_student block)
        distill, _ = resolve(None, student="yolo26n.pt", unlabeled=[str(footage)], unlabeled_mode=mode, **off)
        check_recipe(distill, "yolo26n.pt", {"batch": 4})
    with pytest.raises(UserError, match="in soft mode"):
        check_recipe(DistillConfig(unlabeled=[str(footage)], **off), "yolo26n.pt", {"batch": 4})


def test_unlabelled_with_every_weight_off_is_refused(teacher26, synth_data, footage, tmp_path):
    with pytest.raises(UserError, match="in soft mode unlabelled images are learned from the distillation terms alone"):
        train(teacher26, "yolo26n.yaml", synth_data, project=tmp_path, name="off", unlabeled=[str(footage)],
              kd_cls=0, kd_box=0, kd_feat=0, **FAST)
    assert not (tmp_path / "off").exists()


@pytest.mark.parametrize("command, where", [("train", {}), ("compare", {}),
                                            ("train", {"project": "../runs", "name": "../foot/x"})])
def test_a_run_written_inside_its_unlabelled_folder_is_refused(teacher26, synth_data, footage, tmp_path,
                                                              monkeypatch, command, where):
    """Run from the footage folder (--unlabeled .), the run's plots, val images among them, were read as unlabelled
    images by the next run: 30 images became 46. A name can lead back into it from a project outside."""
    import shutil

    from yolodistill.compare import compare

    shutil.copytree(footage, tmp_path / "foot")
    monkeypatch.chdir(tmp_path / "foot")
    go = train if command == "train" else lambda *a, **k: compare(*a, seeds=0, methods="ours", **k)
    with pytest.raises(UserError, match=r"the run writes into '.*', inside the unlabelled folder '.*foot': the next "
                                        "run would read its plots"):
        go(teacher26, "yolo26n.yaml", synth_data, unlabeled=["."], **{**FAST, "plots": True, **where})
    assert sorted(p.name for p in (tmp_path / "foot").iterdir()) == sorted(p.name for p in footage.iterdir())
    assert unlabeled_sources(DistillConfig(unlabeled=["."]), synth_data, tmp_path / "elsewhere").unlabeled == [
        str((tmp_path / "foot").resolve())]  # a project outside it is fine


def test_a_run_folder_a_link_in_the_unlabelled_folder_reaches_is_refused(synth_data, footage, tmp_path):
    """The images are gathered through linked folders, so a link inside the footage to the project made the next run
    read this run's plots (val mosaics among them) as footage: 18 images became 32, with no word. An empty path was
    blamed on --project."""
    import shutil

    foot = Path(shutil.copytree(footage, tmp_path / "foot"))
    (tmp_path / "runs").mkdir()
    (foot / "r").symlink_to(tmp_path / "runs", target_is_directory=True)
    with pytest.raises(UserError, match=r"inside the unlabelled folder '.*foot' \(through '.*foot/r'\): the next "
                                        "run would read its plots"):
        unlabeled_sources(DistillConfig(unlabeled=[str(foot)]), synth_data, tmp_path / "runs" / "exp")
    assert unlabeled_sources(DistillConfig(unlabeled=[str(foot)]), synth_data, tmp_path / "other" / "exp").unlabeled
    with pytest.raises(UserError, match="^--unlabeled must be the path of a folder, got ''"):
        unlabeled_sources(DistillConfig(unlabeled=[""]), synth_data, tmp_path / "runs" / "exp")


def test_unlabeled_given_beside_the_yaml_s_own_says_it_replaces_them(synth_data, footage, tmp_path):
    """--help said 'also unlabeled: in the data yaml', and the yaml's folders were dropped without a word when the
    flag was given."""
    from .conftest import logged_by_ultralytics

    data = tmp_path / "data.yaml"
    data.write_text(yaml.safe_dump({**yaml.safe_load(synth_data.read_text()), "path": str(synth_data.parent),
                                    "unlabeled": [str(footage / "cam0")]}))
    with logged_by_ultralytics() as logged:
        got = unlabeled_sources(DistillConfig(unlabeled=[str(footage / "cam1")]), data, tmp_path / "runs")
    assert got.unlabeled == [str((footage / "cam1").resolve())]
    assert any("--unlabeled replaces the 'unlabeled:' entry of" in m for m in logged), logged
    with logged_by_ultralytics() as logged:
        got = unlabeled_sources(DistillConfig(), data, tmp_path / "runs")
    assert got.unlabeled == [str((footage / "cam0").resolve())] and not any("replaces" in m for m in logged)


def test_a_resume_on_a_grown_unlabelled_folder_is_refused(teacher26, synth_data, footage, tmp_path):
    """Footage added since the run started was trained on at the resume without a word, and distill.yaml then gave
    the new count for the whole run."""
    import cv2
    import numpy as np

    from yolodistill.checks import preflight
    from yolodistill.config import resolve
    from yolodistill.train import DistillationTrainer

    from .conftest import Interrupt, interrupt_after_first_epoch

    foot = Path(shutil.copytree(footage, tmp_path / "foot"))
    distill, args = resolve(None, epochs=2, imgsz=64, batch=8, workers=0, device="cpu", plots=False,
                            project=str(tmp_path), name="run", unlabeled=[str(foot)])
    plan = preflight(teacher26, "yolo26n.yaml", synth_data, args)
    first = DistillationTrainer(overrides=plan.args, distill=unlabeled_sources(distill, synth_data, tmp_path / "run"),
                                teacher=plan.teacher)
    first.add_callback("on_model_save", interrupt_after_first_epoch)
    with pytest.raises(Interrupt):
        first.train()
    recorded = yaml.safe_load((tmp_path / "run" / "distill.yaml").read_text())["images"]
    cv2.imwrite(str(foot / "new.png"), np.random.default_rng(3).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    with pytest.raises(UserError, match=rf"hold {recorded['unlabeled'] + 1} readable images now and held "
                                        rf"{recorded['unlabeled']} when the run started"):
        train(resume=tmp_path / "run" / "weights" / "last.pt")
    assert yaml.safe_load((tmp_path / "run" / "distill.yaml").read_text())["images"] == recorded
    (foot / "new.png").unlink()
    assert train(resume=tmp_path / "run" / "weights" / "last.pt").best.is_file()  # as it was: it resumes


def test_many_unlabelled_images_are_read_under_a_progress_bar(tmp_path, capsys, monkeypatch):
    """Every image is decoded before training starts (about 11 minutes for 100 000 frames on 2 cores), with no word:
    a bar shows from BAR_FROM images on, none for a few."""
    import cv2
    import numpy as np

    import yolodistill.unlabeled as unlabeled

    for i in range(6):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.zeros((32, 32, 3), np.uint8))
    for bar_from, shown in ((7, False), (6, True)):
        monkeypatch.setattr(unlabeled, "BAR_FROM", bar_from)
        assert len(find_images([tmp_path])[0]) == 6
        out = capsys.readouterr()
        assert ("Reading unlabelled images" in out.out + out.err) is shown, bar_from


def test_unlabelled_box_term_is_gated_by_confidence_and_the_feature_term_is_not(teacher26):
    """Where the teacher is confident nowhere, no box is distilled on unlabelled images; the feature term, which
    needs no boxes, still teaches (what the README and the recipe's comment say). The teacher's soft count of
    objects is then 0, and the terms it divides stay finite."""
    teacher = load_checkpoint(teacher26)[0]
    batch = make_batch(b=4)
    batch["unlabeled"] = torch.tensor([False, False, True, True])
    settings = DistillConfig(kd_cls=1.0, kd_box=1.0, kd_feat=1.0, feat_loss="cwd", unlabeled=["x"],
                             unlabeled_conf=0.9999)
    model = KDModel(teacher, make_student(), settings).train()
    loss, items = model.loss(batch)
    assert items["kd_box_u"].item() == 0 and torch.isfinite(loss).all()
    assert items["kd_feat_u"].item() > 0 and 0 < items["kd_cls_u"].item() < float("inf")


@pytest.mark.parametrize("key", ["unlabeled_ratio", "unlabeled_mode", "unlabeled_conf"])
def test_an_unlabelled_setting_without_unlabelled_images_is_refused(teacher26, synth_data, tmp_path, key):
    """--unlabeled-mode pseudo without --unlabeled trained as if not given, and distill.yaml recorded it."""
    from yolodistill.compare import compare

    value = {"unlabeled_ratio": 0.3, "unlabeled_mode": "pseudo", "unlabeled_conf": 0.4}[key]
    for run in (train, compare):
        with pytest.raises(UserError, match=f"{key} {value} .--{key.replace('_', '-')}, or the --config recipe. sets "
                                            "how unlabelled images are used, and this run has none"):
            run(teacher26, "yolo26n.yaml", synth_data, epochs=1, imgsz=64, batch=8, workers=0, device="cpu",
                project=str(tmp_path / run.__name__), **{key: value})
        assert not (tmp_path / run.__name__).exists()
    recipe = tmp_path / "recipe.yaml"  # the same from a --config file
    recipe.write_text(f"{key}: {value}\n")
    with pytest.raises(UserError, match="sets how unlabelled images are used"):
        train(teacher26, "yolo26n.yaml", synth_data, config=str(recipe), project=str(tmp_path / "cfg"), **FAST)


def test_unlabelled_settings_at_their_defaults_ask_for_nothing():
    # a study's settings (and a run's distill.yaml) carry every key: at its default none asks for unlabelled images
    from yolodistill.unlabeled import check_unlabeled_used

    check_unlabeled_used(DistillConfig(unlabeled_ratio=0.5, unlabeled_mode="soft", unlabeled_conf=0.5))
    with pytest.raises(UserError, match="unlabeled_mode both .--unlabeled-mode"):
        check_unlabeled_used(DistillConfig(unlabeled_mode="both"))
    check_unlabeled_used(DistillConfig(unlabeled=["footage"], unlabeled_mode="both"))  # a run with some: used


def test_find_images_gives_height_then_width_takes_upper_case_suffixes_and_counts_each_image_once(footage, tmp_path):
    """Cameras write IMG_0001.JPG; a folder given twice, or beside one of its subfolders, must not draw its images
    twice as often; and the shapes are (height, width), as Ultralytics' labels hold them."""
    from .builders import image

    wide = image(tmp_path / "cam" / "IMG_0001.JPG", w=40, h=30)
    images, shapes, bad = find_images([tmp_path, tmp_path / "cam", footage, footage])
    assert images.count(str(wide)) == 1 and len(images) == len(set(images)) == 9 and len(bad) == 1
    assert shapes[str(wide)] == (30, 40)


def test_a_folder_reached_through_a_link_and_directly_counts_each_image_once(footage, tmp_path):
    """find_images promises each image once for a folder given twice or nested; a linked camera folder beside the
    footage that holds it is the same folder under another name."""
    (tmp_path / "cams").mkdir()
    (tmp_path / "cams" / "cam0").symlink_to(footage / "cam0", target_is_directory=True)
    assert len(find_images([footage, tmp_path / "cams"])[0]) == 8


def test_an_image_only_pil_reads_is_skipped(tmp_path, monkeypatch):
    """Training decodes with cv2 (Ultralytics' imread), pseudo-labelling with PIL: a file one of them cannot read
    would fail mid-run, so PIL reading it whole is not enough."""
    import ultralytics.utils.patches as patches

    from .builders import image

    ok, only_pil = image(tmp_path / "ok.png"), image(tmp_path / "only_pil.png", seed=3)
    real = patches.imread
    monkeypatch.setattr(patches, "imread", lambda f, *a, **k: None if f == str(only_pil) else real(f, *a, **k))
    images, _, bad = find_images([tmp_path])
    assert images == [str(ok)] and bad == [str(only_pil)]


def test_unlabelled_folders_become_absolute_and_a_data_yaml_entry_is_read_relative_to_its_path(synth_data, footage,
                                                                                                 tmp_path, monkeypatch):
    """Resume and DDP workers start elsewhere: a relative --unlabeled is made absolute; the data yaml's `unlabeled:`
    may be one folder (a string) named relative to the yaml's `path`, as Ultralytics reads its splits."""
    monkeypatch.chdir(footage.parent)
    assert check_sources([footage.name]) == [str(footage.resolve())]
    data = yaml.safe_load(synth_data.read_text())
    root = tmp_path / "root"
    shutil.copytree(footage, root / "footage-rel")
    mine = tmp_path / "data.yaml"
    mine.write_text(yaml.safe_dump({**data, "path": str(root), "unlabeled": "footage-rel",
                                    **{k: str(Path(data["path"]) / data[k]) for k in ("train", "val")}}))
    monkeypatch.chdir(tmp_path)  # not where the entry is read from
    assert unlabeled_sources(DistillConfig(), mine).unlabeled == [str((root / "footage-rel").resolve())]


def test_the_test_split_is_held_out_too(synth_data, tmp_path):
    """The test split is scored as val is: footage holding its images is refused as well."""
    data = yaml.safe_load(synth_data.read_text())
    mine = tmp_path / "data.yaml"
    mine.write_text(yaml.safe_dump({**data, "val": data["train"], "test": data["val"]}))
    val = Path(data["path"]) / data["val"]
    with pytest.raises(UserError, match="holds 8 of the data's val/test images"):
        unlabeled_sources(DistillConfig(unlabeled=[str(val)]), mine)


def test_every_batch_keeps_at_least_one_image_of_each_kind():
    """round(batch x ratio) is clamped: a small ratio still mixes one unlabelled image in (the README's 'no room for an
    unlabelled image' refuses only --batch 1), a large one still leaves a labelled image to learn from."""
    for ratio, expected in ((0.1, (3, 1)), (0.9, (1, 3)), (0.5, (2, 2))):
        sampler = MixedBatchSampler(n_labelled=6, n_unlabelled=5, batch=4, ratio=ratio)
        assert (sampler.k_labelled, sampler.k_unlabelled) == expected, ratio
        batches = list(sampler)
        assert all(sum(i >= 6 for i in b) == expected[1] for b in batches)
        assert sorted(i for b in batches for i in b if i < 6) == list(range(6))


def test_a_resume_whose_unlabelled_folder_was_emptied_is_one_line(tmp_path):
    """A folder still there but emptied (or all unreadable) since the run started: no batch could be filled."""
    from yolodistill.unlabeled import mixed_loader

    (tmp_path / "notes.txt").write_text("no images")
    with pytest.raises(UserError, match="no readable image in the unlabelled folders .*: restore them, or train "
                                        "without --unlabeled"):
        mixed_loader(None, None, [str(tmp_path)], 0.5, 8, {}, 32, 0, -1, 1, 0)


def test_pseudo_labels_are_the_teachers_confident_boxes_clipped_to_the_image_and_normalised():
    """What pseudo mode trains on: kept above `conf`, NMS at `iou`, boxes clipped into the (non-square) image and
    normalised by its own width and height, slivers dropped, each on its batch image with its class."""
    from yolodistill.unlabeled import pseudo_labels

    h, w = 30, 40
    # image 0: an inside box, one sticking out top-left, one bottom-right, one that clipping leaves half a pixel wide;
    # image 1: a box under conf, and two heavily overlapping boxes of one class (IoU 0.905)
    boxes = torch.tensor([[[10, 5, 30, 25], [-5, -5, 10, 12], [35, 20, 50, 40], [39.5, 0, 45, 10]],
                          [[10, 5, 30, 25], [10, 5, 30, 25], [11, 5, 31, 25], [0, 0, 1, 1]]], dtype=torch.float32)
    scores = torch.zeros(2, 4, 3)
    for (i, a, c), s in {(0, 0, 2): 0.9, (0, 1, 1): 0.8, (0, 2, 0): 0.7, (0, 3, 0): 0.95, (1, 0, 0): 0.2,
                         (1, 1, 1): 0.6, (1, 2, 1): 0.5}.items():
        scores[i, a, c] = s
    out = pseudo_labels(scores, boxes, conf=0.25, iou=0.7, first=5, size=(h, w))
    assert out["batch_idx"].tolist() == [5.0, 5.0, 5.0, 6.0]
    assert out["cls"].flatten().tolist() == [2.0, 1.0, 0.0, 1.0]
    clipped = torch.tensor([[10, 5, 30, 25], [0, 0, 10, 12], [35, 20, 40, 30], [10, 5, 30, 25]], dtype=torch.float32)
    xywh = torch.stack([(clipped[:, 0] + clipped[:, 2]) / 2 / w, (clipped[:, 1] + clipped[:, 3]) / 2 / h,
                        (clipped[:, 2] - clipped[:, 0]) / w, (clipped[:, 3] - clipped[:, 1]) / h], dim=1)
    torch.testing.assert_close(out["bboxes"], xywh)
    loose = pseudo_labels(scores, boxes, conf=0.25, iou=0.95, first=5, size=(h, w))  # the overlapping pair both kept
    assert loose["batch_idx"].tolist() == [5.0, 5.0, 5.0, 6.0, 6.0]


def test_a_ddp_rank_records_the_whole_batch_split(teacher26, synth_data, footage, tmp_path):
    """Each DDP rank builds its loader at batch // world_size: distill.yaml and the log gave 4 + 4 beside batch: 16
    on two GPUs, where each optimizer step sees 8 + 8."""
    from yolodistill.checks import preflight
    from yolodistill.config import resolve
    from yolodistill.train import DistillationTrainer

    from .conftest import logged_by_ultralytics

    distill, args = resolve(None, epochs=1, imgsz=64, batch=16, workers=0, device="cpu", plots=False,
                            project=str(tmp_path), name="run", unlabeled=[str(footage)])
    plan = preflight(teacher26, "yolo26n.yaml", synth_data, args)
    trainer = DistillationTrainer(overrides=plan.args, distill=unlabeled_sources(distill, synth_data, tmp_path / "run"),
                                  teacher=plan.teacher)
    trainer.setup_model()
    trainer.world_size = 2  # what --device 0,1 gives each rank; the loader is this rank's, at half the batch
    with logged_by_ultralytics() as logged:
        trainer.get_dataloader(trainer.data["train"], batch_size=8, rank=-1, mode="train")
    images = yaml.safe_load((tmp_path / "run" / "distill.yaml").read_text())["images"]
    assert images["batch_labelled"] + images["batch_unlabeled"] == 16
    assert any("8 + 8 per batch (4 + 4 on each of 2 GPUs)" in line for line in logged), logged
