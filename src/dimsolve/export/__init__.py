"""The front door: wires tracing, spec parsing and the solver together.

``dimsolve.export`` is both this package and the public function ``dimsolve.export(...)``: once a
submodule such as ``dimsolve.export.api`` is imported, Python binds the package to the attribute
``dimsolve.export``, shadowing the function. Making the package module callable keeps
``dimsolve.export(model, args, dynamic_shapes=...)`` working in every import order.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from dimsolve.export.api import export

        return export(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
