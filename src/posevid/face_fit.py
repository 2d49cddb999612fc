"""Faces read back from DWPose-style skeleton renders by fitting 68 dots to the white face dots.

DWPose draws the 68 face landmarks (iBUG order) as white dots of one size, last, over everything else;
they carry no identity, and on small faces they merge. The face is fitted as a whole: a frontal template
face is placed on the white pixels near the head by their moments in the head's frame (centre, spread
across and along the neck -> face direction), then a soft drawing of its dots is matched to the pixels'
classes (white or background) by gradient descent on an affine placement of the template plus small
per-point offsets held near it.
"""

from __future__ import annotations

import numpy as np
import torch

# The median MediaPipe face (68 iBUG points) of a frontal talking-head clip in shared/data
# (faces/liveportrait_d18.mp4), centred, its larger extent 1; x right, y down.
TEMPLATE = np.array([
    [-0.498, -0.302], [-0.499, -0.197], [-0.498, -0.088], [-0.461, 0.156], [-0.420, 0.261], [-0.370, 0.343],
    [-0.248, 0.468], [-0.112, 0.544], [-0.018, 0.557], [0.076, 0.549], [0.202, 0.474], [0.309, 0.355], [0.352,
    0.279], [0.392, 0.178], [0.443, -0.059], [0.454, -0.164], [0.466, -0.267], [-0.421, -0.443], [-0.339,
    -0.426], [-0.264, -0.439], [-0.172, -0.427], [-0.073, -0.412], [0.122, -0.403], [0.219, -0.410], [0.304,
    -0.414], [0.370, -0.397], [0.433, -0.411], [0.019, -0.303], [0.019, -0.195], [0.017, -0.082], [0.016,
    -0.014], [-0.089, 0.038], [-0.049, 0.071], [0.007, 0.076], [0.062, 0.074], [0.102, 0.044], [-0.306, -0.310],
    [-0.259, -0.333], [-0.184, -0.336], [-0.112, -0.292], [-0.171, -0.282], [-0.242, -0.284], [0.136, -0.283],
    [0.208, -0.320], [0.282, -0.312], [0.324, -0.286], [0.265, -0.266], [0.194, -0.269], [-0.180, 0.239],
    [-0.100, 0.201], [-0.046, 0.192], [0.003, 0.202], [0.056, 0.193], [0.106, 0.205], [0.172, 0.246], [0.097,
    0.300], [0.051, 0.315], [0.001, 0.318], [-0.053, 0.313], [-0.096, 0.296], [-0.159, 0.231], [-0.036, 0.241],
    [0.001, 0.244], [0.038, 0.242], [0.150, 0.238], [0.044, 0.247], [0.002, 0.248], [-0.038, 0.245]], np.float32)
STEPS = 20
LR = (0.05, 0.005)  # Adam's step sizes: affine terms (in template units) and offsets (in face sizes), first
OFFSET_WEIGHT = 20.0  # keeps each point near its template place (in face sizes, squared)
SOFTNESS = 0.6  # pixels over which a soft edge goes from 27% to 73%


def place(white: np.ndarray, up: np.ndarray, radius: float) -> np.ndarray:
    """The template (68, 2) placed on the white pixels ``white`` (N, 2) (x, y): at their centre, turned so
    that its up is ``up`` (2,), scaled to their spread across and along ``up`` (less the dots' own)."""
    up = up / max(float(np.linalg.norm(up)), 1e-6)
    down = -up
    across = np.array([down[1], -down[0]], np.float32)
    frame = np.stack([across, down])  # rows: template x and y in the image
    centre = white.mean(0)
    local = (white - centre) @ frame.T
    spread = np.sqrt(np.maximum(local.var(0) - radius**2 / 4, 1e-6))
    scale = spread / TEMPLATE.std(0)
    return (centre + (TEMPLATE * scale) @ frame).astype(np.float32)


def fit_face(grid: np.ndarray, is_white: np.ndarray, start: np.ndarray, radius: float) -> np.ndarray:
    """The 68 face points (68, 2) that best draw, as dots of ``radius`` pixels, the white pixels among
    ``grid`` (N, 2) pixel centres (x, y) labelled ``is_white`` (N,) bool (the rest background), from the
    placed template ``start`` (68, 2)."""
    g = torch.from_numpy(grid.astype(np.float32))
    label = torch.from_numpy(is_white.astype(np.float32))
    base = torch.from_numpy(start.astype(np.float32))
    centre = base.mean(0)
    size = float(np.ptp(start, 0).max()) or 1.0
    shape = (base - centre) / size
    affine = torch.eye(2, requires_grad=True)
    shift = torch.zeros(2, requires_grad=True)
    offsets = torch.zeros_like(shape, requires_grad=True)
    optimiser = torch.optim.Adam([{"params": [affine, shift], "lr": LR[0]}, {"params": [offsets], "lr": LR[1]}])
    for _ in range(STEPS):
        optimiser.zero_grad()
        points = centre + size * ((shape @ affine.T) + shift + offsets)
        dist = torch.cdist(g, points)  # (N, 68)
        dot = 1 - torch.prod(1 - torch.sigmoid((radius + 0.5 - dist) / SOFTNESS), -1)
        prob = torch.where(label > 0, dot, 1 - dot).clamp_min(1e-4)
        loss = -torch.log(prob).mean() + OFFSET_WEIGHT * (offsets**2).sum(-1).mean()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        return (centre + size * ((shape @ affine.T) + shift + offsets)).numpy().astype(np.float32)
