"""Driving inputs beyond camera video: hands and face estimation, skeleton and DensePose renders decoded.

Prints JSON: machine and load, then
- ``estimation``: per real clip, MediaPipe Holistic (``body+hands+face``) against BlazePose (``body``)
  run side by side: the share of frames with both hands found (and each hand, and the face), and
  seconds per frame of each;
- ``skeleton_round_trip``: our own estimated poses of each clip drawn as skeleton videos (the
  OpenPose/DWPose look, with and without hands and face, and posevid's thin look), decoded back,
  PCK@0.05 of the body height against what was drawn (body joints; hands where drawn), on the frames
  themselves and through an mp4 (h264, as a user would store them);
- ``animateanyone``: the AnimateAnyone DWPose renders of ``shared/data/pose_renders``: share of frames
  decoded (a body with a neck, a shoulder and a hip), joints per frame, the frame-to-frame change of the
  12 arm, torso and leg bone lengths (median and 90th percentile), seconds per frame;
- ``densepose``: the MagicAnimate DensePose part renders decoded to keypoints from the part regions:
  the same measures.
Run: ``python -m benchmarks.pose_inputs [--clips N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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


def estimate(path: Path, keypoints: str):
    from posevid.estimate import estimate_poses

    start = time.perf_counter()
    poses = estimate_poses(path, keypoints=keypoints)
    return poses, (time.perf_counter() - start) / len(poses)


def pck(decoded, truth, share: float = 0.05) -> tuple[float, float | None]:
    """Body PCK and hand PCK (None without drawn hands) of decoded against drawn poses."""
    from posevid.poses import body_height

    height = body_height(truth)
    err = np.linalg.norm(decoded.xy - truth.xy, axis=-1)
    body = ((err <= share * height[:, None]) & (decoded.conf > 0))[truth.conf > 0]
    hands = None
    if truth.has_hands and (truth.hand_conf > 0).any():
        found = decoded.hand_conf if decoded.has_hands else np.zeros_like(truth.hand_conf)
        d_xy = decoded.hand_xy if decoded.has_hands else np.zeros_like(truth.hand_xy)
        h_err = np.linalg.norm(d_xy - truth.hand_xy, axis=-1)
        hands = float(((h_err <= share * height[:, None, None]) & (found > 0))[truth.hand_conf > 0].mean())
    return float(body.mean()), hands


def round_trip(poses, folder: Path) -> dict:
    """Draw, decode (frames and mp4) and score each render look."""
    import dataclasses

    from posevid.poses import Poses
    from posevid.render import MIN_CONF, pose_image
    from posevid.render_decode import decode_skeleton
    from posevid.video import VideoWriter, open_video

    keep = poses.conf > MIN_CONF  # what the renderer draws
    drawn = dataclasses.replace(poses, conf=np.where(keep, poses.conf, 0), xy=np.where(keep[..., None], poses.xy, 0))
    out = {}
    for style, extras in RENDER_LOOKS:
        truth = drawn if extras else drawn.body_only()
        frames = [pose_image(truth, t, style=style) for t in range(len(truth))]
        start = time.perf_counter()
        direct = Poses.concat([decode_skeleton(f) for f in frames])
        seconds = (time.perf_counter() - start) / len(frames)
        video = folder / "render.mp4"
        with VideoWriter(video, poses.fps) as writer:
            for f in frames:
                writer.write(f)
        with open_video(video) as reader:
            stored = Poses.concat([decode_skeleton(f) for f in reader])
        body, hands = pck(direct, truth)
        body_mp4, hands_mp4 = pck(stored, truth)
        out[f"{style}{'+hands+face' if extras else ''}"] = {
            "pck_body": round(body, 4), "pck_body_mp4": round(body_mp4, 4),
            "pck_hands": None if hands is None else round(hands, 4),
            "pck_hands_mp4": None if hands_mp4 is None else round(hands_mp4, 4),
            "decode_s_per_frame": round(seconds, 4)}
    return out


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
    return {"frames": len(poses), "share_decoded": round(float(decoded.mean()), 4),
            "joints_per_frame": round(float(c.sum(1).mean()), 2),
            "bone_change_median": round(float(np.median(changes)), 4) if changes else None,
            "bone_change_p90": round(float(np.percentile(changes, 90)), 4) if changes else None}


def decode_video(path: Path, decode) -> tuple:
    from posevid.poses import Poses
    from posevid.video import open_video

    start = time.perf_counter()
    with open_video(path) as reader:
        poses = Poses.concat([decode(rgb, reader.fps) for rgb in reader])
    return poses, (time.perf_counter() - start) / len(poses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=len(CLIPS), help="how many of the real clips to use")
    args = parser.parse_args()
    from posevid.render_decode import decode_densepose_parts, decode_skeleton

    result: dict = {"machine": machine(), "settings": {"pck_share": 0.05, "clips": list(CLIPS[:args.clips])}}
    estimation, trips = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for clip in CLIPS[:args.clips]:
            path = DATA / clip
            whole, whole_s = estimate(path, "body+hands+face")
            body, body_s = estimate(path, "body")
            found = whole.hand_conf[:, :, 0] > 0
            estimation[path.name] = {
                "frames": len(whole), "both_hands": round(float(found.all(1).mean()), 4),
                "left_hand": round(float(found[:, 0].mean()), 4), "right_hand": round(float(found[:, 1].mean()), 4),
                "face": round(float((whole.face_conf[:, 0] > 0).mean()), 4),
                "holistic_s_per_frame": round(whole_s, 4), "body_s_per_frame": round(body_s, 4)}
            trips[path.name] = round_trip(whole, Path(tmp))
    result["estimation"] = estimation
    result["skeleton_round_trip"] = trips
    result["animateanyone"] = {}
    for path in sorted((DATA / "pose_renders").glob("animateanyone_*_kps.mp4")):
        poses, seconds = decode_video(path, decode_skeleton)
        result["animateanyone"][path.name] = {**steadiness(poses), "s_per_frame": round(seconds, 4)}
    result["densepose"] = {}
    for path in sorted((DATA / "pose_renders").glob("magicanimate_densepose_*.mp4")):
        poses, seconds = decode_video(path, decode_densepose_parts)
        result["densepose"][path.name] = {**steadiness(poses), "s_per_frame": round(seconds, 4)}
    result["machine"]["load_average_1m_end"] = os.getloadavg()[0]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
