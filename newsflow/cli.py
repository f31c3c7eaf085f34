"""The ``newsflow`` command: one entry point for every subcommand.

Each subcommand lives in ``newsflow/commands/<name>.py`` and exposes ``register(subparsers)``,
which adds its parser and sets ``func``. Command modules import their heavy dependencies inside
the function that runs, so ``newsflow --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from pipelines.runners import quiet_runner_logs

# (subcommand, module in newsflow.commands) in the order `newsflow --help` lists them.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("run", "run"),
    ("ingest", "ingest"),
    ("search", "search"),
    ("feeds", "feeds"),
    ("extract", "extract"),
    ("dedupe", "dedupe"),
    ("deadletters", "deadletters"),
    ("es", "es"),
    ("flink", "flink"),
    ("kibana", "kibana"),
    ("demo", "demo"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsflow",
        description="News feeds to a searchable, de-duplicated Elasticsearch archive.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for _name, module in COMMANDS:
        try:
            mod = importlib.import_module(f"newsflow.commands.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"newsflow.commands.{module}":
                raise
            continue  # not built yet
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    quiet_runner_logs()
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.verbose:
        logging.getLogger().setLevel(logging.DEBUG)
    if not args.verbose:
        # The client logs every retry with a traceback; our commands report one clear error.
        logging.getLogger("elastic_transport").setLevel(logging.CRITICAL)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if rest and not getattr(args, "pass_through", False):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if getattr(args, "pass_through", False):
        args.rest = rest
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
