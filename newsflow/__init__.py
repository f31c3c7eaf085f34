"""newsflow: news feeds to a searchable, de-duplicated Elasticsearch archive, with Apache Beam.

This package holds the pure logic (HTTP politeness, extraction, dates, fingerprints), with no
Beam in it, and the ``newsflow`` command (``cli.py``, ``commands/``). The Beam transforms live in
``transforms/``, the pipelines and their launcher in ``pipelines/``, the records and index
template in ``schemas/``, this machine's set-up (local node, runners, demo site) in ``local/``.
"""

__version__ = "0.1.0"
