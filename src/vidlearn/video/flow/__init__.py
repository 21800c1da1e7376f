"""Optical flow: estimation (TV-L1, Farneback, DIS, RAFT), storage, colour visualisation, extraction.

Flow is ``float32 (T, 2, H, W)`` in pixels, x then y, field ``t`` carrying frame ``t`` to ``t+1``
(DESIGN.md); the two-stream temporal network (Simonyan & Zisserman 2014) stacks ``L`` of them.

>>> flow = compute_flow(frames, "tvl1")                      # uint8 (T, H, W, 3) -> (T-1, 2, H, W)
>>> write_flow_frames(flow, "out/v_Biking_g05_c02")           # flow_x_00001.jpg, flow_y_00001.jpg, ...
>>> read_flow_frames("out/v_Biking_g05_c02", [0, 1, 2]).shape  # (3, 2, H, W)
"""

from vidlearn.video.flow.extract import (
    FlowExtractionSummary,
    extract_dataset_flow,
    extract_video_flow,
    find_videos,
    is_flow_complete,
    iter_video_frames,
)
from vidlearn.video.flow.methods import (
    FLOW_METHODS,
    DISFlow,
    FarnebackFlow,
    FlowEstimator,
    RAFTFlow,
    TVL1Flow,
    compute_flow,
    create_flow_estimator,
)
from vidlearn.video.flow.storage import (
    dequantize_flow,
    quantize_flow,
    read_flow_frames,
    read_flow_npz,
    write_flow_frames,
    write_flow_npz,
)
from vidlearn.video.flow.visualize import flow_to_color, write_flow_image, write_flow_video

__all__ = [
    "FLOW_METHODS",
    "DISFlow",
    "FarnebackFlow",
    "FlowEstimator",
    "FlowExtractionSummary",
    "RAFTFlow",
    "TVL1Flow",
    "compute_flow",
    "create_flow_estimator",
    "dequantize_flow",
    "extract_dataset_flow",
    "extract_video_flow",
    "find_videos",
    "flow_to_color",
    "is_flow_complete",
    "iter_video_frames",
    "quantize_flow",
    "read_flow_frames",
    "read_flow_npz",
    "write_flow_frames",
    "write_flow_image",
    "write_flow_npz",
    "write_flow_video",
]
