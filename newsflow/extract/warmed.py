"""Importing this module warms extraction up (:func:`newsflow.extract.warm_up`).

It is what an extraction pool's fork server preloads (``newsflow.extract.pool``): the server
loads the extractors and the language model once, and every worker forked from it starts warm,
instead of each worker paying about a second of CPU for the same imports and model.
"""

from newsflow.extract import warm_up

warm_up()
