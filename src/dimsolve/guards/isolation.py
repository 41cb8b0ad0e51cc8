"""Every export dimsolve runs sees the same process state, so one input gives one report.

The model runs while torch traces it (non-strict export is plain Python; real-tensor propagation
runs its ops on the example's values), so two kinds of process state reach the guards:

- random numbers: ``torch.randn`` or ``Distribution.sample()`` in ``forward`` draw from torch's
  global generator, which torch seeds differently in every process, so a data-dependent branch on
  a random value went either way from one run to the next. Each export draws from a generator
  seeded with ``SEED`` (Python's ``random`` and NumPy's too), and the caller's generators are
  restored afterwards, as if dimsolve had drawn nothing.
- ``torch.distributions.Distribution``'s default argument validation: dynamo's ``TorchPatcher``
  turns it off for the rest of the process the first time it runs (exporting a ``torch.cond``
  model does), so a model with a distribution validated its arguments or not depending on what the
  process exported before. Each export leaves it as it found it.
"""

from __future__ import annotations

import contextlib
import random
import sys
from collections.abc import Iterator

SEED = 0


@contextlib.contextmanager
def _numpy_seeded() -> Iterator[None]:
    numpy = sys.modules.get("numpy")
    if numpy is None:  # the model cannot use NumPy's generator without importing NumPy first
        yield
        return
    state = numpy.random.get_state()
    numpy.random.seed(SEED)
    try:
        yield
    finally:
        numpy.random.set_state(state)


@contextlib.contextmanager
def isolated() -> Iterator[None]:
    """Seed torch's CPU generator, Python's and NumPy's with ``SEED`` for the block and keep
    ``Distribution``'s default validation as it was; restore all of them afterwards.

    >>> with isolated():                  # doctest: +SKIP
    ...     torch.export.export(model, args, dynamic_shapes=spec)
    """
    import torch
    from torch.distributions import Distribution

    validate = Distribution._validate_args
    python_state = random.getstate()
    with torch.random.fork_rng(devices=[]), _numpy_seeded():
        torch.random.default_generator.manual_seed(SEED)
        random.seed(SEED)
        try:
            yield
        finally:
            Distribution._validate_args = validate
            random.setstate(python_state)
