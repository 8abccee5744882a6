"""Shared pytest fixtures for the textmine suites."""
import os
import socket

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# the Pythons the tests start read and print UTF-8 (on Windows they would use the locale's code page)
os.environ.setdefault("PYTHONUTF8", "1")


def pytest_configure(config):
    config.addinivalue_line("markers", "docs: builds the documentation site and reads it in headless Chromium")


class NetworkAccessed(RuntimeError):
    "Raised when code under test opens a network connection."


@pytest.fixture
def no_network(monkeypatch):
    "Make every attempt to open a network connection fail loudly."
    def refuse(*args, **kwargs):
        raise NetworkAccessed(f"network access attempted: {args[1:] or kwargs}")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield
