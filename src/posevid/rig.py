"""The person in a photo as a layered, skinned puppet: built once per photo, posed once per frame.

``Rig.build(rgb, pose, alpha)`` labels the person's pixels by body part (``layers``), triangulates the
person along the part boundaries (``mesh.triangulate``), cuts the limbs free of the body except at their
joints (``layers.glue``, ``mesh.cut_mesh``), lays hidden layers (the body under a limb that covered it in
the photo, a limb under the part in front of it, textured by filling in from that part's own pixels,
``layers.fill_from``) and gives every vertex harmonic skinning weights. ``Rig.raster(target)`` deforms the
mesh by the target pose (linear blend skinning of per-part affines) and rasterises it in the target's
depth order; ``Rig.render(target)`` draws the person (premultiplied RGB and alpha), ``Rig.grid(target)``
gives the backward ``grid_sample`` grid into the photo (for networks).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from . import hands, layers, mesh
from .errors import PosevidError
from .poses import Poses, body_height
from .render import MIN_CONF
from .skeleton import BODY_PARTS, JOINT, NUM_PARTS, PART_NAMES

MARGIN = 2.0  # pixels the mesh reaches past the silhouette (alpha > 0.5), so soft edges are drawn
TRIANGLES_PER_SCALE = 9.0  # triangle edge ~ body scale / this
BLEND = 0.7  # skinning weights blend over this many limb radii on each side of a joint
PINHOLE = 0.03  # of the body scale: the radius of the gaps in the drawn person that are filled
HOLE = 0.01  # square body scales: holes inside the drawn person up to this area are filled too
TEAR = 0.04  # of the body scale: a gap up to twice this wide between pixels drawn from touching photo pixels is a tear
INNER_SIMPLIFY = 0.025  # of the body scale: how far a cut between parts may leave the labels' pixel staircase
MIN_PIXELS = 150  # a person covering fewer pixels than this is not rigged
MIN_HEIGHT = 24.0  # nor one shorter than this (``poses.body_height``, pixels)
FILL_MARGIN = 0.035  # of the body scale: the fills copy their parts' pixels from this far inside their edges
STICK = 0.2  # how strongly the previous frame's depth order holds (body scales of depth, over all ranks)
STAY = (0.005, 0.02)  # of the body scale: a drawn pixel whose source is this near it has stayed (fully, not at all)
HAND_SHOWN = 0.15  # of the body scale: a drawn hand shows once its wrist is this far from where the body takes it
PIN = 0.25  # of the frame's height: how far up from the frame's lower edge a body the edge cuts is pulled back to it
_UNDERLAY_KEY = -100.0
UNMIX_CONTRAST = 60.0  # RGB distance between person and background over which an edge's coverage is read from colour
UNMIX_BELOW = 0.9  # ... where the mask's coverage is under this (the segmenter's soft fringe)


@dataclass
class Rig:
    """A rigged person over an (H, W) source image.

    mesh: the cut mesh in source pixels; weights: (N, 10) skinning weights per part; part: (M,) label per
    triangle (0-9 parts, ``layers.LOOSE``); texture: (M,) int, which (H, W) slice of ``atlas`` a triangle
    shows: 0 the photo, 1 the body filled in under the limbs (those triangles are drawn behind everything),
    2.. hidden limbs filled in; atlas: (T H, W, 4) float32 premultiplied RGB in [0, 255] and alpha in [0, 1];
    src_xy, src_conf: the source pose (18, 2), (18,); scale: its body scale in pixels (``render.body_scale``);
    source: the one-frame source pose itself (its hands let ``hands.bend`` turn the hands to target hand
    keypoints); painted: (H, W) bool, the photo's pixels that the atlas paints over (hands left on the
    body, ``layers.stray_skin``, and their edges, ``_hand_edges``), which ``draw``'s stay map never gives
    back; hand_texture: the texture index of the hands drawn where the photo hides them (``_drawn_hands``;
    None: no such hand); beneath: (M,)
    the part a triangle is drawn just beneath (``layers.limbs_beneath``; -1: none); arm_texture: the
    texture index of the photo as the arms' triangles read it (``_arms_photo``; None: no arm).
    """

    mesh: mesh.Mesh
    weights: np.ndarray
    part: np.ndarray
    texture: np.ndarray
    atlas: np.ndarray
    src_xy: np.ndarray
    src_conf: np.ndarray
    scale: float
    height: int
    width: int
    source: Poses | None = None
    painted: np.ndarray | None = None
    hand_texture: int | None = None
    beneath: np.ndarray | None = None
    arm_texture: int | None = None

    @classmethod
    def build(cls, rgb: np.ndarray, pose: Poses, alpha: np.ndarray, where: str = "source image") -> Rig:
        """Rig the person of ``rgb`` (H, W, 3) uint8 with one-frame ``pose`` (its pixels) and ``alpha``
        (H, W) float in [0, 1]. Raises ``PosevidError(where, ...)`` when the person cannot be rigged."""
        height, width = rgb.shape[:2]
        xy, conf = pose.xy[0].astype(np.float64), pose.conf[0]
        z = None if pose.z is None else pose.z[0]
        alpha = np.clip(np.asarray(alpha, np.float32), 0.0, 1.0)
        silhouette = alpha > 0.5
        pixels, tall = int(silhouette.sum()), float(body_height(pose[:1])[0])
        if pixels < MIN_PIXELS or tall < MIN_HEIGHT:
            raise PosevidError(where, f"the person is too small to animate ({tall:.0f} pixels tall, {pixels} "
                                      f"pixels in all; at least {MIN_HEIGHT:.0f} tall and {MIN_PIXELS} in all)")
        vis = conf > MIN_CONF
        if not (vis[[JOINT["right_shoulder"], JOINT["left_shoulder"], JOINT["right_hip"], JOINT["left_hip"]]].sum()
                >= 2 and vis[JOINT["neck"]]):
            raise PosevidError(where, "the person's torso is not in the picture (no two of the shoulders and "
                                      "hips are seen); cannot animate it")
        scale = layers.scale_of(xy, conf, silhouette)
        k = max(1, int(round(MARGIN)))
        region = cv2.dilate(silhouette.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1,) * 2))
        region = cv2.morphologyEx(region, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)) > 0  # no one-pixel slits
        # Everything below works in the box around the person (plus half a body scale), pose moved into it.
        ys, xs = np.nonzero(region)
        pad = int(np.ceil(0.5 * scale)) + 4
        y0, x0 = max(0, ys.min() - pad), max(0, xs.min() - pad)
        box = (slice(y0, min(height, ys.max() + pad + 1)), slice(x0, min(width, xs.max() + pad + 1)))
        shift = np.array([x0, y0], np.float64)
        cxy = np.where(vis[:, None], xy - shift, 0.0)
        hands = None
        if pose.hand_xy is not None:
            hands = (pose.hand_xy[0] - shift.astype(np.float32), pose.hand_conf[0])
        feet = None if pose.foot_xy is None else (pose.foot_xy[0] - shift.astype(np.float32), pose.foot_conf[0])
        crgb, csil, cregion = rgb[box], silhouette[box], region[box]
        radii = layers.limb_radii(cxy, conf, csil, scale)
        seen = tuple(p for p in layers.LIMBS if layers.hand_points(hands, p) is not None)
        reach = layers.hand_reach(crgb, csil, cxy, conf, radii, scale, seen)
        distances = layers.part_distances(cxy, conf, radii, scale, *csil.shape, hands, reach, feet)
        keys = layers.depth_keys(cxy, conf, z, scale)
        feet_seen = tuple(p for p in layers.SHINS if layers.foot_points(feet, p) is not None)
        labels = layers.label_parts(distances, cregion, keys, radii, scale, crgb, cxy, seen + feet_seen)
        labels = layers.claim_hands(crgb, labels, cxy, conf, radii, scale, region=cregion)
        labels, distances, hidden = layers.hidden_hands(crgb, labels, csil, cxy, conf, distances, radii, scale,
                                                        seen)
        labels = layers.cloth_off_hands(crgb, labels, cxy, conf, radii, scale, csil, cregion, hidden + seen)
        labels, sleeved, sleeves = layers.top_off_arms(labels, crgb, distances, cxy, conf, radii, scale, cregion)
        labels, over = layers.overlays_on_arms(labels, crgb, distances, cregion, cxy, scale)
        gap = layers.leg_gap_top(cxy, conf, csil)

        # Hidden layers: the body under limbs that cover it, limbs under the parts in front of them, a leg
        # under the other one pressed against it (its own layer: a knee has its other part there). Their
        # triangles get copies in the hidden part's layer (textured by filling in from that part's pixels).
        body_under = layers.body_under_limbs(labels, distances, cregion, cxy)
        limb_under = layers.limbs_under_limbs(labels, distances, keys, cregion, cxy)
        leg_under = layers.legs_under_legs(labels, distances, keys, cregion, cxy, radii, scale)
        beneath = layers.limbs_beneath(labels, distances, keys, cregion, cxy, crgb, np.where(over >= 0, over, sleeved))
        area = max(2.0, 0.5 * (scale / TRIANGLES_PER_SCALE) ** 2)
        n = layers.LOOSE + 1
        codes = (labels + n * (1 + body_under) + n ** 2 * (1 + limb_under) + n ** 3 * (1 + leg_under)
                 + n ** 4 * (1 + beneath))
        tri_mesh, tri_codes = mesh.triangulate(np.where(cregion, codes, -1), area,
                                               simplify_inner=max(1.0, INNER_SIMPLIFY * scale))
        if len(tri_mesh.triangles) == 0:
            raise PosevidError(where, "the person's outline could not be meshed")
        limb_layers = [(tri_codes // n ** 2) % n - 1, (tri_codes // n ** 3) % n - 1, tri_codes // n ** 4 - 1]
        layered = _layered_mesh(tri_mesh, tri_codes % n, (tri_codes // n) % n - 1, limb_layers, cxy, radii, gap)
        cut, part, texture, hidden_parts, layer, base = layered
        beneath = np.where(layer == 4, (tri_codes % n)[base], -1)  # drawn just beneath the part there
        weights = _skinning_weights(cut, part, radii, scale)
        stray, rim = (m & csil for m in layers.stray_skin(crgb, labels, cxy, conf, radii, scale, person=csil,
                                                          drawn=hidden))
        bare = layers.beside_the_torso(labels, distances, cregion, crgb, cxy, scale, over, csil)
        edges = _hand_edges(labels, csil, ~layers.skin_coloured(crgb, cxy, scale),
                            layers.hands_on(stray, cxy, conf, radii, scale))
        atlas, paint = _atlas(rgb, alpha, silhouette, labels, box, hidden_parts, stray, rim, scale, bare, cxy, edges,
                              sleeves)
        arm_texture = None
        arms = (texture == 0) & np.isin(part, layers.ARMS)
        if arms.any():  # the arms read a photo of their own: no fringe of the parts beside them
            arm_texture = len(atlas) // height
            atlas = np.concatenate([atlas, _arms_photo(atlas[:height], labels, csil, box)])
            texture = np.where(arms, arm_texture, texture)
        if edges.any():  # (after the arms' copy: the hands keep their edges)
            photo = atlas[:height][box]
            photo[edges, :3] = paint[edges] * photo[edges, 3:]
        hand_texture = None
        drawn = _drawn_hands(crgb, csil, cxy, conf, hidden, scale, area)
        if drawn is not None:  # the hands the photo hides, drawn: a mesh of their own on a texture of their own
            hand_mesh, hand_part, colour = drawn
            hand_texture = len(atlas) // height
            cut = mesh.Mesh(np.concatenate([cut.vertices, hand_mesh.vertices]),
                            np.concatenate([cut.triangles, hand_mesh.triangles + len(cut.vertices)]))
            part = np.concatenate([part, hand_part])
            beneath = np.concatenate([beneath, np.full(len(hand_part), -1)])
            texture = np.concatenate([texture, np.full(len(hand_part), hand_texture)])
            hand_weights = np.zeros((len(hand_mesh.vertices), NUM_PARTS))
            hand_weights[hand_mesh.triangles.ravel(), np.repeat(hand_part, 3)] = 1.0
            weights = np.concatenate([weights, hand_weights])
            slice_ = np.zeros((height, width, 4), np.float32)
            slice_[box] = colour
            atlas = np.concatenate([atlas, slice_])
        cut = mesh.Mesh(cut.vertices + shift, cut.triangles)
        painted = np.zeros((height, width), bool)
        painted[box] = stray | edges
        return cls(cut, weights, part, texture, atlas, xy, conf.astype(np.float32), scale, height, width,
                   source=pose[:1], painted=painted, hand_texture=hand_texture, beneath=beneath,
                   arm_texture=arm_texture)

    @property
    def photo_textures(self) -> tuple[int, ...]:
        """The texture indices that read the photo's own pixels: the photo (0) and the arms' copy of it."""
        return (0,) if self.arm_texture is None else (0, self.arm_texture)

    def transforms(self, target: Poses) -> np.ndarray:
        """(10, 2, 3) per-part affines source -> target pose (``mesh.part_transforms``)."""
        return mesh.part_transforms(self.src_xy, self.src_conf, target.xy[0], target.conf[0])

    def depth(self, target: Poses, previous: np.ndarray | None = None) -> np.ndarray:
        """(11,) depth keys of the parts in the one-frame ``target`` pose (``layers.depth_keys``, higher in
        front). Given the keys used for the previous frame, the previous order is favoured by up to
        ``STICK`` (body scales of depth), so two parts at nearly the same depth do not swap every frame."""
        z = None if target.z is None else target.z[0]
        keys = layers.depth_keys(target.xy[0], target.conf[0], z, self.scale)
        if previous is not None:
            keys = keys + STICK * np.argsort(np.argsort(previous)) / (len(previous) - 1)
        return keys

    def raster(self, target: Poses, levels: int = 2, keys: np.ndarray | None = None) -> mesh.Raster:
        """The mesh moved to the one-frame ``target`` pose (source pixels) and rasterised over the source's
        (H, W) in the depth order of ``keys`` (default ``depth(target)``): ``levels`` depth levels (see
        ``mesh.rasterize``)."""
        transforms = self.transforms(target)
        moved = self._pinned(mesh.skin(self.mesh.vertices, self.weights, transforms))
        if self.source is not None:
            moved = hands.bend(moved, self.mesh.vertices, self.weights, self.source, target, transforms)
        if self.hand_texture is not None:
            moved = self._hands_shown(moved, target, transforms)
        keys = self.depth(target) if keys is None else keys
        key = np.where(self.texture == 1, _UNDERLAY_KEY, keys[self.part])
        if self.beneath is not None:
            under = self.beneath >= 0
            key[under] = np.minimum(key[under], keys[self.beneath[under]] - 1e-3)
        if self.hand_texture is not None:  # a drawn hand: just behind its forearm (the sleeve's end over the wrist)
            key[self.texture == self.hand_texture] -= 1e-3
        priority = np.unique(key, return_inverse=True)[1]
        tris = self.mesh.triangles
        return mesh.rasterize(moved[tris], self.mesh.vertices[tris], priority, self.height, self.width,
                              group=layers.LAYER[self.part], levels=levels)

    @cached_property
    def _cut_below(self) -> bool:
        """Whether the frame's lower edge cuts the person: the photo shows only part of the body
        (``photo.unseen_joints``: a half-body or seated portrait) and the person covers over ``PIN`` of that
        edge's pixels."""
        from .photo import unseen_joints

        if self.source is None or not unseen_joints(self.source)[:14].any():
            return False
        return float((self.photo_alpha[-1] > 0.5).mean()) > PIN

    @cached_property
    def _pinned_parts(self) -> tuple[int, ...]:
        """The parts ``_pinned`` pulls back to the frame's edge: all but an arm whose wrist the photo shows."""
        from .photo import unseen_joints

        unseen = unseen_joints(self.source)
        return tuple(p for p, name in enumerate(PART_NAMES)
                     if "arm" not in name or unseen[JOINT[name.split("_")[0] + "_wrist"]])

    def _pinned(self, moved: np.ndarray) -> np.ndarray:
        """The skinned vertices ``moved`` (N, 2) of a person the frame's lower edge cuts (``_cut_below``) with
        that cut held on the edge: each vertex on the edge (within a pixel of it, or of the mesh's
        ``MARGIN`` past it) that moved up is pulled back down to it, and so is each vertex on a side edge
        that moved in from it, and the vertices within ``PIN`` of the frame's height above the lower edge
        (and of its width in from the side) follow by a share falling linearly to 0 there, so the body
        stretches a little to reach the edge (an arm whose wrist the photo shows does not: a hand on the lap is
        the arm's own, ``_pinned_parts``). A half-body portrait driven by a dancer who rises or steps
        aside showed a strip of plate below its body and in the lower corner (liveportrait_s12, s3, s0);
        nothing is drawn below the photo's edge, as before."""
        if not self._cut_below:
            return moved
        src, out = self.mesh.vertices, moved.copy()
        bottom = self.height - 1 + MARGIN
        up = bottom - src[:, 1]  # how far above the lower edge (source pixels)
        body = self.weights[:, list(self._pinned_parts)].sum(1)
        fall_up = np.clip(1.0 - up / (PIN * self.height), 0.0, 1.0) * np.clip(body, 0.0, 1.0)
        on = up <= MARGIN + 1.0
        if on.sum() >= 2:
            order = np.argsort(src[on, 0])
            short = np.interp(src[:, 0], src[on, 0][order], np.maximum(bottom - moved[on, 1], 0.0)[order] -
                              np.maximum(bottom - src[on, 1], 0.0)[order])
            out[:, 1] += np.maximum(short, 0.0) * fall_up
        for side, edge in ((0, -MARGIN), (1, self.width - 1 + MARGIN)):
            inward = np.abs(src[:, 0] - edge)
            on = (inward <= MARGIN + 1.0) & (fall_up > 0)
            if on.sum() < 2:
                continue
            order = np.argsort(src[on, 1])
            moved_in = np.abs(moved[on, 0] - edge) - inward[on]
            short = np.interp(src[:, 1], src[on, 1][order], np.maximum(moved_in, 0.0)[order], left=0.0)
            fall = np.clip(1.0 - inward / (PIN * self.width), 0.0, 1.0) * fall_up
            out[:, 0] += (1 if side == 1 else -1) * short * fall
        return out

    def _hands_shown(self, moved: np.ndarray, target: Poses, transforms: np.ndarray) -> np.ndarray:
        """The skinned vertices ``moved`` (N, 2) with the drawn hands (``hand_texture``) whose wrist is within
        ``HAND_SHOWN`` body scales of where the torso's motion takes the photo's wrist (the arms still
        folded as in the photo: the photo's own pixels are what shows there) moved out of the frame, so
        they are not drawn."""
        hand = self.texture == self.hand_texture
        moved = moved.copy()
        for p in np.unique(self.part[hand]):
            wrist = JOINT[PART_NAMES[p].replace("lower_arm", "wrist")]
            carried = transforms[layers.TORSO, :, :2] @ self.src_xy[wrist] + transforms[layers.TORSO, :, 2]
            shown = target.conf[0, wrist] > MIN_CONF and np.linalg.norm(target.xy[0, wrist] - carried) > (
                HAND_SHOWN * self.scale)
            if not shown:
                moved[np.unique(self.mesh.triangles[hand & (self.part == p)])] = -1e4
        return moved

    def render(self, target: Poses, keys: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The person in the ``target`` pose: premultiplied RGB (H, W, 3) float32 in [0, 255] and alpha
        (H, W) float32, in the depth order of ``keys`` (default ``depth(target)``). Two depth levels are
        composited where the front one is not opaque (a soft limb
        edge over the body shows the body)."""
        rgb, alpha, _ = self.draw(target, keys)
        return rgb, alpha

    def draw(self, target: Poses, keys: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``render``'s premultiplied RGB and alpha, and the stay map (H, W) float32 in [0, 1]: 1 where the
        front layer shows the photo's own pixel from within ``STAY[0]`` body scales of where it is drawn
        (that piece of the person has not moved), falling to 0 at ``STAY[1]``; 0 where nothing, a fill
        or a painted-over pixel is drawn. There the photo itself, with its own soft edges and the
        background right around them, is what the person looks like."""
        r = self.raster(target, 2, keys)
        stay = np.zeros((self.height, self.width), np.float32)
        front = np.zeros((self.height, self.width, 4), np.float32)
        drawn = r.triangle[0] >= 0
        rows, cols = np.flatnonzero(drawn.any(1)), np.flatnonzero(drawn.any(0))
        if rows.size:  # only the drawn box is sampled: outside it every map points nowhere and reads zeros
            box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
            front[box] = self._sample(r, 0, box)
            tri = r.triangle[0][box]
            ys, xs = np.mgrid[box]
            moved = np.hypot(r.source[0][box][..., 0] - xs, r.source[0][box][..., 1] - ys)
            near, far = STAY[0] * self.scale, STAY[1] * self.scale
            own = (tri >= 0) & np.isin(self.texture[np.maximum(tri, 0)], self.photo_textures)
            if self.painted is not None:
                own &= ~self.painted[box]
            stay[box] = np.where(own, np.clip((far - moved) / max(far - near, 1e-6), 0.0, 1.0), 0.0)
        rgb, alpha = front[..., :3], front[..., 3]
        see_through = (alpha < 0.999) & (r.triangle[1] >= 0)
        if see_through.any():
            ys, xs = np.nonzero(see_through)
            box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
            back = self._sample(r, 1, box)
            a = alpha[box][..., None]
            rgb[box] += (1 - a) * back[..., :3]
            alpha[box] += (1 - a[..., 0]) * back[..., 3]
        rows, cols = np.flatnonzero((alpha > 0).any(1)), np.flatnonzero((alpha > 0).any(0))
        if rows.size:  # the outline is cleaned within the drawn box grown by what its rules reach
            m = _outline_reach(self.scale)
            box = (slice(max(rows[0] - m, 0), rows[-1] + m + 1), slice(max(cols[0] - m, 0), cols[-1] + m + 1))
            tear = _tears(r, self.texture, self.photo_alpha, alpha[box], self.scale, self.hand_texture, box)
            rgb[box], alpha[box] = _clean_outline(rgb[box], alpha[box], self.scale, tear)
        return rgb, alpha, stay

    @cached_property
    def photo_alpha(self) -> np.ndarray:
        """(H, W) float32: the person in the photo, less the background a bare arm hid (its body fill is
        clear)."""
        h = self.height
        return self.atlas[:h, :, 3] * np.minimum(self.atlas[h:2 * h, :, 3], 1.0)

    def _sample(self, r: mesh.Raster, level: int, box: tuple[slice, slice]) -> np.ndarray:
        """The atlas read through level ``level`` of a raster within ``box``: (h, w, 4) float32."""
        tri = r.triangle[level][box]
        src = r.source[level][box]
        map_x = np.ascontiguousarray(src[..., 0])
        map_y = src[..., 1] + np.where(tri >= 0, self.texture[tri], 0).astype(np.float32) * self.height
        return cv2.remap(self.atlas, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    def grid(self, target: Poses, background: str = "outside"):
        """Backward grid (1, H, W, 2) float32 torch tensor into the photo (``grid_sample``,
        ``align_corners=False``): the front-most part at each pixel reads the photo where it came from."""
        r = self.raster(target, levels=1)
        return mesh.grid_from_coords(r.source[0][None], self.height, self.width, background)


def _outline_reach(scale: float) -> int:
    """Pixels beyond the drawn person that ``_tears`` and ``_clean_outline`` read or write at body scale
    ``scale`` (pixels): the tears' lines, and the pinhole closing's disc and the blur that fills it."""
    return 2 * max(1, int(round(TEAR * scale))) + 4 * max(1, int(round(PINHOLE * scale))) + 4


def _tears(r: mesh.Raster, texture: np.ndarray, photo: np.ndarray, alpha: np.ndarray, scale: float,
           hand: int | None, box: tuple[slice, slice] = (slice(None), slice(None))) -> np.ndarray:
    """(h, w) bool: the tears in the drawn person within ``box`` of the frame (``alpha`` (h, w): its
    coverage there; ``photo`` (H, W): the whole photo's person alpha), pixels under half covered in a gap up
    to twice ``TEAR`` body scales wide along a row, a column or a diagonal, whose pixels over half covered
    on both sides there are drawn by the front layer of raster ``r`` from the photo's pixels or a hidden
    limb's fill (``texture`` (M,) 0 or 2.., not the body's fill under the limbs nor the drawn hands'
    texture ``hand``) and read photo pixels within three ``TEAR`` of each other with the person
    (``photo`` (H, W), its alpha) between them. Two parts that touch in the photo and are moved a little
    apart (the demo man's thighs, side by side in the photo, spread by a driver's wider hips) open such a
    gap, and the plate showed through it as a row of white beads where the pinhole closing filled its
    narrow stretches only; the photo's background seen between two parts is a real gap, never a tear."""
    reach = max(1, int(round(TEAR * scale)))
    height, width = alpha.shape
    tri = r.triangle[0][box]
    solid = alpha > 0.5
    kind = texture[np.maximum(tri, 0)]
    own = solid & (tri >= 0) & (kind != 1) & (kind != (-1 if hand is None else hand))
    tear = np.zeros((height, width), bool)
    src = r.source[0][box]
    length = 2 * reach + 1  # a closing along a line this long fills gaps up to 2 * reach wide on it
    lines = {(0, 1): np.ones((1, length), np.uint8), (1, 0): np.ones((length, 1), np.uint8),
             (1, 1): np.eye(length, dtype=np.uint8), (1, -1): np.fliplr(np.eye(length, dtype=np.uint8))}
    for (dy, dx), line in lines.items():
        ys, xs = np.nonzero(~solid & (cv2.morphologyEx(own.astype(np.uint8), cv2.MORPH_CLOSE, line) > 0))
        if not ys.size:
            continue
        ends = []
        steps = np.arange(1, length)
        for sign in (1, -1):  # the first pixel over half covered along the line, if it is drawn from the photo
            y = np.clip(ys[:, None] + sign * dy * steps, 0, height - 1)
            x = np.clip(xs[:, None] + sign * dx * steps, 0, width - 1)
            first = solid[y, x].argmax(1)
            y, x = y[np.arange(ys.size), first], x[np.arange(ys.size), first]
            hit = np.full((ys.size, 2), np.nan, np.float32)
            take = solid[y, x] & own[y, x]
            hit[take] = src[y[take], x[take]]
            ends.append(hit)
        a, b = ends
        ok = np.isfinite(a[:, 0]) & np.isfinite(b[:, 0]) & (np.hypot(*(a - b).T) <= 3 * reach)
        for t in (0.25, 0.5, 0.75):  # the person all the way between them in the photo
            mid = np.where(ok[:, None], a + t * (b - a), 0.0)
            ok &= photo[np.clip(np.round(mid[:, 1]).astype(int), 0, photo.shape[0] - 1),
                        np.clip(np.round(mid[:, 0]).astype(int), 0, photo.shape[1] - 1)] > 0.5
        tear[ys[ok], xs[ok]] = True
    return tear


def _clean_outline(rgb: np.ndarray, alpha: np.ndarray, scale: float,
                   tear: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The drawn person (premultiplied (H, W, 3), alpha (H, W)) with its outline cleaned.

    Pinholes (pixels under half covered that a closing by a disc of ``PINHOLE`` body scales covers: the
    photo's background seen between a folded elbow and the torso, left as a white speck inside the body
    when the arm moves away; a gap the person encloses whole where the closing covers most of it, else
    none of it; holes the drawn person encloses, up to ``HOLE`` square body scales; and ``tear`` (H, W)
    bool, where given: ``_tears``) take the colour
    around them and become opaque. Soft seams (pixels over half covered in a valley of the coverage up to 2
    pixels wide: two parts' soft edges side by side, where the plate showed through as a dotted pale seam
    between her legs pressed together) take the coverage of the pixels around them, in their colours
    (a 3x3 grey closing of the alpha; a smooth edge is a ramp, not a valley, and stays). Then the hard
    outline is softened inwards: each pixel beside one under half covered takes at most the mean alpha of
    its 3x3 neighbourhood (RGB scaled alike), so the staircase of a cut edge (a forearm cut out of a jacket
    of its colour, drawn with solid alpha) gets a one-pixel ramp like the photo's own edges, which the
    refined alpha keeps soft already and this leaves nearly as they are."""
    radius = max(1, int(round(PINHOLE * scale)))
    drawn = (alpha > 0.5).astype(np.uint8)
    solid = drawn if tear is None else drawn | tear  # (tears count as the person's: what they split off is a gap)
    closed = cv2.morphologyEx(solid, cv2.MORPH_CLOSE, cv2.getStructuringElement(
        cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    pinhole = (closed > 0) & (solid == 0)
    if tear is not None:
        pinhole |= tear
    # and holes the person's outline encloses (the crook of an elbow that left the torso), up to HOLE
    rows, cols = np.flatnonzero(solid.any(1)), np.flatnonzero(solid.any(0))
    if rows.size:
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        # A gap the person encloses is closed whole (where the closing covers most of it) or not at all: a
        # long gap between two limbs (a raised knee before the other leg) closed only where narrower than
        # the disc was a row of white beads.
        count, gaps = cv2.connectedComponents(np.pad(1 - solid[box], 1, constant_values=1), connectivity=4)
        if count > 2:  # (0: the person, then the outside: anything more is enclosed)
            outside, gaps = gaps[0, 0], gaps[1:-1, 1:-1]
            hole_box = pinhole[box]
            covered = np.bincount(gaps[hole_box], minlength=count)
            enclosed = (gaps != outside) & (gaps > 0)
            whole = 2 * covered >= np.bincount(gaps[enclosed], minlength=count)
            hole_box[enclosed] = whole[gaps[enclosed]]
        shut = cv2.morphologyEx(solid[box], cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
        count, comp, stats, _ = cv2.connectedComponentsWithStats(np.pad(1 - shut, 1, constant_values=1),
                                                                 connectivity=4)
        small = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] <= HOLE * scale**2)
        small = small[(small != 0) & (small != comp[0, 0])]
        if small.size:  # (a one-pixel channel to the outside does not open a hole)
            grown = cv2.dilate(np.isin(comp[1:-1, 1:-1], small).astype(np.uint8), np.ones((5, 5), np.uint8))
            pinhole[box] |= (grown > 0) & (solid[box] == 0)
    if tear is not None and tear.any():  # what the closing covers beside a tear is the tear's too, enclosed or not
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        pinhole |= (closed > 0) & (solid == 0) & (cv2.dilate(tear.astype(np.uint8), disc) > 0)
    if pinhole.any():
        size = (4 * radius + 1, 4 * radius + 1)
        weight = cv2.blur(alpha * drawn, size)
        colour = cv2.blur(rgb * drawn[..., None], size) / np.maximum(weight, 1e-6)[..., None]
        far = pinhole & (weight < 1e-3)  # in a hole wider than the blur: the nearest drawn colour
        if far.any():
            iy, ix = mesh.nearest_known(drawn > 0)
            colour[far] = rgb[iy[far], ix[far]] / np.maximum(alpha[iy[far], ix[far]], 1e-6)[:, None]
        rgb[pinhole] = colour[pinhole]
        alpha[pinhole] = 1.0
    # soft seams: pixels over half covered in a valley of the coverage up to 2 pixels wide (two parts' soft
    # edges side by side, legs pressed together) take the coverage around them in the parts' colours
    valley = cv2.morphologyEx(alpha, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    seam = (valley > alpha + 1e-3) & (alpha > 0.5)
    ys, xs = np.nonzero(seam)
    if ys.size:
        box = (slice(max(ys.min() - 1, 0), ys.max() + 2), slice(max(xs.min() - 1, 0), xs.max() + 2))
        near = cv2.blur(rgb[box], (3, 3)) / np.maximum(cv2.blur(alpha[box], (3, 3)), 1e-6)[..., None]
        at = seam[box]
        rgb[box][at] += (valley[box][at] - alpha[box][at])[:, None] * near[at]
        alpha[box][at] = valley[box][at]
    outline = cv2.dilate((alpha < 0.5).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    soft = np.where(outline, np.minimum(alpha, cv2.blur(alpha, (3, 3))), alpha)
    ratio = np.where(alpha > 1e-6, soft / np.maximum(alpha, 1e-6), 0.0).astype(np.float32)
    return rgb * ratio[..., None], soft


def _layered_mesh(tri_mesh: mesh.Mesh, part: np.ndarray, body_under: np.ndarray, limb_under: list[np.ndarray],
                  xy: np.ndarray, radii: np.ndarray, gap: float | None
                  ) -> tuple[mesh.Mesh, np.ndarray, np.ndarray, list[int], np.ndarray, np.ndarray]:
    """The mesh with hidden layers, cut along unglued part boundaries.

    Each triangle (label ``part``) gets a copy labelled ``body_under`` and one labelled by each of the
    ``limb_under`` layers (limbs under limbs, legs under legs) where those are >= 0 (-1: nothing hidden
    there). Two triangles (originals or copies) whose originals share an edge are joined across it when
    ``layers.glue`` joins their labels; everything else is cut.
    Returns the cut mesh (originals, then the copies), the label and texture index of each triangle
    (0 photo, 1 body fill, 2 + i the fill of ``hidden_parts[i]``), the hidden limbs that need a fill, and
    per triangle its layer (0 the originals, 1 the body's, 2 + i ``limb_under[i]``'s) and its original.
    """
    tris = tri_mesh.triangles
    m = len(tris)
    hidden_parts = sorted(set(np.concatenate([u[u >= 0] for u in limb_under]).tolist()))
    base, label, texture, layer = [np.arange(m)], [part], [np.zeros(m, np.int64)], [np.zeros(m, np.int64)]
    layer_of = [np.arange(m)]  # per layer: the index of each original triangle's copy there, or -1
    for under, tex in [(body_under, np.ones(m, np.int64))] + [
            (u, 2 + np.searchsorted(hidden_parts, np.maximum(u, 0))) for u in limb_under]:
        idx = np.flatnonzero(under >= 0)
        start = sum(len(b) for b in base)
        copy = np.full(m, -1)
        copy[idx] = start + np.arange(len(idx))
        base.append(idx)
        label.append(under[idx])
        texture.append(tex[idx])
        layer.append(np.full(len(idx), len(layer_of)))
        layer_of.append(copy)
    base, label, texture, layer = (np.concatenate(v) for v in (base, label, texture, layer))
    edges = mesh.interior_edges(tris)
    rows = []
    for la in layer_of:
        for lb in layer_of:
            i, j = la[edges[:, 0]], lb[edges[:, 1]]
            ok = (i >= 0) & (j >= 0)
            rows.append(np.stack([i[ok], j[ok], edges[ok, 2], edges[ok, 3]], 1))
    all_edges = np.concatenate(rows)
    glued = layers.glue(label[all_edges[:, 0]], label[all_edges[:, 1]],
                        tri_mesh.vertices[all_edges[:, 2:]].mean(1), xy, radii, gap)
    cut, _ = mesh.cut_mesh(mesh.Mesh(tri_mesh.vertices, tris[base]), glued, all_edges)
    return cut, label, texture, hidden_parts, layer, base


ARM_BLEND = 0.15  # of the way from an arm's colour to the part's beside it: the arm's pixel along their cut is a blend
ARM_FRINGE = 2  # pixels: how far beyond an arm's labels its own photo takes its colours


def _arms_photo(photo: np.ndarray, labels: np.ndarray, person: np.ndarray, box: tuple[slice, slice]) -> np.ndarray:
    """(H, W, 4) float32: the photo's texture ``photo`` (premultiplied, as ``_atlas`` makes it) as the arms'
    triangles read it: the pixels of the person (``person``, box-sized bool) within ``ARM_FRINGE`` of an arm's
    labels (``labels``, box-sized) but not an arm's, and the arm's own pixels touching another part's, take
    the nearest colour of the arm's pixels inside those. The cuts between parts are simplified
    (``INNER_SIMPLIFY``) and the atlas is read with bilinear sampling, so an arm's triangles took the edge of
    what lay beside it along with it: the AnimateAnyone woman's raised left arm carried the ruffle's grey edge
    as a dotted line under it, the demo man's right upper arm the fingertip of his hidden hand as a pale
    sliver beside it. The arm's pixels along the cut hold the blend of the two (the photo's own soft edge
    between her arm and her grey top): raised, her arm still drew a grey line along its inner edge. Those
    at least ``ARM_BLEND`` of the way from the arm's colour (its nearest pixel inside) to the other part's
    (the nearest pixel of the person beside the arm), and a third of ``UNMIX_CONTRAST`` from the arm's, are
    blends; the others keep their own colour (a sleeve against a jacket of its cloth)."""
    out = photo.copy()
    arm = np.isin(labels, layers.ARMS) & person
    if not arm.any():
        return out
    k = 2 * ARM_FRINGE + 1
    near = (cv2.dilate(arm.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0)
    near &= person & ~arm
    sub = out[box]
    rim = arm & (cv2.dilate((person & ~arm).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
    if (arm & ~rim).any() and (person & ~arm).any():  # the arm's own pixels along its cut from the body
        colour = sub[..., :3]
        (iy, ix), (oy, ox) = mesh.nearest_known(arm & ~rim), mesh.nearest_known(person & ~arm)
        own = np.linalg.norm(colour - colour[iy, ix], axis=-1)
        blend = rim & (own > ARM_BLEND * (own + np.linalg.norm(colour - colour[oy, ox], axis=-1)))
        blend &= own > UNMIX_CONTRAST / 3  # (not the noise of one cloth on both sides)
        near |= blend
        arm &= ~blend
    if near.any():
        iy, ix = mesh.nearest_known(arm)
        sub[near] = sub[iy[near], ix[near]]
    return out


def _hand_edges(labels: np.ndarray, person: np.ndarray, cloth: np.ndarray, hands: np.ndarray) -> np.ndarray:
    """(h, w) bool: where a hand that lay on the clothes meets them (within ``hands``, box-sized bool,
    ``layers.hands_on``): the forearm's pixels of ``labels`` (box-sized) within ``ARM_FRINGE`` of the body's
    (torso, loose cloth, thighs) and the body's within it of a forearm, of the person (``person``); the
    body's only where not of skin colour (``cloth``: a hand beside a bare thigh shows no outline there, and
    the thigh's fill drew a pale arc on the AnimateAnyone woman's skin under her fingertips). The
    body's triangles along the simplified cut to the hand take a pixel-wide sliver of it
    (``INNER_SIMPLIFY``) and the body's pixels there hold the hand's blurred edge: once the hand moved away
    they drew its outline as orange dashes on the catalog woman's jeans and as a pale dotted outline on the
    night street's coat. Painted over with the body's fill after the arms' copy of the photo is made, so
    the hand keeps its edge; only by hands with skin painted on the clothes (``layers.stray_skin``): by a
    hand beside the body (the squats woman's by her leggings) the ring took the soft edge away where it had
    hardly moved (self-reconstruction ST-LPIPS 0.0001 worse)."""
    body = np.isin(labels, layers.CLOTHED) & person & cloth
    forearm = np.isin(labels, layers.FOREARMS) & person
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ARM_FRINGE + 1,) * 2)
    near_body = cv2.dilate(body.astype(np.uint8), disc) > 0
    near_forearm = cv2.dilate(forearm.astype(np.uint8), disc) > 0
    return ((forearm & near_body) | (body & near_forearm)) & hands


def _drawn_hands(rgb: np.ndarray, person: np.ndarray, xy: np.ndarray, conf: np.ndarray, forearms: tuple[int, ...],
                 scale: float, area: float) -> tuple[mesh.Mesh, np.ndarray, np.ndarray] | None:
    """Hands for the ``forearms`` whose hands the photo hides (``layers.hidden_hands``): without them a
    folded arm moved out ended at its sleeve, and BlazePose, finding no hand, put the wrist 13-21 pixels
    off. Each is ``layers.drawn_hand``'s outline triangulated (triangles up to ``area``), coloured by the
    photo's skin (``layers.hand_colour``), a little darker towards its edge. ``rgb`` (h, w, 3), ``person``
    (h, w) bool and the pose ``xy`` (18, 2) are the person's box. Returns the hands' mesh (box pixels), each
    triangle's forearm and their texture (h, w, 4) premultiplied RGB in [0, 255] and alpha; None without
    such a hand or the skin's colour."""
    colour = layers.hand_colour(rgb, person, xy, scale) if forearms else None
    outlines = [(p, layers.drawn_hand(xy, conf, p, scale)) for p in forearms]
    outlines = [(p, o) for p, o in outlines if o is not None]
    if colour is None or not outlines:
        return None
    vertices, triangles, part = [], [], []
    shape = np.zeros(rgb.shape[:2], np.uint8)
    for p, outline in outlines:
        hand = mesh.triangulate_polygon(outline, area)
        triangles.append(hand.triangles + sum(len(v) for v in vertices))
        vertices.append(hand.vertices)
        part += [p] * len(hand.triangles)
        cv2.fillPoly(shape, [np.round(outline * 16).astype(np.int32)], 1, lineType=cv2.LINE_AA, shift=4)
    inner = cv2.distanceTransform((shape > 0).astype(np.uint8), cv2.DIST_L2, 3)
    shade = 0.85 + 0.15 * np.clip(inner / max(0.5 * layers.HAND_WIDTH * scale, 1.0), 0.0, 1.0)
    shade = np.where(shape > 0, shade, 0.85)  # (the sampled rim around the outline, as its edge)
    texture = np.zeros(rgb.shape[:2] + (4,), np.float32)
    grown = cv2.dilate(shape, np.ones((5, 5), np.uint8)) > 0
    texture[grown, :3] = shade[grown, None] * colour
    texture[grown, 3] = 1.0
    return (mesh.Mesh(np.concatenate(vertices), np.concatenate(triangles)), np.asarray(part, np.int64), texture)


def _skinning_weights(cut: mesh.Mesh, part: np.ndarray, radii: np.ndarray, scale: float) -> np.ndarray:
    """(N, 10) harmonic skinning weights: a vertex whose triangles within ``BLEND`` limb radii all belong to
    one part is fixed to it; the others (around joints, on loose cloth) interpolate harmonically."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import dijkstra

    n = len(cut.vertices)
    tris = cut.triangles
    low = np.full(n, NUM_PARTS + 1)
    high = np.full(n, -1)
    for k in range(3):
        np.minimum.at(low, tris[:, k], part)
        np.maximum.at(high, tris[:, k], part)
    mixed = (low != high) & (high >= 0)
    vertex_part = np.where(high >= 0, low, -1)
    # Geodesic distance (mesh edges) to the nearest mixed vertex.
    e = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    length = np.linalg.norm(cut.vertices[e[:, 0]] - cut.vertices[e[:, 1]], axis=1)
    graph = sp.coo_matrix((length, (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    graph = graph.maximum(graph.T)
    sources = np.flatnonzero(mixed)
    if sources.size:
        dist = dijkstra(graph, directed=False, indices=sources, min_only=True)
    else:
        dist = np.full(n, np.inf)
    reach = np.where(vertex_part < NUM_PARTS, np.take(np.append(radii, 0.0), np.clip(vertex_part, 0, NUM_PARTS)),
                     0.0)
    reach = np.where(reach > 0, reach, 0.12 * scale) * BLEND
    fixed = (~mixed) & (vertex_part >= 0) & (vertex_part < NUM_PARTS) & (dist > reach)
    idx = np.flatnonzero(fixed)
    values = np.zeros((len(idx), NUM_PARTS))
    values[np.arange(len(idx)), vertex_part[idx]] = 1.0
    return mesh.harmonic_weights(cut, idx, values)


def _atlas(rgb: np.ndarray, alpha: np.ndarray, silhouette: np.ndarray, labels: np.ndarray,
           box: tuple[slice, slice], hidden_parts: list[int], stray: np.ndarray, rim: np.ndarray, scale: float,
           bare: np.ndarray, xy: np.ndarray, edges: np.ndarray, sleeves: np.ndarray | None = None
           ) -> tuple[np.ndarray, np.ndarray]:
    """((2 + K) H, W, 4) float32 textures: the photo premultiplied by its solid alpha (1 from 2 pixels inside
    the silhouette), the background's share taken out of its soft edge (``_unmix``); the body (torso,
    thighs, loose cloth) filled in from its pixels; each of the K hidden limbs filled in from its own pixels,
    a hidden thigh or shin from its whole leg's (by the knee the nearest pixels are often the other part's:
    a thigh hidden there took the shaded skin under the hem, a darker patch on the knee). The fills are
    opaque; their pixels are copied from ``FILL_MARGIN`` body scales inside their edges (a hand's or an
    arm's blurred rim on the clothes is not copied). ``labels`` are the part labels of the person's
    ``box`` of the photo, where the fills are made; ``stray`` and ``rim`` (box-sized bool,
    ``layers.stray_skin``) mark skin of hands left on the body, painted over with the body's fill in the
    photo's texture (on a thigh, the thigh's own fill along its bone: the body's by the hem was the top's
    pink), and the rim around them: neither is copied into the fills. ``bare`` (box-sized bool,
    ``layers.beside_the_torso``): where an arm covered background beside the torso, the body's fill is
    transparent (the plate shows there when the arm moves away). ``xy`` (18, 2): the pose in the box (unseen
    joints at 0): a hidden limb's fill copies across the limb first (``layers.fill_from``'s ``bone``).
    Also returns the box's (h, w, 3) paint of ``stray`` and of ``edges`` (box-sized bool, ``_hand_edges``),
    which the caller paints over once the arms' copy of the photo is made. ``sleeves`` (box-sized bool,
    ``layers.top_off_arms``): pixels no fill copies (the sleeve of an arm that runs on beneath the top: its
    fill is its skin)."""
    inner = cv2.distanceTransform(silhouette.astype(np.uint8), cv2.DIST_L2, 3)
    solid = np.maximum(alpha, np.clip(inner - 1.0, 0.0, 1.0))
    slices = [np.concatenate([rgb.astype(np.float32) * solid[..., None], solid[..., None]], -1)]
    slices[0][box + (slice(0, 3),)], slices[0][box + (3,)] = _unmix(rgb[box].astype(np.float32), solid[box],
                                                                    alpha[box], inner[box] >= 3)
    crop_rgb, crop_inner, crop_sil = rgb[box].astype(np.float32), inner[box], silhouette[box]
    k = max(2, int(round(FILL_MARGIN * scale)))
    edge = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    leg = {p: tuple(q for q in layers.LEGS if layers.CHAIN[q] == layers.CHAIN[p]) for p in layers.LEGS}

    def filled(parts: tuple[int, ...], own: int | None) -> np.ndarray | None:
        """The box's (h, w, 3) fill from the pixels of ``parts``, along ``own``'s bone for a limb."""
        known = np.isin(labels, parts) & (crop_inner >= 2) & ~stray & ~rim
        if sleeves is not None:
            known &= ~sleeves
        known &= cv2.erode(known.astype(np.uint8), edge) > 0  # not the mixed edge pixels
        if not known.any():
            known = np.isin(labels, parts) & crop_sil
        if not known.any():
            return None
        bone = None
        if own in layers.LIMBS:  # a limb: its cloth at each place along it
            a, b = (xy[j] for j in BODY_PARTS[PART_NAMES[own]])
            bone = (a, b) if a.any() and b.any() and np.linalg.norm(b - a) > 1.0 else None
        return layers.fill_from(crop_rgb, known, bone=bone)

    for parts, own in [((layers.TORSO, layers.LOOSE) + layers.THIGHS, None)] + [(leg.get(p, (p,)), p)
                                                                                 for p in hidden_parts]:
        fill = np.zeros_like(slices[0])
        colour = filled(parts, own)
        if colour is not None:
            fill[box + (slice(0, 3),)] = colour
            fill[box + (3,)] = 1.0
        slices.append(fill)
    slices[1][box][bare] = 0.0
    photo, paint = slices[0][box], slices[1][box][..., :3].copy()
    for q in layers.THIGHS:  # a thigh its own cloth's (the body's fill by a hem is the top's: pink over the jeans)
        mine = (stray | edges) & (labels == q)
        colour = filled((q,), q) if mine.any() else None
        if colour is not None:
            paint[mine] = colour[mine]
    if stray.any():  # the tucked hands go: the torso shows its fill there
        photo[stray, :3] = paint[stray] * photo[stray, 3:]
    return np.concatenate(slices, 0), paint


def _unmix(rgb: np.ndarray, solid: np.ndarray, alpha: np.ndarray, inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The person's premultiplied colour (H, W, 3) float32 and coverage (H, W) float32 at its soft edge.

    ``rgb`` (H, W, 3) float32 is the photo, ``solid`` (H, W) the coverage from the mask, ``alpha`` (H, W) the
    mask, ``inside`` (H, W) bool the pixels surely the person's. An edge pixel is a mix C = a F + (1 - a) B of
    the person's colour F (the nearest ``inside`` pixel's) and the background's B (the nearest pixel outside
    the person: ``alpha`` under ``plate.LOW``, 2 pixels out); where the two differ by over ``UNMIX_CONTRAST``
    (RGB) the coverage is at most the a that C gives, so the segmenter's soft fringe on white background
    between her legs is not drawn as a pale seam over the other leg. The background's share ``(1 - a) B`` is
    then taken out, within [0, 255 a]: a leg moved over a floor's shadow has no pale fringe of the white
    floor it stood on."""
    from .plate import LOW

    outside = ~(cv2.dilate((alpha > LOW).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0)
    if not outside.any():
        return rgb * solid[..., None], solid
    by, bx = mesh.nearest_known(outside)
    back = rgb[by, bx]
    if inside.any():
        fy, fx = mesh.nearest_known(inside)
        d = rgb[fy, fx] - back
        norm = (d * d).sum(-1)
        mixed = ((rgb - back) * d).sum(-1) / np.maximum(norm, 1e-6)
        read = (norm > UNMIX_CONTRAST ** 2) & (solid < UNMIX_BELOW)
        solid = np.where(read, np.minimum(solid, np.clip(mixed, 0.0, 1.0)), solid).astype(np.float32)
    share = (1.0 - solid)[..., None]
    return np.clip(rgb - share * back, 0.0, 255.0 * solid[..., None]), solid


def mesh_grids(images: np.ndarray, src_xy: np.ndarray, src_conf: np.ndarray, masks: np.ndarray,
               dst_xy: np.ndarray, dst_conf: np.ndarray, background: str = "identity"):
    """Backward ``grid_sample`` grids (B, H, W, 2) float32 (torch) moving each source person onto its target
    pose with the rig's skinned mesh: the mesh counterpart of ``warp.dense_grid`` for the learned methods.

    images (B, H, W, 3) uint8, src_xy (B, 18, 2) pixels, src_conf (B, 18), masks (B, H, W) in [0, 1];
    dst_xy, dst_conf: the target poses in the same pixels. One rig is built per item (0.1-1 s each on a CPU),
    so callers that see a source many times should keep its ``Rig`` and call ``Rig.grid``. ``background``:
    ``"identity"`` (pixels the person does not cover read themselves) or ``"outside"`` (they read zeros).
    """
    import torch

    grids = []
    for b in range(len(images)):
        h, w = images[b].shape[:2]
        source = Poses(src_xy[b][None], src_conf[b][None], w, h)
        target = Poses(dst_xy[b][None], dst_conf[b][None], w, h)
        grids.append(Rig.build(images[b], source, masks[b], where=f"batch item {b}").grid(target, background))
    return torch.cat(grids)
