"""Optional: sample the daemon with py-spy while a scenario runs (`--profile DIR`).

py-spy is not a dependency of sessiond; install it (`pip install py-spy`) to use this.
The output is py-spy's "raw" format (collapsed stacks), one file per scenario, which
`python -m bench.profile FILE` summarises as the functions holding the most samples.
"""

from __future__ import annotations

import collections
import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PROFILE_DIR: Path | None = None


@contextlib.contextmanager
def sampling(pid: int, name: str) -> Iterator[None]:
    if PROFILE_DIR is None:
        yield
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    out = PROFILE_DIR / f"{name}.txt"
    proc = subprocess.Popen([spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "250",
                             "--output", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        proc.send_signal(2)  # SIGINT: py-spy writes its output and exits
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def summary(path: Path, top: int = 25) -> str:
    """The functions with the most samples, inclusive (anywhere on the stack) and exclusive."""
    inclusive: collections.Counter[str] = collections.Counter()
    exclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f.split(" (")[0] + " " + f.rsplit("/", 1)[-1].rstrip(")") for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += n
        exclusive[frames[-1]] += n
    rows = [f"{total} samples", "inclusive:"]
    rows += [f"  {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top)]
    rows.append("exclusive:")
    rows += [f"  {100 * n / total:5.1f}%  {f}" for f, n in exclusive.most_common(top)]
    return "\n".join(rows)


if __name__ == "__main__":
    print(summary(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 25))
