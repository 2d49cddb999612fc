"""A skinned 2D mesh of the person in a photo: triangulation, skinning weights, deformation, rasterisation.

The person's region is triangulated (Shewchuk's ``triangle``), each vertex gets one weight per body part
(``skeleton.PART_NAMES``), harmonic inside the mesh, so weights never leak across the background or across
a cut (``cut_mesh``); each target pose gives one affine per part (``part_transforms``) and the vertices move
by linear blend skinning (``deform``). ``rasterize`` draws the moved triangles with a depth order into
per-pixel source coordinates: a *backward* map, which ``grid_from_coords`` turns into a ``grid_sample`` grid
(the same warp DwNet's coarse stage and the decoupled method can use).

Coordinates are pixels with pixel centres at integers (``x`` right, ``y`` down), as everywhere in posevid.
Everything here is numpy (float64 geometry, float32 maps) and runs once per source photo (triangulation,
weights) or once per frame (transforms, deformation, rasterisation: a few milliseconds at 256 pixels).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import splu

from .skeleton import BODY_PARTS, JOINT, NUM_PARTS, PART_NAMES

MIN_ANGLE = 25.0  # degrees: ``triangle``'s quality bound (28 adds many more triangles along the boundaries)
SIZE_NOISE = (0.1, 0.2)  # |log| of the size ratio from the joints: under this much it is noise, over this much all real
TORSO_DEPTH = (0.6, 0.3)  # the torso's depth, of its width and its height: its outline narrows less than its joints
_PARENT = {"head": "torso", "torso": None, "right_upper_arm": "torso", "right_lower_arm": "right_upper_arm",
           "left_upper_arm": "torso", "left_lower_arm": "left_upper_arm", "right_upper_leg": "torso",
           "right_lower_leg": "right_upper_leg", "left_upper_leg": "torso", "left_lower_leg": "left_upper_leg"}
PARENT: tuple[int, ...] = tuple(-1 if _PARENT[n] is None else PART_NAMES.index(_PARENT[n]) for n in PART_NAMES)
# Parts in an order where each comes after its parent.
_TREE_ORDER = (1, 0, 2, 3, 4, 5, 6, 7, 8, 9)


@dataclass
class Mesh:
    """Triangles over a source image.

    vertices: (N, 2) float64 source pixels; triangles: (M, 3) int64 vertex indices (any orientation).
    """

    vertices: np.ndarray
    triangles: np.ndarray

    @property
    def corners(self) -> np.ndarray:
        """(M, 3, 2) the triangles' vertex positions."""
        return self.vertices[self.triangles]


def nearest_known(known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each pixel of an (H, W) bool image, the row and column (H, W) int of the nearest ``known``
    pixel (OpenCV's labelled distance transform, 5x5 mask: within a fraction of a pixel of the Euclidean
    nearest); an image with nothing known maps every pixel to itself."""
    known = np.asarray(known, bool)
    rows, cols = np.indices(known.shape)
    if not known.any():
        return rows, cols
    _, label = cv2.distanceTransformWithLabels((~known).astype(np.uint8), cv2.DIST_L2, 5,
                                               labelType=cv2.DIST_LABEL_PIXEL)
    at = np.zeros((int(label.max()) + 1, 2), np.int64)
    at[label[known]] = np.stack([rows[known], cols[known]], 1)
    found = at[label]
    return found[..., 0], found[..., 1]


def _clean_labels(labels: np.ndarray, min_area: int) -> np.ndarray:
    """Labels (H, W) int (negative: outside) with connected pieces smaller than ``min_area`` pixels
    (specks, one-pixel slivers) given the label of the nearest larger piece."""
    keep = np.ones(labels.shape, bool)
    for value in np.unique(labels):
        count, comp, stats, _ = cv2.connectedComponentsWithStats((labels == value).astype(np.uint8), connectivity=4)
        small = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] < min_area) + 1
        if small.size:
            keep &= ~np.isin(comp, small)
    if keep.all() or not keep.any():
        return labels
    iy, ix = nearest_known(keep)
    return labels[iy, ix]


def _crack_chains(labels: np.ndarray) -> list[tuple[np.ndarray, bool]]:
    """Boundaries between differently labelled pixels as chains of pixel corners (outside the image counts
    as label -1).

    Returns ``(points (K, 2) float64 pixel coordinates of the corners, closed)`` per chain; chains run
    between junctions (corners where three or four regions meet) or are closed loops. Both regions along a
    chain share it exactly, so a triangulation bounded by the chains puts every triangle inside one region.
    """
    padded = np.pad(labels, 1, constant_values=-1)
    cols = padded.shape[1] + 1
    r, c = np.nonzero(padded[:-1, :] != padded[1:, :])  # crack below pixel (r, c): corners (r+1, c)-(r+1, c+1)
    a1, b1 = (r + 1) * cols + c, (r + 1) * cols + c + 1
    r, c = np.nonzero(padded[:, :-1] != padded[:, 1:])  # crack right of pixel (r, c): corners (r, c+1)-(r+1, c+1)
    a2, b2 = r * cols + c + 1, (r + 1) * cols + c + 1
    a, b = np.concatenate([a1, a2]), np.concatenate([b1, b2])
    nodes = np.concatenate([a, b])
    order = np.argsort(nodes, kind="stable")
    other = np.concatenate([b, a])[order]
    nodes = nodes[order]
    uniq, first, degree = np.unique(nodes, return_index=True, return_counts=True)
    neighbours = {int(n): other[f:f + d].tolist() for n, f, d in zip(uniq, first, degree)}
    junction = {n for n, nb in neighbours.items() if len(nb) != 2}
    used: set[tuple[int, int]] = set()
    chains: list[tuple[list[int], bool]] = []

    def walk(start: int, nxt: int) -> tuple[list[int], bool]:
        chain, prev, cur = [start, nxt], start, nxt
        used.add((start, nxt))
        used.add((nxt, start))
        while cur not in junction and cur != start:
            n0, n1 = neighbours[cur]
            step = n1 if n0 == prev else n0
            used.add((cur, step))
            used.add((step, cur))
            chain.append(step)
            prev, cur = cur, step
        closed = cur == start and start not in junction
        return (chain[:-1] if closed else chain), closed

    for start in junction:
        for nxt in neighbours[start]:
            if (start, nxt) not in used:
                chains.append(walk(start, nxt))
    for start, nb in neighbours.items():
        for nxt in nb:
            if (start, nxt) not in used:
                chains.append(walk(start, nxt))
    out = []
    for chain, closed in chains:
        ids = np.asarray(chain)
        # Corner (i, j) of the padded image is the point (j - 1.5, i - 1.5) in pixel-centre coordinates.
        out.append((np.stack([ids % cols - 1.5, ids // cols - 1.5], 1).astype(np.float64), closed))
    return out


def _simplify(points: np.ndarray, closed: bool, tolerance: float) -> np.ndarray:
    """Indices of the points kept by Douglas-Peucker simplification (endpoints always kept; a closed chain
    is split at its point farthest from the first)."""
    if closed:
        far = int(np.argmax(np.linalg.norm(points - points[0], axis=1)))
        if far == 0:
            return np.array([0])
        looped = np.concatenate([points, points[:1]])
        left = _simplify(looped[: far + 1], False, tolerance)
        right = _simplify(looped[far:], False, tolerance) + far
        keep = np.concatenate([left, right[1:]])
        keep = keep[keep < len(points)]
        if len(keep) < 3 <= len(points):  # a small island would collapse to a line: keep it a triangle
            seg, rel = points[far] - points[0], points - points[0]
            keep = np.sort(np.append(keep, int(np.argmax(np.abs(seg[0] * rel[:, 1] - seg[1] * rel[:, 0])))))
        return keep
    keep = np.zeros(len(points), bool)
    keep[[0, -1]] = True
    stack = [(0, len(points) - 1)]
    while stack:
        i, j = stack.pop()
        if j <= i + 1:
            continue
        seg = points[j] - points[i]
        rel = points[i + 1:j] - points[i]
        norm = np.linalg.norm(seg)
        if norm > 1e-9:
            dist = np.abs(seg[0] * rel[:, 1] - seg[1] * rel[:, 0]) / norm
        else:
            dist = np.linalg.norm(rel, axis=1)
        k = int(np.argmax(dist))
        if dist[k] > tolerance:
            m = i + 1 + k
            keep[m] = True
            stack += [(i, m), (m, j)]
    return np.flatnonzero(keep)


def _holes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Enclosed background (negative labels not connected to the image's edge): a point deep inside each
    pocket at least 2 pixels from its rim (K, 2), and the labels with narrower pockets filled in from the
    nearest labelled pixels (a hole's point must lie inside it, also after the rim is simplified)."""
    outside = np.pad(labels < 0, 1, constant_values=True).astype(np.uint8)
    count, comp = cv2.connectedComponents(outside, connectivity=4)
    comp = comp[1:-1, 1:-1]
    exterior = 1  # the padded frame's component (the first one found, from the top left corner)
    depth = cv2.distanceTransform((labels < 0).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    points, narrow = [], np.zeros(labels.shape, bool)
    for c in range(1, count):
        if c == exterior:
            continue
        pocket = np.flatnonzero(comp == c)
        deepest = pocket[np.argmax(depth.flat[pocket])]
        if depth.flat[deepest] >= 2.0:
            points.append((deepest % labels.shape[1], deepest // labels.shape[1]))
        else:
            narrow.flat[pocket] = True
    if narrow.any():
        iy, ix = nearest_known(labels >= 0)
        labels = np.where(narrow, labels[iy, ix], labels)
    return np.asarray(points, np.float64).reshape(-1, 2), labels


def _triangle_labels(labels: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """(M,) the label of each triangle (M, 3, 2): the most common label at 4 points inside it (its centroid
    and the points halfway from it to each corner), robust to the simplified edges' slivers."""
    h, w = labels.shape
    centroid = corners.mean(1, keepdims=True)
    points = np.concatenate([centroid, (centroid + corners) / 2], 1)  # (M, 4, 2)
    x = np.clip(np.round(points[..., 0]).astype(int), 0, w - 1)
    y = np.clip(np.round(points[..., 1]).astype(int), 0, h - 1)
    votes = labels[y, x]
    first = votes[:, 0]
    counts = (votes[:, :, None] == votes[:, None, :]).sum(2)
    best = votes[np.arange(len(votes)), counts.argmax(1)]
    return np.where(counts.max(1) > 1, best, first)


def triangulate(labels: np.ndarray, max_area: float, simplify: float = 1.0, min_piece: int = 6,
                simplify_inner: float | None = None) -> tuple[Mesh, np.ndarray]:
    """Quality triangulation of a labelled region: (H, W) int labels (negative outside) -> ``Mesh`` (source
    pixels) and the label of each triangle (M,).

    The boundaries between labels (pixel cracks, simplified by ``simplify`` pixels where they border the
    outside, by ``simplify_inner`` (default ``simplify``) between two labels: a cut that shows only when
    the parts part, straighter there than the pixels' staircase, shared by the regions on both sides)
    constrain a Delaunay triangulation with angles of at least ``MIN_ANGLE`` and areas of
    at most ``max_area`` square pixels, so every triangle lies in one label's region and a cut between two
    labels runs along triangle edges. Pieces smaller than ``min_piece`` pixels are merged into their
    neighbours first. Returns an empty mesh when nothing is labelled.
    """
    import triangle

    labels = _clean_labels(np.asarray(labels, np.int64), min_piece)
    holes, labels = _holes(labels)
    if not (labels >= 0).any():
        return Mesh(np.zeros((0, 2)), np.zeros((0, 3), np.int64)), np.zeros(0, np.int64)
    index: dict[tuple[float, float], int] = {}
    vertices: list[tuple[float, float]] = []
    segments: list[tuple[int, int]] = []

    def vertex(p: np.ndarray) -> int:
        key = (float(p[0]), float(p[1]))
        if key not in index:
            index[key] = len(vertices)
            vertices.append(key)
        return index[key]

    padded = np.pad(labels, 1, constant_values=-1)
    for points, closed in _crack_chains(labels):
        x, y = np.round(points[len(points) // 2] + 1.5).astype(int)  # its corner in ``padded``
        outer = bool((padded[y - 1:y + 1, x - 1:x + 1] < 0).any())
        tolerance = simplify if outer or simplify_inner is None else simplify_inner
        ids = [vertex(points[i]) for i in _simplify(points, closed, tolerance)]
        if closed:
            ids.append(ids[0])
        segments += [(min(u, v), max(u, v)) for u, v in zip(ids[:-1], ids[1:]) if u != v]
    # Two chains can simplify to the same segment (a sliver one pixel wide between labels); Triangle
    # crashes the process on a segment given twice.
    pslg = {"vertices": np.asarray(vertices), "segments": np.asarray(list(dict.fromkeys(segments)))}
    if len(holes):
        pslg["holes"] = holes
    out = triangle.triangulate(pslg, f"pq{MIN_ANGLE:g}a{max_area:.6f}Q")
    result = Mesh(np.asarray(out["vertices"], np.float64), np.asarray(out["triangles"], np.int64))
    tri_labels = _triangle_labels(labels, result.corners)
    keep = tri_labels >= 0
    return Mesh(result.vertices, result.triangles[keep]), tri_labels[keep]


def triangulate_polygon(outline: np.ndarray, max_area: float) -> Mesh:
    """Quality triangulation (``MIN_ANGLE``, areas up to ``max_area``) of the inside of one closed polygon
    ``outline`` (K, 2) (pixels, not repeating its first point): a shape drawn from geometry, not labels."""
    import triangle

    k = len(outline)
    pslg = {"vertices": np.asarray(outline, np.float64),
            "segments": np.stack([np.arange(k), (np.arange(k) + 1) % k], 1)}
    out = triangle.triangulate(pslg, f"pq{MIN_ANGLE:g}a{max_area:.6f}Q")
    return Mesh(np.asarray(out["vertices"], np.float64), np.asarray(out["triangles"], np.int64))


def interior_edges(triangles: np.ndarray) -> np.ndarray:
    """(E, 4) int64 rows ``(t1, t2, a, b)``: triangles t1 and t2 share the edge between vertices a < b."""
    m = len(triangles)
    edges = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    owner = np.tile(np.arange(m), 3)
    edges = np.sort(edges, axis=1)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    edges, owner = edges[order], owner[order]
    same = (edges[1:] == edges[:-1]).all(1)
    i = np.flatnonzero(same)
    return np.stack([owner[i], owner[i + 1], edges[i, 0], edges[i, 1]], 1)


def cut_mesh(mesh: Mesh, glued: np.ndarray, edges: np.ndarray | None = None) -> tuple[Mesh, np.ndarray]:
    """Split the mesh along the interior edges that are not ``glued``.

    ``edges`` (E, 4) from ``interior_edges`` (computed when None), ``glued`` (E,) bool. Around each vertex,
    the triangles joined through glued edges keep one shared copy of it; triangles on the far side of a cut
    get their own copy. Returns the new mesh (same triangle order) and, per new vertex, the index of the
    original vertex it copies (N',).
    """
    tris = mesh.triangles
    if edges is None:
        edges = interior_edges(tris)
    m = len(tris)
    corner = np.arange(3 * m).reshape(m, 3)

    def corner_of(t: np.ndarray, v: np.ndarray) -> np.ndarray:
        k = np.argmax(tris[t] == v[:, None], axis=1)
        return corner[t, k]

    e = edges[glued]
    rows = np.concatenate([corner_of(e[:, 0], e[:, 2]), corner_of(e[:, 0], e[:, 3])])
    cols = np.concatenate([corner_of(e[:, 1], e[:, 2]), corner_of(e[:, 1], e[:, 3])])
    graph = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(3 * m, 3 * m))
    _, comp = connected_components(graph, directed=False)
    # Component ids are per corner; corners of one vertex that stay joined share a component.
    uniq, new_index = np.unique(comp, return_inverse=True)
    origin = np.zeros(len(uniq), np.int64)
    origin[new_index] = tris.ravel()
    return Mesh(mesh.vertices[origin], new_index.reshape(m, 3).astype(np.int64)), origin


def cotangent_laplacian(mesh: Mesh) -> sp.csr_matrix:
    """(N, N) positive semi-definite cotangent Laplacian (sum of 0.5 cot(opposite angle) per edge)."""
    v, t = mesh.vertices, mesh.triangles
    n = len(v)
    rows, cols, vals = [], [], []
    for k in range(3):
        i, j, o = t[:, (k + 1) % 3], t[:, (k + 2) % 3], t[:, k]
        a, b = v[i] - v[o], v[j] - v[o]
        cross = np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
        cot = (a * b).sum(1) / np.maximum(cross, 1e-12)
        w = 0.5 * np.clip(cot, -1e3, 1e3)
        rows += [i, j]
        cols += [j, i]
        vals += [w, w]
    off = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)).tocsr()
    return (sp.diags(np.asarray(off.sum(1)).ravel()) - off).tocsr()


def harmonic_weights(mesh: Mesh, fixed: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Harmonic interpolation on the mesh: (N, K) weights equal to ``values`` (F, K) at the vertices
    ``fixed`` (F,) and harmonic (cotangent Laplacian) elsewhere; rows are normalised to sum to 1.

    A connected piece of the mesh with no fixed vertex takes the values of the nearest fixed vertex.
    """
    n = len(mesh.vertices)
    k = values.shape[1]
    out = np.zeros((n, k))
    out[fixed] = values
    is_fixed = np.zeros(n, bool)
    is_fixed[fixed] = True
    lap = cotangent_laplacian(mesh)
    adjacency = (lap != 0).astype(np.int8)
    count, comp = connected_components(adjacency, directed=False)
    seeded = np.zeros(count, bool)
    seeded[comp[is_fixed]] = True
    free = ~is_fixed & seeded[comp]
    if free.any():
        f = np.flatnonzero(free)
        b = np.flatnonzero(is_fixed)
        lap_ff = lap[f][:, f].tocsc() + sp.identity(len(f), format="csc") * 1e-9
        rhs = -(lap[f][:, b] @ out[b])
        out[f] = splu(lap_ff).solve(np.asarray(rhs))
    orphans = ~is_fixed & ~seeded[comp]
    if orphans.any() and is_fixed.any():
        from scipy.spatial import cKDTree

        _, nearest = cKDTree(mesh.vertices[is_fixed]).query(mesh.vertices[orphans])
        out[orphans] = out[is_fixed][nearest]
    out = np.clip(out, 0.0, None)
    return out / np.maximum(out.sum(1, keepdims=True), 1e-12)


# --- per-frame: part transforms and skinning -------------------------------------------------------------------


def _rot90(v: np.ndarray) -> np.ndarray:
    return np.stack([-v[..., 1], v[..., 0]], -1)


def _body_scale(xy: np.ndarray, conf: np.ndarray) -> float:
    """``render.body_scale`` of one (18, 2) pose (numpy, run twice a frame)."""
    from .render import body_scale

    return float(body_scale(xy, conf))


def _scale_ratio(src: np.ndarray, dst: np.ndarray, ok: np.ndarray) -> float:
    """Ratio of body sizes dst / src (``render.body_scale``), 1 when either is unknown or when the two differ
    by under ``SIZE_NOISE[0]`` in log: the same person's size read from the joints of two poses varies that
    much with foreshortening and the joints' noise (raised arms lift the neck, a skirt moves the hips: 0.93
    to 1.10 through tfjs_pose_1, where she stays where she is; 1.06 to 1.10 through animatex_dance_3), and it
    sets the limbs' widths, the head's size and the torso's bounds, which then pulsed frame to frame. A
    larger change (a driver walking towards the camera) is eased in up to ``SIZE_NOISE[1]`` and taken whole
    beyond it (continuous, monotone)."""
    s, d = _body_scale(src, ok), _body_scale(dst, ok)
    if not (s > 0 and d > 0):
        return 1.0
    x = float(np.log(d / s))
    low, high = SIZE_NOISE
    return float(np.exp(x * np.clip((abs(x) - low) / (high - low), 0.0, 1.0)))


def _fit_affine(src: np.ndarray, dst: np.ndarray, k: float, bounds: tuple[float, float],
                depth: tuple[float, float] = (0.0, 0.0), axis: np.ndarray | None = None) -> np.ndarray | None:
    """Least-squares 2x3 affine src -> dst of >= 3 points (None when they are nearly on a line). Its
    singular values s are those of a solid of that ``depth``, with r = s / k: under 1 (the joints drawn
    closer together: the body turned or leaning) ``k sqrt(r^2 + d^2 (1 - r^2))`` (an ellipse's outline,
    turned until its joints are r as far apart, is that wide), over 1 (the photo's body was the turned
    one) the inverse, ``k r / sqrt(1 + d^2 (r^2 - 1))``; d is the depth as a share of the solid's extent
    across ``axis`` (a unit vector in ``src``: the spine) and along it, ``depth`` = (across, along), mixed
    by the singular direction's angle to ``axis`` (without one, across). Then the singular values are kept
    within ``bounds`` times ``k``, so a torso seen edge-on is not squashed flat."""
    if len(src) < 3:
        return None
    sc, dc = src - src.mean(0), dst - dst.mean(0)
    cov = sc.T @ sc
    evals = np.linalg.eigvalsh(cov)
    if evals[0] < 0.02 * evals[1] or evals[1] <= 1e-9:
        return None
    lin = np.linalg.solve(cov, sc.T @ dc).T
    u, s, vt = np.linalg.svd(lin)
    along = np.zeros(2) if axis is None else (vt @ axis) ** 2  # per singular direction: cos^2 to the axis
    d = depth[0] * (1.0 - along) + depth[1] * along
    r = s / k
    narrow, wide = np.minimum(r, 1.0), np.maximum(r, 1.0)
    turned = np.sqrt(narrow**2 + d**2 * (1.0 - narrow**2)), wide / np.sqrt(1.0 + d**2 * (wide**2 - 1.0))
    s = k * np.where(r < 1.0, *turned)
    s = np.clip(s, bounds[0] * k, bounds[1] * k)
    lin = (u * s) @ vt
    t = dst.mean(0) - lin @ src.mean(0)
    return np.concatenate([lin, t[:, None]], 1)


def _spine(xy: np.ndarray, ok: np.ndarray) -> np.ndarray | None:
    """The unit vector (2,) from the hips' midpoint to the neck of the (18, 2) pose ``xy`` (joints seen where
    ``ok``), or None when the neck or both hips are unseen or they coincide."""
    neck, hips = JOINT["neck"], [j for j in (JOINT["right_hip"], JOINT["left_hip"]) if ok[j]]
    if not ok[neck] or not hips:
        return None
    v = xy[neck] - xy[hips].mean(0)
    norm = np.linalg.norm(v)
    return v / norm if norm > 1e-6 else None


def _fit_similarity(src: np.ndarray, dst: np.ndarray, scale: float | None) -> np.ndarray | None:
    """Least-squares rotation + uniform scale (``scale`` when given) + translation of >= 2 points."""
    if len(src) < 2:
        return None
    sc, dc = src - src.mean(0), dst - dst.mean(0)
    dd = (sc**2).sum()
    if dd <= 1e-9:
        return None
    a = (sc * dc).sum() / dd
    b = (sc[:, 0] * dc[:, 1] - sc[:, 1] * dc[:, 0]).sum() / dd
    norm = np.hypot(a, b)
    if scale is not None and norm > 1e-9:
        a, b = a / norm * scale, b / norm * scale
    lin = np.array([[a, -b], [b, a]])
    t = dst.mean(0) - lin @ src.mean(0)
    return np.concatenate([lin, t[:, None]], 1)


def part_transforms(src_xy: np.ndarray, src_conf: np.ndarray, dst_xy: np.ndarray, dst_conf: np.ndarray,
                    min_conf: float = 0.1, stretch: tuple[float, float] = (0.35, 1.6)) -> np.ndarray:
    """One pixel affine per body part taking the source pose to the target pose: ``(10, 2, 3)`` float64.

    Poses are one frame each, ``(18, 2)`` pixels and ``(18,)`` confidences; a joint counts when both poses
    see it. ``k`` is the ratio of body sizes (target / source; 1 while it is within the noise of reading it
    from the joints: ``_scale_ratio``).
    - torso: least-squares affine of neck, shoulders and hips, its singular values under ``k`` those of a
      solid of ``TORSO_DEPTH`` (its depth of its width and height) turned or leaning that far
      (``_fit_affine``), all within [0.8 k, 1.25 k]; else a similarity;
    - head: rotation and translation of its joints, scaled by ``k`` (the head keeps its size on the body);
    - limbs: the bone's rotation, the bone's length ratio along it (within ``stretch`` times ``k``) and
      ``k`` across it, anchored at the bone's first joint (so joints land exactly where the target puts them);
    - a part the poses do not define follows its parent (``PARENT``); the torso, failing all, the similarity
      of every joint, or the identity.
    """
    src_xy, dst_xy = np.asarray(src_xy, np.float64), np.asarray(dst_xy, np.float64)
    ok = (np.asarray(src_conf) > min_conf) & (np.asarray(dst_conf) > min_conf)
    k = _scale_ratio(src_xy, dst_xy, ok)
    out = np.zeros((NUM_PARTS, 2, 3))
    for p in _TREE_ORDER:
        name = PART_NAMES[p]
        joints = [j for j in BODY_PARTS[name] if ok[j]]
        fit = None
        if name == "torso":
            if len(joints) >= 3:
                fit = _fit_affine(src_xy[joints], dst_xy[joints], k, (0.8, 1.25), TORSO_DEPTH, _spine(src_xy, ok))
            if fit is None:
                fit = _fit_similarity(src_xy[joints], dst_xy[joints], None)
            if fit is None:
                fit = _fit_similarity(src_xy[ok], dst_xy[ok], k)
            if fit is None:
                fit = np.eye(2, 3)
                if ok.any():
                    fit[:, 2] = (dst_xy[ok] - src_xy[ok]).mean(0)
        elif name == "head":
            fit = _fit_similarity(src_xy[joints], dst_xy[joints], k)
        elif len(joints) == 2:
            a, b = BODY_PARTS[name]
            sv, dv = src_xy[b] - src_xy[a], dst_xy[b] - dst_xy[a]
            ls, ld = np.linalg.norm(sv), np.linalg.norm(dv)
            if ls > 1e-6 and ld > 1e-6:
                us, ud = sv / ls, dv / ld
                along = np.clip(ld / ls, stretch[0] * k, stretch[1] * k)
                lin = along * np.outer(ud, us) + k * np.outer(_rot90(ud), _rot90(us))
                fit = np.concatenate([lin, (dst_xy[a] - lin @ src_xy[a])[:, None]], 1)
        if fit is None:
            parent = PARENT[p]
            fit = out[parent] if parent >= 0 else np.eye(2, 3)
            if len(joints) == 1 and parent >= 0:  # one joint seen: the parent's motion, moved onto it
                j = joints[0]
                fit = fit.copy()
                fit[:, 2] += dst_xy[j] - (fit[:, :2] @ src_xy[j] + fit[:, 2])
        out[p] = fit
    return out


def skin(vertices: np.ndarray, weights: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """Linear blend skinning: (N, 2) source vertices, (N, K) weights, (K, 2, 3) affines -> (N, 2) moved."""
    blended = weights @ transforms.reshape(len(transforms), 6)  # (N, 6)
    x, y = vertices[:, 0], vertices[:, 1]
    return np.stack([blended[:, 0] * x + blended[:, 1] * y + blended[:, 2],
                     blended[:, 3] * x + blended[:, 4] * y + blended[:, 5]], 1)


# --- per-frame: rasterisation into a backward map ---------------------------------------------------------------


@dataclass
class Raster:
    """Per-pixel result of ``rasterize`` over an (H, W) target image, for ``L`` depth levels.

    triangle: (L, H, W) int64, the triangle drawn at each pixel (level 0 the front-most, level 1 the
    front-most of another ``group``), -1 where none; source: (L, H, W, 2) float32 source pixel coordinates
    there (-1e4 where no triangle covers the pixel, so samplers read zeros).
    """

    triangle: np.ndarray
    source: np.ndarray


NO_SOURCE = -1.0e4


def rasterize(target: np.ndarray, source: np.ndarray, priority: np.ndarray, height: int, width: int,
              group: np.ndarray | None = None, levels: int = 1, eps: float = 1e-3) -> Raster:
    """Draw triangles into a backward map: each target pixel gets the source point it shows.

    target, source: (M, 3, 2) the triangles' corners in the target image (where they are drawn) and in the
    source (what they show); priority: (M,) int, higher is drawn in front (ties: the higher index). Pixel
    centres inside a triangle (or within ``eps`` of its edges, so shared edges leave no cracks) take the
    front-most triangle and the source point that the triangle's affine map gives. With ``levels=2`` and
    ``group`` (M,) int, level 1 holds the front-most triangle of a different group than level 0's (what
    shows through where the front layer's edge is soft). Degenerate triangles are skipped.
    """
    m = len(target)
    empty = Raster(np.full((levels, height, width), -1, np.int64),
                   np.full((levels, height, width, 2), NO_SOURCE, np.float32))
    if m == 0:
        return empty
    target, src = np.asarray(target, np.float64), np.asarray(source, np.float64)
    # Each triangle's affine map from target pixels to source pixels: source = lin @ (x, y) + shift.
    e1, e2 = target[:, 1] - target[:, 0], target[:, 2] - target[:, 0]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    good = np.abs(det) > 1e-9
    inv = np.stack([np.stack([e2[:, 1], -e2[:, 0]], -1), np.stack([-e1[:, 1], e1[:, 0]], -1)], 1)
    inv /= np.where(good, det, 1.0)[:, None, None]
    lin = np.stack([src[:, 1] - src[:, 0], src[:, 2] - src[:, 0]], -1) @ inv  # (M, 2, 2)
    shift = src[:, 0] - (lin @ target[:, 0, :, None])[..., 0]
    coef = np.concatenate([lin.reshape(m, 4), shift], 1)  # (M, 6): one gather per pixel below
    # Scanlines: the rows each triangle covers, and on each row the span between its edges.
    y_lo = np.maximum(np.ceil(target[:, :, 1].min(1) - eps), 0).astype(np.int64)
    y_hi = np.minimum(np.floor(target[:, :, 1].max(1) + eps), height - 1).astype(np.int64)
    rows = np.where(good, y_hi - y_lo + 1, 0).clip(min=0)
    row_tri = np.repeat(np.arange(m), rows)
    y = (y_lo[row_tri] + np.arange(int(rows.sum())) - np.repeat(np.cumsum(rows) - rows, rows)).astype(np.float64)
    # Per edge (corner k to k + 1) and triangle, what the spans need: (3, 9, M), gathered for every row.
    a, b = target, target[:, [1, 2, 0]]
    dy = b[..., 1] - a[..., 1]
    flat = np.abs(dy) < 1e-12
    edges = np.stack([np.minimum(a[..., 1], b[..., 1]) - eps, np.maximum(a[..., 1], b[..., 1]) + eps, a[..., 1],
                      np.where(flat, 1.0, dy), a[..., 0], b[..., 0] - a[..., 0], np.minimum(a[..., 0], b[..., 0]),
                      np.maximum(a[..., 0], b[..., 0]), flat]).transpose(2, 0, 1).copy()
    x_min = np.full(len(y), np.inf)
    x_max = np.full(len(y), -np.inf)
    for k in range(3):
        y_min, y_max, ay, dy_k, ax, dx, ends_lo, ends_hi, flat_k = edges[k][:, row_tri]
        on = (y >= y_min) & (y <= y_max)
        x = ax + np.clip((y - ay) / dy_k, 0.0, 1.0) * dx
        flat_k = flat_k > 0
        x_min = np.where(on, np.minimum(x_min, np.where(flat_k, ends_lo, x)), x_min)
        x_max = np.where(on, np.maximum(x_max, np.where(flat_k, ends_hi, x)), x_max)
    x0 = np.maximum(np.ceil(x_min - eps), 0)
    x1 = np.minimum(np.floor(x_max + eps), width - 1)
    count = np.where(np.isfinite(x0) & np.isfinite(x1), x1 - x0 + 1, 0).clip(min=0).astype(np.int64)
    tri = np.repeat(row_tri, count)
    px = (np.repeat(x0, count) + np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count))
    py = np.repeat(y, count)
    pix = py.astype(np.int64) * width + px.astype(np.int64)
    key = np.asarray(priority, np.int64)[tri] * m + tri
    out_tri = empty.triangle.reshape(levels, -1)
    out_src = empty.source.reshape(levels, -1, 2)
    for level in range(levels):
        if level:
            keep = np.asarray(group)[tri] != np.asarray(group)[np.maximum(out_tri[level - 1][pix], 0)]
            tri, pix, key, px, py = tri[keep], pix[keep], key[keep], px[keep], py[keep]
        best = np.full(height * width, -1, np.int64)
        np.maximum.at(best, pix, key)
        win = best[pix] == key
        t, p, x, yy = tri[win], pix[win], px[win], py[win]
        out_tri[level, p] = t
        c = coef[t]
        out_src[level, p, 0] = x * c[:, 0] + yy * c[:, 1] + c[:, 4]
        out_src[level, p, 1] = x * c[:, 2] + yy * c[:, 3] + c[:, 5]
    return empty


def grid_from_coords(coords: np.ndarray, src_height: int, src_width: int, background: str = "outside"):
    """Source pixel coordinates (..., H, W, 2) (``NO_SOURCE`` where nothing is drawn) -> a torch backward
    grid (..., H, W, 2) float32 in ``grid_sample``'s ``align_corners=False`` convention for a source of
    ``src_height`` x ``src_width``. Empty pixels get ``warp.OUTSIDE`` (``background="outside"``: sampling
    gives zeros) or read themselves (``"identity"``, for networks: a grid with no jumps to nowhere)."""
    import torch

    from .warp import OUTSIDE, pixel_grid, pixels_to_grid

    c = torch.from_numpy(np.ascontiguousarray(coords, np.float32))
    empty = (c[..., :1] <= NO_SOURCE / 2)
    grid = pixels_to_grid(c, src_height, src_width)
    if background == "outside":
        return torch.where(empty, torch.full_like(grid, OUTSIDE), grid)
    if background != "identity":
        raise ValueError(f"background must be 'outside' or 'identity', got {background!r}")
    h, w = c.shape[-3:-1]
    ident = pixels_to_grid(pixel_grid(h, w), src_height, src_width)
    return torch.where(empty, ident.expand_as(grid), grid)
