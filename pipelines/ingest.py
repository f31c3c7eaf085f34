"""The ingest job's entry point: ``python -m pipelines.ingest [flags]``, as ``newsflow ingest``.

Argument handling and the run are the launcher's (``pipelines/launcher.py``); the pipeline is
``pipelines/pipeline.py``; ``--help`` lists every flag.
"""

from __future__ import annotations

import logging
import sys

from pipelines.runners import quiet_runner_logs


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    quiet_runner_logs()  # before Beam is imported
    from pipelines import launcher

    return launcher.main(sys.argv[1:] if argv is None else argv, prog="python -m pipelines.ingest")


if __name__ == "__main__":
    sys.exit(main())
