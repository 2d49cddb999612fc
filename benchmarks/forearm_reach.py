"""How far past its wrist a forearm's label reaches in the rig (issue 14): without and with
``layers._past_the_tips`` (a forearm's pixels past its own shape's end go to the body), side by side.

For each photo of ``DATA/images`` and ``DATA/faces`` (longer side ``--size``; its person found as the
pipeline finds it, ``photo.find_person``) the rig is built twice (``Rig.build``; "old": ``_past_the_tips``
left out). Per forearm whose wrist the photo shows: the farthest vertex of its triangles (its drawn hand
aside), along the elbow-to-wrist direction past the wrist, in body scales (the forearm's shape reaches
0.4 and a hand's width, about 0.5), and whether the two rigs are identical (parts, vertices, atlas: then
every frame ``animate`` draws is too). The painted lady of liveportrait_s0.jpg rests her hand on the
armchair, and the chair and dress below it, down to the frame's edge, flew up with her raised forearm.

Prints JSON: machine and load, settings, per photo the two side by side.
Run: ``python -m benchmarks.forearm_reach [--size 384]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import Iterator

import cv2
import numpy as np

from benchmarks.pose_inputs import DATA, machine


@contextlib.contextmanager
def _without_past_the_tips() -> Iterator[None]:
    """``layers._past_the_tips`` replaced by the identity inside the block (the old labels)."""
    from posevid import layers

    kept = layers._past_the_tips
    layers._past_the_tips = lambda label, *args, **kwargs: label
    try:
        yield
    finally:
        layers._past_the_tips = kept


def farthest(rig, pose) -> dict[str, float]:
    """Per forearm whose wrist ``pose`` (one frame) shows: its triangles' farthest vertex past the wrist
    along the forearm, in body scales (rounded to 0.001)."""
    from posevid import layers
    from posevid.render import MIN_CONF
    from posevid.skeleton import BODY_PARTS, PART_NAMES

    out = {}
    for p in layers.FOREARMS:
        elbow, wrist = BODY_PARTS[PART_NAMES[p]]
        if min(pose.conf[0, elbow], pose.conf[0, wrist]) <= MIN_CONF:
            continue
        a, b = pose.xy[0, elbow].astype(np.float64), pose.xy[0, wrist].astype(np.float64)
        tris = rig.mesh.triangles[(rig.part == p) & (rig.texture != rig.hand_texture)]
        if not len(tris):
            continue
        unit = (b - a) / max(float(np.linalg.norm(b - a)), 1e-6)
        out[PART_NAMES[p]] = round(float(((rig.mesh.vertices[np.unique(tris)] - b) @ unit).max() / rig.scale), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=384, help="the photos' longer side")
    args = parser.parse_args()
    from posevid.errors import PosevidError
    from posevid.estimate import PoseEstimator
    from posevid.photo import find_person
    from posevid.rig import Rig
    from posevid.video import read_image

    report = {"machine": machine(), "settings": {"size": args.size, "old": "layers._past_the_tips left out"},
              "photos": {}}
    paths = [p for folder in ("images", "faces") for p in sorted((DATA / folder).glob("*"))
             if p.suffix.lower() in (".jpg", ".jpeg", ".png") and "segmentation" not in p.name]
    with PoseEstimator() as est:
        for path in paths:
            rgb = read_image(path)
            s = args.size / max(rgb.shape[:2])
            rgb = cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)),
                             interpolation=cv2.INTER_CUBIC if s > 1 else cv2.INTER_AREA)
            try:
                pose, mask = find_person(est, rgb)
                new = Rig.build(rgb, pose, mask)
                with _without_past_the_tips():
                    old = Rig.build(rgb, pose, mask)
            except PosevidError as err:
                report["photos"][path.name] = {"error": str(err)}
                continue
            same = (old.part.shape == new.part.shape and bool((old.part == new.part).all())
                    and np.array_equal(old.mesh.vertices, new.mesh.vertices) and np.array_equal(old.atlas, new.atlas))
            report["photos"][path.name] = {"old": farthest(old, pose), "new": farthest(new, pose),
                                           "rig_identical": same}
    report["machine"]["load_average_1m_end"] = os.getloadavg()[0]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
