"""pacabench's pytest plugin (registered through the ``pytest11`` entry point): the ``pacabench``
fixture, so a project's tests can assert what their attention costs without an import. Importing
this module imports nothing heavy; torch loads when a test uses the fixture."""
import pytest


@pytest.fixture
def pacabench():
    """:mod:`pacabench.testing`: ``pacabench.assert_scaling(target, "linear")``,
    ``pacabench.assert_gmacs(target, expected, rel=...)``."""
    from pacabench import testing

    return testing
