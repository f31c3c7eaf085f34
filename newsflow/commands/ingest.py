"""`newsflow ingest`: the ingest job, batch or ``--streaming``, with a summary at the end.

Every flag goes to the launcher (``pipelines/launcher.py``), which refuses unknown ones and
lists them all with ``--help``; Beam's own flags (``--runner``, ``--flink_master``, ...) pass.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "ingest", add_help=False,
        help="run the ingest job (feeds → Elasticsearch), batch or --streaming; --help lists "
        "its flags",
    )
    p.set_defaults(func=run, pass_through=True)


def run(args: argparse.Namespace) -> int:
    from pipelines import launcher

    return launcher.main(args.rest)
