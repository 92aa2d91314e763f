"""The GPU path checked on a CUDA machine in one command (about 6-8 minutes on a 16-core GPU node),
ending in one table.

    PYTHONPATH=. python benchmarks/gpu_check.py [--out gpu_check_out] [--budget-s 480]
                                               [--device cuda|cpu] [--quick] [--demo-workdir DIR]

Parts (each a subprocess with its log in --out, stopped when it would overrun the budget):

1. `pytest tests/test_models.py`: on a CUDA machine its models train on CUDA (config.yaml's
   `models.training.device: auto`), bf16 autocast, channels-last and pinned memory included.
2. `bench_paper_scale.py --device cuda --json`: steps/s, samples/s and peak GPU memory of every paper
   stage at the paper batch.
3. `bench_data_path.py --device cuda` with 0, 1, 2 and the paper config's num_workers, fed the GPU
   rates of part 2: the loader's faces/s against the GPU's.
4. The tiny demo (tests/tiny_config.yaml, as the end-to-end tests run it) with
   `models.training.device: cpu`, then its deep model rules again with `cuda` (`--forcerun`): fused
   val/test accuracy of both runs and how often they name the same class (per model and fused).
   The CPU demo runs beside parts 1-2 on all cores but four; part 3 waits for it.

Without CUDA it stops at once: one line, exit status 2. `--device cpu --quick` runs every part on
the CPU instead (a dry run of this script: the commands, logs, JSON files, comparisons and the table;
not the CUDA kernels), `--quick` also with shorter trainings and benchmarks.
Results: <out>/gpu_check.json and the table on stdout; exit status 0 when every part passed.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEEP_RULES = ("vgg_lstm", "audio_lstm", "inception_lstm")
# --quick: trainings short enough for a dry run on two CPU cores
QUICK_ITERATIONS = {"vgg_lstm": {"frame_iterations": 40, "sequence_iterations": 10},
                    "audio_lstm": {"iterations": 20},
                    "inception_lstm": {"map_iterations": 20, "sequence_iterations": 20}}
# the most seconds each part may take on a GPU node (a CPU dry run is bounded by --budget-s alone)
PART_LIMIT_S = {"test_models": 240, "paper_scale": 240, "demo_cpu": 400, "data_path": 200, "demo_device": 240}
PROGRESS = re.compile(r"stage (\w+): step (\d+)/(\d+), .*?, ([\d.]+) steps/s")


@dataclass
class Part:
    name: str
    command: list[str]
    log: str
    returncode: int | None = None  # None: not run (budget)
    seconds: float = 0.0
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass
class Check:
    device: str
    out: Path
    deadline: float
    quick: bool
    parts: list[Part] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        environment = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        if self.device == "cpu":
            environment["CUDA_VISIBLE_DEVICES"] = ""
        return environment

    def part(self, name: str, command: list[str]) -> Part:
        part = Part(name, [str(word) for word in command], str(self.out / f"{name}.log"))
        self.parts.append(part)
        return part

    def limit(self, name: str, started: float | None = None) -> float:
        """Seconds part `name` (started at `started`, else now) may still run."""
        now = time.monotonic()
        left = self.deadline - now
        if self.device == "cpu":
            return left
        return min(PART_LIMIT_S[name] - (now - started if started is not None else 0.0), left)

    def run(self, name: str, command: list[str]) -> Part:
        part = self.part(name, command)
        limit = self.limit(name)
        if limit < 10:
            part.note = "skipped: no time left in the budget"
            return part
        start = time.monotonic()
        with open(part.log, "w") as log:
            try:
                part.returncode = subprocess.run(part.command, cwd=REPO, env=self.environment(), stdout=log,
                                                 stderr=subprocess.STDOUT, timeout=limit).returncode
            except subprocess.TimeoutExpired:
                part.returncode, part.note = 124, f"stopped after {limit:.0f} s"
        part.seconds = time.monotonic() - start
        return part

    def start(self, name: str, command: list[str]) -> tuple[Part, subprocess.Popen, float]:
        part = self.part(name, command)
        log = open(part.log, "w")
        process = subprocess.Popen(part.command, cwd=REPO, env=self.environment(), stdout=log,
                                   stderr=subprocess.STDOUT)
        log.close()
        return part, process, time.monotonic()

    def wait(self, started: tuple[Part, subprocess.Popen, float]) -> Part:
        part, process, start = started
        try:
            part.returncode = process.wait(timeout=max(1.0, self.limit(part.name, start)))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            part.returncode, part.note = 124, "stopped: over its limit or the budget"
        part.seconds = time.monotonic() - start
        return part


def cuda_device_name() -> str | None:
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else None


def git_commit() -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True,
                           text=True).stdout.strip()
    return (result.stdout.strip() or "unknown") + (" (with uncommitted changes)" if dirty else "")


def demo_config(device: str, quick: bool) -> dict:
    from avemotion.config import load_config, merge_config

    config = load_config(REPO / "tests" / "tiny_config.yaml")
    overrides: dict = {"models": {"training": {"device": device}}}
    if quick:
        overrides["models"].update(QUICK_ITERATIONS)
    return merge_config(config, overrides)


def snakemake_command(workdir: Path, configfile: Path, cores: int, forcerun: tuple[str, ...] = ()) -> list[str]:
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--cores", str(cores)]
    if forcerun:
        command += ["--forcerun", *forcerun]
    return command + ["--configfile", str(configfile)]  # last: it takes every word after it


def write_config(path: Path, config: dict) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def pytest_summary(log: str) -> str:
    lines = [line for line in Path(log).read_text(errors="replace").splitlines() if " in " in line and (
        "passed" in line or "failed" in line or "error" in line)]
    return lines[-1].strip("= ") if lines else "no summary"


def read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def training_speeds(log: Path) -> dict[str, float]:
    """steps/s of each training stage, from its last progress line in a train.log."""
    speeds: dict[str, float] = {}
    if log.is_file():
        for match in PROGRESS.finditer(log.read_text(errors="replace")):
            speeds[match.group(1)] = float(match.group(4))
    return speeds


def snapshot(results: Path, folder: Path) -> None:
    """Copy a demo run's predictions, metrics and training logs aside (the device run overwrites them)."""
    for name in ("predictions", "metrics", "logs"):
        if (results / name).is_dir():
            shutil.copytree(results / name, folder / name, dirs_exist_ok=True)


def agreement(left: Path, right: Path) -> dict | None:
    """The share of clips (usable in both tables) to which two prediction tables give the same class."""
    from avemotion.artifacts import read_predictions

    if not (left.is_file() and right.is_file()):
        return None
    a = {row["clip_id"]: row["probs"] for row in read_predictions(left) if row["probs"] is not None}
    b = {row["clip_id"]: row["probs"] for row in read_predictions(right) if row["probs"] is not None}
    common = sorted(set(a) & set(b))
    same = sum(int(a[c].argmax() == b[c].argmax()) for c in common)
    return {"clips": len(common), "same": same, "rate": same / len(common) if common else None}


def compare_demo_runs(cpu: Path, device: Path) -> dict:
    """Per model and fused: agreement of the two runs' predictions, their val/test accuracy, steps/s."""
    from avemotion.constants import FUSION, MODELS

    report = {}
    for name in (*MODELS, FUSION):
        metrics = {run: read_json(folder / "metrics" / f"{name}.json") for run, folder in (("cpu", cpu),
                                                                                          ("device", device))}
        report[name] = {
            "agreement": agreement(cpu / "predictions" / f"{name}.tsv", device / "predictions" / f"{name}.tsv"),
            "accuracy": {run: {split: block.get("accuracy") for split, block in values.items()}
                         for run, values in metrics.items()},
            "steps_per_s": {run: training_speeds(folder / "logs" / name / "train.log")
                            for run, folder in (("cpu", cpu), ("device", device))},
        }
    return report


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def table(summary: dict) -> str:
    lines = [f"gpu_check: {summary['gpu']} | torch {summary['torch']} | code of {summary['commit']} | "
             f"{summary['cores']} cores | {summary['wall_s']:.0f} s", ""]
    lines.append(f"{'part':22s} {'result':60s} {'s':>6s}")
    for part in summary["parts"]:
        result = "ok" if part["returncode"] == 0 else (part["note"] or f"FAILED (exit {part['returncode']})")
        if part["name"] == "test_models" and part["returncode"] is not None:
            result = f"{'ok' if part['returncode'] == 0 else 'FAILED'}: {summary.get('test_models', '')}"
        lines.append(f"{part['name']:22s} {result[:60]:60s} {part['seconds']:6.0f}")
    scale = summary.get("paper_scale", {})
    if scale.get("rows"):
        lines += ["", f"paper stages ({scale['device']}):",
                  f"  {'model':15s} {'stage':10s} {'batch':>5s} {'steps/s':>8s} {'samples/s':>10s} "
                  f"{'peak MiB':>9s} {'hours':>8s}"]
        for row in scale["rows"]:
            lines.append(f"  {row['model']:15s} {row['stage']:10s} {row['batch']:5d} {row['steps_per_s']:8.2f} "
                         f"{row['samples_per_s']:10.1f} {row['peak_memory_mb']:9.0f} {row['hours']:8.2f}")
        lines.append(f"  the whole experiment (original + refit): {scale['hours_original_plus_refit']:.1f} h on this device")
    loader = summary.get("data_path", {})
    for verdict in loader.get("verdicts", []):
        workers = f"num_workers {verdict['paper_num_workers']}"
        how = (f"{workers} measured" if verdict.get("paper_workers_measured")
               else f"{workers} x {verdict['per_worker_taken']:.0f} faces/s a worker")
        lines.append(f"loader, vgg_lstm {verdict['stage']}: {how} = {verdict['paper_workers_deliver']:.0f} faces/s "
                     f"vs GPU {verdict['gpu_faces_per_s']:.0f} faces/s "
                     f"({verdict['paper_workers_deliver'] / verdict['gpu_faces_per_s']:.2f}x, needs {summary['headroom']}x; "
                     f"{verdict['workers_needed']} workers would)")
    if loader.get("gpu_rate_source"):
        lines.append(f"  GPU rate: {loader['gpu_rate_source']}")
    demo = summary.get("demo", {})
    if demo:
        lines += ["", f"tiny demo, cpu run vs {summary['device']} run:",
                  f"  {'model':15s} {'same class':>14s} {'val cpu':>8s} {'val dev':>8s} {'test cpu':>8s} "
                  f"{'test dev':>8s}  steps/s cpu -> device"]
        for name, block in demo.items():
            same = block["agreement"]
            accuracy = block["accuracy"]
            speeds = "; ".join(f"{stage} {cpu:.2f} -> {block['steps_per_s']['device'].get(stage, float('nan')):.2f}"
                               for stage, cpu in block["steps_per_s"]["cpu"].items())
            lines.append(f"  {name:15s} {percent(same['rate']) if same else '-':>8s} ({same['clips'] if same else 0:3d}) "
                         f"{percent(accuracy['cpu'].get('val')):>8s} {percent(accuracy['device'].get('val')):>8s} "
                         f"{percent(accuracy['cpu'].get('test')):>8s} {percent(accuracy['device'].get('test')):>8s}"
                         f"  {speeds}")
    return "\n".join(lines)


def run_demo_device_pass(check: Check, workdir: Path, cores: int) -> None:
    snapshot(workdir / "results", check.out / "demo_cpu")
    configfile = write_config(workdir / "config_device.yaml", demo_config(check.device, check.quick))
    check.run("demo_device", snakemake_command(workdir, configfile, cores, DEEP_RULES))
    snapshot(workdir / "results", check.out / "demo_device")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("gpu_check_out"))
    parser.add_argument("--budget-s", type=float, default=480.0, help="stop starting parts after this many seconds")
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--quick", action="store_true", help="shorter benchmarks and demo trainings")
    parser.add_argument("--demo-workdir", type=Path, default=None,
                        help="a finished tiny demo run of this script to reuse (its models trained on cpu)")
    args = parser.parse_args()
    name = cuda_device_name() if args.device == "cuda" else None
    if args.device == "cuda" and name is None:
        print("gpu_check: no CUDA device here (torch.cuda.is_available() is False); run it on a GPU node, or "
              "--device cpu --quick for a dry run on the CPU", file=sys.stderr)
        return 2
    import torch

    start = time.monotonic()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    check = Check(args.device, out, start + args.budget_s, args.quick)
    cores = os.cpu_count() or 1
    quick = ["--quick"] if args.quick else []
    python = [sys.executable]

    workdir = (args.demo_workdir or out / "demo").resolve()
    demo_cpu = None
    if args.demo_workdir is None:
        workdir.mkdir(parents=True, exist_ok=True)
        configfile = write_config(workdir / "config_cpu.yaml", demo_config("cpu", args.quick))
        demo_cores = max(1, cores - 4) if args.device == "cuda" else cores
        demo_cpu = check.start("demo_cpu", snakemake_command(workdir, configfile, demo_cores))

    check.run("test_models", python + ["-m", "pytest", "tests/test_models.py", "-q", "-p", "no:cacheprovider"])
    paper_json = out / "paper_scale.json"
    check.run("paper_scale", python + ["benchmarks/bench_paper_scale.py", "--device", args.device, "--json",
                                       paper_json, *quick])
    if demo_cpu is not None:
        check.wait(demo_cpu)
    from avemotion.config import load_config

    num_workers = int(load_config(REPO / "configs" / "paper.yaml")["models"]["training"]["num_workers"])
    workers = sorted({0, 1, 2, num_workers} if cores > num_workers else {0, 1, 2})
    data_json = out / "data_path.json"
    gpu_rates = ["--paper-scale-json", paper_json] if args.device == "cuda" and paper_json.is_file() else []
    size = quick or ["--clips", 16, "--seconds", 3]
    check.run("data_path", python + ["benchmarks/bench_data_path.py", "--device", args.device, "--workers",
                                     *workers, *gpu_rates, "--json", data_json, *size])
    if (workdir / "results" / "metrics" / "fusion.json").is_file():
        run_demo_device_pass(check, workdir, cores)

    data_path = read_json(data_json)
    summary = {
        "gpu": name or f"cpu dry run ({cores} cores)", "device": args.device, "torch": torch.__version__,
        "commit": git_commit(), "cores": cores, "wall_s": time.monotonic() - start,
        "parts": [asdict(part) for part in check.parts],
        "test_models": pytest_summary(out / "test_models.log") if (out / "test_models.log").is_file() else "",
        "paper_scale": read_json(paper_json), "data_path": data_path,
        "headroom": data_path.get("headroom"),
        "demo": compare_demo_runs(out / "demo_cpu", out / "demo_device") if (out / "demo_device").is_dir() else {},
    }
    (out / "gpu_check.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(table(summary))
    print(f"\nlogs and JSON in {out}")
    return 0 if all(part.ok for part in check.parts) and summary["demo"] else 1


if __name__ == "__main__":
    sys.exit(main())
