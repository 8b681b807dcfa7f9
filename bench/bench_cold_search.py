"""A cold `medrag search`: a new process each time (disk cache warm), from the command line to the
printed hits, for this checkout against an earlier commit of medrag on the same index, run
alternately so that machine load hits both alike.

    python bench/bench_cold_search.py --index /tmp/pdfs-index          # indexes the shared PDFs there if empty
    python bench/bench_cold_search.py --baseline-ref 4bfee1a --runs 10

The earlier commit is checked out with `git worktree` into a temporary folder and run with this
checkout's virtual environment (`python -m rag.cli`), so only medrag's code differs between the two.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, need_data

QUESTIONS = [
    "What complications follow DVT prophylaxis in trauma patients?",
    "Does exercise training improve outcomes in heart failure?",
    "Which biomarkers predict sepsis mortality?",
]
BASELINE_REF = "4bfee1a"  # the last commit before the query was embedded without torch


def run_search(source: Path, index: Path, query: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(source), HF_HUB_OFFLINE="1")
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "rag.cli", "search", "--query", query, "--index", str(index),
                          "-k", "5"], env=env, cwd=source, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if out.returncode != 0:
        sys.exit(f"search failed in {source}: {out.stderr.strip()[-500:]}")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=Path(tempfile.gettempdir()) / "medrag-bench-cold")
    parser.add_argument("--baseline-ref", default=BASELINE_REF)
    parser.add_argument("--runs", type=int, default=6, help="cold searches per side (questions taken in turn)")
    args = parser.parse_args()
    if not (args.index / "manifest.json").exists():
        data = need_data()
        print(f"indexing {data / 'pdfs'} into {args.index} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "rag.cli", "index", str(data / "pdfs"), "--index", str(args.index)],
                       check=True, cwd=ROOT, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    with tempfile.TemporaryDirectory() as tmp:
        baseline = Path(tmp) / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", str(baseline), args.baseline_ref], cwd=ROOT,
                       check=True, capture_output=True)
        try:
            sides = {f"medrag at {args.baseline_ref}": baseline, "this checkout": ROOT}
            times: dict[str, list[float]] = {name: [] for name in sides}
            for name, source in sides.items():  # one untimed run each: byte-compile, page cache
                run_search(source, args.index, QUESTIONS[0])
            for i in range(args.runs):
                for name, source in (sides.items() if i % 2 == 0 else reversed(sides.items())):
                    times[name].append(run_search(source, args.index, QUESTIONS[i % len(QUESTIONS)]))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], cwd=ROOT, capture_output=True)
    print(f"cold `medrag search -k 5` on {args.index}, {args.runs} runs each, alternating\n")
    print("| command | median s | min s | max s |")
    print("|---|---|---|---|")
    for name, ts in times.items():
        print(f"| {name} | {statistics.median(ts):.2f} | {min(ts):.2f} | {max(ts):.2f} |")
    old, new = (statistics.median(ts) for ts in times.values())
    print(f"\nspeed-up (median): {old / new:.1f}x")


if __name__ == "__main__":
    main()
