"""WriteDeadLetters: every failed record as a JSON line in one file a user can read.

The one place dead letters leave a job. A batch job writes the file once, at its end (Beam's
``WriteToText``, one shard). A streaming job never ends, so it appends each failure as it comes,
flushed at once; with several workers give each its own path (one place to change when dead
letters move to a file sink that streams).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import apache_beam as beam
import orjson
from apache_beam.transforms.window import GlobalWindows

from schemas.records import Failure

__all__ = ["WriteDeadLetters"]


class WriteDeadLetters(beam.PTransform):
    """Write ``Failure`` records to ``path`` as JSON lines (``Failure.to_dict()``).

    Input: ``PCollection[Failure]``, in any windowing. Output: none (``PDone``-like). No
    counters: the file is the record.
    """

    def __init__(self, path: str, *, streaming: bool) -> None:
        super().__init__()
        if not path:
            raise ValueError("WriteDeadLetters needs a path")
        self._path = path
        self._streaming = streaming

    def expand(self, failures: beam.PCollection[Failure]) -> Any:
        if self._streaming:
            return (
                failures
                | "Unwindow" >> beam.WindowInto(GlobalWindows())
                | "Append as JSON lines" >> beam.ParDo(_AppendJsonLinesFn(self._path))
            )
        return (
            failures
            | "To JSON" >> beam.Map(lambda f: orjson.dumps(f.to_dict()).decode())
            | "Write" >> beam.io.WriteToText(self._path, shard_name_template="", num_shards=1)
        )


class _AppendJsonLinesFn(beam.DoFn):
    """Append each failure to a JSON-lines file, flushed at once (no end-of-job write)."""

    def __init__(self, path: str) -> None:
        self._path = path

    def setup(self) -> None:
        self._file: IO[bytes] | None = open(self._path, "ab")  # noqa: SIM115 - closed in teardown

    def teardown(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def process(self, failure: Failure) -> Iterator[Any]:
        assert self._file is not None
        self._file.write(orjson.dumps(failure.to_dict()) + b"\n")
        self._file.flush()
        return iter(())
