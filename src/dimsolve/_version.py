"""dimsolve's version, in a module below every package: ``export/``, ``service/`` and ``cli/`` read it
from here, not from the package root (which would be an import up the layering)."""

__version__ = "0.1.0"
