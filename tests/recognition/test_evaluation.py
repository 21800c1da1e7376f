"""The multi-view protocol: chunked video-level scores equal the per-view scores computed one by one."""

import av
import numpy as np
import pytest
import torch
from torch import nn

from vidlearn.models import Preprocessing
from vidlearn.recognition.datasets import VideoClipDataset, VideoSample
from vidlearn.recognition.evaluation import DecodedVideoDataset, evaluate_videos
from vidlearn.recognition.preprocessing import build_clip_transform
from vidlearn.video import VideoReader
from vidlearn.video.sampling import UniformClipSampler

NUM_CLASSES = 5


def _write_video(path, num_frames=40, height=48, width=64, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, size=(height, width * 2, 3), dtype=np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"qscale": "2"}
        for t in range(num_frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(base[:, t : t + width]), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv3d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, NUM_CLASSES)

    def forward(self, x):
        return self.fc(self.conv(x).relu().mean(dim=(2, 3, 4)))


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    samples = []
    for index in range(2):
        path = root / f"v{index}.avi"
        _write_video(path, seed=index)
        samples.append(VideoSample(path=str(path), label=index, key=path.name, source=str(path)))
    return VideoClipDataset(samples, [f"c{i}" for i in range(NUM_CLASSES)])


@pytest.mark.parametrize(("average", "chunk_size"), [("score", 1), ("prob", 7), ("score", 64)])
def test_10x3_video_score_is_the_mean_of_30_views_scored_one_by_one(videos, average, chunk_size):
    sampler = UniformClipSampler(8, 10)
    pre = Preprocessing(resize_short_side=40, crop_size=32, clip_length=8)
    transform = build_clip_transform(pre, train=False, num_crops=3)
    model = TinyNet().eval()
    result = evaluate_videos(model, DecodedVideoDataset(videos, sampler), transform,
                             num_classes=NUM_CLASSES, average=average, chunk_size=chunk_size)
    assert result.video_scores.shape == (2, NUM_CLASSES)
    assert result.clip_scores.shape == (2 * 30, NUM_CLASSES)
    for row, sample in enumerate(videos.samples):
        with VideoReader(sample.path) as reader:
            indices = sampler(reader.num_frames, rng=np.random.default_rng(0))
            per_view = []
            for clip_indices in indices:  # decode each clip on its own, score each crop alone
                crops = transform(reader.get_frames(clip_indices))
                for crop in crops:
                    with torch.no_grad():
                        per_view.append(model(crop[None])[0])
        per_view = torch.stack(per_view)
        assert per_view.shape == (30, NUM_CLASSES)
        expected = (per_view.softmax(1) if average == "prob" else per_view).mean(0)
        torch.testing.assert_close(result.video_scores[row], expected, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(result.clip_scores[row * 30 : (row + 1) * 30], per_view, atol=1e-5, rtol=1e-5)


def test_metrics_count_videos_and_views(videos):
    sampler = UniformClipSampler(8, 4)
    transform = build_clip_transform(Preprocessing(resize_short_side=40, crop_size=32), train=False)
    result = evaluate_videos(TinyNet(), DecodedVideoDataset(videos, sampler), transform, num_classes=NUM_CLASSES)
    assert result.metrics["num_videos"] == 2 and result.metrics["num_views"] == 8
    top1 = float((result.video_scores.argmax(1) == result.labels).float().mean())
    assert result.metrics["video_top1"] == pytest.approx(top1)


def test_unknown_average_is_rejected(videos):
    with pytest.raises(ValueError, match="'median'"):
        evaluate_videos(TinyNet(), DecodedVideoDataset(videos, UniformClipSampler(8, 1)), lambda c: c,
                        num_classes=NUM_CLASSES, average="median")
