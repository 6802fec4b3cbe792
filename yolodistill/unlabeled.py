"""Images nobody labelled, mixed into each training batch, where the teacher's outputs are the only signal.

An unlabelled image goes through the labelled images' augmentation pipeline (mosaic included: its mosaics are made of
unlabelled images only, so no labelled tile is half-labelled), and the teacher sees exactly the student's augmented
pixels, so their anchors line up. It contributes distillation terms only: `KDModel` keeps it out of the detection
loss, which would otherwise read "no labels" as "all background".

`find_images` walks the user's folders (read only: nothing is cached or written beside them), `MixedDataset` serves
both kinds, and `MixedBatchSampler` puts `round(batch x ratio)` unlabelled images after the labelled ones in every
batch; an epoch is one pass over the labelled images.
"""

from __future__ import annotations

import contextlib
import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset
from ultralytics.data.dataset import YOLODataset

from .errors import UserError, check_path
from .layout import check_unlabeled_key
from .utils import file_digest, files_under, walk_once


def image_suffixes() -> set[str]:
    from ultralytics.data.utils import IMG_FORMATS

    return {f".{s}" for s in IMG_FORMATS}


_DECODED: dict[str, tuple[tuple[int, ...], tuple[int, int] | None]] = {}  # path: (stat stamp, (h, w) or None)


def image_shape(f: str) -> tuple[int, int] | None:
    """(height, width) of an image both decoders read whole, else None. Ultralytics trains on cv2's decoding and
    predicts (pseudo-label) on PIL's; a header that verifies may still hold data neither can decode, which failed
    mid-run. Decoding is the slow part of a large footage folder (about 13 ms a 1080p JPEG on one core), so a file
    is decoded once per process, unless it changed since."""
    from ultralytics.data.utils import exif_size
    from ultralytics.utils.patches import imread

    from .utils import open_image

    try:
        stat = os.stat(f)
    except OSError:  # gone since it was listed
        return None
    stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    if f in _DECODED and _DECODED[f][0] == stamp:
        return _DECODED[f][1]
    try:
        with open_image(f) as im:
            im.verify()
        with open_image(f) as im:
            w, h = exif_size(im)
            im.load()
        shape = (h, w) if imread(f) is not None else None
    except Exception:
        shape = None
    _DECODED[f] = (stamp, shape)
    return shape


BAR_FROM = 500  # images decoded before a progress bar shows (about 3 s on one core)


def held_instead(bad: list[str], videos: list[Path]) -> str:
    """What a folder without a readable image held instead, worded alike by train --unlabeled and pseudo-label."""
    return (f" ({len(bad)} unreadable)" if bad else "") + (
        f" and {len(videos)} video(s), which are not read: extract their frames first" if videos else "")


def videos_left_out(videos: list[Path]) -> str:
    return (f"{len(videos)} video(s) left out, e.g. {videos[0]}: only images are read; extract their frames to use "
            "them (e.g. ffmpeg -i clip.mp4 -vf fps=2 frames/%06d.jpg)")


def find_images(folders: list[str | Path], videos: list[Path] | None = None
                ) -> tuple[list[str], dict[str, tuple[int, int]], list[str]]:
    """Every image under `folders`, recursively and sorted, with its (height, width); unreadable files are skipped and
    returned apart, so the caller can count them. `videos`, when given, gets the videos of the same walk, which are
    left out by suffix."""
    from ultralytics.data.utils import VID_FORMATS

    suffixes, files = image_suffixes(), []
    for folder in folders:
        for p in files_under(folder):
            if p.suffix.lower() in suffixes:
                files.append(str(p))
            elif videos is not None and p.suffix.lower().lstrip(".") in VID_FORMATS:
                videos.append(p)
    good, shapes, bad = [], {}, []
    unique, seen = [], set()  # a folder given twice, nested in another or also reached through a link: each image once
    for f in files:
        if (real := os.path.realpath(f)) not in seen:
            seen.add(real)
            unique.append(f)
    from ultralytics.utils import TQDM

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:  # both decoders release the GIL
        decoded = list(TQDM(pool.map(image_shape, unique), desc="Reading unlabelled images", total=len(unique),
                            unit="img", leave=False, disable=len(unique) < BAR_FROM))  # 100 000 frames: minutes
    for f, shape in zip(unique, decoded):
        if shape is None:
            bad.append(f)
        else:
            good.append(f)
            shapes[f] = shape
    return good, shapes, bad


def check_sources(folders: list[str | Path], train_images: list[str] | None = None,
                  source: str = "--unlabeled", fix: str = "pass a folder of images",
                  held_out: list[str] | None = None) -> list[str]:
    """The unlabelled folders as absolute paths, each an existing folder with images that are neither the labelled
    training images themselves (distilling on them twice would only re-weigh the labelled set) nor the held-out
    (val/test) images, which would then be trained on and flatter the mAP that picks best.pt. `source` names where
    the folders came from, so the message points at what the user wrote."""
    out = []
    for folder in folders:
        p = check_path(folder, source, "folder").expanduser()  # '' was the working folder, trained on without a word
        if not p.exists():
            raise UserError(f"{source} '{folder}' does not exist: {fix}")
        if not p.is_dir():
            raise UserError(f"{source} '{folder}' is not a folder: {fix} (searched recursively)")
        out.append(str(p.resolve()))
    videos: list[Path] = []
    found, _, bad = find_images(out, videos)
    if not found:
        raise UserError(f"{source} {', '.join(map(str, folders))}: no readable images{held_instead(bad, videos)}; "
                        f"pass folders that hold images ({', '.join(sorted(image_suffixes()))})")
    if videos:
        from ultralytics.utils import LOGGER

        LOGGER.warning(f"{source}: {videos_left_out(videos)}")
    if train_images and (same := same_files(found, train_images)):
        raise UserError(f"{source} {', '.join(map(str, folders))} holds {len(same)} of the labelled training images "
                        f"themselves (or copies), first '{same[0]}': pass images that are not in the data's train split")
    if held_out and (same := same_files(found, held_out)):
        raise UserError(f"{source} {', '.join(map(str, folders))} holds {len(same)} of the data's val/test images (or "
                        f"copies), first '{same[0]}': trained on, they would flatter the val mAP; pass images outside "
                        "those splits")
    return out


def same_files(found: list[str], others: list[str]) -> list[str]:
    """Those of `found` that are files of `others` or byte-identical copies of one (a val image copied into the footage
    is still a val image). Only files of a size some other has are read, so a large train split costs a stat each."""
    real, by_size, digests = {os.path.realpath(f) for f in others}, {}, {}
    for f in others:
        with contextlib.suppress(OSError):
            by_size.setdefault(os.path.getsize(f), []).append(f)

    def of_size(size: int) -> set[str | None]:  # the digests of the others of this size, each file read once
        if size not in digests:
            digests[size] = {file_digest(t) for t in by_size[size]} - {None}  # unreadable: a copy of nothing
        return digests[size]

    return [f for f in found if os.path.realpath(f) in real
            or ((size := os.path.getsize(f)) in by_size and file_digest(f) in of_size(size))]


UNLABELED_SETTINGS = ("unlabeled_ratio", "unlabeled_mode", "unlabeled_conf")


def check_unlabeled_used(distill) -> None:
    """An unlabelled-image setting other than its default, from a flag or the --config recipe, for a run that has no
    unlabelled images would change nothing, silently (at its default it asks for nothing)."""
    default = type(distill)()
    idle = [k for k in UNLABELED_SETTINGS if getattr(distill, k) != getattr(default, k)]
    if idle and not distill.unlabeled:
        key = idle[0]
        raise UserError(f"{key} {getattr(distill, key)} (--{key.replace('_', '-')}, or the --config recipe) sets how "
                        "unlabelled images are used, and this run has none: add --unlabeled DIR (or an 'unlabeled:' "
                        f"entry in the data yaml), or leave {key} at its default {getattr(default, key)}")


def unlabeled_sources(distill, data: str | Path, runs: str | Path | None = None, source: str = "--unlabeled",
                      outside: str = "pass --project outside it"):
    """The run's settings with its unlabelled folders checked and absolute (so resume and DDP workers find them):
    those given, or else the data yaml's `unlabeled:` key, relative to its `path` as Ultralytics reads splits. A run
    without any is refused unlabelled-image settings it would ignore (`check_unlabeled_used`); one that writes into
    `runs` inside an unlabelled folder is refused too: the next run read its plots (val images) as footage. `source`
    names where given folders came from (a resumed run's own), `outside` how to write the run elsewhere."""
    import dataclasses

    import yaml
    from ultralytics.data.utils import check_det_dataset

    from .data import split_images

    folders = list(distill.unlabeled)
    raw = yaml.safe_load(Path(data).read_text(encoding="utf-8-sig")) or {}
    listed = raw.get("unlabeled") or [] if isinstance(raw, dict) else []
    check_unlabeled_key(raw if isinstance(raw, dict) else {}, data)
    if folders and listed and source == "--unlabeled":  # '--help: also in the data yaml' read as both, silently one
        from ultralytics.utils import LOGGER

        LOGGER.warning(f"--unlabeled replaces the 'unlabeled:' entry of '{data}' ({listed}): give its folders with "
                       "--unlabeled too to distill on both")
    if not folders:
        if not listed:
            check_unlabeled_used(distill)
            return distill
        source = f"the 'unlabeled:' entry of '{data}'"
        listed = [listed] if isinstance(listed, str) else listed
        if not isinstance(listed, list) or not all(isinstance(f, str) for f in listed):
            raise UserError(f"{source} must be a folder or a list of folders of images, got {raw['unlabeled']!r}: "
                            "fix it in the data yaml")
        root = Path(check_det_dataset(str(data))["path"])
        folders = [str(root / f) for f in listed]
    for folder in folders:  # '' was blamed on --project below
        check_path(folder, source, "folder")
    above = {Path(runs).resolve(), *Path(runs).resolve().parents} if runs is not None else set()
    for folder in [Path(f).resolve() for f in folders] if runs is not None else []:
        if inside := next((d for d, _, _ in walk_once(folder) if Path(os.path.realpath(d)) in above), None):
            via = f" (through '{inside}')" if Path(inside) != folder else ""
            raise UserError(f"the run writes into '{runs}', inside the unlabelled folder '{folder}'{via}: the next "
                            f"run would read its plots (val images among them) as unlabelled images; {outside}")
    info = check_det_dataset(str(data))
    train = [str(f) for f in split_images(info["train"])]
    held_out = [str(f) for split in ("val", "test") if info.get(split) for f in split_images(info[split])]
    return dataclasses.replace(distill, unlabeled=check_sources(folders, train, source, held_out=held_out))


class UnlabeledDataset(YOLODataset):
    """A `YOLODataset` over unlabelled images, with the training augmentation and empty labels built in memory: never
    read from or cached beside the user's images (a stray .txt there is not a label)."""

    def __init__(self, cfg, images: list[str], shapes: dict[str, tuple[int, int]], data: dict, stride: int):
        self.shapes = shapes
        super().__init__(img_path=images, imgsz=cfg.imgsz, batch_size=cfg.batch, augment=True, hyp=cfg, rect=False,
                         cache=None, single_cls=cfg.single_cls or False, stride=stride, pad=0.0, prefix="unlabeled: ",
                         task=cfg.task, classes=cfg.classes, data=data, fraction=1.0)

    def get_img_files(self, img_path):
        return list(img_path)

    def get_labels(self):
        return [dict(im_file=f, shape=self.shapes[f], cls=np.zeros((0, 1), dtype=np.float32),
                     bboxes=np.zeros((0, 4), dtype=np.float32), segments=[], keypoints=None, normalized=True,
                     bbox_format="xywh") for f in self.im_files]


class MixedDataset(Dataset):
    """Labelled images at indices [0, n_labelled), unlabelled ones after them; each item says which it is."""

    def __init__(self, labelled, unlabelled):
        self.labelled, self.unlabelled = labelled, unlabelled
        self.n_labelled = len(labelled)

    def __len__(self) -> int:
        return self.n_labelled + len(self.unlabelled)

    def __getitem__(self, index: int) -> dict[str, Any]:
        unlabelled = index >= self.n_labelled
        item = self.unlabelled[index - self.n_labelled] if unlabelled else self.labelled[index]
        item["unlabeled"] = unlabelled
        return item

    @property
    def labels(self):  # Ultralytics plots and counts the labelled set's labels
        return self.labelled.labels

    def close_mosaic(self, hyp) -> None:
        """The last epochs without mosaic, for both kinds alike (Ultralytics' close_mosaic)."""
        self.labelled.close_mosaic(hyp)
        self.unlabelled.close_mosaic(hyp)

    def collate_fn(self, batch: list[dict]) -> dict:
        flags = torch.tensor([b.pop("unlabeled") for b in batch])
        out = self.labelled.collate_fn(batch)
        out["unlabeled"] = flags
        return out


class MixedBatchSampler:
    """Batches of `batch - k` labelled indices followed by `k = round(batch x ratio)` unlabelled ones.

    One pass over the labelled images (this rank's shard of them under DDP) is an epoch; the unlabelled images are
    drawn without replacement, reshuffled when used up, so every one is seen before any repeats. Shuffles are seeded by
    (seed, pass): the same run draws the same batches. Under DDP every rank draws the same permutations and takes its
    own shard of each, so the ranks see disjoint images; the labelled permutation is padded by wrapping around (as
    torch's DistributedSampler does), so every rank has the same number of batches and none waits at a collective.
    """

    def __init__(self, n_labelled: int, n_unlabelled: int, batch: int, ratio: float, seed: int = 0, rank: int = -1,
                 world_size: int = 1):
        self.n_labelled, self.n_unlabelled = n_labelled, n_unlabelled
        self.k_unlabelled = min(max(round(batch * ratio), 1), batch - 1) if batch > 1 else 0
        self.k_labelled = batch - self.k_unlabelled
        self.seed, self.rank, self.world_size = seed, max(rank, 0), max(world_size, 1)
        self.per_rank = math.ceil(n_labelled / self.world_size)
        self.epoch = 0
        self.pool: list[int] = []  # this rank's unlabelled draws not yet taken, carried from one pass to the next
        self.u_per_rank = math.ceil(n_unlabelled / self.world_size)  # wrapped around, as the labelled permutation

    def set_epoch(self, epoch: int) -> None:
        """Ignored: Ultralytics' infinite loader starts each pass (prefetching ahead of the trainer's set_epoch), and
        counting passes here keeps every rank on the same seed without depending on that order."""

    def __len__(self) -> int:
        return math.ceil(self.per_rank / self.k_labelled)

    @property
    def images(self) -> int:
        """Images in one pass on this rank: every labelled one, and k_unlabelled beside each batch's."""
        return self.per_rank + len(self) * self.k_unlabelled

    def __iter__(self):
        rng = np.random.default_rng((self.seed, self.epoch))
        self.epoch += 1
        order = rng.permutation(self.n_labelled)
        order = np.resize(order, self.per_rank * self.world_size)  # wraps around to an equal share per rank
        labelled = order[self.rank::self.world_size].tolist()
        for start in range(0, len(labelled), self.k_labelled):
            while len(self.pool) < self.k_unlabelled:  # every rank's shard equally long: the ranks stay in step
                whole = np.resize(rng.permutation(self.n_unlabelled), self.u_per_rank * self.world_size)
                self.pool += whole[self.rank::self.world_size].tolist()
            drawn, self.pool = self.pool[:self.k_unlabelled], self.pool[self.k_unlabelled:]
            yield labelled[start:start + self.k_labelled] + [self.n_labelled + u for u in drawn]


class SamplerView:
    """The batch sampler as Ultralytics reads `loader.sampler`: `set_epoch` under DDP, and a length in images, from
    which its final-batch check takes the last batch's size (length % batch). The sampler's own length counts
    batches: 9 batches of 2 + 2 read as a last batch of 1, and at imgsz 32 a run that never has one was refused."""

    def __init__(self, batches: MixedBatchSampler):
        self.batches = batches
        self.k_labelled, self.k_unlabelled = batches.k_labelled, batches.k_unlabelled  # what train records

    def set_epoch(self, epoch: int) -> None:
        self.batches.set_epoch(epoch)

    def __len__(self) -> int:
        return self.batches.images


def mixed_loader(labelled, cfg, sources: list[str], ratio: float, batch: int, data: dict, stride: int, workers: int,
                 rank: int, world_size: int, seed: int):
    """Ultralytics' infinite loader over labelled + unlabelled images; returns (loader, unreadable files skipped)."""
    from ultralytics.data.build import InfiniteDataLoader, seed_worker

    images, shapes, bad = find_images(sources)
    if not images:  # a folder emptied or moved since the run started (resume): no batch could ever be filled
        raise UserError(f"no readable image in the unlabelled folders {', '.join(sources)}: restore them, or "
                        "train without --unlabeled")
    unlabelled = UnlabeledDataset(cfg, images, shapes, data, stride)
    dataset = MixedDataset(labelled, unlabelled)
    sampler = MixedBatchSampler(len(labelled), len(unlabelled), batch, ratio, seed, rank, world_size)
    nw = min(os.cpu_count() or 1, workers, len(sampler) if len(sampler) > 1 else 0)
    generator = torch.Generator()
    generator.manual_seed(seed)
    loader = InfiniteDataLoader(dataset=dataset, batch_sampler=sampler, num_workers=nw, collate_fn=dataset.collate_fn,
                                worker_init_fn=seed_worker, generator=generator,
                                prefetch_factor=4 if nw > 0 else None)
    # what Ultralytics' trainer reads off its loaders: a batch size, and a sampler with set_epoch for DDP
    object.__setattr__(loader, "batch_size", batch)
    object.__setattr__(loader, "sampler", SamplerView(sampler))
    return loader, bad


def pseudo_labels(scores: torch.Tensor, boxes: torch.Tensor, conf: float, iou: float, first: int,
                  size: tuple[int, int]) -> dict[str, torch.Tensor]:
    """The teacher's detections on unlabelled images as Ultralytics batch labels (`batch_idx`, `cls`, normalised xywh
    `bboxes`): NMS over its one-to-many predictions, kept above `conf`. `scores` (B, A, C) in [0, 1] and `boxes`
    (B, A, 4) xyxy in pixels, as `model.branch_predictions` gives them; image i of them is batch image `first + i`."""
    from ultralytics.utils.nms import non_max_suppression
    from ultralytics.utils.ops import xyxy2xywh

    prediction = torch.cat([xyxy2xywh(boxes.float()), scores.float()], dim=-1).permute(0, 2, 1)
    detections = non_max_suppression(prediction, conf_thres=conf, iou_thres=iou, max_det=300)
    h, w = size
    scale = torch.tensor([w, h, w, h], device=boxes.device, dtype=torch.float32)
    idx, cls, xywh = [], [], []
    for i, d in enumerate(detections):
        xyxy = torch.min(d[:, :4].clamp(min=0), scale)  # inside the image, as a label must be
        d = d[((xyxy[:, 2] - xyxy[:, 0]) > 1) & ((xyxy[:, 3] - xyxy[:, 1]) > 1)]  # at least a pixel left
        xyxy = torch.min(d[:, :4].clamp(min=0), scale)
        idx.append(torch.full((len(d),), float(first + i), device=boxes.device))
        cls.append(d[:, 5:6])
        xywh.append(xyxy2xywh(xyxy) / scale)
    return {"batch_idx": torch.cat(idx), "cls": torch.cat(cls), "bboxes": torch.cat(xywh)}
