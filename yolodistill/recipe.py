"""Whether a recipe would do what it says with the train arguments it is given: refused before anything trains."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import DistillConfig
from .errors import UserError

GAIN_DEFAULTS = {"box": 7.5, "cls": 0.5, "dfl": 1.5}  # Ultralytics' default loss gains (cfg/default.yaml)


def check_gains(distill: DistillConfig, args: dict[str, Any]) -> None:
    """Ultralytics' loss gains scale the distillation terms as they scale its own losses (kd_cls 1 pulls as hard as
    cls_loss): cls=0 turned kd_cls off while distill.yaml said 1, and box=-1 pushed the student away from the
    teacher's boxes."""
    gains = {k: args.get(k, v) for k, v in GAIN_DEFAULTS.items()}
    if not (distill.losses_on or distill.unlabeled):
        return
    for key, value in gains.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            raise UserError(f"{key}={value} is below 0, and the distillation terms take Ultralytics' loss gains as its "
                            f"own losses do, so they would push the student away from the teacher: use {key} >= 0")
    for term, key in (("kd_cls", "cls"), ("kd_box", "box")):
        if getattr(distill, term) and gains[key] == 0:
            raise UserError(f"{key}={gains[key]} turns {term} off too ({term} is scaled by Ultralytics' {key} gain, "
                            f"as its {key}_loss is): pass --{term.replace('_', '-')} 0 as well, or a {key} gain above 0")


def check_recipe(distill: DistillConfig, student: Any, args: dict[str, Any]) -> None:
    """A run that would never use its teacher is plain training under another name: refuse it, and say why."""
    from .start import starts_from_teacher

    pseudo = bool(distill.unlabeled) and distill.unlabeled_mode != "soft"  # the teacher labels them
    if distill.unlabeled and not distill.losses_on and not pseudo:
        raise UserError("in soft mode unlabelled images are learned from the distillation terms alone, and every "
                        "distillation weight (kd_cls, kd_box, kd_feat) is 0: set one above 0 (e.g. --kd-cls 1), use "
                        "--unlabeled-mode pseudo, or drop --unlabeled")
    batch, gpus = args.get("batch"), len(str(args.get("device") or "").split(","))  # DDP: the batch split per GPU
    if distill.unlabeled and isinstance(batch, int) and 0 < batch < 2 * gpus:
        per = f" ({batch} over {gpus} GPUs)" if gpus > 1 else ""
        raise UserError(f"--batch {batch}{per} leaves no room for unlabelled images, which share each batch with "
                        f"labelled ones: use --batch {2 * gpus} or more, or drop --unlabeled")
    if distill.unlabeled and args.get("rect"):
        raise UserError("rect=True batches images by aspect ratio and cannot mix unlabelled images into them: drop "
                        "rect=True, or drop --unlabeled")
    check_gains(distill, args)
    if distill.kd_prefit and not distill.kd_feat:
        raise UserError(f"kd_prefit {distill.kd_prefit} fits the feature adapters, and kd_feat is 0: set kd_feat above "
                        "0 (e.g. --kd-feat 1), or drop kd_prefit")
    if distill.losses_on or pseudo or starts_from_teacher(distill.init_from_teacher, student, args.get("pretrained")):
        return
    why = ("the student is a .pt, which keeps its own weights" if str(student).lower().endswith(".pt") else
           "pretrained= gives the student its own weights" if isinstance(args.get("pretrained"), (str, Path)) else
           "init_from_teacher is off")
    raise UserError(f"every distillation weight (kd_cls, kd_box, kd_feat) is 0 and {why}, so the teacher would "
                    "never be used: set a weight above 0 (e.g. --kd-cls 1), or train without a teacher (yolo train)")
