"""Driving inputs beyond camera video: hands and face estimation, skeleton and DensePose renders decoded.

Prints JSON: machine and load, then
- ``estimation``: per real clip, MediaPipe Holistic (``body+hands+face``) against BlazePose (``body``)
  run side by side: the share of frames with both hands found (and each hand, and the face), and
  seconds per frame of each;
- ``skeleton_round_trip``: our own estimated poses of each clip drawn as skeleton videos (the
  OpenPose/DWPose look, with and without hands and face, and posevid's thin look), decoded back,
  PCK@0.05 of the body height against what was drawn (body joints; hands where drawn, also PCK@0.2 of
  the drawn hand's size, and over the hand points that show in the render, not under the face's dots),
  on the frames themselves and through an mp4 (h264, as a user would store them);
  with hands, the frames decoded in order (hands started from the previous frame's) and each on its own,
  side by side, with seconds per frame of each; the face (68 points) decoded on its own (body and face,
  seconds per frame), PCK@0.05 of the body height; the mp4 with hands and face;
- ``animateanyone``: the AnimateAnyone DWPose renders of ``shared/data/pose_renders``: share of frames
  decoded (a body with a neck, a shoulder and a hip), joints per frame, hands decoded (share of the decoded
  wrists with their hand, share of frames with both), the frame-to-frame change of the 12 arm, torso and
  leg bone lengths (median and 90th percentile), seconds per frame;
- ``densepose``: the MagicAnimate DensePose part renders decoded to keypoints from the part regions:
  the same measures.
With ``--every N``, only ``hand_sample``: hands on the whole clips, every Nth frame with a hand, each frame
decoded alone, from the frames and through an mp4. With ``--every N --duplicates`` also the same clips'
hands as estimated with ``estimate.drop_duplicate_hand`` switched off (a hand Holistic found twice kept
twice: the estimator before it), side by side: the frames where a hand was dropped, and ``hand_sample`` of
both (a clip whose poses come out the same is decoded once); the body-only renders do not draw hands, so
their PCK is the same by construction (the body poses are compared). With ``--every N --body``, the body
joints alone (PCK and per-joint misses) in the same renders (hands and face drawn), every Nth frame whether
or not it has a hand, decoded without hands (which do not move the body's joints): ``--every 1 --body``
reads whole clips in minutes.
Run: ``python -m benchmarks.pose_inputs [--clips N] [--frames N] [--every N [--duplicates | --body]]
[--renders animateanyone densepose]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
CLIPS = ("videos/animatex_dance_2.mp4", "videos/animatex_dance_3.mp4", "videos/tfjs_pose_1.mp4",
         "videos/tfjs_pose_squats.mp4")
RENDER_LOOKS = (("openpose", False), ("openpose", True), ("posevid", False))


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cpu": model, "cores": os.cpu_count(), "load_average_1m": os.getloadavg()[0],
            "python": platform.python_version(), "shared_machine": True}


def first_frames(path: Path, frames: int | None) -> tuple[np.ndarray | Path, float | None]:
    """The video itself, or its first ``frames`` frames (T, H, W, 3) and frame rate."""
    from posevid.video import open_video

    if frames is None:
        return path, None
    with open_video(path) as reader:
        return np.stack(list(itertools.islice(reader, frames))), reader.fps


def estimate(path: Path, keypoints: str, frames: int | None = None):
    from posevid.estimate import estimate_poses

    start = time.perf_counter()
    poses = estimate_poses(*first_frames(path, frames), keypoints=keypoints)
    return poses, (time.perf_counter() - start) / len(poses)


def pck(decoded, truth, share: float = 0.05, hand_share: float = 0.2, shown=None) -> tuple:
    """Body PCK@``share`` of the body height, and hand PCK@``share`` of the body height and @``hand_share``
    of the drawn hand's size (its longer side) (None without drawn hands; a hand not decoded misses), and
    hand PCK@``share`` over the drawn hand points that show in the render (``shown`` (T, 2, 21) bool: a
    hand dot or bone colour at the point, not covered by the face's white dots or the other hand)."""
    from posevid.poses import body_height

    height = body_height(truth)
    err = np.linalg.norm(decoded.xy - truth.xy, axis=-1)
    body = ((err <= share * height[:, None]) & (decoded.conf > 0))[truth.conf > 0]
    hands = by_size = visible = None
    if truth.has_hands and (truth.hand_conf > 0).any():
        found = decoded.hand_conf if decoded.has_hands else np.zeros_like(truth.hand_conf)
        d_xy = decoded.hand_xy if decoded.has_hands else np.zeros_like(truth.hand_xy)
        h_err = np.where(found > 0, np.linalg.norm(d_xy - truth.hand_xy, axis=-1), np.inf)
        drawn = truth.hand_conf > 0
        ok = h_err <= share * height[:, None, None]
        hands = float(ok[drawn].mean())
        size = np.ptp(truth.hand_xy, axis=2).max(-1)[..., None]
        by_size = float((h_err <= hand_share * size)[drawn].mean())
        if shown is not None and (drawn & shown).any():
            visible = float(ok[drawn & shown].mean())
    face = None
    if truth.has_face and (truth.face_conf > 0).any():
        found = decoded.face_conf if decoded.has_face else np.zeros_like(truth.face_conf)
        f_err = np.linalg.norm((decoded.face_xy if decoded.has_face else 0) - truth.face_xy, axis=-1)
        face = float(((f_err <= share * height[:, None]) & (found > 0))[truth.face_conf > 0].mean())
    return float(body.mean()), hands, by_size, visible, face


def hand_points_shown(frames: list, truth) -> np.ndarray:
    """(T, 2, 21) bool: each drawn hand point's pixel in its render is a hand dot or bone colour."""
    from posevid.hand_fit import DOT, hand_classes
    from posevid.render_decode import HAND_HUE_STEP, HUE_TOLERANCE, hue_saturation_value

    out = np.zeros(truth.hand_conf.shape, bool)
    for t, rgb in enumerate(frames):
        classes = hand_classes(*hue_saturation_value(rgb), HAND_HUE_STEP, HUE_TOLERANCE)
        x, y = (np.clip(np.round(truth.hand_xy[t, ..., i]).astype(int), 0, rgb.shape[1 - i] - 1) for i in (0, 1))
        out[t] = classes[y, x] >= DOT
    return out & (truth.hand_conf > 0)


def round_trip(poses, folder: Path) -> dict:
    """Draw, decode (frames and mp4) and score each render look. With hands, the frames are decoded twice
    side by side: each frame on its own (``decode_skeleton``: every hand fitted from the template starts)
    and in order (``SkeletonDecoder``: hands started from the previous frame's, as ``posevid`` reads a
    video); the mp4 in order."""
    import dataclasses

    from posevid.poses import Poses
    from posevid.render import MIN_CONF, pose_image
    from posevid.render_decode import SkeletonDecoder, decode_skeleton
    from posevid.video import VideoWriter, open_video

    keep = poses.conf > MIN_CONF  # what the renderer draws
    drawn = dataclasses.replace(poses, conf=np.where(keep, poses.conf, 0), xy=np.where(keep[..., None], poses.xy, 0))
    names = ("pck_body", "pck_hands", "pck_hands_by_hand_size", "pck_hands_shown", "pck_face")

    def timed(decode, frames) -> tuple:
        start = time.perf_counter()
        out = Poses.concat([decode(f) for f in frames])
        return out, (time.perf_counter() - start) / len(frames)

    out = {}
    for style, extras in RENDER_LOOKS:
        truth = drawn if extras else drawn.body_only()
        frames = [pose_image(truth, t, style=style) for t in range(len(truth))]
        shown = hand_points_shown(frames, truth) if extras else None
        decode_skeleton(frames[0], hands=extras, face=extras)  # imports and first calls out of the timings
        direct, seconds = timed(SkeletonDecoder(hands=extras), frames)
        scores = dict(zip(names, pck(direct, truth, shown=shown)))
        if extras:
            scores["share_hand_points_shown"] = float(shown.sum() / max((truth.hand_conf > 0).sum(), 1))
        if extras:
            alone, alone_seconds = timed(lambda f: decode_skeleton(f, hands=True), frames)
            scores |= {f"{k}_each_frame_alone": v for k, v in zip(names, pck(alone, truth, shown=shown))}
            scores["decode_s_per_frame_each_frame_alone"] = alone_seconds
            faced, face_seconds = timed(SkeletonDecoder(face=True), frames)
            scores["pck_face"] = pck(faced, truth)[4]
            scores["decode_s_per_frame_body_and_face"] = face_seconds
        video = folder / "render.mp4"
        with VideoWriter(video, poses.fps) as writer:
            for f in frames:
                writer.write(f)
        with open_video(video) as reader:
            decoder = SkeletonDecoder(hands=extras, face=extras)
            stored = Poses.concat([decoder(f) for f in reader])
        scores |= {f"{k}_mp4": v for k, v in zip(names, pck(stored, truth, shown=shown))}
        scores["decode_s_per_frame"] = seconds
        out[f"{style}{'+hands+face' if extras else ''}"] = {k: None if v is None else round(v, 4)
                                                             for k, v in scores.items()}
    return out


def dwpose_renders(poses, folder: Path) -> tuple:
    """The poses as drawn (joints under the renderer's confidence dropped), each frame drawn in the DWPose look
    (hands and face) ((H, W, 3) uint8 RGB each), and those frames read back from an h264 mp4 of the whole
    render written in ``folder``."""
    import dataclasses

    from posevid.render import MIN_CONF, pose_image
    from posevid.video import VideoWriter, open_video

    keep = poses.conf > MIN_CONF
    truth = dataclasses.replace(poses, conf=np.where(keep, poses.conf, 0), xy=np.where(keep[..., None], poses.xy, 0))
    frames = [pose_image(truth, t) for t in range(len(truth))]
    video = folder / "render.mp4"
    with VideoWriter(video, poses.fps) as writer:
        for f in frames:
            writer.write(f)
    with open_video(video) as reader:
        stored = list(reader)
    return truth, frames, stored


def hand_sample(poses, folder: Path, every: int) -> dict:
    """Hands on whole clips: every ``every``-th frame that has a drawn hand, drawn in the DWPose look (with
    hands and face), each frame decoded alone (``decode_skeleton``: every hand fitted from the template
    starts), from the frames themselves and from an h264 mp4 of the whole clip's render. Hand PCK@0.05 of
    the body height (a hand point not decoded misses), body PCK, hands read where none is drawn (which
    the PCK does not see), seconds per frame."""
    from posevid.poses import Poses
    from posevid.render_decode import decode_skeleton

    truth, frames, stored = dwpose_renders(poses, folder)
    sample = np.array([t for t in range(0, len(truth), every) if (truth.hand_conf[t] > 0).any()])
    out: dict = {"frames": [int(t) for t in sample]}
    for kind, images in (("png", frames), ("mp4", stored)):
        start = time.perf_counter()
        decoded = Poses.concat([decode_skeleton(images[t], poses.fps, hands=True, face=True) for t in sample])
        seconds = (time.perf_counter() - start) / len(sample)
        body, hands = pck(decoded, truth[sample])[:2]
        read = (decoded.hand_conf > 0).any(-1) if decoded.has_hands else np.zeros((len(sample), 2), bool)
        out[kind] = {"pck_hands": round(hands, 4), "pck_body": round(body, 4),
                     "hands_read_not_drawn": int((read & ~(truth[sample].hand_conf > 0).any(-1)).sum()),
                     "decode_s_per_frame": round(seconds, 3)}
    return out


def body_sample(poses, folder: Path, every: int) -> dict:
    """Body joints on whole clips drawn in the DWPose look (hands and face), every ``every``-th frame, each
    decoded alone without hands (the hands' fit does not move body joints), from the frames and through an h264
    mp4 of the whole render: body PCK@0.05 of the body height, the misses of each joint, seconds per frame."""
    import collections

    from posevid.poses import Poses, body_height
    from posevid.render_decode import decode_skeleton
    from posevid.skeleton import JOINT

    truth, frames, stored = dwpose_renders(poses, folder)
    sample = np.arange(0, len(truth), every)
    names = {j: name for name, j in JOINT.items()}
    out: dict = {"frames": len(sample)}
    for kind, images in (("png", frames), ("mp4", stored)):
        start = time.perf_counter()
        decoded = Poses.concat([decode_skeleton(images[t], poses.fps) for t in sample])
        seconds = (time.perf_counter() - start) / len(sample)
        drawn = truth.conf[sample] > 0
        err = np.linalg.norm(decoded.xy - truth.xy[sample], axis=-1)
        hit = (err <= 0.05 * body_height(truth[sample])[:, None]) & (decoded.conf > 0)
        misses = collections.Counter({names[j]: int(n) for j, n in enumerate((drawn & ~hit).sum(0)) if n})
        out[kind] = {"pck_body": round(float(hit[drawn].mean()), 4), "misses": dict(misses.most_common()),
                     "decode_s_per_frame": round(seconds, 3)}
    return out


def beside_duplicates(path: Path, poses, sample: dict, folder: Path, every: int) -> dict:
    """``hand_sample`` of ``poses`` (hands with duplicates dropped, as estimated now) beside that of the same
    clip estimated with ``estimate.drop_duplicate_hand`` switched off; the frames where the two differ."""
    from unittest import mock

    from posevid import estimate as estimation

    with mock.patch.object(estimation, "drop_duplicate_hand", lambda *_: False):
        kept = estimate(path, "body+hands+face")[0]
    differ = np.flatnonzero((kept.hand_conf != poses.hand_conf).any((1, 2))
                            | (kept.hand_xy != poses.hand_xy).any((1, 2, 3)))
    same = not len(differ) and np.array_equal(kept.xy, poses.xy)
    return {"hands_dropped_at_frames": [int(t) for t in differ],
            "body_poses_identical": bool(np.array_equal(kept.xy, poses.xy) and np.array_equal(kept.conf, poses.conf)),
            "duplicates_kept": sample if same else hand_sample(kept, folder, every), "duplicates_dropped": sample}


def steadiness(poses) -> dict:
    """Share of frames decoded, joints per frame, frame-to-frame bone-length change."""
    from posevid.skeleton import DRAWN_LIMBS, JOINT

    c = poses.conf > 0
    decoded = c[:, JOINT["neck"]] & c[:, [JOINT["right_shoulder"], JOINT["left_shoulder"]]].any(1) \
        & c[:, [JOINT["right_hip"], JOINT["left_hip"]]].any(1)
    changes = []
    for a, b in DRAWN_LIMBS[:12]:
        length = np.linalg.norm(poses.xy[:, a] - poses.xy[:, b], axis=-1)
        both = (c[:, a] & c[:, b])
        pair = both[1:] & both[:-1]
        changes += (np.abs(np.diff(length))[pair] / np.maximum(length[:-1][pair], 1e-6)).tolist()
    hands = {}
    if poses.has_hands:  # hands decoded, of the frames with that wrist decoded
        wrists = c[:, [JOINT["left_wrist"], JOINT["right_wrist"]]]
        found = poses.hand_conf[:, :, 0] > 0
        hands = {"share_hands_decoded": round(float(found[wrists].mean()), 4) if wrists.any() else None,
                 "share_frames_both_hands": round(float(found.all(1).mean()), 4)}
    return {"frames": len(poses), "share_decoded": round(float(decoded.mean()), 4), **hands,
            "joints_per_frame": round(float(c.sum(1).mean()), 2),
            "bone_change_median": round(float(np.median(changes)), 4) if changes else None,
            "bone_change_p90": round(float(np.percentile(changes, 90)), 4) if changes else None}


LEGS = (("right_hip", "right_knee", "right_ankle"), ("left_hip", "left_knee", "left_ankle"))


def leg_plausibility(poses, detail: bool = False):
    """Whether each frame's decoded legs are plausible: every decoded thigh and shin at most 1.3x its
    clip median (shorter is foreshortening) and within 1.5x the frame's torso (neck to hips), each hip
    within 1.4x the clip's median neck-hip distance, and each knee, where its hip and ankle are decoded
    too, between them (its projection on hip -> ankle in [-0.15, 1.15]). Returns the share of frames
    with plausible legs, the share with a knee and with an ankle decoded, and leg joints per frame
    (with ``detail``, also the implausible frames)."""
    from posevid.skeleton import JOINT

    c, xy = poses.conf > 0, poses.xy
    neck = JOINT["neck"]
    hips = [JOINT["right_hip"], JOINT["left_hip"]]

    def length(a: int, b: int) -> np.ndarray:
        return np.where(c[:, a] & c[:, b], np.linalg.norm(xy[:, a] - xy[:, b], axis=-1), np.nan)

    torso = np.nanmean(np.stack([length(neck, h) for h in hips]), 0)
    torso_median = np.nanmedian(torso) if np.isfinite(torso).any() else np.nan
    ok = np.ones(len(poses), bool)
    for names in LEGS:
        hip, knee, ankle = (JOINT[n] for n in names)
        ok &= ~(length(neck, hip) > 1.4 * torso_median)
        for a, b in ((hip, knee), (knee, ankle)):
            bone = length(a, b)
            if np.isfinite(bone).any():
                ok &= ~(bone > 1.3 * np.nanmedian(bone)) & ~(bone > 1.5 * torso)
        three = c[:, hip] & c[:, knee] & c[:, ankle]
        axis = xy[:, ankle] - xy[:, hip]
        t = ((xy[:, knee] - xy[:, hip]) * axis).sum(-1) / np.maximum((axis * axis).sum(-1), 1e-6)
        ok &= ~(three & ((t < -0.15) | (t > 1.15)))
    knees = c[:, [JOINT["right_knee"], JOINT["left_knee"]]].any(1)
    ankles = c[:, [JOINT["right_ankle"], JOINT["left_ankle"]]].any(1)
    legs = [JOINT[n] for names in LEGS for n in names]
    out = {"share_legs_plausible": round(float(ok.mean()), 4), "share_with_a_knee": round(float(knees.mean()), 4),
           "share_with_an_ankle": round(float(ankles.mean()), 4),
           "leg_joints_per_frame": round(float(c[:, legs].sum(1).mean()), 2)}
    return (out, np.flatnonzero(~ok).tolist()) if detail else out


def decode_video(path: Path, decode, frames: int | None = None) -> tuple:
    from posevid.poses import Poses
    from posevid.video import open_video

    start = time.perf_counter()
    with open_video(path) as reader:
        poses = Poses.concat([decode(rgb, reader.fps) for rgb in itertools.islice(reader, frames)])
    return poses, (time.perf_counter() - start) / len(poses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=len(CLIPS), help="how many of the real clips to use")
    parser.add_argument("--renders", nargs="*", default=["animateanyone", "densepose"],
                        choices=["animateanyone", "densepose"], help="which shared pose renders to decode")
    parser.add_argument("--frames", type=int, default=None, help="only the first FRAMES frames of each clip and render")
    parser.add_argument("--every", type=int, default=None,
                        help="only hands on whole clips: every EVERY-th frame with a hand, each decoded alone")
    parser.add_argument("--duplicates", action="store_true",
                        help="with --every: also with duplicate hands kept (the estimator before they were dropped)")
    parser.add_argument("--body", action="store_true",
                        help="with --every: body joints only, every EVERY-th frame, decoded without hands")
    args = parser.parse_args()
    from posevid.render_decode import SkeletonDecoder, decode_densepose_parts

    result: dict = {"machine": machine(), "settings": {"pck_share": 0.05, "clips": list(CLIPS[:args.clips]),
                                                      "frames": args.frames}}
    if args.every:
        samples = {}
        with tempfile.TemporaryDirectory() as tmp:
            for clip in CLIPS[:args.clips]:
                path = DATA / clip
                poses = estimate(path, "body+hands+face")[0]
                if args.body:
                    samples[path.name] = body_sample(poses, Path(tmp), args.every)
                    print(json.dumps({path.name: samples[path.name]}), file=sys.stderr, flush=True)
                    continue
                samples[path.name] = hand_sample(poses, Path(tmp), args.every)
                if args.duplicates:
                    samples[path.name] = beside_duplicates(path, poses, samples[path.name], Path(tmp), args.every)
                print(json.dumps({path.name: samples[path.name]}), file=sys.stderr, flush=True)
        result["settings"]["every"] = args.every
        result["settings"]["duplicates"] = args.duplicates
        result["settings"]["body"] = args.body
        result["body_sample" if args.body else "hand_sample"] = samples
        result["machine"]["load_average_1m_end"] = os.getloadavg()[0]
        print(json.dumps(result, indent=2))
        return
    estimation, trips = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for clip in CLIPS[:args.clips]:
            path = DATA / clip
            whole, whole_s = estimate(path, "body+hands+face", args.frames)
            body, body_s = estimate(path, "body", args.frames)
            found = whole.hand_conf[:, :, 0] > 0
            estimation[path.name] = {
                "frames": len(whole), "both_hands": round(float(found.all(1).mean()), 4),
                "left_hand": round(float(found[:, 0].mean()), 4), "right_hand": round(float(found[:, 1].mean()), 4),
                "face": round(float((whole.face_conf[:, 0] > 0).mean()), 4),
                "holistic_s_per_frame": round(whole_s, 4), "body_s_per_frame": round(body_s, 4)}
            trips[path.name] = round_trip(whole, Path(tmp))
            print(json.dumps({path.name: [estimation[path.name], trips[path.name]]}), file=sys.stderr, flush=True)
    result["estimation"] = estimation
    result["skeleton_round_trip"] = trips
    result["animateanyone"] = {}
    for path in sorted((DATA / "pose_renders").glob("animateanyone_*_kps.mp4")) * ("animateanyone" in args.renders):
        poses, seconds = decode_video(path, SkeletonDecoder(hands=True, face=True), args.frames)
        result["animateanyone"][path.name] = {**steadiness(poses), "s_per_frame": round(seconds, 4)}
    result["densepose"] = {}
    for path in sorted((DATA / "pose_renders").glob("magicanimate_densepose_*.mp4")) * ("densepose" in args.renders):
        poses, seconds = decode_video(path, decode_densepose_parts, args.frames)
        result["densepose"][path.name] = {**steadiness(poses), **leg_plausibility(poses),
                                          "s_per_frame": round(seconds, 4)}
    result["machine"]["load_average_1m_end"] = os.getloadavg()[0]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
