"""Indexing, as a user runs it: each pipeline a whole new process (start-up and model loading
included), wall clock and peak resident memory, side by side on the same files, rounds alternated.

  (a) `medrag index papers/` into a new index
  (c) a plain LangChain pipeline (bench/naive_index.py): PyPDFLoader + RecursiveCharacterTextSplitter +
      the same sentence-transformers model + LangChain's FAISS store

then a second `medrag index` over the same folder (nothing changed), `medrag index` over the 500
PubMedQA abstracts (passages/s), and with --copies N the shared PDFs N times over (renamed copies,
each with changed bytes so that none is a duplicate), for peak memory once against N times.

    python bench/bench_index.py [--rounds 2] [--copies 10] [--pdfs 12]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, need_data

from rag.evaluate import pubmedqa_sets


def medrag_index(paths: list[Path], index: Path) -> tuple[float, float, dict]:
    seconds, peak, out = timed_child([sys.executable, "-m", "rag.cli", "index", *map(str, paths), "--index", str(index),
                                      "--json"])
    return seconds, peak, json.loads(out)


def timed_child(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB (the child's own, from wait4: RUSAGE_CHILDREN would be the largest
    of all children so far) and stdout of a command run to completion."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    t = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed: {err.read().strip()[-800:]}")
        return seconds, usage.ru_maxrss / 1024, out.read()


def changed_copies(pdfs: list[Path], folder: Path, copies: int) -> None:
    """Each PDF `copies` times under new names, with a comment line appended after %%EOF, which readers
    ignore, so every copy has its own hash and is parsed and embedded as a new paper."""
    folder.mkdir(parents=True)
    for n in range(copies):
        for pdf in pdfs:
            data = pdf.read_bytes() + f"\n% medrag benchmark copy {n}\n".encode()
            (folder / f"copy{n:02d}-{pdf.name}").write_bytes(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdfs", type=int, default=12, help="how many of the shared PDFs")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each pipeline, alternated")
    parser.add_argument("--copies", type=int, default=0, help="also index the PDFs this many times over")
    args = parser.parse_args()
    data = need_data()
    work = Path(tempfile.mkdtemp(prefix="medrag-bench-"))
    papers = work / "papers"
    papers.mkdir()
    pdfs = sorted((data / "pdfs").glob("*.pdf"))[: args.pdfs]
    for pdf in pdfs:
        shutil.copy(pdf, papers)
    a: list[tuple[float, float]] = []
    c: list[tuple[float, float]] = []
    report = {}
    for r in range(args.rounds):
        for side in ("a", "c") if r % 2 == 0 else ("c", "a"):
            if side == "a":
                index = work / f"idx{r}"
                seconds, peak, report = medrag_index([papers], index)
                a.append((seconds, peak))
            else:
                seconds, peak, _ = timed_child([sys.executable, str(ROOT / "bench" / "naive_index.py"), str(papers)])
                c.append((seconds, peak))
    again, _, second = medrag_index([papers], work / "idx0")
    med = lambda rows, i: statistics.median(x[i] for x in rows)  # noqa: E731
    n = report["chunks_added"]
    print(f"{len(pdfs)} PDFs, {os.cpu_count()} cores, median of {args.rounds} alternating runs, each a new process\n")
    print("| pipeline | wall s | passages | passages/s | peak RSS MB |")
    print("|---|---|---|---|---|")
    print(f"| (a) `medrag index` | {med(a, 0):.1f} | {n} | {n / med(a, 0):.1f} | {med(a, 1):.0f} |")
    print(f"| (c) LangChain PyPDFLoader + splitter + FAISS | {med(c, 0):.1f} | | | {med(c, 1):.0f} |")
    print(f"\nspeed-up c/a (wall clock, process start included): {med(c, 0) / med(a, 0):.2f}x")
    print(f"second `medrag index` over the same folder: {second['unchanged']} unchanged, "
          f"{second['chunks_added']} passages embedded, {again:.1f} s (process start included)")

    sets = pubmedqa_sets(data / "pubmedqa" / "pqal_dev.json", work / "pubmedqa")
    seconds, peak, abstracts = medrag_index([sets["abstracts"]], work / "abstracts-idx")
    k = abstracts["chunks_added"]
    print(f"PubMedQA abstracts: {abstracts['indexed']} files, {k} passages in {seconds:.1f} s, "
          f"{k / seconds:.1f} passages/s (process start included), peak RSS {peak:.0f} MB")

    if args.copies:
        changed_copies(pdfs, work / "copies", args.copies)
        seconds, peak, many = medrag_index([work / "copies"], work / "copies-idx")
        print(f"\npeak RSS, `medrag index` over the {len(pdfs)} PDFs once: {med(a, 1):.0f} MB; "
              f"{args.copies} times over ({len(pdfs) * args.copies} files, {many['chunks_added']} passages, "
              f"{seconds:.0f} s): {peak:.0f} MB")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
