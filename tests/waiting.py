"""Waiting for a condition in tests: poll it, never sleep a fixed time before a check."""

from __future__ import annotations

import time
from typing import Any


def wait_for(predicate: Any, timeout: float = 20.0) -> Any:
    """The first truthy value of `predicate()`, polled every 50 ms; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not true after {timeout} s")
