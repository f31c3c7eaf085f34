"""Elements held with their window and timestamp until a batch is full or the bundle ends.

A DoFn that batches work (fingerprints, story lookups, bulk writes) emits a result when its
batch is done: in a later ``process`` call or in ``finish_bundle``, where Beam knows no current
element. Each result therefore goes out as a ``WindowedValue`` carrying its own element's window
and timestamp (``windowed``), or a streaming job would lose its windows. Make a new buffer in
``start_bundle``.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from apache_beam.pvalue import TaggedOutput
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

T = TypeVar("T")
# An element held: (the element, its window, its timestamp).
Held = tuple[T, Any, Any]


class WindowedBuffer(Generic[T]):
    """Up to ``max_items`` elements (and ``max_bytes`` of them, when given) with their windows."""

    def __init__(self, max_items: int, max_bytes: int | None = None) -> None:
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1, got {max_items}")
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._held: list[Held[T]] = []
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._held)

    def fits(self, size: int) -> bool:
        """Whether ``size`` more bytes stay within ``max_bytes`` (an empty buffer takes any)."""
        return self._max_bytes is None or not self._held or self._bytes + size <= self._max_bytes

    def add(self, element: T, window: Any, timestamp: Any, size: int = 0) -> bool:
        """Hold ``element``; True when the buffer is now full (``max_items``): take it."""
        self._held.append((element, window, timestamp))
        self._bytes += size
        return len(self._held) >= self._max_items

    def take(self) -> list[Held[T]]:
        """Everything held, oldest first; the buffer is empty afterwards."""
        held, self._held, self._bytes = self._held, [], 0
        return held


def windowed(value: Any, window: Any, timestamp: Any, tag: str | None = None) -> Any:
    """``value`` in ``window`` at ``timestamp`` (the global window and the earliest time when
    unknown), for the main output or the ``tag`` one."""
    out = WindowedValue(value, MIN_TIMESTAMP if timestamp is None else timestamp,
                        (GlobalWindow() if window is None else window,))
    return TaggedOutput(tag, out) if tag else out
