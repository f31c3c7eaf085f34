"""Dataflow flex template entry point: the template launcher runs this file with the parameters.

A flex template passes every parameter as ``--name=value``. Beam's ``--streaming`` is a bare flag,
so the template exposes ``streaming=true|false`` and this file turns it into the flag; everything
else goes to ``newsflow ingest`` (``pipelines/ingest.py``) unchanged.
"""

from __future__ import annotations

import sys

from pipelines.ingest import main as ingest_main


def template_argv(argv: list[str]) -> list[str]:
    """``--streaming=true`` becomes ``--streaming``; ``--streaming=false`` is dropped."""
    out: list[str] = []
    for arg in argv:
        if arg.startswith("--streaming="):
            value = arg.split("=", 1)[1].strip().lower()
            if value in ("true", "1", "yes"):
                out.append("--streaming")
            elif value not in ("false", "0", "no", ""):
                raise SystemExit(f"streaming must be true or false, got {value!r}")
        else:
            out.append(arg)
    return out


if __name__ == "__main__":
    sys.exit(ingest_main(template_argv(sys.argv[1:])))
