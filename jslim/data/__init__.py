"""Datasets for ``--dataset_name`` and the batch iterators the train loop takes.

- :mod:`jslim.data.registry`: dataset name -> loader of one split (slim's
  ``dataset_factory``); ``digits`` (scikit-learn's bundled handwritten digits) is built in.
- :mod:`jslim.data.preprocessing`: slim's preprocessing functions by name.
- :mod:`jslim.data.loader`: :class:`Batches`, a resumable iterator of
  ``{'images', 'labels'}`` batches (each process reading its own rows).

The train loop takes any iterator of such batches; an iterator with
``get_state()``/``set_state()`` also resumes at the right batch.
"""

__all__ = ["Batches", "Dataset", "Source", "get_dataset", "get_preprocessing", "list_datasets", "register_dataset"]

from jslim.data.loader import Batches
from jslim.data.preprocessing import get_preprocessing
from jslim.data.registry import Dataset, Source, get_dataset, list_datasets, register_dataset
