"""The field's evaluation metrics; ``posevid.evaluate`` runs them over whole videos.

Per-frame pixel metrics (``pixel``), LPIPS (``lpips``, weights from the user), ST-LPIPS (``stlpips``,
weights from the stlpips-pytorch wheel), FID / KID / IS on the offline InceptionV3
(``inception``), keypoint metrics AKD / MKR (``keypoints``) and the warping error (``temporal``).
"""

from .inception import InceptionFeatures, fid, inception_path, inception_score, kid, load_classifier
from .keypoints import keypoint_errors
from .lpips import LPIPS, load_lpips
from .pixel import PSNR_CAP, l1, mask_ssim, masked_l1, ms_ssim, ms_ssim_scales, psnr, ssim
from .stlpips import STLPIPS, st_lpips, st_lpips_images
from .temporal import warp_error

__all__ = [
    "LPIPS", "PSNR_CAP", "STLPIPS", "InceptionFeatures", "fid", "inception_path", "inception_score", "keypoint_errors",
    "kid", "l1", "load_classifier", "load_lpips", "mask_ssim", "masked_l1", "ms_ssim", "ms_ssim_scales",
    "psnr", "ssim", "st_lpips", "st_lpips_images", "warp_error",
]
