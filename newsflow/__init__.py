"""newsflow: news feeds to a searchable, de-duplicated Elasticsearch archive, with Apache Beam.

This package holds the pure logic (HTTP politeness, extraction, dates, fingerprints) and the
``newsflow`` command. The Beam transforms live in ``transforms/``, the pipelines in
``pipelines/`` and the records and index template in ``schemas/``.
"""

__version__ = "0.1.0"
