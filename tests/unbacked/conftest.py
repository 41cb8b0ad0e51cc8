from __future__ import annotations

import pytest
from unbacked_cases import ALL
from unbacked_support import Runner


@pytest.fixture(scope="session")
def unbacked_runner(tmp_path_factory: pytest.TempPathFactory) -> Runner:
    """Each case's model file, dimsolve report and patched model, computed once per session."""
    return Runner(tmp_path_factory.mktemp("unbacked_models"), ALL)
