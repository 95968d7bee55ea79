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
