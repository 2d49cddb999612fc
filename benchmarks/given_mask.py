"""A given pose's mask (``photo.mask_for_pose``) on the drawn creature: as on main before 788ca21 (neither the
ground between the legs, ``photo._between_legs``, nor held things, ``photo._held``), as at af86e7b (without
what it wears on its head, ``photo._worn``, nor the faint rims, ``photo.FAINT``) and now (issue 14).

``animatex_2.jpeg`` at the size ``posevid animate --size SIZE`` works at, its pose given by hand
(``docs/gallery/poses/animatex_2.json``): the share of the ground between its shins (the knees' and ankles'
quadrilateral farther than ``LEG_CLEAR`` from the leg bones) that the selfie segmentation and the mask take,
and of its two torches' pink pixels (flames and cups, boxes in the photo's pixels) and of its hat's flame's
that the mask takes; then animated by ``animatex_dance_2.mp4``: per frame, the share of those torch (flame)
pixels still pink where the torches (the flame) stood (left standing in the air: near 1) and the mean
absolute difference from the photo over the ground between its shins (a dragged piece of bush or a fill:
high), medians over the frames.

Prints JSON: machine and load, settings, the three side by side.
Run: ``python -m benchmarks.given_mask [--size 384]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from pathlib import Path

import cv2
import numpy as np

from benchmarks.pose_inputs import DATA, machine

POSE = Path(__file__).resolve().parents[1] / "docs" / "gallery" / "poses" / "animatex_2.json"
TORCHES = ((110, 560, 200, 700), (690, 370, 780, 580))  # x0, y0, x1, y1 in the 896x1344 photo's pixels
FLAME = (319, 240, 596, 518)  # the pink flame on its hat, as TORCHES


def pink(rgb: np.ndarray) -> np.ndarray:
    """(H, W) bool: the torches' and the hat's glowing pink in an (H, W, 3) uint8 RGB image."""
    red, green, blue = (rgb[..., c].astype(int) for c in range(3))
    return (red > 170) & (blue > 170) & (green < red - 40)


def main() -> None:
    from unittest import mock

    from posevid import photo
    from posevid.estimate import segment_person
    from posevid.pipeline import animate
    from posevid.poses import body_height
    from posevid.video import read_image

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=384)
    args = parser.parse_args()
    path, clip = DATA / "images" / "animatex_2.jpeg", DATA / "videos" / "animatex_dance_2.mp4"
    full = read_image(path)
    scale = args.size / max(full.shape[:2])
    w, h = (round(n * scale) // 2 * 2 for n in full.shape[1::-1])
    rgb = cv2.resize(full, (w, h), interpolation=cv2.INTER_AREA)
    pose = photo.given_pose(POSE, w, h)
    xy, conf = pose.xy[0], pose.conf[0]
    gap = photo._between_legs(xy, conf, h, w, photo.LEG_CLEAR * float(body_height(pose)[0]))
    torch = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in TORCHES:
        torch[round(y0 * scale):round(y1 * scale), round(x0 * scale):round(x1 * scale)] = True
    torch &= pink(rgb)
    flame = np.zeros((h, w), bool)
    flame[round(FLAME[1] * scale):round(FLAME[3] * scale), round(FLAME[0] * scale):round(FLAME[2] * scale)] = True
    flame &= pink(rgb)
    segmentation = segment_person(rgb)
    report: dict = {"machine": machine(), "settings": {"size": args.size, "photo": path.name, "clip": clip.name,
                                                       "gap_pixels": int(gap.sum()), "torch_pixels": int(torch.sum()),
                                                       "flame_pixels": int(flame.sum())},
                    "segmentation_share_gap": round(float((segmentation[gap] > 0.5).mean()), 3)}
    for name in ("before_788ca21", "af86e7b", "new"):
        with contextlib.ExitStack() as stack:
            if name != "new":  # nothing worn, no faint rims
                stack.enter_context(mock.patch.object(photo, "_worn", lambda im, *_: np.zeros(im.shape[:2], "f4")))
                stack.enter_context(mock.patch.object(photo, "FAINT", np.inf))
            if name == "before_788ca21":  # nothing held, the ground between the legs left to the segmentation
                stack.enter_context(mock.patch.object(photo, "_between_legs", lambda *a: np.zeros(a[2:4], bool)))
                stack.enter_context(mock.patch.object(photo, "_held", lambda im, *_: np.zeros(im.shape[:2], "f4")))
            mask = photo.mask_for_pose(rgb, pose, segmentation) > 0.5
            frames = list(animate(path, clip, size=args.size, photo_pose=POSE))
        report[name] = {
            "mask_share_frame": round(float(mask.mean()), 4),
            "mask_share_gap": round(float(mask[gap].mean()), 3),
            "mask_share_torches": round(float(mask[torch].mean()), 3),
            "mask_share_flame": round(float(mask[flame].mean()), 3),
            "torches_left_standing_median": round(float(np.median([pink(f)[torch].mean() for f in frames])), 3),
            "flame_left_standing_median": round(float(np.median([pink(f)[flame].mean() for f in frames])), 3),
            "gap_change_median": round(float(np.median(
                [np.abs(f.astype(int) - rgb)[gap].mean() for f in frames])), 2)}
    report["machine"]["load_average_1m_end"] = os.getloadavg()[0]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
