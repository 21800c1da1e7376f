"""Built-in procedural datasets for every wing (the embedded default data)."""

from vidlearn.synthetic.files import write_motion_dataset
from vidlearn.synthetic.motion import (
    PRESETS,
    MotionPreset,
    SyntheticMotionDataset,
    get_preset,
    render_motion_clip,
    sample_motion_scene,
)
from vidlearn.synthetic.scene import (
    SHAPES,
    Background,
    Camera,
    Objects,
    RenderedScene,
    SceneSpec,
    downscale,
    object_states,
    render_scene,
    sample_background,
    sample_colors,
    sample_tracking_scene,
)

__all__ = [
    "PRESETS",
    "SHAPES",
    "Background",
    "Camera",
    "MotionPreset",
    "Objects",
    "RenderedScene",
    "SceneSpec",
    "SyntheticMotionDataset",
    "downscale",
    "get_preset",
    "object_states",
    "render_motion_clip",
    "render_scene",
    "sample_background",
    "sample_colors",
    "sample_motion_scene",
    "sample_tracking_scene",
    "write_motion_dataset",
]
