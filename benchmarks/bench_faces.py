"""Face stage speed and memory (issue 3): face-stage time / pure decode time of the same clips, frames
per second, and peak RSS for a short and a long clip.

Clips are generated here from a real photo (skimage's astronaut, rotating, scaling and drifting on a
cluttered background), 25 fps, written with PyAV/libx264. Each measurement runs in its own process so
that its peak RSS (ru_maxrss) is its own; memory that does not grow from the short to the long clip
shows the frames stream.

    PYTHONPATH=. python benchmarks/bench_faces.py [--short-s 2] [--long-s 20] [--width 720 --height 576]
"""
from __future__ import annotations

import argparse
import multiprocessing
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

FPS = 25


def make_clip(path: Path, seconds: float, width: int, height: int, seed: int = 0) -> int:
    """Write a clip of the astronaut's face moving on clutter; returns its number of frames."""
    import av
    import cv2
    import skimage.data

    rng = np.random.default_rng(seed)
    photo = skimage.data.astronaut()
    background = cv2.resize(skimage.data.coffee(), (width, height))
    for _ in range(60):
        x, y = (int(v) for v in rng.integers(0, (width, height)))
        color = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.rectangle(background, (x, y), (x + int(rng.integers(10, 90)), y + int(rng.integers(10, 90))), color, -1)
    mask = np.zeros(photo.shape[:2], np.uint8)
    cv2.circle(mask, (225, 150), 200, 255, -1)
    n_frames = int(round(seconds * FPS))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"crf": "20", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(n_frames):
            phase = 2 * np.pi * i / (4 * FPS)
            matrix = cv2.getRotationMatrix2D((225.0, 103.0), 15 * np.sin(phase), 1.6 + 0.3 * np.cos(phase))
            matrix[:, 2] += np.array([width / 2 + 60 * np.sin(phase / 2), height * 0.4]) - np.array([225.0, 103.0])
            warped = cv2.warpAffine(photo, matrix, (width, height))
            inside = cv2.warpAffine(mask, matrix, (width, height)) > 127
            frame = background.copy()
            frame[inside] = warped[inside]
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return n_frames


def timeline_of(clip_id: str, n_frames: int):
    from avemotion.faces import Timeline

    timeline = np.minimum(np.floor(np.arange(int(n_frames / FPS * 60)) * FPS / 60 + 1e-9).astype(int), n_frames - 1)
    return Timeline(clip_id, float(FPS), timeline, np.unique(timeline))


def measure(task: str, clip: str, n_frames: int, out_dir: str, result_queue) -> None:
    """One measurement in this (fresh) process: 'decode', 'a' (MediaPipe), 'a/K' (detector every K
    frames) or 'b' (dlib)."""
    from avemotion.faces import DlibFaces, MediaPipeFaces, extract_faces_from_video, iter_source_frames

    timeline = timeline_of(Path(clip).stem, n_frames)
    load_s = 0.0
    if task == "decode":
        start = time.perf_counter()
        count = sum(1 for _ in iter_source_frames(clip, timeline.unique_frames))
    else:
        start = time.perf_counter()
        analyzer = MediaPipeFaces() if task.startswith("a") else DlibFaces(detect_scale=0.5, upsample=0)
        load_s = time.perf_counter() - start
        start = time.perf_counter()
        redetect_every = int(task.split("/")[1]) if "/" in task else 1
        result = extract_faces_from_video(clip, timeline, Path(out_dir) / f"{task[0]}_{Path(clip).stem}.h5", analyzer,
                                          224, task[0], redetect_every=redetect_every)
        count = result.n_faces
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result_queue.put({"task": task, "seconds": seconds, "load_s": load_s, "count": count, "peak_mb": peak_mb})


def run_isolated(task: str, clip: Path, n_frames: int, out_dir: Path) -> dict:
    context = multiprocessing.get_context("spawn")
    result_queue = context.Queue()
    process = context.Process(target=measure, args=(task, str(clip), n_frames, str(out_dir), result_queue))
    process.start()
    result = result_queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short-s", type=float, default=2.0)
    parser.add_argument("--long-s", type=float, default=20.0)
    parser.add_argument("--width", type=int, default=720)
    parser.add_argument("--height", type=int, default=576)
    parser.add_argument("--repeats", type=int, default=2, help="decode/track-A runs per clip; the fastest counts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print(f"clips {args.width}x{args.height} @ {FPS} fps (astronaut on clutter); stage output 224 px\n")
        print(f"{'clip':>6} {'frames':>6} {'task':>10} {'seconds':>8} {'fps':>7} {'/decode':>8} {'faces':>6} "
              f"{'load s':>7} {'peak RSS MB':>12}")
        for name, seconds in (("short", args.short_s), ("long", args.long_s)):
            clip = work / f"{name}.mp4"
            n_frames = make_clip(clip, seconds, args.width, args.height)
            results = {}
            for task in ("decode", "a", "a/4", "b"):
                repeats = args.repeats if task != "b" else 1
                runs = [run_isolated(task, clip, n_frames, work) for _ in range(repeats)]
                results[task] = min(runs, key=lambda r: r["seconds"])
            decode_s = results["decode"]["seconds"]
            for task, label in (("decode", "decode"), ("a", "A every"), ("a/4", "A 1-in-4"), ("b", "B dlib 0.5")):
                r = results[task]
                faces = "" if task == "decode" else str(r["count"])
                print(f"{name:>6} {n_frames:>6} {label:>10} {r['seconds']:>8.2f} {n_frames / r['seconds']:>7.1f} "
                      f"{r['seconds'] / decode_s:>8.2f} {faces:>6} {r['load_s']:>7.2f} {r['peak_mb']:>12.0f}")
        print("\n/decode: face-stage time divided by the pure decode time of the same clip, same run "
              "(target for track A: <= 1.5);\nA every: MediaPipe detector on every frame; A 1-in-4: detector on every 4th frame, "
              "landmarks followed in between (config faces.redetect_every: 4);\n"
              "load s: model loading, once per job, not in 'seconds'; B dlib 0.5: HOG on the frame at half size.")


if __name__ == "__main__":
    main()
