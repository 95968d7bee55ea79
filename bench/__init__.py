"""sessiond's benchmark: the real daemon as a subprocess, measured from outside.

`python -m bench` runs everything and prints each figure beside its target (issue 9);
`python -m bench --smoke` runs tiny sizes with no thresholds, to prove the harness works.
Results go to `bench/results/<timestamp>.json`. Numbers are for people, never a test.
"""
