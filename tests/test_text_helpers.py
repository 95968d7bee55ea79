"""The shared text helpers: one duration format and one version parser for everything."""

from __future__ import annotations

from datetime import timedelta

from sessiond.protocol import duration_text
from sessiond.sources.plugin import parse_version


def test_durations_read_in_seconds_then_minutes_then_optionally_hours() -> None:
    assert duration_text(timedelta(seconds=-3)) == "0 s"
    assert duration_text(timedelta(seconds=119)) == "119 s"
    assert duration_text(timedelta(seconds=120)) == "2 min"
    assert duration_text(timedelta(hours=3)) == "180 min"
    assert duration_text(timedelta(hours=3), hours=True) == "3 h"
    assert duration_text(timedelta(minutes=90), hours=True) == "90 min"


def test_versions_from_a_cli_banner_or_a_transcript_field() -> None:
    assert parse_version("2.1.240 (Claude Code)") == (2, 1, 240)
    assert parse_version("2.0.76") == (2, 0, 76)
    assert parse_version("codex-cli 0.46") == (0, 46)
    assert parse_version("1.2.3.4") == (1, 2, 3)
    assert parse_version("no version here") is None
