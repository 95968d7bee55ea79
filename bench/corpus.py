"""Thousands of large Claude transcripts for the start-up figure, generated once and cached.

Each file is one of the corpus transcripts (../shared/corpus/claude) repeated whole until
it reaches its size, so every file ends the way a real session ends. Sizes follow a
log-normal spread (most files a few hundred KB, some several MB). The cache is reused
across runs; `touch()` makes every file recently written again, so the daemon treats
them as warm sessions and reads each one's head and tail (never the whole file).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus" / "claude"
PROJECTS_PER_CACHE = 50


def ensure(cache: Path, files: int, total_bytes: int) -> tuple[Path, int]:
    """`<cache>/projects` holding `files` transcripts of >= `total_bytes` in all; (projects, bytes)."""
    marker = cache / "complete.json"
    wanted = {"files": files, "total_bytes": total_bytes, "version": 2}
    if marker.exists():
        done = json.loads(marker.read_text())
        if {k: done.get(k) for k in wanted} == wanted:
            return cache / "projects", int(done["written"])
    started = time.monotonic()
    print(f"generating {files} transcripts ({total_bytes / 2**30:.1f} GB) in {cache} ...", flush=True)
    bases = [p.read_bytes() for p in sorted(CORPUS.glob("*.jsonl"))]
    bases = [b if b.endswith(b"\n") else b + b"\n" for b in bases if b.strip()]
    rng = random.Random(9)
    weights = [rng.lognormvariate(0, 1) for _ in range(files)]
    scale = total_bytes / sum(weights)
    projects = cache / "projects"
    written = 0
    wanted_so_far = 0.0
    for i, weight in enumerate(weights):
        base = bases[i % len(bases)]
        # Whole copies only; the running total tracks the wanted one, so the sum lands
        # within one copy of `total_bytes` (and never below it: the last file makes up).
        wanted_so_far += weight * scale
        short = wanted_so_far - written
        copies = max(1, round(short / len(base)))
        if i == files - 1:
            copies = max(1, math.ceil(short / len(base)))
        directory = projects / f"-home-u-bench-{i % PROJECTS_PER_CACHE}"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{uuid.UUID(int=rng.getrandbits(128), version=4)}.jsonl"
        with path.open("wb") as fh:
            for _ in range(copies):
                fh.write(base)
        written += len(base) * copies
    marker.write_text(json.dumps({**wanted, "written": written}))
    print(f"generated {written / 2**30:.2f} GB in {time.monotonic() - started:.0f} s", flush=True)
    return projects, written


def touch(projects: Path) -> int:
    """Make every transcript recently written (a warm file); returns how many."""
    count = 0
    for directory in projects.iterdir():
        for entry in os.scandir(directory):
            os.utime(entry.path)
            count += 1
    return count
