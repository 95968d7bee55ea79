"""Several machines, one board: this machine's changes to a Redis stream, and every
other machine's from it (`wire`: the entries, pure; `link`: the I/O)."""
