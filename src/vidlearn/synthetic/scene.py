"""Procedural scene renderer: textured backgrounds, moving shapes, camera motion, box ground truth.

A scene is a list of parameters, not pixels, so the same scene renders at any resolution (a 4x
render for super-resolution is the same scene, only sharper) and any number of frames.

World units: the short side of the image is 1, so the image covers ``x in [0, W/S)`` and
``y in [0, H/S)`` with ``S = min(H, W)`` pixels per unit; ``y`` points down, as in images. Time ``t``
counts frames from 0. Object ``n`` at frame ``t`` has

- centre ``anchor + velocity * t + orbit_radius * (cos(a), sin(a)) + oscillation``, with
  ``a = orbit_phase + angular_velocity * t`` (positive angular velocity turns clockwise on screen)
  and ``oscillation = oscillation_amplitude * sin(2 pi t / oscillation_period + oscillation_phase)``;
- orientation ``angle + spin * t`` (radians, positive is clockwise on screen);
- circumradius ``radius * exp(zoom_rate * t)``; with ``radius_range = (lo, hi)`` the log-radius wraps
  around ``[log lo, log hi)``, a never-ending zoom whose every frame has the same size distribution.

The camera looks at ``pixel + camera(t)`` with ``camera(t) = camera_velocity * t +
camera_shake * sin(2 pi t / camera_shake_period + camera_shake_phase)``. Backgrounds and textures are
sums of random Fourier modes (continuous, so resolution-free, and periodic over the image extent, so
a moving camera or a wrapped world shows no seam). With ``wrap=True`` the world is a torus: an object
leaving on the right comes back on the left. Edges are antialiased by a one-pixel ramp of the signed
distance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "SHAPES",
    "Background",
    "Camera",
    "Objects",
    "RenderedScene",
    "SceneSpec",
    "downscale",
    "object_states",
    "render_scene",
    "sample_background",
    "sample_colors",
    "sample_textures",
    "sample_tracking_scene",
    "world_extent",
]

SHAPES = ("disc", "square", "triangle", "patch")
"""Shape codes of :attr:`Objects.shape`: index into this tuple. A ``patch`` is a textured square."""

# Area of each shape, in units of the squared circumradius (for the visibility ratio).
_SHAPE_AREA = np.array([math.pi, 2.0, 3.0 * math.sqrt(3.0) / 4.0, 2.0])
# Vertices on the unit circle, for the boxes (a disc is handled apart). A triangle repeats a vertex.
_SQUARE = [(math.cos(a), math.sin(a)) for a in np.deg2rad([45, 135, 225, 315])]
_TRIANGLE = [(math.cos(a), math.sin(a)) for a in np.deg2rad([-90, 30, 150, 150])]
_VERTICES = np.array([_SQUARE, _SQUARE, _TRIANGLE, _SQUARE])  # (4 shapes, 4 vertices, 2)


@dataclass(frozen=True)
class Background:
    """A colour plus ``K`` Fourier modes: ``base + sum_k amplitude_k cos(2 pi (f_k . q / E) + phase_k)``.

    ``base_color`` ``(3,)`` in [0, 1]; ``frequencies`` ``(K, 2)`` whole cycles over the image extent
    ``E`` along x and y (integers keep it periodic); ``amplitudes`` ``(K, 3)``; ``phases`` ``(K,)``.
    """

    base_color: np.ndarray
    frequencies: np.ndarray
    amplitudes: np.ndarray
    phases: np.ndarray


@dataclass(frozen=True)
class Objects:
    """``N`` objects and their trajectories (see the module docstring); every field has ``N`` rows.

    Texture: ``color + sum_k texture_amplitudes_k cos(pi f_k . u + texture_phases_k)`` with ``u`` the
    object's own coordinates (circumradius 1); ``K`` modes, zero amplitudes for a flat colour.
    """

    shape: np.ndarray  # (N,) int, index into SHAPES
    color: np.ndarray  # (N, 3) in [0, 1]
    anchor: np.ndarray  # (N, 2) world units
    velocity: np.ndarray  # (N, 2) world units per frame
    orbit_radius: np.ndarray  # (N,)
    orbit_phase: np.ndarray  # (N,)
    angular_velocity: np.ndarray  # (N,) rad per frame, > 0 clockwise on screen
    oscillation_amplitude: np.ndarray  # (N, 2)
    oscillation_period: np.ndarray  # (N,) frames
    oscillation_phase: np.ndarray  # (N,)
    angle: np.ndarray  # (N,)
    spin: np.ndarray  # (N,) rad per frame
    radius: np.ndarray  # (N,) circumradius at t = 0, world units
    zoom_rate: np.ndarray  # (N,) log-radius change per frame
    texture_frequencies: np.ndarray  # (N, K, 2)
    texture_amplitudes: np.ndarray  # (N, K, 3)
    texture_phases: np.ndarray  # (N, K)
    radius_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        count = len(self.shape)
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray) and len(value) != count:
                raise ValueError(f"Objects.{f.name} has {len(value)} rows, expected {count} (one per object)")
        if count and (self.shape.min() < 0 or self.shape.max() >= len(SHAPES)):
            raise ValueError(
                f"Objects.shape has codes {sorted(set(self.shape.tolist()))}, valid: 0..{len(SHAPES) - 1}"
            )
        if np.any(self.radius <= 0):
            raise ValueError(f"Objects.radius must be > 0, got {self.radius.min()}")
        if self.radius_range is not None and not 0 < self.radius_range[0] < self.radius_range[1]:
            raise ValueError(f"radius_range must be (lo, hi) with 0 < lo < hi, got {self.radius_range}")

    @classmethod
    def static(
        cls, shape: np.ndarray, color: np.ndarray, anchor: np.ndarray, radius: np.ndarray, **motion
    ) -> Objects:
        """Objects at rest unless ``motion`` names fields (e.g. ``velocity=...``); no texture."""
        count = len(shape)
        defaults = {
            "velocity": np.zeros((count, 2)),
            "orbit_radius": np.zeros(count),
            "orbit_phase": np.zeros(count),
            "angular_velocity": np.zeros(count),
            "oscillation_amplitude": np.zeros((count, 2)),
            "oscillation_period": np.ones(count),
            "oscillation_phase": np.zeros(count),
            "angle": np.zeros(count),
            "spin": np.zeros(count),
            "zoom_rate": np.zeros(count),
            "texture_frequencies": np.zeros((count, 1, 2)),
            "texture_amplitudes": np.zeros((count, 1, 3)),
            "texture_phases": np.zeros((count, 1)),
        }
        defaults.update(motion)
        return cls(
            shape=np.asarray(shape),
            color=np.asarray(color, dtype=float),
            anchor=np.asarray(anchor, dtype=float),
            radius=np.asarray(radius, dtype=float),
            **defaults,
        )


@dataclass(frozen=True)
class Camera:
    """Camera path in world units: ``velocity * t + shake * sin(2 pi t / shake_period + shake_phase)``."""

    velocity: tuple[float, float] = (0.0, 0.0)
    shake: tuple[float, float] = (0.0, 0.0)
    shake_period: float = 8.0
    shake_phase: float = 0.0

    def path(self, times: np.ndarray) -> np.ndarray:
        """Camera offset ``(T, 2)`` at frame times ``(T,)``."""
        times = np.asarray(times, dtype=float)[:, None]
        wobble = np.sin(2 * math.pi * times / self.shake_period + self.shake_phase)
        return np.asarray(self.velocity) * times + np.asarray(self.shake) * wobble


@dataclass(frozen=True)
class SceneSpec:
    """Everything needed to render: background, objects (drawn back to front), camera, world wrap, noise.

    ``noise_std`` adds Gaussian pixel noise (in [0, 1] units) drawn from ``noise_seed``.
    """

    background: Background
    objects: Objects
    camera: Camera = field(default_factory=Camera)
    wrap: bool = False
    noise_std: float = 0.0
    noise_seed: int = 0


@dataclass(frozen=True)
class RenderedScene:
    """A rendered clip with per-object ground truth.

    ``frames`` ``uint8 (T, H, W, 3)`` RGB; ``boxes`` ``float (T, N, 4)`` ``x1, y1, x2, y2`` in pixels,
    the tight box of each whole object (it may reach past the image border; with ``wrap`` it is the box of
    the copy whose centre is inside the image); ``ids`` ``int64 (N,)``; ``visibility`` ``float (T, N)``
    in [0, 1], the share of the object's area seen (not occluded, inside the image); ``centers``
    ``float (T, N, 2)`` in pixels.
    """

    frames: torch.Tensor
    boxes: torch.Tensor
    ids: torch.Tensor
    visibility: torch.Tensor
    centers: torch.Tensor


def world_extent(size: tuple[int, int]) -> np.ndarray:
    """The view's size ``(x, y)`` in world units (the short side is one unit) for frames of ``size = (height, width)``."""
    height, width = size
    short = min(height, width)
    return np.array([width / short, height / short])


def object_states(objects: Objects, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World centres ``(T, N, 2)``, orientations ``(T, N)`` and circumradii ``(T, N)`` at frame times ``(T,)``."""
    t = np.asarray(times, dtype=float)[:, None]  # (T, 1)
    orbit_angle = objects.orbit_phase + objects.angular_velocity * t
    orbit = objects.orbit_radius[..., None] * np.stack([np.cos(orbit_angle), np.sin(orbit_angle)], -1)
    swing = np.sin(2 * math.pi * t / objects.oscillation_period + objects.oscillation_phase)
    centers = (
        objects.anchor
        + objects.velocity * t[..., None]
        + orbit
        + objects.oscillation_amplitude * swing[..., None]
    )
    angles = objects.angle + objects.spin * t
    log_radius = np.log(objects.radius) + objects.zoom_rate * t
    if objects.radius_range is not None:
        low, high = np.log(objects.radius_range)
        log_radius = low + np.mod(log_radius - low, high - low)
    return centers, angles, np.exp(log_radius)


def _background_image(
    background: Background, x: torch.Tensor, y: torch.Tensor, extent: np.ndarray
) -> torch.Tensor:
    """Background ``(T, H, W, 3)`` at world coordinates ``x`` ``(T, W)`` and ``y`` ``(T, H)``.

    ``cos(a + b) = cos a cos b - sin a sin b`` makes each mode separable in x and y, so the whole sum is
    one batched matrix product per channel instead of ``K`` full-image cosines.
    """
    freq = torch.as_tensor(background.frequencies, dtype=torch.float32)
    phase_x = 2 * math.pi * freq[:, 0] / float(extent[0]) * x[..., None] + torch.as_tensor(
        background.phases, dtype=torch.float32
    )
    phase_y = 2 * math.pi * freq[:, 1] / float(extent[1]) * y[..., None]
    rows = torch.cat([torch.cos(phase_y), -torch.sin(phase_y)], -1)  # (T, H, 2K)
    cols = torch.cat([torch.cos(phase_x), torch.sin(phase_x)], -1).transpose(1, 2)  # (T, 2K, W)
    amplitudes = torch.as_tensor(background.amplitudes, dtype=torch.float32).repeat(2, 1)  # (2K, 3)
    channels = [torch.bmm(rows * amplitudes[:, c], cols) for c in range(3)]
    return torch.stack(channels, -1) + torch.as_tensor(background.base_color, dtype=torch.float32)


def _signed_distance(shape: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Signed distance (in circumradii, < 0 inside) to each object's outline; ``u, v`` ``(T, N, H, W)``."""
    disc = torch.sqrt(u * u + v * v) - 1.0
    square = torch.maximum(u.abs(), v.abs()) - math.sqrt(0.5)
    # Equilateral triangle pointing up: three edges at inradius 1/2, normals opposite the vertices.
    normals = [(-math.cos(a), -math.sin(a)) for a in np.deg2rad([-90, 30, 150])]
    triangle = torch.stack([nx * u + ny * v for nx, ny in normals]).amax(0) - 0.5
    code = shape.view(1, -1, 1, 1)
    return torch.where(code == 0, disc, torch.where(code == 2, triangle, square))


def render_scene(
    spec: SceneSpec, num_frames: int, size: tuple[int, int], *, start_frame: float = 0.0
) -> RenderedScene:
    """Render ``num_frames`` frames of ``spec`` at ``size = (height, width)`` pixels.

    Frame ``i`` shows time ``start_frame + i``. Returns a :class:`RenderedScene` with frames
    ``uint8 (T, H, W, 3)``, boxes ``(T, N, 4)``, ids ``(N,)``, visibility ``(T, N)`` and centres.
    The output is a deterministic function of the arguments (identical bytes for the same spec).
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"size must be (height, width) with positive sides, got {size}")
    height, width = int(size[0]), int(size[1])
    scale = float(min(height, width))  # pixels per world unit
    extent = world_extent((height, width))
    times = start_frame + np.arange(num_frames, dtype=float)
    camera = spec.camera.path(times)  # (T, 2)
    centers, angles, radii = object_states(spec.objects, times)
    centers = centers - camera[:, None, :]  # where each object is relative to the view
    if spec.wrap:
        centers = np.mod(centers, extent)

    x = (torch.arange(width, dtype=torch.float32) + 0.5) / scale
    y = (torch.arange(height, dtype=torch.float32) + 0.5) / scale
    cam = torch.as_tensor(camera, dtype=torch.float32)
    image = _background_image(spec.background, x + cam[:, :1], y + cam[:, 1:], extent)

    count = len(spec.objects.shape)
    if count:
        c = torch.as_tensor(centers, dtype=torch.float32)[..., None, None]  # (T, N, 2, 1, 1)
        dx = x.view(1, 1, 1, width) - c[:, :, 0]  # (T, N, 1, W)
        dy = y.view(1, 1, height, 1) - c[:, :, 1]  # (T, N, H, 1)
        if spec.wrap:  # nearest copy on the torus
            dx = dx - float(extent[0]) * torch.round(dx / float(extent[0]))
            dy = dy - float(extent[1]) * torch.round(dy / float(extent[1]))
        cos = torch.as_tensor(np.cos(angles), dtype=torch.float32)[..., None, None]
        sin = torch.as_tensor(np.sin(angles), dtype=torch.float32)[..., None, None]
        r = torch.as_tensor(radii, dtype=torch.float32)[..., None, None]
        u = (cos * dx + sin * dy) / r  # rotate by -angle into the object's own frame
        v = (cos * dy - sin * dx) / r
        distance = _signed_distance(torch.as_tensor(spec.objects.shape), u, v)
        alpha = (0.5 - distance * r * scale).clamp(0.0, 1.0)  # one-pixel antialiasing ramp

        # Back-to-front "over" compositing, vectorised: each layer is dimmed by all layers above it.
        keep = 1.0 - alpha
        above = torch.flip(torch.cumprod(torch.flip(keep, [1]), 1), [1])  # prod over m >= n
        above = torch.cat([above[:, 1:], torch.ones_like(above[:, :1])], 1)  # prod over m > n
        seen = alpha * above  # (T, N, H, W)
        color = torch.as_tensor(spec.objects.color, dtype=torch.float32)
        image = image * (above[:, 0] * keep[:, 0])[..., None] + torch.einsum("tnhw,nc->thwc", seen, color)
        textured = np.flatnonzero(np.abs(spec.objects.texture_amplitudes).reshape(count, -1).max(1) > 0)
        if len(textured):
            texture = _object_texture(spec.objects, textured, u[:, textured], v[:, textured])
            image = image + (seen[:, textured, ..., None] * texture).sum(1)
        area = (
            torch.as_tensor(_SHAPE_AREA[spec.objects.shape], dtype=torch.float32)
            * (r[..., 0, 0] * scale) ** 2
        )
        visibility = (seen.sum((2, 3)) / area).clamp(0.0, 1.0)
    else:
        visibility = torch.zeros(num_frames, 0)

    if spec.noise_std > 0:
        noise = np.random.default_rng(spec.noise_seed).standard_normal(
            (num_frames, height, width, 3), dtype=np.float32
        )
        image = image + spec.noise_std * torch.from_numpy(noise)
    frames = (image * 255.0).round_().clamp_(0, 255).to(torch.uint8)
    boxes = _boxes(spec.objects, centers, angles, radii) * scale
    return RenderedScene(
        frames=frames,
        boxes=torch.as_tensor(boxes, dtype=torch.float32),
        ids=torch.arange(count, dtype=torch.int64),
        visibility=visibility,
        centers=torch.as_tensor(centers * scale, dtype=torch.float32),
    )


def _object_texture(objects: Objects, index: np.ndarray, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Texture offsets ``(T, n, H, W, 3)`` of the objects ``index`` at their own coordinates ``u, v``."""
    freq = torch.as_tensor(objects.texture_frequencies[index], dtype=torch.float32)  # (n, K, 2)
    amp = torch.as_tensor(objects.texture_amplitudes[index], dtype=torch.float32)  # (n, K, 3)
    phase = torch.as_tensor(objects.texture_phases[index], dtype=torch.float32)  # (n, K)
    total = torch.zeros(*u.shape, 3)
    for k in range(freq.shape[1]):  # K is a handful of modes; each step is a whole-tensor operation
        wave = torch.cos(
            math.pi * (freq[:, k, 0].view(1, -1, 1, 1) * u + freq[:, k, 1].view(1, -1, 1, 1) * v)
            + phase[:, k].view(1, -1, 1, 1)
        )
        total += wave[..., None] * amp[:, k].view(1, -1, 1, 1, 3)
    return total


def _boxes(objects: Objects, centers: np.ndarray, angles: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Tight world-unit boxes ``(T, N, 4)`` from the rotated shape vertices (a disc: centre +- radius)."""
    vertices = _VERTICES[objects.shape]  # (N, V, 2)
    cos, sin = np.cos(angles)[..., None], np.sin(angles)[..., None]  # (T, N, 1)
    # Object-to-world rotation by +angle (the inverse of the one in render_scene).
    px = cos * vertices[..., 0] - sin * vertices[..., 1]
    py = sin * vertices[..., 0] + cos * vertices[..., 1]
    low = np.stack([px.min(-1), py.min(-1)], -1)
    high = np.stack([px.max(-1), py.max(-1)], -1)
    is_disc = (objects.shape == 0)[:, None]
    low = np.where(is_disc, -1.0, low)
    high = np.where(is_disc, 1.0, high)
    r = radii[..., None]
    return np.concatenate([centers + low * r, centers + high * r], -1)


def downscale(frames: torch.Tensor, factor: int) -> torch.Tensor:
    """Box-filter downscale ``uint8 (T, H, W, 3)`` by an integer ``factor`` (H, W divisible by it).

    Averaging ``factor x factor`` blocks of a render at ``factor`` times the size integrates each low-res
    pixel over its footprint, as a camera sensor does, giving a super-resolution pair ``(hr, lr)``.
    """
    if factor < 1 or frames.shape[1] % factor or frames.shape[2] % factor:
        raise ValueError(f"factor {factor} must be >= 1 and divide the frame size {tuple(frames.shape[1:3])}")
    pooled = F.avg_pool2d(frames.permute(0, 3, 1, 2).float(), factor)
    return pooled.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def sample_background(rng: np.random.Generator, kind: str | None = None) -> Background:
    """A random background: ``"noise"`` (smooth 1/f Fourier noise), ``"gradient"`` or ``"solid"``.

    ``kind=None`` picks one of the three with equal chance.
    """
    kinds = ("noise", "gradient", "solid")
    if kind is None:
        kind = kinds[rng.integers(3)]
    if kind not in kinds:
        raise ValueError(f"background kind {kind!r} is not one of {kinds}")
    base = rng.uniform(0.2, 0.8, 3)
    modes = 12
    freq = rng.integers(-4, 5, (modes, 2)).astype(float)
    freq[np.all(freq == 0, 1)] = (1.0, 0.0)
    amplitudes = rng.normal(0.0, 1.0, (modes, 3)) * (0.12 / np.linalg.norm(freq, axis=1, keepdims=True))
    phases = rng.uniform(0, 2 * math.pi, modes)
    if kind == "gradient":  # one slow, strong mode: a periodic ramp between two colours
        amplitudes[:] = 0.0
        freq[0] = (1.0, 0.0) if rng.random() < 0.5 else (0.0, 1.0)
        amplitudes[0] = rng.uniform(-0.2, 0.2, 3)
    elif kind == "solid":
        amplitudes[:] = 0.0
    return Background(base_color=base, frequencies=freq, amplitudes=amplitudes, phases=phases)


def sample_colors(
    rng: np.random.Generator, count: int, avoid: np.ndarray, min_distance: float = 0.35
) -> np.ndarray:
    """``(count, 3)`` random colours at least ``min_distance`` (RGB, Euclidean) from the colour ``avoid``.

    Keeps objects visible against the background. Draws 32 candidates per colour and takes the first
    far enough (falls back to the farthest).
    """
    candidates = rng.uniform(0.0, 1.0, (count, 32, 3))
    distance = np.linalg.norm(candidates - avoid, axis=-1)
    ok = distance >= min_distance
    pick = np.where(ok.any(1), ok.argmax(1), distance.argmax(1))
    return candidates[np.arange(count), pick]


def sample_textures(rng: np.random.Generator, shapes: np.ndarray, modes: int = 4) -> tuple[np.ndarray, ...]:
    """Sinusoid textures of ``N = len(shapes)`` objects: frequencies ``(N, modes, 2)``, amplitudes
    ``(N, modes, 3)`` (zero except for ``patch`` objects) and phases ``(N, modes)``."""
    count = len(shapes)
    freq = rng.integers(1, 4, (count, modes, 2)) * rng.choice([-1, 1], (count, modes, 2))
    amp = rng.uniform(-0.25, 0.25, (count, modes, 3)) * (shapes == SHAPES.index("patch"))[:, None, None]
    phase = rng.uniform(0, 2 * math.pi, (count, modes))
    return freq.astype(float), amp, phase


def sample_tracking_scene(
    seed: int, *, num_objects: int = 4, num_frames: int = 32, size: tuple[int, int] = (128, 128)
) -> SceneSpec:
    """A random multi-object scene for tracking: objects cross the view, occlude each other, some leave.

    Straight paths with a random velocity, some with a periodic swing and a slow spin; the camera pans
    slowly. Render it with :func:`render_scene` to get frames with boxes, ids and visibility.
    """
    if num_objects < 0:
        raise ValueError(f"num_objects must be >= 0, got {num_objects}")
    rng = np.random.default_rng(seed)
    extent = world_extent(size)
    background = sample_background(rng)
    shapes = rng.integers(0, len(SHAPES), num_objects)
    freq, amp, phase = sample_textures(rng, shapes)
    objects = Objects.static(
        shape=shapes,
        color=sample_colors(rng, num_objects, background.base_color),
        anchor=rng.uniform(0.1, 0.9, (num_objects, 2)) * extent,
        radius=rng.uniform(0.06, 0.14, num_objects),
        velocity=rng.normal(0.0, 0.6, (num_objects, 2)) / num_frames,
        oscillation_amplitude=rng.uniform(0.0, 0.05, (num_objects, 2)),
        oscillation_period=rng.uniform(8, 24, num_objects),
        oscillation_phase=rng.uniform(0, 2 * math.pi, num_objects),
        angle=rng.uniform(0, 2 * math.pi, num_objects),
        spin=rng.normal(0.0, 0.03, num_objects),
        texture_frequencies=freq,
        texture_amplitudes=amp,
        texture_phases=phase,
    )
    camera = Camera(velocity=tuple(rng.normal(0.0, 0.002, 2)))
    return SceneSpec(background=background, objects=objects, camera=camera)
