"""Streamed video and image I/O with PyAV: one frame in memory at a time, atomic writes.

Frames are (H, W, 3) uint8 RGB. Readers take mp4/mov/mkv/webm/avi/gif files, a folder of PNG/JPG frames
(sorted by name) or a single image (one frame). Writers make mp4 (libx264, yuv420p), gif, or a folder of
PNG frames (a path without suffix or ending in '/'), through a temporary name renamed on success.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import warnings
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import PosevidError
from .io_utils import atomic_path
from .poses import check_fps

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
MP4_SUFFIXES = (".mp4", ".mov", ".mkv", ".m4v")  # the containers written with libx264, which also carry audio
_COPIED_AUDIO = ("aac", "mp3", "ac3", "alac")  # audio codecs every one of them takes as they are (others: AAC)
DEFAULT_FPS = 30.0
FRAMES_MARKER = ".posevid-frames"  # in a folder of PNG frames posevid wrote (the only folders it replaces)
MAX_PIXELS = 50_000_000  # images with more pixels are refused before they are decoded

Image.MAX_IMAGE_PIXELS = MAX_PIXELS



def _to_rgb(img: Image.Image) -> np.ndarray:
    """A PIL image of any mode (grey, palette, RGBA, 16-bit, float) as (H, W, 3) uint8 RGB.

    Transparent pixels are composited over white; 16-bit and float samples are scaled to 0..255.
    """
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        arr = np.asarray(img, dtype=np.float32)
        peak = float(arr.max(initial=0))
        if img.mode.startswith("I;16"):
            top = 65535.0
        elif img.mode == "F":
            top = 1.0 if peak <= 1.0 else 255.0
        else:
            top = 255.0 if peak <= 255 else 65535.0
        grey = np.clip(np.rint(arr * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3:] / 255.0
        return np.rint(rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB (EXIF rotation applied; grey, RGBA, 16-bit converted)."""
    path = Path(path)
    image_size(path)
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            rgb = _to_rgb(img)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise PosevidError(path, f"cannot read the image ({err})") from None
    except MemoryError:
        raise PosevidError(path, "the image is too large to decode") from None
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise PosevidError(path, "the image is empty")
    return rgb


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of an image file from its header, without decoding it; one-line ``PosevidError`` for a
    path that is not a readable image file or an image over ``MAX_PIXELS``."""
    path = Path(path)
    _check_is_file(path, "image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below, in one line
            with Image.open(path) as img:
                width, height = img.size
    except UnidentifiedImageError:
        raise PosevidError(path, "not an image (or a format Pillow cannot read)") from None
    except Image.DecompressionBombError:
        raise PosevidError(path, f"the image is over {2 * MAX_PIXELS / 1e6:g} megapixels; the limit is "
                                 f"{MAX_PIXELS / 1e6:g} megapixels") from None
    except (OSError, ValueError, SyntaxError) as err:
        raise PosevidError(path, f"cannot read the image ({err})") from None
    if width * height > MAX_PIXELS:
        raise PosevidError(path, f"the image is {width}x{height} ({width * height / 1e6:.0f} megapixels); the limit "
                                 f"is {MAX_PIXELS / 1e6:g} megapixels")
    return width, height


def _check_is_file(path: Path, what: str) -> None:
    """One-line ``PosevidError`` unless ``path`` is a readable file: missing, a folder, a symlink loop."""
    if path.is_file():
        return
    if path.is_symlink():
        raise PosevidError(path, f"is a broken symlink or a symlink loop, not an {what} file")
    if path.is_dir():
        raise PosevidError(path, f"is a folder, not an {what} file")
    if path.exists():
        raise PosevidError(path, f"is not a regular file (an {what} file is needed)")
    raise PosevidError(path, f"no such {what} file")


def _check_frame(where: str | Path, rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or 0 in rgb.shape:
        raise PosevidError(where, f"a frame must be (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
    return np.ascontiguousarray(rgb)


def write_image(path: str | Path, rgb: np.ndarray) -> None:
    """Write an (H, W, 3) uint8 RGB image atomically; the format comes from the suffix (png, jpg, ...)."""
    path = Path(path)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise PosevidError(path, f"unknown image suffix; use one of {', '.join(IMAGE_SUFFIXES)}")
    rgb = _check_frame(path, rgb)
    with atomic_path(path) as tmp:
        opts = {"quality": 95} if path.suffix.lower() in (".jpg", ".jpeg", ".webp") else {}
        Image.fromarray(rgb).save(tmp, format=Image.registered_extensions()[path.suffix.lower()], **opts)


def _frame_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


class VideoReader:
    """Iterate the frames of a video, image folder or image as (H, W, 3) uint8 RGB, one at a time.

    ``fps`` (frames per second; 30 for folders and images), ``width``, ``height`` (pixels) and
    ``frame_count`` (None when the container does not say) are known after opening. The first frame is
    decoded on open, so a file with no readable frame fails at once. Iterating twice restarts.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._container: av.container.InputContainer | None = None
        self._files: list[Path] | None = None
        self.fps = DEFAULT_FPS
        self.frame_count: int | None = None
        self.decoded: int | None = None  # frames decoded by the last complete pass (a video file)
        self._timing: tuple[float, int | None] | None = None
        if not self.path.exists():
            if self.path.is_symlink():
                raise PosevidError(self.path, "is a broken symlink or a symlink loop")
            raise PosevidError(self.path, "no such video, image or folder")
        if self.path.is_dir():
            self._files = _frame_files(self.path)
            if not self._files:
                raise PosevidError(self.path, "the folder holds no PNG/JPG frames")
            self.frame_count = len(self._files)
        elif self.path.suffix.lower() in IMAGE_SUFFIXES:
            self._files = [self.path]
            self.frame_count = 1
        first = next(iter(self), None)
        if first is None:
            self.close()
            raise PosevidError(self.path, "the video has no frames")
        self.height, self.width = first.shape[:2]

    def _open(self) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
        try:
            container = av.open(str(self.path), mode="r")
        except (av.error.FFmpegError, OSError, UnicodeDecodeError) as err:
            raise PosevidError(self.path, f"cannot open the video ({err})") from None
        if container.format.name == "tty":  # FFmpeg shows any text file as an ANSI-art video
            container.close()
            raise PosevidError(self.path, "is a text file, not a video (pose files: .npz, .json, .csv, .bvh, "
                                          "DeepMimic .txt)")
        if not container.streams.video:
            container.close()
            raise PosevidError(self.path, "the file holds no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if self._timing is None:
            self._timing = _stream_timing(self.path, stream)
        self.fps, self.frame_count = self._timing
        self._container = container
        return container, stream

    def _decode(self) -> Iterator[np.ndarray]:
        container, stream = self._open()
        index = 0
        try:
            for frame in container.decode(stream):
                rgb = frame.to_ndarray(format="rgb24")
                rotation = int(getattr(frame, "rotation", 0) or 0) % 360
                if rotation:
                    rgb = np.ascontiguousarray(np.rot90(rgb, k=rotation // 90))
                index += 1
                yield rgb
            self.decoded = index
        except av.error.FFmpegError as err:
            raise PosevidError(self.path, f"cannot decode frame {index} ({err})") from None
        finally:
            container.close()
            if self._container is container:
                self._container = None

    def shortfall(self) -> str | None:
        """A one-line note when the last complete pass decoded fewer frames than the stream declares (a cut or
        damaged file), else None."""
        if self.decoded is None or self.frame_count is None or self.decoded >= self.frame_count:
            return None
        return (f"{self.path}: the video declares {self.frame_count} frames but only {self.decoded} could be decoded "
                "(the file may be cut short or damaged)")

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._files is not None:
            return (read_image(p) for p in self._files)
        return self._decode()

    def close(self) -> None:
        """Release the decoder (safe to call twice)."""
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stream_timing(path: Path, stream: av.video.stream.VideoStream) -> tuple[float, int | None]:
    """(frames per second, frame count or None) of the video stream ``stream`` of ``path``, from its real timing.

    The declared average rate is kept when the container also says how many frames there are (mp4, mov).
    Otherwise (mkv, webm: variable frame rates, rates that are only a time base such as 1000) the packets
    are read once without decoding: the count, and the rate as frames over the span of their time stamps.
    """
    declared = stream.average_rate or stream.guessed_rate
    fps = float(declared) if declared else DEFAULT_FPS
    if stream.frames:
        return check_fps(path, fps, "its frame rate"), int(stream.frames)
    stamps = []
    with contextlib.suppress(av.error.FFmpegError, OSError), av.open(str(path)) as container:
        for packet in container.demux(container.streams.video[0]):
            if packet.size and packet.pts is not None:
                stamps.append((packet.pts, packet.duration or 0))
    if len(stamps) >= 2 and stream.time_base:
        stamps.sort()
        last = stamps[-1][1] or (stamps[-1][0] - stamps[0][0]) / (len(stamps) - 1)
        span = float((stamps[-1][0] + last - stamps[0][0]) * stream.time_base)
        if span > 0:
            fps = len(stamps) / span
    return check_fps(path, fps, "its frame rate"), len(stamps) or None


def has_audio(path: str | Path) -> bool:
    """Whether ``path`` is a media file with an audio stream (False for folders, images, unreadable files)."""
    path = Path(path)
    if not path.is_file() or path.suffix.lower() in IMAGE_SUFFIXES:
        return False
    try:
        with av.open(str(path)) as container:
            return bool(container.streams.audio)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError):
        return False


def add_audio(video: str | Path, audio_from: str | Path, out: str | Path) -> None:
    """Write ``out``: the video stream of ``video`` (packets copied) with the first audio stream of
    ``audio_from``, cut at the video's end (the last audio packet ends at most one packet before it). The
    audio packets are copied when the codec is one every container takes (``_COPIED_AUDIO``), else
    re-encoded to AAC. ``out`` is written in place (callers pass a temporary path)."""
    with av.open(str(video)) as src, av.open(str(audio_from)) as sound, av.open(str(out), mode="w") as dst:
        v_in, a_in = src.streams.video[0], sound.streams.audio[0]
        v_out = dst.add_stream_from_template(v_in)
        end = float(v_in.duration * v_in.time_base) if v_in.duration else src.duration / av.time_base
        copy = a_in.codec_context.name in _COPIED_AUDIO
        rate = a_in.codec_context.sample_rate
        a_out = dst.add_stream_from_template(a_in) if copy else dst.add_stream("aac", rate=rate)
        for packet in src.demux(v_in):
            if packet.size:  # not the empty packet that ends the stream
                packet.stream = v_out
                dst.mux(packet)
        if copy:
            for packet in sound.demux(a_in):
                if packet.pts is not None and (packet.pts + (packet.duration or 0)) * a_in.time_base > end + 1e-3:
                    break  # this packet would outlast the video
                if packet.size:
                    packet.stream = a_out
                    dst.mux(packet)
            return
        for frame in sound.decode(a_in):
            if frame.time is not None and frame.time >= end:
                break
            frame.pts = None
            dst.mux(a_out.encode(frame))
        dst.mux(a_out.encode(None))


def open_video(path: str | Path) -> VideoReader:
    """Open a video file, a folder of PNG/JPG frames or a single image for streamed reading."""
    return VideoReader(path)


def check_video_output(path: str | Path) -> bool:
    """Whether ``path`` is a folder of PNG frames (else a video file); one-line ``PosevidError`` for an unknown
    suffix or a folder posevid may not replace (``_replaceable``)."""
    folder = _is_folder_target(path)
    path = Path(path)
    if not folder and path.suffix.lower() not in MP4_SUFFIXES + (".gif",):
        raise PosevidError(path, "unknown video suffix; use .mp4, .mov, .mkv, .gif or a folder name")
    if folder and path.is_dir() and not _replaceable(path):
        raise PosevidError(path, "the folder holds files posevid did not write; not replacing it (give a new or "
                                 "empty folder)")
    return folder


def _replaceable(folder: Path) -> bool:
    """Whether a PNG frame folder may be replaced: empty, or written by posevid (its marker file) and holding
    nothing but PNG frames."""
    found = list(folder.iterdir())
    if not found:
        return True
    names = {p.name for p in found}
    return FRAMES_MARKER in names and all(
        p.name == FRAMES_MARKER or (p.suffix.lower() == ".png" and p.is_file() and not p.is_symlink()) for p in found)


def _is_folder_target(path: str | Path) -> bool:
    return str(path).endswith(("/", os.sep)) or Path(path).suffix == ""


def _gif_frame(rgb: np.ndarray) -> av.VideoFrame:
    """Quantize one frame to its own 256-colour palette (keeps streaming: no global two-pass palette)."""
    q = Image.fromarray(rgb).quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    colours = np.asarray(q.getpalette()[:768], np.uint8).reshape(-1, 3)
    palette = np.zeros((256, 4), np.uint8)
    palette[:, 0] = 255
    palette[: len(colours), 1:] = colours
    return av.VideoFrame.from_ndarray((np.asarray(q, np.uint8), palette), format="pal8")


class VideoWriter:
    """Write frames to mp4 (libx264, yuv420p), gif or a folder of PNG frames, atomically.

    Use as a context manager; ``write(frame)`` takes (H, W, 3) uint8 RGB, all frames the size of the
    first. mp4 frames with an odd side are padded by one edge-replicated pixel (yuv420p needs even
    sizes). Nothing appears under ``path`` unless the ``with`` block ends without an exception.
    ``audio_from``: a media file whose audio goes into an mp4 / mov / mkv result, cut to its length
    (``add_audio``); ignored for gif and folders.
    """

    def __init__(self, path: str | Path, fps: float = DEFAULT_FPS, crf: int = 18,
                 audio_from: str | Path | None = None):
        self.folder = check_video_output(path)
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        fps = check_fps(self.path, fps)
        self.fps, self.crf, self.count = float(fps), int(crf), 0
        self.audio_from = audio_from if suffix in MP4_SUFFIXES and not self.folder else None
        self.size: tuple[int, int] | None = None  # (height, width) of the frames given
        self._stack = contextlib.ExitStack()
        self._tmp: Path | None = None
        self._container: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None

    def __enter__(self) -> VideoWriter:
        check_video_output(self.path)
        self._tmp = self._stack.enter_context(atomic_path(self.path))
        if self.folder:
            self._tmp.mkdir()
            (self._tmp / FRAMES_MARKER).write_text("PNG frames written by posevid (a later run may replace them)\n")
        return self

    def _start(self, height: int, width: int) -> None:
        assert self._tmp is not None
        rate = Fraction(self.fps).limit_denominator(1001)
        if self.path.suffix.lower() == ".gif":
            self._container = av.open(str(self._tmp), mode="w", format="gif")
            self._stream = self._container.add_stream("gif", rate=rate)
            self._stream.pix_fmt = "pal8"
        else:
            opts = {"movflags": "+faststart"} if self.path.suffix.lower() in (".mp4", ".mov", ".m4v") else {}
            self._container = av.open(str(self._tmp), mode="w", options=opts)
            self._stream = self._container.add_stream("libx264", rate=rate)
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": str(self.crf), "preset": "veryfast"}
            height, width = height + height % 2, width + width % 2
        self._stream.width, self._stream.height = width, height

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame."""
        if self._tmp is None:
            raise RuntimeError("VideoWriter.write outside its `with` block")
        rgb = _check_frame(self.path, frame)
        if self.size is None:
            self.size = rgb.shape[:2]
            if not self.folder:
                self._start(*self.size)
        elif rgb.shape[:2] != self.size:
            raise PosevidError(self.path, f"frame {self.count} is {rgb.shape[:2]}, the first frame was {self.size}")
        if self.folder:
            Image.fromarray(rgb).save(self._tmp / f"{self.count:06d}.png", compress_level=1)
        else:
            assert self._container is not None and self._stream is not None
            if self._stream.pix_fmt == "pal8":
                vf = _gif_frame(rgb)
            else:
                pad = ((0, rgb.shape[0] % 2), (0, rgb.shape[1] % 2), (0, 0))
                vf = av.VideoFrame.from_ndarray(np.pad(rgb, pad, mode="edge") if any(p[1] for p in pad) else rgb,
                                                format="rgb24")
            vf.pts = self.count
            vf.time_base = 1 / Fraction(self.fps).limit_denominator(1001)
            self._container.mux(self._stream.encode(vf))
        self.count += 1

    def _finish(self) -> None:
        if self._container is not None and self._stream is not None:
            self._container.mux(self._stream.encode(None))
        self._close_container()
        if self.count == 0:
            raise PosevidError(self.path, "no frames were written")
        if self.audio_from is not None:
            assert self._tmp is not None
            silent = self._tmp.with_name(f"{self._tmp.stem}.video{self._tmp.suffix}")
            os.replace(self._tmp, silent)
            try:
                add_audio(silent, self.audio_from, self._tmp)
            except av.error.FFmpegError as err:
                raise PosevidError(self.audio_from, f"cannot copy its audio ({err})") from None
            finally:
                silent.unlink(missing_ok=True)
        if self.folder and self.path.is_dir():
            shutil.rmtree(self.path)

    def _close_container(self) -> None:
        if self._container is not None:
            container, self._container = self._container, None
            container.close()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is not None:
            with contextlib.suppress(Exception):
                self._close_container()
            self._stack.__exit__(exc_type, exc, tb)
            return
        try:
            self._finish()
        except BaseException as err:
            self._stack.__exit__(type(err), err, err.__traceback__)
            raise
        self._stack.__exit__(None, None, None)
