"""The zero-training face path: the portrait's face as a triangle mesh deformed by target face landmarks.

The mesh's vertices are the 68 iBUG landmarks, a row of forehead points above the brows (they move with the
head, fitted on the rigid landmarks, not with the brows) and a fixed ring around the head: inside the ring
the image follows the landmarks piecewise-affinely, outside it (background, hair, shoulders) nothing moves.
The triangulation is made once per portrait (constrained Delaunay along the eyes, lips and jaw, on the
portrait's landmarks with the inner lips drawn apart so the mouth's interior has its own triangles) and kept
for every frame. The mouth's interior is not stretched from the lips: where the target mouth is open, a
closed mouth in the portrait shows a dark mouth cavity with a hint of the upper teeth; a portrait whose
mouth is open shows its own interior. Per frame: ``mesh.rasterize`` inside the ring's box, ``cv2.remap``.
"""

from __future__ import annotations

import cv2
import numpy as np

from .errors import PosevidError
from .face import INNER_LIPS, RIGID, apply, fit_similarity, forehead, inter_ocular
from .mesh import rasterize

RINGS = ((1.35, 0.6, 16), (2.2, 0.0, 24))  # (radii in face half sizes, share of the head motion, points)
HALF_RES_PIXELS = 60_000  # a ring box larger than this is rasterised at half resolution
MOUTH_FADE = (0.03, 0.08)  # the mouth's paint fades in between these inner-lip gaps (inter-ocular distances)
OPEN_MOUTH = 0.06  # a portrait's mouth is open when its inner lips are this many inter-ocular distances apart
_SEGMENTS = ((0, 16, False), (36, 41, True), (42, 47, True), (48, 59, True), (60, 67, True))


def _lens_mouth(xy: np.ndarray) -> np.ndarray:
    """Landmarks with the inner lips moved apart (a third of the way to the outer lips' middle), so the
    mouth's interior is a proper polygon even when the portrait's mouth is closed (topology only)."""
    out = xy.copy()
    for inner, outer in ((61, 50), (62, 51), (63, 52), (65, 56), (66, 57), (67, 58)):
        mid = 0.5 * (xy[inner] + xy[{61: 67, 62: 66, 63: 65, 65: 63, 66: 62, 67: 61}[inner]])
        out[inner] = mid + 0.4 * (xy[outer] - mid)
    return out


def _inside(polygon: np.ndarray, points: np.ndarray) -> np.ndarray:
    poly = polygon.astype(np.float32).reshape(-1, 1, 2)
    return np.array([cv2.pointPolygonTest(poly, (float(x), float(y)), False) > 0 for x, y in points])


def _triangulate(points: np.ndarray, segments: list[tuple[int, int]]) -> np.ndarray:
    """(M, 3) triangles of a constrained Delaunay triangulation of ``points`` with no new vertices
    (plain Delaunay when the constraints cross)."""
    import triangle

    try:
        out = triangle.triangulate({"vertices": points, "segments": np.array(segments)}, "pcQ")
        if len(out["vertices"]) == len(points):
            return np.asarray(out["triangles"], np.int64)
    except RuntimeError:
        pass
    from scipy.spatial import Delaunay

    return np.asarray(Delaunay(points).simplices, np.int64)


class FaceRig:
    """The portrait's face mesh; ``render(target)`` draws the portrait with its face on (68, 2) target
    landmarks (the portrait's pixels)."""

    def __init__(self, rgb: np.ndarray, face_xy: np.ndarray, where: str = "source image"):
        """rgb: (H, W, 3) uint8 portrait; face_xy: (68, 2) its landmarks in pixels. Raises
        ``PosevidError(where, ...)`` when the face is too small to animate."""
        self.rgb = np.ascontiguousarray(rgb)
        xy = np.asarray(face_xy, np.float64)
        self.height, self.width = rgb.shape[:2]
        self.iod = float(inter_ocular(xy))
        if self.iod < 8:
            raise PosevidError(where, f"the face is too small to animate ({self.iod:.0f} pixels between the eyes)")
        self.source = xy
        up = xy[27] - xy[8]
        self.forehead = forehead(xy)
        face = np.concatenate([xy, self.forehead])
        centre = 0.5 * (face.min(0) + face.max(0))
        half = 0.5 * (face.max(0) - face.min(0))
        angle = np.arctan2(up[1], up[0]) + np.pi / 2  # the face's roll (0 upright)
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        rings, share = [], []
        for radius, follow, count in RINGS:
            phi = np.linspace(0, 2 * np.pi, count, endpoint=False) + np.pi / count
            rings.append(centre + np.stack([radius * half[0] * np.cos(phi), radius * half[1] * np.sin(phi)], 1) @ rot.T)
            share.append(np.full(count, follow))
        self.ring, self.follow = np.concatenate(rings), np.concatenate(share)[:, None]
        topo = np.concatenate([_lens_mouth(xy), self.forehead, self.ring])
        segments = [(a + k, a + k + 1) for a, b, closed in _SEGMENTS for k in range(b - a)]
        segments += [(b, a) for a, b, closed in _SEGMENTS if closed]
        self.triangles = _triangulate(topo, segments)
        centroids = topo[self.triangles].mean(1)
        self.mouth = _inside(topo[list(INNER_LIPS)], centroids)
        n_face = 68 + len(self.forehead)
        self.priority = np.where((self.triangles >= n_face).any(1), 0, np.where(self.mouth, 1, 2))
        self.open_mouth = float(np.linalg.norm(xy[62] - xy[66])) > OPEN_MOUTH * self.iod
        self._mouth_colours()
        ring_box = np.concatenate([self.ring.min(0), self.ring.max(0)])
        self.box = (max(int(np.floor(ring_box[0])), 0), max(int(np.floor(ring_box[1])), 0),
                    min(int(np.ceil(ring_box[2])) + 1, self.width), min(int(np.ceil(ring_box[3])) + 1, self.height))

    def _mouth_colours(self) -> None:
        """The cavity's colour (the lips' darkened) and the teeth's (an ivory as bright as the face's skin)."""
        lips = np.zeros((self.height, self.width), np.uint8)
        cv2.fillPoly(lips, [np.round(self.source[48:60]).astype(np.int32)], 1)
        cv2.fillPoly(lips, [np.round(self.source[60:68]).astype(np.int32)], 0)
        lip = self.rgb[lips > 0].reshape(-1, 3).astype(np.float32)
        lip = lip.mean(0) if len(lip) else np.array([150.0, 80.0, 80.0], np.float32)
        self.cavity = lip * 0.22
        skin = np.zeros_like(lips)
        cv2.fillPoly(skin, [np.round(cv2.convexHull(self.source[:27].astype(np.float32))[:, 0]).astype(np.int32)], 1)
        luma = np.median(self.rgb[skin > 0].astype(np.float32).mean(1)) if (skin > 0).any() else 180.0
        self.teeth = np.clip(luma, 90, 215) * np.array([1.0, 0.96, 0.87], np.float32)

    def points(self, target: np.ndarray) -> np.ndarray:
        """The mesh's vertices for (68, 2) target landmarks: the landmarks, the forehead moved with the head
        (the similarity of the rigid landmarks), the inner ring with part of the head's motion, the outer ring
        fixed."""
        target = np.asarray(target, np.float64)
        head = fit_similarity(self.source[list(RIGID)], target[list(RIGID)])
        ring = self.ring + self.follow * (apply(head, self.ring) - self.ring)
        return np.concatenate([target, apply(head, self.forehead), ring])

    def render(self, target: np.ndarray) -> np.ndarray:
        """The (H, W, 3) uint8 portrait with its face on the (68, 2) ``target`` landmarks.

        The backward map is piecewise affine and continuous, so over a large face it is rasterised at half
        resolution (``HALF_RES_PIXELS``) and upsampled bilinearly: the same map within a fraction of a pixel,
        a quarter of the work."""
        x0, y0, x1, y1 = self.box
        h, w = y1 - y0, x1 - x0
        dst = self.points(target) - np.array([x0, y0])
        src = np.concatenate([self.source, self.forehead, self.ring])
        half = h * w > HALF_RES_PIXELS
        rh, rw = ((h + 1) // 2, (w + 1) // 2) if half else (h, w)
        scaled = (dst + 0.5) / 2 - 0.5 if half else dst
        raster = rasterize(scaled[self.triangles], src[self.triangles], self.priority, rh, rw)
        tri, coords = raster.triangle[0], raster.source[0]
        gx, gy = np.meshgrid(np.arange(rw, dtype=np.float32), np.arange(rh, dtype=np.float32))
        if half:
            gx, gy = 2 * gx + 0.5, 2 * gy + 0.5
        empty = tri < 0
        map_x = np.where(empty, gx + x0, coords[..., 0]).astype(np.float32)
        map_y = np.where(empty, gy + y0, coords[..., 1]).astype(np.float32)
        mouth = (~empty & self.mouth[np.maximum(tri, 0)]).astype(np.float32)
        if half:
            map_x, map_y, mouth = (cv2.resize(a, (2 * rw, 2 * rh), interpolation=cv2.INTER_LINEAR)[:h, :w]
                                   for a in (map_x, map_y, mouth))
        out = self.rgb.copy()
        patch = cv2.remap(self.rgb, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if not self.open_mouth and mouth.any():
            patch = self._fill_mouth(patch, mouth, dst[:68])
        out[y0:y1, x0:x1] = patch
        return out

    def _fill_mouth(self, patch: np.ndarray, mouth: np.ndarray, lm: np.ndarray) -> np.ndarray:
        """``patch`` with the open mouth's interior (``mouth`` (h, w) in {0, 1}) painted: the cavity's
        colour, and the upper teeth as a light band under the upper lip when the mouth is open enough. The
        paint fades in from a gap of ``MOUTH_FADE`` inter-ocular distances between the inner lips (lips pressed
        together, a smirk: landmark noise, not an opening)."""
        gap = float(np.linalg.norm(lm[[61, 62, 63]] - lm[[67, 66, 65]], axis=1).mean())
        strength = float(np.clip((gap - MOUTH_FADE[0] * self.iod) / ((MOUTH_FADE[1] - MOUTH_FADE[0]) * self.iod), 0, 1))
        if strength == 0:
            return patch
        fill = np.empty(patch.shape, np.float32)
        fill[:] = self.cavity
        if gap > 0.08 * self.iod:
            band = np.zeros(mouth.shape, np.uint8)
            upper = lm[[61, 62, 63]]
            upper = np.concatenate([0.5 * (lm[60] + lm[61])[None], upper, 0.5 * (lm[63] + lm[64])[None]])
            drop = np.array([0.0, min(0.35 * gap, 0.12 * self.iod)])
            poly = np.concatenate([upper, (upper + drop)[::-1]])
            cv2.fillPoly(band, [np.round(poly).astype(np.int32)], 1)
            band = cv2.GaussianBlur(band.astype(np.float32), (5, 5), 0)[..., None]
            fill = band * self.teeth + (1 - band) * fill
        soft = strength * cv2.GaussianBlur(mouth, (3, 3), 0)[..., None]
        return np.clip(soft * fill + (1 - soft) * patch + 0.5, 0, 255).astype(np.uint8)
