"""Compatibility shim: hooks installed by earlier releases run `python -m sessiond.hook_forward`.

The forwarder lives in `sessiond.hooks.forward`; this keeps those installed hooks working
until `sessiond hooks install` rewrites them.
"""

from sessiond.hooks.forward import main

if __name__ == "__main__":
    raise SystemExit(main())
