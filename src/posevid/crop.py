"""The square crop around a person, one implementation for training data and animation.

``posevid prepare`` crops every frame of a clip with one square around the person's whole track
(``data.prepare.track_box``); ``posevid animate`` gives a method trained on such crops the square around
the photo's person (``photo_box``). Both make the square with ``square_box`` (moved inside the image where
it fits) and cut it with ``crop_square`` (black outside the image, the same resizing); a method then sees
the person framed the way it was trained on. Boxes are ``(x0, y0, side)`` in pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from .poses import Poses, bbox
from .tensors import resize_image

PHOTO_SCALE = 1.4  # a photo's square is this many times the person's larger side ...
FOOT_ROOM = 0.04  # ... with this fraction of it below the lowest point (the rest of the room above)


def square_box(extent: np.ndarray | tuple[float, float, float, float], scale: float, *,
               foot_room: float | None = None, width: int | None = None,
               height: int | None = None) -> tuple[int, int, int]:
    """(x0, y0, side) of the square of side ``scale`` x the larger side of ``extent`` (x0, y0, x1, y1),
    centred across; down the image centred too, or with ``foot_room`` x side below the extent's bottom.
    With the image's ``width`` / ``height`` the square moves inside the image where it fits."""
    x0, y0, x1, y1 = (float(v) for v in extent)
    side = max(8, int(round(scale * max(x1 - x0, y1 - y0))))
    bx = int(round((x0 + x1) / 2 - side / 2))
    by = int(round((y0 + y1) / 2 - side / 2 if foot_room is None else y1 + foot_room * side - side))
    if width is not None and side <= width:
        bx = min(max(bx, 0), width - side)
    if height is not None and side <= height:
        by = min(max(by, 0), height - side)
    return bx, by, side


def photo_box(pose: Poses, mask: np.ndarray) -> tuple[int, int, int]:
    """The square of a photo: around the person's joints (first frame of ``pose``) and mask (H, W) in [0, 1],
    ``PHOTO_SCALE`` times its larger side, feet near the bottom (room above for raised arms), moved inside
    the photo where it fits. A face pose (``face.is_face_pose``) gets the square around the head instead, as
    ``posevid prepare --subject face`` cuts it (``face.face_region`` with a tenth of margin each side)."""
    from .face import face_region, is_face_pose

    height, width = mask.shape[:2]
    if is_face_pose(pose):
        return square_box(face_region(pose), 1.2, width=width, height=height)
    box = bbox(pose)[0]
    ys, xs = np.nonzero(mask > 0.5)
    if xs.size:
        box = np.array([min(box[0], xs.min()), min(box[1], ys.min()), max(box[2], xs.max()), max(box[3], ys.max())])
    return square_box(box, PHOTO_SCALE, foot_room=FOOT_ROOM, width=width, height=height)


def crop_square(image: np.ndarray, box: tuple[int, int, int], size: int, border: str = "zero",
                nearest: bool = False) -> np.ndarray:
    """The square ``box`` of ``image`` (H, W[, C]) resized to ``size`` x ``size``; outside the image the
    border is black (``"zero"``) or the edge pixels repeated (``"edge"``). Resizing is ``resize_image``'s
    (area when shrinking, bilinear when growing), or nearest-neighbour for label images."""
    x0, y0, side = box
    h, w = image.shape[:2]
    pad = (max(0, -y0), max(0, y0 + side - h), max(0, -x0), max(0, x0 + side - w))
    if any(pad):
        mode = cv2.BORDER_REPLICATE if border == "edge" else cv2.BORDER_CONSTANT
        image = cv2.copyMakeBorder(image, *pad, mode, value=0)
        x0, y0 = x0 + pad[2], y0 + pad[0]
    square = image[y0:y0 + side, x0:x0 + side]
    if nearest:
        return cv2.resize(square, (size, size), interpolation=cv2.INTER_NEAREST)
    return resize_image(square, size, size)


def crop_photo(rgb: np.ndarray, pose: Poses, mask: np.ndarray, size: int) -> tuple[np.ndarray, Poses, np.ndarray]:
    """A photo, its one-frame pose and person mask cropped to ``photo_box`` at ``size`` x ``size`` (black
    outside the photo, as the training crops): ((size, size, 3) uint8, pose in the crop's pixels, (size,
    size) float32)."""
    x0, y0, side = photo_box(pose, mask)
    box = (x0, y0, side)
    return (crop_square(rgb, box, size), pose.crop(x0, y0, side, side, size, size),
            crop_square(np.asarray(mask, np.float32), box, size))
