"""A second SIGTERM while opskit is already stopping must not cut its clean-up short."""

import signal

import pytest

from opskit import cli


def test_only_the_first_sigterm_interrupts(monkeypatch):
    monkeypatch.setattr(cli, "_SIGNALLED", [])
    with pytest.raises(KeyboardInterrupt):
        cli._terminate(signal.SIGTERM, None)
    assert cli._terminate(signal.SIGTERM, None) is None  # the repeat is recorded once and ignored
    assert cli._SIGNALLED == [signal.SIGTERM]


def test_once_stopping_later_signals_are_ignored(monkeypatch):
    seen = {}
    monkeypatch.setattr(cli.signal, "signal", lambda sig, handler: seen.__setitem__(sig, handler))
    cli._stopping()
    assert seen == {signal.SIGINT: signal.SIG_IGN, signal.SIGTERM: signal.SIG_IGN}
