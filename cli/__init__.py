"""The `sessiond` command line: parses options, then calls plain functions."""
