"""Fixtures: a fresh data directory, a real lab provider on loopback, a Core."""

from __future__ import annotations

import pytest

from panel.core import Core


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def lab(data_dir):
    from panel.lab import LabServer

    server = LabServer(data_dir, port=0, interval=1)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def core(data_dir):
    c = Core(data_dir)
    yield c
    c.close()


@pytest.fixture
def lab_core(core, lab):
    """A Core set up for OAuth 2.0 with the lab provider and its printer account."""
    core.update_settings({"smtp.auth": "oauth2", "pop.auth": "oauth2", "oauth.provider": "lab",
                          "oauth.account": "printer@lab.test"})
    return core
