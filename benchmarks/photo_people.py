"""Is the person found in each photo a person? ``photo.find_person`` on the shared data (issue 14).

For each still (``DATA/images``, ``DATA/faces``) and frames 0, 40 and 80 of each clip (``DATA/videos``), at
its own size and with its longer side at 160 and 320 pixels: the person ``find_person`` keeps (body height in
pixels, or nobody) and how far BlazePose's second look (``photo.second_look``: the square ``AGAIN_BOX`` times
the person's size around it) places the joints seen in both, on average, as a share of the body height
(None: nobody found there; ``find_person`` keeps a person only when it is at most ``AGAIN``); beside it, the
same for the person ``find_person`` keeps without that check (``photo.found_again`` switched off: as before
it was added), and for BlazePose's first look at the whole image.

Prints JSON: machine and load, settings, per image and size.
Run: ``python -m benchmarks.photo_people``.
"""

from __future__ import annotations

import json
import os

import cv2

from benchmarks.pose_inputs import DATA, machine

SIDES = (None, 160, 320)
CLIP_FRAMES = (0, 40, 80)


def main() -> None:
    from unittest import mock

    from posevid import photo
    from posevid.estimate import PoseEstimator
    from posevid.photo import find_person, second_look
    from posevid.poses import body_height
    from posevid.video import IMAGE_SUFFIXES, open_video, read_image

    images = {p.name: read_image(p) for folder in ("images", "faces") for p in sorted((DATA / folder).glob("*"))
              if p.suffix.lower() in IMAGE_SUFFIXES}
    for clip in sorted((DATA / "videos").glob("*.mp4")):
        with open_video(clip) as reader:
            for i, frame in enumerate(reader):
                if i in CLIP_FRAMES:
                    images[f"{clip.name}@{i}"] = frame
                if i >= max(CLIP_FRAMES):
                    break
    result: dict = {"machine": machine(), "settings": {"sides": [s or "own" for s in SIDES],
                                                      "clip_frames": list(CLIP_FRAMES)}, "images": {}}
    with PoseEstimator() as estimator:
        def look(image, pose) -> dict | str:  # its body height and where the second look places it
            tall = float(body_height(pose)[0])
            if tall <= 0:
                return "nobody"
            again = second_look(estimator, image, pose)
            return {"body_height": round(tall, 1), "second_look": None if again is None else round(again, 4)}

        for name, rgb in images.items():
            out = {}
            for side in SIDES:
                scale = 1.0 if side is None else side / max(rgb.shape[:2])
                size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
                image = rgb if side is None else cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
                with mock.patch.object(photo, "found_again", lambda *_: True):
                    unchecked = find_person(estimator, image)[0]
                out[str(side or "own")] = {"kept": look(image, find_person(estimator, image)[0]),
                                           "kept_unchecked": look(image, unchecked),
                                           "first_look": look(image, estimator.image(image)[0])}
            result["images"][name] = out
    result["machine"]["load_average_1m_end"] = os.getloadavg()[0]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
