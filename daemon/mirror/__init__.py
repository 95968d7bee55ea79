"""Logs sessiond keeps for agents that keep none of their own.

The engine follows append-only logs (offsets that survive a restart, catch-up without
repeats, `inspect`, replays). An agent that updates rows in place (OpenCode's SQLite
database, its older JSON files) gets a mirror here: its storage read, read-only, and every
change the rules care about appended to a log under the state dir, which the engine then
tails like any transcript. The records and the rules over them are pure and live with the
agent (`sources/opencode/`); this package is the I/O around them.
"""
