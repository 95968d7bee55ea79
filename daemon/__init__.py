"""sessiond: a local daemon that tells you when an AI coding agent waits for you."""

__version__ = "0.1.0"
