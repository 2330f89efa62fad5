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
def honour_verify(monkeypatch):
    """requests lets these variables override Session.verify, which would make
    msal's verify= (and so the lab's CA) silently ignored."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


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


# -- the secrets canary ----------------------------------------------------------
# Every access and refresh token the in-process labs issue is remembered; at
# the end of the run, every captured output and log of the whole suite, and
# every file the tests left behind, is searched for them, for the token keys
# and for the administrator passwords the tests set. One hit fails the run.

ISSUED: set[str] = set()
# Administrator passwords the tests set (the default one is public).
ADMIN_PASSWORDS = {"s3cret-pass", "New-passw0rd"}
_OUTPUTS: list[str] = []


@pytest.fixture(autouse=True, scope="session")
def _record_issued_tokens():
    from panel.lab.store import LabStore

    original = LabStore.save_token

    def save_token(self, *, access_token, refresh_token, **kwargs):
        ISSUED.add(access_token)
        if refresh_token:
            ISSUED.add(refresh_token)
        return original(self, access_token=access_token, refresh_token=refresh_token, **kwargs)

    LabStore.save_token = save_token
    yield
    LabStore.save_token = original


def pytest_runtest_logreport(report):
    _OUTPUTS.extend(text for _, text in report.sections)
    if report.longrepr is not None:
        _OUTPUTS.append(str(report.longrepr))


def pytest_sessionfinish(session, exitstatus):
    texts = list(_OUTPUTS)
    base = session.config._tmp_path_factory.getbasetemp()
    keys = {p.read_text().strip() for p in base.rglob("token.key")}
    secrets = ISSUED | keys | ADMIN_PASSWORDS
    scanned = 0
    for path in base.rglob("*"):
        if path.is_file() and path.name != "token.key" and path.stat().st_size < 20_000_000:
            texts.append(path.read_bytes().decode("latin-1"))
            scanned += 1
    leaks = sorted({t[:6] + "…" for t in secrets for text in texts if t in text})
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"secrets canary: {len(ISSUED)} issued tokens, {len(keys)} token keys and "
                            f"{len(ADMIN_PASSWORDS)} administrator passwords searched in {len(_OUTPUTS)} captured "
                            f"outputs and {scanned} files: {len(leaks)} found")
    if leaks:
        session.exitstatus = 1
        if reporter is not None:
            reporter.write_line(f"TOKEN VALUES LEAKED into test output or files: {leaks}", red=True)
