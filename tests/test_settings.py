import pytest
from django.core.exceptions import ImproperlyConfigured

from ethdash.settings import env_bool, env_int, env_list


def test_env_bool_is_strict(monkeypatch):
    monkeypatch.setenv("X", "yes")
    assert env_bool("X", False) is True
    monkeypatch.setenv("X", "0")
    assert env_bool("X", True) is False
    monkeypatch.setenv("X", "maybe")
    with pytest.raises(ImproperlyConfigured):
        env_bool("X", False)
    monkeypatch.delenv("X")
    assert env_bool("X", True) is True


def test_env_int_is_strict(monkeypatch):
    monkeypatch.setenv("N", "12")
    assert env_int("N", 1) == 12
    monkeypatch.setenv("N", "twelve")
    with pytest.raises(ImproperlyConfigured):
        env_int("N", 1)
    monkeypatch.setenv("N", "0")
    with pytest.raises(ImproperlyConfigured):
        env_int("N", 1, minimum=1)


def test_env_list(monkeypatch):
    monkeypatch.setenv("L", " a, b,,c ")
    assert env_list("L", []) == ["a", "b", "c"]


def test_secret_key_required_without_debug():
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup()",
        ],
        env={"PATH": "/usr/bin:/bin", "DEBUG": "0", "DJANGO_SETTINGS_MODULE": "ethdash.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr
