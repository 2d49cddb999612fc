"""The photo to animate: its output frame, its person (pose and mask) found and checked, and the square
crop a method trained on square crops works in.

``frame_size`` says how large the result is: the photo's whole frame and aspect ratio, its longer side
``size`` (or ``width`` x ``height``; the pipeline crops the photo around the person to fill them when the
aspect differs), never padded. ``find_person`` runs BlazePose on the photo and, when it finds nobody or
only a small person, on crops of it (its detector can miss a person in a busy scene, or take a
reflection for one), and keeps the tallest person that it finds again when it looks closer
(``found_again``). ``check_person`` turns a photo that cannot be animated (no person, too small, shoulders
cut off) into one ``PosevidError`` line, and says once when the photo shows only part of the body (those
joints stay still). A person BlazePose cannot find (a drawn character) can be given: ``given_pose`` reads
the user's pose file, ``mask_for_pose`` cuts the person's mask from the segmentation around it.
``paste`` puts a square crop generated at a method's training size back into the full frame with a
feathered seam.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np

from .errors import PosevidError
from .poses import Poses, bbox, body_height, outside_photo
from .skeleton import COCO18_NAMES, JOINT, LIMBS

# Regions of the photo (x0, y0, x1, y1 as fractions) the person is looked for in: the whole, then crops.
CROPS = ((0.0, 0.0, 1.0, 1.0), (0.0, 0.0, 0.7, 1.0), (0.3, 0.0, 1.0, 1.0), (0.0, 0.0, 1.0, 0.7))
RETRY_BELOW = 0.5  # the crops are tried while the tallest person found is shorter than this share of the photo
MIN_SEEN = 0.5  # BlazePose visibility under which a joint near the border counts as not shown (it guesses them)
EDGE = 0.08  # of the photo's longer side: "near the border"
MIN_HEIGHT = 32  # pixels: a smaller person (``poses.body_height`` at the output size) is refused
GIVE_POSE = "a drawn character? give its pose with --photo-pose FILE, e.g. OpenPose JSON"
AGAIN_BOX = 1.6  # the square a found person is looked for again in, over the person's size
AGAIN = 0.25  # of the body's height: how far the person found again may lie from the first, on average
MASK_REACH = 0.2  # of the body's height: how far from a given pose's bones its mask reaches
GRABCUT_ROUNDS = 4  # of OpenCV's GrabCut, cutting a given pose's mask by its colours
LEG_CLEAR = 0.06  # of the body's height: how far from the lower legs the ground between them is background
HELD_REACH = 0.8  # of the body's height: how far from a given pose's arm bones a thing it holds may reach
HELD_CONTRAST = 30.0  # CIELAB distance (OpenCV's 8-bit scale) from the background around a held thing
HELD_AROUND = 12.0  # pixels: the Gaussian sigma over which "the background around" is averaged
FAINT = 15.0  # CIELAB distance from the background around: a held or worn thing's faint rim (an outline's curl)
FAINT_REACH = 0.02  # of the body's height: how far beyond what stands out its faint rim is taken
WORN_REACH = 0.7  # of the body's height: how far from a given pose's head joints a thing it wears may reach
_ARMS = tuple((JOINT[f"{side}_{a}"], JOINT[f"{side}_{b}"]) for side in ("right", "left")
              for a, b in (("shoulder", "elbow"), ("elbow", "wrist")))
_LOWER = tuple((JOINT[a], JOINT[b]) for a, b in (  # the trunk and legs, which hold nothing
    ("neck", "right_hip"), ("neck", "left_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    ("left_hip", "left_knee"), ("left_knee", "left_ankle")))
_HEAD = tuple(JOINT[n] for n in ("nose", "neck", "right_eye", "left_eye", "right_ear", "left_ear"))
FEATHER = 0.06  # of the crop's side: the width of the seam where a pasted crop fades into the frame
_TORSO = (JOINT["right_shoulder"], JOINT["left_shoulder"])
_BODY = tuple(range(14))  # the body joints whose absence makes a half-body photo (not eyes and ears)


def _even(n: float) -> int:
    return max(2, int(round(n / 2)) * 2)


def frame_size(width: int, height: int, size: int | None = None, out_width: int | None = None,
               out_height: int | None = None) -> tuple[int, int]:
    """(width, height) of the result for a ``width`` x ``height`` photo: ``size`` sets the longer side,
    ``out_width`` / ``out_height`` one side (the other keeps the aspect) or both; with none of them, the
    photo's own size. Sides are rounded to even numbers (video encoders need them)."""
    if out_width and out_height:
        return _even(out_width), _even(out_height)
    if out_width:
        return _even(out_width), _even(height * out_width / width)
    if out_height:
        return _even(width * out_height / height), _even(out_height)
    scale = size / max(width, height) if size else 1.0
    return _even(width * scale), _even(height * scale)


def find_person(estimator, rgb: np.ndarray) -> tuple[Poses, np.ndarray]:
    """The one-frame pose (``rgb``'s pixels) and (H, W) float32 mask of the person in the photo ``rgb``,
    by BlazePose (``estimator``, static mode). When the whole photo gives nobody or a person under
    ``RETRY_BELOW`` of its height, the ``CROPS`` of it are tried too (BlazePose's detector can miss a
    person in a busy scene, or take a reflection for one) and the tallest person found is kept; a person
    counts only when found again in the square around it (``found_again``: in a drawing the detector finds
    people in the props). An empty pose and mask when nobody is found."""
    h, w = rgb.shape[:2]
    best: tuple[float, Poses, np.ndarray] | None = None
    for fx0, fy0, fx1, fy1 in CROPS:
        x0, y0, x1, y1 = round(fx0 * w), round(fy0 * h), round(fx1 * w), round(fy1 * h)
        pose, mask = estimator.image(np.ascontiguousarray(rgb[y0:y1, x0:x1]))
        if (x0, y0, x1, y1) != (0, 0, w, h):
            pose = pose.crop(-x0, -y0, w, h, w, h)
            mask = np.pad(mask, ((y0, h - y1), (x0, w - x1)))
        tall = float(body_height(pose)[0])
        if tall > 0 and (best is None or tall > best[0] * 1.05) and found_again(estimator, rgb, pose):
            best = (tall, pose, mask)
        if best is not None and best[0] >= RETRY_BELOW * h:
            break
    if best is None:
        return Poses.empty(1, w, h), np.zeros((h, w), np.float32)
    return best[1], best[2]


def second_look(estimator, rgb: np.ndarray, pose: Poses) -> float | None:
    """How far BlazePose (``estimator``) places the person of the one-frame ``pose`` (``rgb``'s pixels) when it
    looks again in the square around it (``AGAIN_BOX`` times the larger of its box's sides and its body height,
    within the photo): the mean distance of the joints seen in both over the body height; None when it finds
    nobody there."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = bbox(pose)[0]
    tall = float(body_height(pose)[0])
    half = AGAIN_BOX * max(x1 - x0, y1 - y0, tall) / 2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    X0, Y0 = int(max(cx - half, 0)), int(max(cy - half, 0))
    X1, Y1 = int(min(np.ceil(cx + half), w)), int(min(np.ceil(cy + half), h))
    if X1 - X0 < 2 or Y1 - Y0 < 2 or tall <= 0:
        return None
    again, _ = estimator.image(np.ascontiguousarray(rgb[Y0:Y1, X0:X1]))
    again = again.crop(-X0, -Y0, w, h, w, h)
    both = (pose.conf[0] > MIN_SEEN) & (again.conf[0] > MIN_SEEN)
    if not both.any():
        return None
    return float(np.linalg.norm(pose.xy[0] - again.xy[0], axis=1)[both].mean()) / tall


def found_again(estimator, rgb: np.ndarray, pose: Poses) -> bool:
    """Whether BlazePose finds the person of ``pose`` again when it looks closer (``second_look``), within
    ``AGAIN`` of the body's height on average: a person is (0.022 at most on the real photos and clip frames at
    160 pixels, 320 and their own size: ``benchmarks/photo_people.py``); what its detector takes for a person
    in a drawing is not (animatex_2.jpeg's torch holder, upside down, at its own size and at 160 pixels: nobody
    in the square)."""
    again = second_look(estimator, rgb, pose)
    return again is not None and again <= AGAIN


def given_pose(path: str | Path, width: int, height: int) -> Poses:
    """The photo's person's pose from a pose file the user gives (``--photo-pose``: OpenPose JSON, COCO
    JSON, npz, PG2 CSV; its first frame, COCO-18), as a one-frame ``Poses`` in the pixels of the
    ``width`` x ``height`` photo: coordinates stored for a canvas of the photo's aspect (an OpenPose
    editor's, on a resized copy) are scaled to the photo; a file without a canvas is read in the photo's
    pixels. ``PosevidError(path, ...)`` for a file whose canvas has another aspect, whose points lie outside
    the photo, or that holds no body joint."""
    from .posefiles import read_poses, require_coco18

    pose = require_coco18(path, read_poses(path), "the photo's pose")[:1]
    aspect = (pose.width / pose.height) / (width / height)
    if (pose.width, pose.height) != (width, height) and abs(aspect - 1) < 0.01:
        pose = pose.rescale(width, height)
    seen = pose.xy[0][pose.conf[0] > 0]
    if not len(seen):
        raise PosevidError(path, "holds no body joint with a confidence above 0")
    if (pose.width, pose.height) != (width, height):
        if (seen < -0.5).any() or (seen[:, 0] > width - 0.5).any() or (seen[:, 1] > height - 0.5).any():
            raise PosevidError(path, f"its canvas is {pose.width}x{pose.height} and its points do not fit the "
                                     f"{width}x{height} photo: give the pose in the photo's pixels")
        pose = dataclasses.replace(pose, width=width, height=height)
    return pose


def mask_for_pose(rgb: np.ndarray, pose: Poses, segmentation: np.ndarray) -> np.ndarray:
    """(H, W) float32 mask of the person whose one-frame ``pose`` (``rgb``'s pixels) was given rather than
    estimated (BlazePose gives a mask only with a pose it found): the ``segmentation`` (``estimate.
    segment_person``, (H, W) float32) kept where its regions touch the person's stick figure
    (``render.pose_mask``) and within ``MASK_REACH`` of the body's height of the figure's bones (a coarse
    segmentation also takes in the ground under the feet, a prop held out), then cut by its colours
    (OpenCV's GrabCut at half size, from that region as probably the person, the rest as background and the
    bones as the person, the ground between its shins (``_between_legs``) as background): the segmentation of
    a drawn character takes in the background between its limbs. What its arms hold out (``_held``: a torch
    the segmentation misses) joins the mask, to move with its arms rather than stay in the background."""
    from .render import pose_mask

    h, w = rgb.shape[:2]
    xy, conf = pose.xy[0], pose.conf[0]
    figure = pose_mask(xy, conf, h, w) > 0
    _, regions = cv2.connectedComponents((segmentation > 0.5).astype(np.uint8), connectivity=8)
    touched = np.unique(regions[figure & (regions > 0)])
    keep = np.isin(regions, touched) & (regions > 0)
    bones = _bones(xy, conf, LIMBS, (h, w), 3)
    height = max(float(body_height(pose)[0]), 1.0)
    near = cv2.distanceTransform(1 - bones, cv2.DIST_L2, 5) <= MASK_REACH * height
    labels = np.where(keep & near, cv2.GC_PR_FGD, cv2.GC_BGD).astype(np.uint8)
    labels[_between_legs(xy, conf, h, w, LEG_CLEAR * height)] = cv2.GC_BGD
    labels[bones > 0] = cv2.GC_FGD
    half = (max(1, w // 2), max(1, h // 2))
    small = cv2.resize(labels, half, interpolation=cv2.INTER_NEAREST)
    if (small == cv2.GC_BGD).any():  # GrabCut needs some background to learn its colours from
        models = np.zeros((1, 65)), np.zeros((1, 65))
        cv2.grabCut(cv2.resize(rgb, half, interpolation=cv2.INTER_AREA), small, None, *models, GRABCUT_ROUNDS,
                    cv2.GC_INIT_WITH_MASK)
    person = cv2.resize(((small == cv2.GC_FGD) | (small == cv2.GC_PR_FGD)).astype(np.float32), (w, h))
    person = np.maximum(person, _held(rgb, xy, conf, person > 0.5, height))
    person = np.maximum(person, _worn(rgb, xy, conf, person > 0.5, height))
    return np.clip(cv2.GaussianBlur(person, (0, 0), 1.5), 0, 1).astype(np.float32)


def _bones(xy: np.ndarray, conf: np.ndarray, pairs, shape: tuple[int, int], thickness: int = 1) -> np.ndarray:
    """(H, W) uint8 ``shape``, 1 on the lines between the joints of each pair in ``pairs`` (of the (18, 2)
    pixels ``xy``) that both have ``conf`` (18,) above 0, ``thickness`` pixels wide; 0 elsewhere."""
    out = np.zeros(shape, np.uint8)
    for a, b in pairs:
        if conf[a] > 0 and conf[b] > 0:
            cv2.line(out, tuple(np.round(xy[a]).astype(int)), tuple(np.round(xy[b]).astype(int)), 1, thickness)
    return out


def _between_legs(xy: np.ndarray, conf: np.ndarray, h: int, w: int, clear: float) -> np.ndarray:
    """(H, W) bool: the ground between a given pose's lower legs ((18, 2) pixels ``xy``, (18,) ``conf``), the
    quadrilateral of its knees and ankles farther than ``clear`` pixels from its leg bones (a drawn
    character's segmentation fills it; all False when a knee or ankle is not given)."""
    legs = (JOINT["right_knee"], JOINT["right_ankle"]), (JOINT["left_knee"], JOINT["left_ankle"])
    if not all(conf[j] > 0 for leg in legs for j in leg):
        return np.zeros((h, w), bool)
    quad = np.zeros((h, w), np.uint8)
    corners = xy[[legs[0][0], legs[1][0], legs[1][1], legs[0][1]]]
    cv2.fillPoly(quad, [np.round(corners).astype(np.int32)], 1)
    shins = _bones(xy, conf, (*legs, (JOINT["right_hip"], legs[0][0]), (JOINT["left_hip"], legs[1][0])), (h, w))
    return (quad > 0) & (cv2.distanceTransform(1 - shins, cv2.DIST_L2, 5) > clear)


def _held(rgb: np.ndarray, xy: np.ndarray, conf: np.ndarray, person: np.ndarray, height: float) -> np.ndarray:
    """(H, W) float32, 1 on what a given pose's arms hold (a torch, a staff): the regions that stand out
    (``_stands_out``) beside the ``person`` mask ((H, W) bool) and touch it near its arm bones, nearer
    those than the trunk and legs, above the knees and within ``HELD_REACH`` of the body's ``height``
    (pixels) of those bones."""
    h, w = person.shape
    arms = _bones(xy, conf, _ARMS, (h, w))
    if not arms.any():
        return np.zeros((h, w), np.float32)
    near = cv2.distanceTransform(1 - arms, cv2.DIST_L2, 5)
    body = _bones(xy, conf, _LOWER, (h, w))
    nearer = near < cv2.distanceTransform(1 - body, cv2.DIST_L2, 5) if body.any() else True
    knees = [xy[j, 1] for j in (JOINT["right_knee"], JOINT["left_knee"]) if conf[j] > 0]
    if knees:  # the ground about the feet is not held
        nearer = nearer & (np.arange(h)[:, None] < min(knees))
    return _stands_out(rgb, person, nearer & (near <= HELD_REACH * height),
                       person & (near <= MASK_REACH * height), height).astype(np.float32)


def _worn(rgb: np.ndarray, xy: np.ndarray, conf: np.ndarray, person: np.ndarray, height: float) -> np.ndarray:
    """(H, W) float32, 1 on what a given pose wears on its head (a hat's flame, a crest, a tall hat): the
    regions that stand out (``_stands_out``) beside the ``person`` mask ((H, W) bool) and touch it within
    ``MASK_REACH`` of the body's ``height`` (pixels) of its head joints (nose, eyes, ears, neck), above
    the neck and within ``WORN_REACH`` of those joints, with the holes they close with the mask (the core
    of a glow, as bright as its own surround and so not unlike it, inside its rim). All 0 without a
    head joint."""
    h, w = person.shape
    neck = JOINT["neck"]
    head = [j for j in _HEAD if conf[j] > 0]
    if not head or conf[neck] <= 0:
        return np.zeros((h, w), np.float32)
    points = np.ones((h, w), np.uint8)
    for j in head:
        cv2.circle(points, tuple(np.round(xy[j]).astype(int)), 0, 0, -1)
    near = cv2.distanceTransform(points, cv2.DIST_L2, 5)
    zone = (near <= WORN_REACH * height) & (np.arange(h)[:, None] < xy[neck, 1])
    worn = _stands_out(rgb, person, zone, person & (near <= MASK_REACH * height), height)
    count, regions, stats, _ = cv2.connectedComponentsWithStats((~(worn | person)).astype(np.uint8), connectivity=4)
    x0, y0, bw, bh = (stats[:, k] for k in range(4))
    enclosed = (x0 > 0) & (y0 > 0) & (x0 + bw < w) & (y0 + bh < h)
    inside = np.bincount(regions.ravel(), zone.ravel(), count) == stats[:, cv2.CC_STAT_AREA]
    touching = np.zeros(count, bool)
    touching[np.unique(regions[cv2.dilate(worn.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0])] = True
    holes = enclosed & inside & touching
    holes[0] = False
    return (worn | (holes[regions] & ~person)).astype(np.float32)


def _stands_out(rgb: np.ndarray, person: np.ndarray, zone: np.ndarray, grip: np.ndarray, height: float) -> np.ndarray:
    """(H, W) bool: the 8-connected regions of the (H, W) bool ``zone`` outside the ``person`` mask whose
    colour lies over ``HELD_CONTRAST`` from the background around them (CIELAB, the non-person pixels of
    ``rgb`` averaged over ``HELD_AROUND``) and that touch the pixels ``grip`` ((H, W) bool), with their
    faint rim: the zone's pixels over ``FAINT`` from that background within ``FAINT_REACH`` of the body's
    ``height`` (pixels) of them (a torch's thin outline curls, lighter than the threshold over the lit mist)."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    ground = (~person).astype(np.float32)
    around = cv2.GaussianBlur(lab * ground[..., None], (0, 0), HELD_AROUND) / np.maximum(
        cv2.GaussianBlur(ground, (0, 0), HELD_AROUND), 1e-3)[..., None]
    contrast = np.where(~person & zone, np.linalg.norm(lab - around, axis=2), 0)
    _, regions = cv2.connectedComponents((contrast > HELD_CONTRAST).astype(np.uint8), connectivity=8)
    touched = np.unique(regions[(cv2.dilate(grip.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0) & (regions > 0)])
    strong = (np.isin(regions, touched) & (regions > 0)).astype(np.uint8)
    reach = 2 * max(1, round(FAINT_REACH * height)) + 1
    rim = cv2.dilate(strong, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach))) > 0
    return (strong > 0) | (rim & (contrast > FAINT))


def unseen_joints(pose: Poses) -> np.ndarray:
    """(18,) bool: the joints a photo (one-frame ``pose``) does not show: outside it, or with a confidence
    under ``MIN_SEEN`` within ``EDGE`` of its border (BlazePose places joints cut off by the frame at a
    guess just inside it, with a low visibility; a dark or hidden leg in the middle of a photo is still
    seen). The pipeline keeps them still (``poses.retarget``'s ``still``)."""
    x, y = pose.xy[0, :, 0], pose.xy[0, :, 1]
    border = np.minimum(np.minimum(x, pose.width - 1 - x), np.minimum(y, pose.height - 1 - y))
    guessed = (pose.conf[0] < MIN_SEEN) & (border < EDGE * max(pose.width, pose.height))
    return outside_photo(pose)[0] | guessed


def check_person(where: str | Path, pose: Poses) -> str | None:
    """Raise ``PosevidError`` for a photo whose person cannot be animated: none found, smaller than
    ``MIN_HEIGHT`` pixels, or without both shoulders in the frame. Returns a one-line note when the photo
    shows only part of the body (``unseen_joints``: they stay still), else None."""
    tall = float(body_height(pose)[0])
    if tall <= 0:
        raise PosevidError(where, f"no person found in the photo ({GIVE_POSE})")
    if tall < MIN_HEIGHT:
        raise PosevidError(where, f"the person is too small ({tall:.0f} pixels tall, at least {MIN_HEIGHT} needed): "
                                  "use a larger --size or a closer photo")
    unseen = unseen_joints(pose)
    if unseen[list(_TORSO)].any():
        raise PosevidError(where, "the person is cut by the frame: both shoulders must be in the photo")
    missing = [COCO18_NAMES[j].replace("_", " ") for j in _BODY if unseen[j]]
    if missing:
        return (f"{where}: the photo shows only part of the body ({', '.join(missing)} not in it); "
                "those joints stay still and nothing is drawn below the photo's edge")
    return None


def paste(frame: np.ndarray, crop: np.ndarray, box: tuple[int, int, int]) -> np.ndarray:
    """``frame`` (H, W, 3) uint8 with ``crop`` (S, S, 3) resized onto the square ``box`` (x0, y0, side) of it,
    faded in over ``FEATHER`` of the side at the box's edges that lie inside the frame."""
    x0, y0, side = box
    h, w = frame.shape[:2]
    big = cv2.resize(crop, (side, side), interpolation=cv2.INTER_LINEAR if side > crop.shape[0] else cv2.INTER_AREA)
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    if fx1 <= fx0 or fy1 <= fy0:
        return frame
    ramp = max(1.0, FEATHER * side)
    def inside(start: int, stop: int, low: int, limit: int) -> np.ndarray:
        """Distance of each pixel in [start, stop) to the box's edges at ``low`` and ``low + side``, leaving
        out an edge at or beyond the frame's (0, ``limit``): there is nothing to fade into."""
        at = np.arange(start, stop, dtype=np.float32)
        d = np.full(at.shape, np.inf, np.float32)
        if low > 0:
            d = np.minimum(d, at - low + 0.5)
        if low + side < limit:
            d = np.minimum(d, low + side - at - 0.5)
        return d

    near = np.minimum(inside(fy0, fy1, y0, h)[:, None], inside(fx0, fx1, x0, w)[None, :])
    weight = np.clip(near / ramp, 0.0, 1.0)[..., None]
    out = frame.copy()
    region = big[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0].astype(np.float32)
    out[fy0:fy1, fx0:fx1] = np.round(weight * region + (1 - weight) * frame[fy0:fy1, fx0:fx1]).astype(np.uint8)
    return out
