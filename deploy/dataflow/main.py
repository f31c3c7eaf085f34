"""Dataflow flex template entry point: the template launcher runs this file with the parameters.

It builds the job and submits it, then returns (``pipelines.launcher.submit``); Dataflow runs
it. A flex template passes every parameter as ``--name=value``. Beam's ``--streaming`` is a bare
flag, so the template exposes ``streaming=true|false`` and this file turns it into the flag;
everything else reaches the launcher unchanged.
"""

from __future__ import annotations

import sys

from pipelines import launcher


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


def main(argv: list[str]) -> int:
    try:
        launcher.submit(template_argv(argv))
    except launcher.LaunchError as exc:
        print(f"newsflow template: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
