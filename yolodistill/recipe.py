"""Whether a recipe would do what it says with the train arguments it is given: refused before anything trains."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import DistillConfig
from .errors import UserError


def gains(args: Any) -> dict[str, Any]:
    """Ultralytics' loss gains box, cls and dfl as the run takes them (a dict, or a model's args namespace): given,
    else its defaults (cfg/default.yaml)."""
    from ultralytics.cfg import DEFAULT_CFG_DICT

    args = args if isinstance(args, dict) else vars(args)
    return {k: args.get(k, DEFAULT_CFG_DICT[k]) for k in ("box", "cls", "dfl")}


def check_gains(distill: DistillConfig, args: dict[str, Any]) -> None:
    """Ultralytics' loss gains scale the distillation terms as they scale its own losses (kd_cls 1 pulls as hard as
    cls_loss): cls=0 turned kd_cls off while distill.yaml said 1, and box=-1 pushed the student away from the
    teacher's boxes. kd_cls takes cls; kd_box box (and dfl where both heads have DFL bins); CrossKD all three."""
    cross = bool(distill.kd_feat) and distill.feat_loss == "cross"
    used = {"cls": bool(distill.kd_cls) or cross, "box": bool(distill.kd_box) or cross,
            "dfl": bool(distill.kd_box) or cross}
    g = gains(args)
    for key, value in g.items():
        if used[key] and isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            raise UserError(f"{key}={value} is below 0, and the distillation terms take Ultralytics' loss gains as its "
                            f"own losses do, so they would push the student away from the teacher: use {key} >= 0")
    if distill.kd_cls and g["cls"] == 0:
        raise UserError(f"cls={g['cls']} turns kd_cls off too (kd_cls is scaled by Ultralytics' cls gain, as "
                        "its cls_loss is): pass --kd-cls 0 as well, or a cls gain above 0")


def check_pair(distill: DistillConfig, args: dict[str, Any], teacher: Any, student: Any) -> None:
    """Settings that do nothing with this pair of heads, refused once the models are loaded: kd_one2one without
    YOLO26's one-to-one branch (it trained as if off, with kd_one2one: true in distill.yaml), and box=0 with kd_box,
    which turns the term off unless both heads have DFL bins and dfl is above 0 (their LD part goes on); and a
    kd_balance that measures against a detection loss the gains leave without gradient (it measured on, in silence)."""
    from .model import detect_head

    heads = [detect_head(getattr(m, "student_model", m)) for m in (teacher, student)]  # a mid-run checkpoint's too
    if distill.kd_one2one and (lacking := [role for role, h in zip(("teacher", "student"), heads)
                                           if not hasattr(h, "one2one_cv2")]):
        raise UserError(f"kd_one2one distils YOLO26's one-to-one (NMS-free) branch, which the "
                        f"{' and the '.join(lacking)} lack{'s' * (len(lacking) == 1)}: drop --kd-one2one (or "
                        "kd_one2one from the --config recipe)")
    g, ld = gains(args), heads[0].reg_max == heads[1].reg_max > 1
    softened = (distill.kd_box and ld) or (distill.kd_feat and distill.feat_loss == "cross" and heads[0].reg_max > 1)
    if distill.temperature != DistillConfig.temperature and not softened:  # recorded as if in effect
        raise UserError(f"temperature {distill.temperature:g} softens DFL bins: those of kd_box where teacher and "
                        "student both have DFL heads (reg_max "
                        f"{heads[0].reg_max} and {heads[1].reg_max} here), or of --feat-loss cross with a DFL "
                        "teacher, and this run has neither: drop --temperature (or temperature from the --config "
                        "recipe)")
    if distill.kd_balance != "fixed" and distill.losses_on and not (g["box"] or g["cls"] or g["dfl"]):  # dfl: DFL,
        raise UserError(f"kd_balance {distill.kd_balance} measures each term's pull against the detection loss's, "
                        f"which box={g['box']} cls={g['cls']} dfl={g['dfl']} leave without a gradient: use "
                        "--kd-balance fixed, or a loss gain above 0")  # or YOLO26's L1 on the box distances
    if distill.kd_box and g["box"] == 0 and not (ld and g["dfl"]):
        raise UserError(f"box={g['box']} turns kd_box off too (kd_box is scaled by Ultralytics' box gain, as its "
                        "box_loss is" + (", and dfl is 0" if ld else "") + "): pass --kd-box 0 as well, or a box gain "
                        "above 0")


def check_recipe(distill: DistillConfig, student: Any, args: dict[str, Any]) -> None:
    """A run that would never use its teacher is plain training under another name: refuse it, and say why."""
    from .devices import gpu_count
    from .start import starts_from_teacher

    pseudo = bool(distill.unlabeled) and distill.unlabeled_mode != "soft"  # the teacher labels them
    if distill.unlabeled and not distill.losses_on and not pseudo:
        raise UserError("in soft mode unlabelled images are learned from the distillation terms alone, and every "
                        "distillation weight (kd_cls, kd_box, kd_feat) is 0: set one above 0 (e.g. --kd-cls 1), use "
                        "--unlabeled-mode pseudo, or drop --unlabeled")
    batch, gpus = args.get("batch"), max(gpu_count(args.get("device")), 1)  # DDP: the batch split per GPU
    if distill.unlabeled and isinstance(batch, int) and 0 < batch < 2 * gpus:
        per = f" ({batch} over {gpus} GPUs)" if gpus > 1 else ""
        raise UserError(f"--batch {batch}{per} leaves no room for unlabelled images, which share each batch with "
                        f"labelled ones: use --batch {2 * gpus} or more, or drop --unlabeled")
    if distill.unlabeled and args.get("rect"):
        raise UserError("rect=True batches images by aspect ratio and cannot mix unlabelled images into them: drop "
                        "rect=True, or drop --unlabeled")
    check_gains(distill, args)
    ring = distill.kd_box_ring not in (DistillConfig.kd_box_ring, 0)  # 0, positives only, is what the gate does
    if ring and (distill.kd_gate or not (distill.kd_box or distill.kd_feat)):
        why = ("kd_gate, which weighs the box terms by the labels on the positives alone, is on" + (
            " (the recipe's trained_student block turns it on for a student with its own weights)"
            if not starts_from_teacher(True, student, args.get("pretrained")) else "")
            if distill.kd_gate else "kd_box and kd_feat are 0")
        raise UserError(f"kd_box_ring {distill.kd_box_ring:g} widens the box terms' weights around the positives, "
                        f"and {why}: drop --kd-box-ring (or kd_box_ring from the --config recipe)")
    if distill.kd_prefit and not distill.kd_feat:
        raise UserError(f"kd_prefit {distill.kd_prefit} fits the feature adapters, and kd_feat is 0: set kd_feat above "
                        "0 (e.g. --kd-feat 1), or drop kd_prefit")
    if not (distill.losses_on or pseudo or starts_from_teacher(distill.init_from_teacher, student,
                                                                args.get("pretrained"))):
        why = ("the student is a .pt, which keeps its own weights" if str(student).lower().endswith(".pt") else
               "pretrained= gives the student its own weights" if isinstance(args.get("pretrained"), (str, Path))
               else "init_from_teacher is off")
        use = ("no distillation term would use the teacher (it would only rank the student's anchors, kd_assign "
               "teacher)" if distill.kd_assign == "teacher" else "the teacher would never be used")
        raise UserError(f"every distillation weight (kd_cls, kd_box, kd_feat) is 0 and {why}, so {use}: set a weight "
                        "above 0 (e.g. --kd-cls 1), or train without a teacher (yolo train)")
    check_idle(distill, student, args)


def idle_settings(distill: DistillConfig) -> list[tuple[str, str, tuple[str, ...]]]:
    """The settings that shape a term this recipe does not have: each with why it does nothing, and the keys that
    make it so."""
    if not distill.losses_on:  # LAD (kd_assign, and kd_one2one's assigner) acts without a term
        why, by = "every distillation weight (kd_cls, kd_box, kd_feat) is 0", ("kd_cls", "kd_box", "kd_feat")
        out = [(k, why, by) for k in ("kd_schedule", "kd_final", "kd_warmup", "kd_balance", "kd_gate")]
        if distill.kd_assign == "student":  # nor LAD: one2one's terms and assigner both idle
            out.append(("kd_one2one", f"{why} and kd_assign is student", (*by, "kd_assign")))
        return out
    if not distill.kd_feat:
        out = [(k, "kd_feat is 0", ("kd_feat",)) for k in ("feat_loss", "cwd_tau", "mgd_mask_ratio")]
    else:
        out = [(k, f"feat_loss is {distill.feat_loss}", ("feat_loss",)) for k, loss in
               (("cwd_tau", "cwd"), ("mgd_mask_ratio", "mgd")) if distill.feat_loss != loss]
    if distill.kd_schedule == "constant":
        out.append(("kd_final", "kd_schedule is constant, so no weight decays towards it", ("kd_schedule",)))
    return out


def check_idle(distill: DistillConfig, student: Any, args: dict[str, Any]) -> None:
    """A setting changed from the default recipe's value where nothing uses it: trained as the default, while
    distill.yaml recorded it as if in effect (the pattern of temperature, in check_pair). Refused where it is set
    where the setting that idles it is, or later (flags > --config > default recipe); a warning where that setting
    came later: `--config features-l2.yaml --kd-feat 0` is an ablation, and its feat_loss: l2 no slip."""
    from ultralytics.utils import LOGGER

    from .config import as_written, resolve
    from .options import as_typed

    baseline, _ = resolve(student=student, pretrained=args.get("pretrained"))
    origin = getattr(distill, "origin", {})  # which layer set each key (config.resolve); none: all one layer
    for key, why, by in idle_settings(distill):
        if (value := getattr(distill, key)) == getattr(baseline, key):
            continue
        message = (f"{key} {as_written(value)} changes nothing here: {why}: drop {as_typed(key)} (or {key} from the "
                   "--config recipe)")
        if origin.get(key, 0) >= max(origin.get(k, 0) for k in by):
            raise UserError(message)
        LOGGER.warning(message.split(": drop ")[0] + " (distill.yaml records it as the recipe gave it)")
