import pytest

from tests.fakes.cellcast import FakeCellcast


@pytest.fixture
def cellcast():
    fake = FakeCellcast().start()
    yield fake
    fake.stop()
