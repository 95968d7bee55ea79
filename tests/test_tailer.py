"""The tailer on real files: offsets, torn lines, huge lines, truncation, replacement."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sessiond.read.tailer import NotAFile, Tailer, read_tail


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as fh:
        fh.write(data)


def test_reads_only_new_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    append(path, b'{"a":1}\n{"b":2}\n')
    tailer = Tailer(path)
    assert tailer.read().lines == [(1, b'{"a":1}'), (2, b'{"b":2}')]
    assert tailer.read().lines == []
    append(path, b'{"c":3}\n')
    assert tailer.read().lines == [(3, b'{"c":3}')]


def test_torn_line_is_held_until_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    append(path, b'{"a":1}\n{"half":')
    tailer = Tailer(path)
    assert tailer.read().lines == [(1, b'{"a":1}')]
    assert tailer.committed_offset == len(b'{"a":1}\n')
    append(path, b'"done"}\n')
    assert tailer.read().lines == [(2, b'{"half":"done"}')]


def test_huge_line_is_skipped_without_being_kept(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    tailer = Tailer(path, max_line=1000, chunk=256)
    append(path, b'{"a":1}\n' + b"x" * 5000)
    batch = tailer.read()
    assert batch.lines == [(1, b'{"a":1}')]
    assert batch.skipped == [2]
    assert len(tailer._pending) == 0  # nothing of the long line is held
    append(path, b"x" * 5000 + b'\n{"b":2}\n')
    batch = tailer.read()
    assert batch.lines == [(3, b'{"b":2}')]


def test_truncated_file_is_read_again_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    append(path, b'{"a":1}\n{"b":2}\n')
    tailer = Tailer(path)
    tailer.read()
    path.write_bytes(b'{"new":1}\n')
    batch = tailer.read()
    assert batch.reset
    assert batch.lines == [(1, b'{"new":1}')]


def test_replaced_file_is_read_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    append(path, b'{"a":1}\n')
    tailer = Tailer(path)
    tailer.read()
    other = tmp_path / "other"
    other.write_bytes(b'{"x":1}\n{"y":2}\n{"z":3}\n')
    os.replace(other, path)
    batch = tailer.read()
    assert batch.reset
    assert [line for _, line in batch.lines] == [b'{"x":1}', b'{"y":2}', b'{"z":3}']


def test_reads_in_bounded_batches(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    append(path, b'{"n":1}\n' * 10_000)
    tailer = Tailer(path, chunk=1024, max_batch=8 * 1024)
    total, batches = 0, 0
    while True:
        batch = tailer.read()
        batches += 1
        total += len(batch.lines)
        if not batch.more:
            break
    assert total == 10_000
    assert batches > 5


def test_refuses_fifos_and_directories(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(NotAFile):
        Tailer(fifo).read()
    folder = tmp_path / "dir.jsonl"
    folder.mkdir()
    with pytest.raises((NotAFile, IsADirectoryError)):
        Tailer(folder).read()


def test_read_tail_returns_complete_lines_from_the_end(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    lines = [f'{{"n":{i}}}'.encode() for i in range(1000)]
    path.write_bytes(b"\n".join(lines) + b"\n" + b'{"torn":')
    tail = read_tail(path, 100)
    assert not tail.whole_file
    assert tail.lines == lines[-len(tail.lines):]
    assert 0 < len(tail.lines) < 20
    assert tail.end == path.stat().st_size - len(b'{"torn":')
    whole = read_tail(path, 10**9)
    assert whole.whole_file and whole.lines == lines


def test_a_file_rewritten_in_place_is_read_again_from_the_start(tmp_path: Path) -> None:
    """Truncated and written again to the same size or larger (same inode): the old
    offset would mix two files' lines; the changed first bytes say so."""
    path = tmp_path / "s.jsonl"
    append(path, b'{"first":1}\n{"first":2}\n')
    tailer = Tailer(path)
    assert len(tailer.read().lines) == 2
    inode = path.stat().st_ino
    with path.open("r+b") as fh:  # same inode, same size, other content
        fh.write(b'{"other":1}\n{"other":2}\n')
    assert path.stat().st_ino == inode
    batch = tailer.read()
    assert batch.reset and batch.lines == [(1, b'{"other":1}'), (2, b'{"other":2}')]
    with path.open("wb") as fh:  # truncated, then longer than before
        fh.write(b'{"third":1}\n{"third":2}\n{"third":3}\n')
    batch = tailer.read()
    assert batch.reset and [n for n, _ in batch.lines] == [1, 2, 3]
    append(path, b'{"third":4}\n')  # a plain append is no rewrite
    batch = tailer.read()
    assert not batch.reset and batch.lines == [(4, b'{"third":4}')]


def test_a_symlink_is_never_opened(tmp_path: Path) -> None:
    outside = tmp_path / "outside.jsonl"
    outside.write_bytes(b'{"secret":1}\n')
    link = tmp_path / "s.jsonl"
    link.symlink_to(outside)
    with pytest.raises(NotAFile, match="symbolic link"):
        Tailer(link).read()
    with pytest.raises(NotAFile, match="symbolic link"):
        read_tail(link, 1024)
    # Given the inode discovery saw, another file at the path is refused too.
    real = tmp_path / "r.jsonl"
    real.write_bytes(b'{"a":1}\n')
    with pytest.raises(NotAFile, match="replaced"):
        read_tail(real, 1024, inode=real.stat().st_ino + 1)


def test_a_burst_of_tiny_lines_is_handed_out_in_bounded_batches(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    append(path, b"{}\n" * 25_000)
    tailer = Tailer(path, max_lines=10_000)
    sizes = []
    while True:
        batch = tailer.read()
        sizes.append(len(batch.lines))
        if not batch.more:
            break
    assert sizes == [10_000, 10_000, 5_000]
    assert tailer.committed_offset == path.stat().st_size
    append(path, b'{"a":1}\n')
    assert tailer.read().lines == [(25_001, b'{"a":1}')]


def test_a_tailer_started_from_the_tail_still_notices_a_rewrite(tmp_path: Path) -> None:
    """Found under load: a file discovered after it was written gets its tailer from
    read_tail, at an offset, without a first read of its own; a rewrite in place to a
    larger size was then read from the old offset (the middle of a new line)."""
    path = tmp_path / "s.jsonl"
    append(path, b'{"old":1}\n{"old":2}\n')
    tail = read_tail(path, 1024)
    tailer = Tailer(path, offset=tail.end, inode=tail.inode, line_no=None, head=tail.head)
    with path.open("wb") as fh:
        fh.write(b'{"new":1}\n{"new":2}\n{"new":3}\n')
    batch = tailer.read()
    assert batch.reset and [raw for _, raw in batch.lines] == [b'{"new":1}', b'{"new":2}', b'{"new":3}']
