"""Random training clips per second: vidlearn's VideoReader against naive PyAV and PyTorchVideo.

A clip is what a training step takes from a video: 16 frames from a random start (``frame_interval``
1, and 2), short side resized to 128, a random 112x112 crop, ``float32 (C, T, H, W)`` in [0, 1].
Every method opens the file for every clip, as a dataset item does (see ``methods.py``).

Test files (``synth.py``, written once under ``benchmarks/_work/decode``): UCF-101-like (320x240,
25 fps, 7 s, MPEG-4 Part 2, keyframe every 12 frames), Kinetics-like (340x256, 30 fps, 10 s, H.264
with B-frames, keyframe every 250 frames) and the Kinetics-like files after ``reencode_video`` with
a keyframe every 16 frames ("dense encoding"); plus real clips from the shared data folder when it
is there (``--shared-data``, ``$VIDLEARN_SHARED_DATA``, default ``../shared/data`` next to the
repository).

Measurement: one process, one torch and OpenCV thread (decoders keep their own threading); every
round draws fresh clips and runs every method on the same files and starts, in rotated order, so
that load from other processes hits all of them alike. Rates are medians over rounds; ratios are
medians of the per-round ratios. Besides wall-clock clips/s the tables give clips per CPU-second of
the process (all its threads), which moves much less when the machine is shared. Peak memory is
the resident-set high-water mark (``VmHWM``) of a fresh subprocess per method.

    python benchmarks/decode/bench_decode.py [--quick] [--clips N] [--rounds R] [--shared-data PATH]

``--known-metadata`` measures only what a dataset's metadata index saves per clip (the PyAV
backend with and without ``metadata=``, same files and clips, one process) and writes that table
into its own block of the README.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from vidlearn.utils import machine_info
from vidlearn.video.reader import probe_video

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

import methods  # noqa: E402
import synth  # noqa: E402

CLIP_LEN = 16
README = HERE / "README.md"
RESULTS_START = "<!-- results:start -->"
RESULTS_END = "<!-- results:end -->"
KNOWN_START = "<!-- known-metadata:start -->"
KNOWN_END = "<!-- known-metadata:end -->"
GOALS = {  # (set name prefix, peer): minimum speed-up of vidlearn's PyAV backend
    ("UCF-101-like", "naive"): 3.0,
    ("Kinetics-like", "naive"): 2.0,
    ("UCF-101-like", "pytorchvideo"): 2.0,
    ("Kinetics-like", "pytorchvideo"): 2.0,
}


@dataclass
class VideoSet:
    name: str
    description: str
    paths: list[Path]
    num_frames: dict[Path, int] = field(default_factory=dict)
    fps: dict[Path, float] = field(default_factory=dict)
    infos: dict = field(default_factory=dict)  # path -> VideoInfo, what a dataset index keeps

    def probe(self) -> VideoSet:
        for path in self.paths:
            info = probe_video(path)
            self.num_frames[path], self.fps[path], self.infos[path] = info.num_frames, info.fps, info
        return self


def shared_data_folder(option: str | None) -> Path | None:
    folder = Path(option or os.environ.get("VIDLEARN_SHARED_DATA") or REPO.parent / "shared" / "data")
    return folder if folder.is_dir() else None


def build_sets(args: argparse.Namespace, log: Callable[[str], None]) -> list[VideoSet]:
    work = Path(args.work_dir)
    count = args.files
    ucf = synth.make_set(synth.UCF101_LIKE, count, work / "ucf101_like", log)
    kinetics = synth.make_set(synth.KINETICS_LIKE, count, work / "kinetics_like", log)
    sets = [
        VideoSet("UCF-101-like", synth.UCF101_LIKE.describe(), ucf),
        VideoSet("Kinetics-like", synth.KINETICS_LIKE.describe(), kinetics),
    ]
    for short_side in (256, 128):
        dense = synth.make_dense_set(
            kinetics, work / f"kinetics_like_dense_g16_s{short_side}", gop=16, short_side=short_side, log=log
        )
        sets.append(
            VideoSet(
                f"Kinetics-like dense, short side {short_side}",
                f"Kinetics-like after reencode_video(gop=16, short_side={short_side}) (H.264, B-frames)",
                dense,
            )
        )
    shared = shared_data_folder(args.shared_data)
    if shared is None:
        log("shared data folder not found: the real clips are skipped (pass --shared-data)")
    else:
        real_ucf = [shared / "clips" / "ucf101_c3d_keras" / name for name in ("v_Biking_g05_c02.avi", "v_Punch_g03_c01.avi")]
        if all(path.is_file() for path in real_ucf):
            sets.insert(1, VideoSet("UCF-101 real", "v_Biking_g05_c02.avi, v_Punch_g03_c01.avi (MPEG-4 Part 2, GOP 12)", real_ucf))
        demo = shared / "clips" / "mmaction2" / "demo_demo.mp4"
        if demo.is_file():
            sets.append(VideoSet("Kinetics real", "MMAction2 demo_demo.mp4 (340x256, H.264, keyframes 187 apart)", [demo]))
    return [video_set.probe() for video_set in sets]


# ----------------------------------------------------------------------------- clip throughput


def draw_clips(video_set: VideoSet, interval: int, count: int, rng: np.random.Generator) -> list[tuple[Path, int]]:
    span = (CLIP_LEN - 1) * interval + 1
    clips = []
    for _ in range(count):
        path = video_set.paths[int(rng.integers(len(video_set.paths)))]
        clips.append((path, int(rng.integers(0, video_set.num_frames[path] - span + 1))))
    return clips


def measure_clips(
    video_set: VideoSet, interval: int, names: list[str], rounds: int, clips_per_round: int, seed: int
) -> dict[str, dict[str, list[float]]]:
    """Per method: wall and CPU clips/s of every round (methods interleaved, same clips)."""
    loaders = {
        name: methods.make_loader(name, CLIP_LEN, interval, video_set.fps, seed, known_of=video_set.infos)
        for name in names
    }
    for load in loaders.values():  # warm-up: imports, first-call setup
        load(video_set.paths[0], 0)
    results = {name: {"wall": [], "cpu": []} for name in names}
    for round_index in range(rounds):
        clips = draw_clips(video_set, interval, clips_per_round, np.random.default_rng([seed, interval, round_index]))
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            load = loaders[name]
            wall, cpu = time.perf_counter(), time.process_time()
            for path, start in clips:
                load(path, start)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            results[name]["wall"].append(clips_per_round / wall)
            results[name]["cpu"].append(clips_per_round / max(cpu, 1e-9))
    return results


def paired_ratio(results: dict, name: str, peer: str, kind: str) -> float:
    return statistics.median(a / b for a, b in zip(results[name][kind], results[peer][kind]))


def clip_table(video_set: VideoSet, by_interval: dict[int, dict], names: list[str]) -> list[str]:
    intervals = sorted(by_interval)
    header = ["method"]
    for interval in intervals:
        header += [f"clips/s (i={interval})", "x naive", "x PyTorchVideo", "clips per CPU-s", "x naive (CPU)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in names:
        row = [name]
        for interval in intervals:
            results = by_interval[interval]
            wall = statistics.median(results[name]["wall"])
            cpu = statistics.median(results[name]["cpu"])
            row += [
                f"{wall:.1f}",
                f"{paired_ratio(results, name, 'naive', 'wall'):.2f}",
                f"{paired_ratio(results, name, 'pytorchvideo', 'wall'):.2f}" if "pytorchvideo" in results else "-",
                f"{cpu:.1f}",
                f"{paired_ratio(results, name, 'naive', 'cpu'):.2f}",
            ]
        lines.append("| " + " | ".join(row) + " |")
    return lines


# --------------------------------------------------------------------------- known metadata


def open_ms(video_set: VideoSet, known: bool, repeats: int) -> tuple[float, float]:
    """(wall, CPU) milliseconds to open and close every file once, median over ``repeats``."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        for path in video_set.paths:
            methods.VideoReader(path, backend="pyav", metadata=video_set.infos[path] if known else None).close()
        walls.append((time.perf_counter() - wall) * 1000 / len(video_set.paths))
        cpus.append((time.process_time() - cpu) * 1000 / len(video_set.paths))
    return statistics.median(walls), statistics.median(cpus)


def known_metadata_table(sets: list[VideoSet], rounds: int, clips: int) -> list[str]:
    """Per set: ms per clip and per open, PyAV backend without and with the index's metadata."""
    names = ["vidlearn-pyav", "vidlearn-pyav-known"]
    lines = [
        "| set | files with a frame table | ms per clip | ms per clip, known metadata | ratio (wall) | ratio (CPU) "
        "| ms per open | ms per open, known metadata |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for video_set in sets:
        results = measure_clips(video_set, 1, names, rounds, clips, seed=0)
        plain, known = (1000 / statistics.median(results[name]["wall"]) for name in names)
        opened = [open_ms(video_set, flag, repeats=max(3, rounds))[0] for flag in (False, True)]
        with_table = sum(info.frame_table is not None for info in video_set.infos.values())
        lines.append(
            f"| {video_set.name} | {with_table}/{len(video_set.paths)} | {plain:.2f} | {known:.2f} "
            f"| {paired_ratio(results, names[1], names[0], 'wall'):.3f} "
            f"| {paired_ratio(results, names[1], names[0], 'cpu'):.3f} | {opened[0]:.2f} | {opened[1]:.2f} |"
        )
    return lines


def run_known_metadata(args: argparse.Namespace, log: Callable[[str], None]) -> None:
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    command = "python benchmarks/decode/bench_decode.py " + " ".join(args.argv)
    load_before = os.getloadavg()[0]
    sets = build_sets(args, log)
    log(f"\nknown metadata: {args.rounds} rounds x {args.clips} clips per method and set")
    table = known_metadata_table(sets, args.rounds, args.clips)
    log("\n".join(table))
    text = "\n".join([
        f"Measured {started} with `{command.strip()}` (few clips: the figures are noisy).",
        "",
        *machine_lines(),
        load_line(load_before, os.getloadavg()[0]),
        "",
        "Random 16-frame clips (interval 1, short side 128, crop 112) through `VideoReader(path, backend=\"pyav\")` "
        "against the same with `metadata=probe_video(path)` (what a dataset's metadata index keeps), same files and "
        "clips, interleaved rounds, one process. Ratio = time without / time with, median of per-round ratios "
        "(above 1: the metadata saves time). \"ms per open\": opening and closing each file, no decoding.",
        "",
        *table,
    ])
    if args.readme:
        replace_block(Path(args.readme), text, KNOWN_START, KNOWN_END)


# ------------------------------------------------------------------------------- DataLoader


def full_decode_ms(path: Path, skip_frame: str) -> tuple[int, float]:
    """Frames out and CPU milliseconds of one decode of the whole file on one thread."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "SLICE"
        stream.codec_context.thread_count = 1
        stream.codec_context.skip_frame = skip_frame
        started = time.process_time()
        count = sum(1 for _ in container.decode(stream))
        return count, (time.process_time() - started) * 1000


def decode_bound_row(video_set: VideoSet, repeats: int) -> str:
    """Decoding every frame against decoding only the reference frames, whole files, one thread.

    A frame-exact reader must decode every reference frame from the keyframe before a clip; a
    reader that decodes everything (PyTorchVideo) does at most ``all / reference`` times the
    decoding work over the same span: the ceiling of the decoding part of the speed-up.
    """
    totals = {"DEFAULT": [0, 0.0], "NONREF": [0, 0.0]}
    for path in video_set.paths:
        for skip in totals:
            times = [full_decode_ms(path, skip) for _ in range(repeats)]
            totals[skip][0] += times[0][0]
            totals[skip][1] += min(ms for _, ms in times)
    (all_frames, all_ms), (ref_frames, ref_ms) = totals["DEFAULT"], totals["NONREF"]
    return (
        f"| {video_set.name} | {all_frames} | {all_ms:.0f} | {ref_frames} ({100 * ref_frames / all_frames:.0f}%) "
        f"| {ref_ms:.0f} ({100 * ref_ms / all_ms:.0f}%) | {all_ms / ref_ms:.2f}x |"
    )


def write_list_file(paths: list[Path], folder: Path, repeats: int) -> Path:
    list_file = folder / "decode_bench_list.txt"
    lines = [f"{path.relative_to(folder).as_posix()} {index % 2}" for path in paths for index in range(repeats)]
    list_file.write_text("\n".join(lines) + "\n")
    return list_file


def dataloader_rate(make_dataset: Callable[[], torch.utils.data.Dataset], workers: int, batches: int) -> tuple[float, float]:
    """(clips/s after the first batch, clips/s including worker start-up and the first batch)."""
    loader = torch.utils.data.DataLoader(make_dataset(), batch_size=8, num_workers=workers, shuffle=False)
    start = time.perf_counter()
    clips = 0
    steady_start = None
    steady_clips = 0
    for batch_index, batch in enumerate(loader):
        size = batch[0].shape[0] if isinstance(batch, (list, tuple)) else batch["video"].shape[0]
        clips += size
        if batch_index == 0:
            steady_start = time.perf_counter()
        else:
            steady_clips += size
        if batch_index + 1 == batches:
            break
    end = time.perf_counter()
    return steady_clips / (end - steady_start), clips / (end - start)


def measure_dataloader(video_set: VideoSet, rounds: int, batches: int, workers_list: list[int]) -> dict:
    from vidlearn.recognition.datasets import VideoListDataset
    from vidlearn.video.sampling import RandomClipSampler

    folder = video_set.paths[0].parent
    list_file = write_list_file(video_set.paths, folder, repeats=max(1, batches * 8 // len(video_set.paths) + 1))
    fps = video_set.fps[video_set.paths[0]]
    items = batches * 8 + 8

    def vidlearn_dataset():
        return VideoListDataset(
            list_file,
            folder,
            sampler=RandomClipSampler(CLIP_LEN),
            transform=methods.vidlearn_transform(),
            size=methods.SHORT_SIDE,
            backend="pyav",
        )

    def pytorchvideo_dataset():
        return methods.pytorchvideo_dataset(video_set.paths, fps, CLIP_LEN, 1, repeats=items // len(video_set.paths) + 1)

    makers = {
        "vidlearn (pyav)": (vidlearn_dataset, contextlib.nullcontext),
        "vidlearn (pyav, 1 decoder thread)": (vidlearn_dataset, methods.pyav_single_decoder_thread),
        "pytorchvideo": (pytorchvideo_dataset, contextlib.nullcontext),
    }
    results: dict = {(name, workers): [] for name in makers for workers in workers_list}
    for round_index in range(rounds):
        order = list(results)
        if round_index % 2:
            order.reverse()
        for name, workers in order:
            make_dataset, context = makers[name]
            with context():
                results[(name, workers)].append(dataloader_rate(make_dataset, workers, batches))
    return results


def dataloader_table(results: dict) -> list[str]:
    lines = [
        "| dataset | workers | clips/s (steady) | x PyTorchVideo | clips/s (incl. start-up) |",
        "|---|---|---|---|---|",
    ]
    for (name, workers), runs in results.items():
        steady = statistics.median(run[0] for run in runs)
        total = statistics.median(run[1] for run in runs)
        peer = results.get(("pytorchvideo", workers))
        ratio = statistics.median(a[0] / b[0] for a, b in zip(runs, peer)) if peer else float("nan")
        lines.append(f"| {name} | {workers} | {steady:.1f} | {ratio:.2f} | {total:.1f} |")
    return lines


# ---------------------------------------------------------------------------------- memory


def peak_rss_kib() -> int:
    """The process's resident-set high-water mark in KiB.

    ``VmHWM`` belongs to the current address space, so it starts afresh at ``exec``;
    ``getrusage().ru_maxrss`` is the fallback where /proc is missing, but on Linux it carries over
    the forking parent's peak into a child, which would hide the child's own.
    """
    with contextlib.suppress(OSError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory_child(args: argparse.Namespace) -> None:
    """Run in a fresh process: one method on each set in turn; print RSS high-water marks (KiB)."""
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    methods.import_pytorchvideo()  # every child imports the same modules
    spec = json.loads(args.memory_child_sets)
    marks = {"imports": peak_rss_kib()}
    for set_name, paths in spec.items():
        video_set = VideoSet(set_name, "", [Path(path) for path in paths]).probe()
        load = methods.make_loader(args.memory_child, CLIP_LEN, 1, video_set.fps, known_of=video_set.infos)
        for path, start in draw_clips(video_set, 1, args.memory_clips, np.random.default_rng(0)):
            load(path, start)
        marks[set_name] = peak_rss_kib()
    print(json.dumps(marks))


def measure_memory(sets: list[VideoSet], names: list[str], clips: int) -> dict[str, dict[str, int]]:
    """Per method, in a fresh process: the high-water mark after imports and after each set."""
    spec = json.dumps({video_set.name: [str(path) for path in video_set.paths] for video_set in sets})
    results = {}
    for name in names:
        command = [
            sys.executable, str(Path(__file__).resolve()), "--memory-child", name,
            "--memory-clips", str(clips), "--memory-child-sets", spec,
        ]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results[name] = json.loads(output.strip().splitlines()[-1])
    return results


def memory_table(results: dict[str, dict[str, int]]) -> list[str]:
    set_names = [key for key in next(iter(results.values())) if key != "imports"]
    header = ["method", "after imports, MiB"] + [f"after {name} clips, MiB (growth)" for name in set_names]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method, marks in results.items():
        row = [method, f"{marks['imports'] / 1024:.0f}"]
        row += [f"{marks[name] / 1024:.0f} (+{(marks[name] - marks['imports']) / 1024:.0f})" for name in set_names]
        lines.append("| " + " | ".join(row) + " |")
    return lines


# --------------------------------------------------------------------------------- machine


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_lines() -> list[str]:
    import av

    libavcodec = ".".join(map(str, av.library_versions.get("libavcodec", ())))
    return [
        f"- {machine_info()}",
        f"- torchvision {version('torchvision')}, numpy {np.__version__}, opencv {cv2.__version__}",
        f"- PyAV {av.__version__} (libavcodec {libavcodec}), torchcodec {version('torchcodec')}, "
        f"decord2 {version('decord2')}, pytorchvideo {version('pytorchvideo')}",
    ]


def load_line(before: float, after: float) -> str:
    """How busy the machine was: on a busy one, wall-clock rates favour multi-threaded methods."""
    cores = os.cpu_count() or 1
    loads = f"1-minute load average {before:.1f} at the start, {after:.1f} at the end"
    if max(before, after) < cores:
        return f"- The machine was otherwise idle ({loads}, {cores} cores)."
    return (
        f"- The {cores} cores were shared with other jobs ({loads}): absolute wall-clock rates are low and "
        "noisy; the ratios (per-round, interleaved) and the CPU-time columns are the figures to compare."
    )


# ------------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few files, clips and rounds (a smoke run)")
    parser.add_argument("--clips", type=int, default=None, help="clips per method per round (default 12; quick 4)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 5; quick 2)")
    parser.add_argument("--files", type=int, default=None, help="synthetic files per set (default 8; quick 3)")
    parser.add_argument("--intervals", default="1,2", help="frame intervals to measure (default 1,2)")
    parser.add_argument("--methods", default=None, help="comma-separated subset of: " + ",".join(methods.method_names()))
    parser.add_argument("--shared-data", default=None, help="the shared data folder (real clips)")
    parser.add_argument("--work-dir", default=str(REPO / "benchmarks" / "_work" / "decode"), help="where test files are cached")
    parser.add_argument("--no-dataloader", action="store_true", help="skip the DataLoader table")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory table")
    parser.add_argument("--readme", default=str(README), help="Markdown file whose results block is replaced ('' to skip)")
    parser.add_argument(
        "--known-metadata", action="store_true",
        help="only measure clips with and without the metadata a dataset index keeps (its own README block)",
    )
    parser.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--memory-child-sets", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--memory-clips", type=int, default=8, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    args.clips = args.clips or (4 if args.quick else 12)
    args.rounds = args.rounds or (2 if args.quick else 5)
    args.files = args.files or (3 if args.quick else 8)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)  # torch.jit.script_method in pytorchvideo
    if args.memory_child:
        memory_child(args)
        return
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    if args.known_metadata:
        run_known_metadata(args, lambda message: print(message, flush=True))
        return
    command = "python benchmarks/decode/bench_decode.py " + " ".join(argv if argv is not None else sys.argv[1:])
    names = args.methods.split(",") if args.methods else methods.method_names()
    for required in ("naive", "pytorchvideo"):
        if required not in names:
            names.insert(0, required)  # the ratios need them
    intervals = [int(value) for value in args.intervals.split(",")]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = os.getloadavg()[0]

    def log(message: str) -> None:
        print(message, flush=True)

    log("preparing test files ...")
    sets = build_sets(args, log)
    out: list[str] = []
    verdicts: list[str] = []
    for video_set in sets:
        by_interval = {}
        for interval in intervals:
            log(f"\n{video_set.name}, frame interval {interval}: {args.rounds} rounds x {args.clips} clips per method")
            by_interval[interval] = measure_clips(video_set, interval, names, args.rounds, args.clips, seed=0)
        table = clip_table(video_set, by_interval, names)
        frames = sorted(set(video_set.num_frames.values()))
        out += [
            f"### {video_set.name}",
            "",
            f"{len(video_set.paths)} file(s), {'/'.join(map(str, frames))} frames: {video_set.description}.",
            "",
            *table,
            "",
        ]
        log("\n".join(table))
        results = by_interval[1] if 1 in by_interval else by_interval[intervals[0]]
        for (prefix, peer), goal in GOALS.items():
            if video_set.name == prefix and "vidlearn-pyav" in results:
                ratio = paired_ratio(results, "vidlearn-pyav", peer, "wall")
                cpu_ratio = paired_ratio(results, "vidlearn-pyav", peer, "cpu")
                status = "met" if ratio >= goal else "MISSED"
                verdicts.append(
                    f"- {prefix}: vidlearn-pyav / {peer} = {ratio:.2f} (CPU time: {cpu_ratio:.2f}); goal >= {goal:g}: {status}"
                )
    log("\nDecoding every frame against reference frames only ...")
    bound = [
        "| set | frames | all frames, CPU ms | reference frames | reference frames only, CPU ms | ceiling |",
        "|---|---|---|---|---|---|",
        *(decode_bound_row(video_set, repeats=2 if args.quick else 3) for video_set in sets),
    ]
    log("\n".join(bound))
    out += [
        "### Decoding work a frame-exact reader cannot skip",
        "",
        "Every file decoded whole on one thread, once with every frame and once with "
        "`skip_frame=\"NONREF\"` (frames no other frame references are dropped before decoding); "
        "CPU time, best of the repeats, summed over the set. A frame-exact reader must decode every "
        "reference frame between the keyframe and the clip; a reader that decodes every frame of that "
        "span does at most the *ceiling* times its decoding work.",
        "",
        *bound,
        "",
    ]
    if not args.no_dataloader:
        log("\nDataLoader ...")
        ucf = next(video_set for video_set in sets if video_set.name == "UCF-101-like")
        dl = measure_dataloader(ucf, rounds=2 if args.quick else 3, batches=3 if args.quick else 8, workers_list=[0, 2])
        table = dataloader_table(dl)
        log("\n".join(table))
        out += [
            "### DataLoader, UCF-101-like files, batch 8",
            "",
            "`VideoListDataset(list, root, sampler=RandomClipSampler(16), size=128, backend=\"pyav\", "
            "transform=RandomCrop(112) + float)` against PyTorchVideo's `LabeledVideoDataset` (same clip). "
            "Steady = after the first batch; the other column includes starting the workers.",
            "",
            *table,
            "",
        ]
    if not args.no_memory:
        log("\npeak memory ...")
        memory_sets = [video_set for video_set in sets if video_set.name in ("UCF-101-like", "Kinetics-like")]
        memory = measure_memory(memory_sets, names, clips=4 if args.quick else 12)
        table = memory_table(memory)
        log("\n".join(table))
        out += [
            "### Peak memory",
            "",
            "Peak resident set (`VmHWM` of `/proc/self/status`) of a fresh process per method that imports "
            f"the same modules (torch, PyAV, OpenCV, vidlearn, PyTorchVideo), then loads {4 if args.quick else 12} "
            "random clips from the UCF-101-like files, then as many from the Kinetics-like files; in brackets "
            "the growth over the mark after the imports. Python and native allocations both count.",
            "",
            *table,
            "",
        ]
    load_after = os.getloadavg()[0]
    header = [
        f"Measured {started} with `{command.strip()}`"
        f"{' (a quick smoke run: few clips, noisy)' if args.quick else ''}.",
        "",
        *machine_lines(),
        load_line(load_before, load_after),
        "- One torch / OpenCV thread in the measuring process; the decoders use their default threading "
        "(vidlearn's PyAV backend below 640x480: slice threads, one per core; PyAV's default, used by "
        "naive and PyTorchVideo, is the same).",
        "",
        "Goals (vidlearn PyAV backend, frame interval 1):",
        "",
        *verdicts,
        "",
    ]
    text = "\n".join(header + out)
    print("\n" + "\n".join(verdicts))
    if args.readme:
        replace_results(Path(args.readme), text)


def replace_results(readme: Path, text: str) -> None:
    replace_block(readme, text, RESULTS_START, RESULTS_END)


def replace_block(readme: Path, text: str, start: str, end: str) -> None:
    """Put ``text`` between the ``start`` and ``end`` markers of ``readme`` (appended when absent)."""
    if not readme.exists():
        return
    content = readme.read_text()
    if start not in content or end not in content:
        content = content.rstrip() + f"\n\n{start}\n{end}\n"
    before, rest = content.split(start, 1)
    after = rest.split(end, 1)[1]
    readme.write_text(f"{before}{start}\n{text}\n{end}{after}")


if __name__ == "__main__":
    main()
