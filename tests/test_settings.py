"""Settings from the environment: embedded defaults, every variable, clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import Settings, SettingsError, default_data_dir


def test_defaults_need_nothing() -> None:
    settings = Settings.from_env({})
    assert settings.store == "sqlite"
    assert settings.data_dir == default_data_dir()
    assert settings.session_ttl == 7 * 24 * 3600.0
    assert settings.max_sessions == 10_000
    assert settings.train_seconds == 120.0
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 1)
    assert settings.metrics is True
    assert settings.log_format == "text"


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "BACKPROP_STORE": "memory",
            "BACKPROP_DATA_DIR": "/tmp/bpv",
            "BACKPROP_SESSION_TTL": "60",
            "BACKPROP_MAX_SESSIONS": "5",
            "BACKPROP_TRAIN_SECONDS": "2.5",
            "BACKPROP_HOST": "0.0.0.0",
            "BACKPROP_PORT": "8080",
            "BACKPROP_WORKERS": "4",
            "BACKPROP_METRICS": "0",
            "BACKPROP_LOG_FORMAT": "json",
            "BACKPROP_PUBLIC_URL": "https://backprop.example.org/course/",
        }
    )
    assert settings == Settings(
        "memory",
        Path("/tmp/bpv"),
        60.0,
        5,
        2.5,
        "0.0.0.0",
        8080,
        4,
        False,
        "json",
        public_url="https://backprop.example.org/course",
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("Yes", True),
        ("ON", True),
        ("0", False),
        ("false", False),
        ("no", False),
        ("off", False),
        ("", True),
    ],
)
def test_metrics_switch_reads_the_usual_spellings(raw: str, expected: bool) -> None:
    assert Settings.from_env({"BACKPROP_METRICS": raw}).metrics is expected


def test_the_abuse_settings_are_read() -> None:
    defaults = Settings.from_env({})
    assert (defaults.train_slots, defaults.rate_limit) == (2, "120/minute")
    assert (defaults.trusted_proxies, defaults.public_url) == ((), "")
    settings = Settings.from_env(
        {
            "BACKPROP_TRAIN_SLOTS": "4",
            "BACKPROP_RATE_LIMIT": "30 per 10 seconds",
            "BACKPROP_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7 ::1",
            "BACKPROP_PUBLIC_URL": "https://example.org/backprop/",
        }
    )
    assert (settings.train_slots, settings.rate_limit) == (4, "30 per 10 seconds")
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "192.168.1.7/32", "::1/128"]
    assert settings.public_url == "https://example.org/backprop"
    assert Settings.from_env({"BACKPROP_RATE_LIMIT": "0"}).rate_limit == ""


@pytest.mark.parametrize(
    "url",
    [
        "redis://cache:6379/0",
        "redis://127.0.0.1:6380/2",
        "redis://cache",
        "rediss://user:secret@cache:6380/1",
    ],
)
def test_a_redis_url_chooses_the_redis_store(url: str) -> None:
    settings = Settings.from_env({"BACKPROP_STORE": url})
    assert (settings.store, settings.redis_url) == ("redis", url)
    assert Settings.from_env({}).redis_url == ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://192.168.1.20:8000", "http://192.168.1.20:8000"),
        ("https://backprop.example.org/", "https://backprop.example.org"),
        ("https://example.org/backprop", "https://example.org/backprop"),
        ("", ""),
    ],
)
def test_the_public_url_is_kept_without_its_trailing_slash(raw: str, expected: str) -> None:
    assert Settings.from_env({"BACKPROP_PUBLIC_URL": raw}).public_url == expected
    assert Settings.from_env({}).public_url == ""


def test_xdg_data_home_moves_the_default_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", "/srv/data")
    assert default_data_dir() == Path("/srv/data/backprop-viz")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"BACKPROP_STORE": "redis"},
            "BACKPROP_STORE='redis': choose 'sqlite', 'memory' or redis://host:port/db",
        ),
        (
            {"BACKPROP_STORE": "redis://cache:63a/0"},
            "BACKPROP_STORE='redis://cache:63a/0': the port is not a number from 0 to 65535",
        ),
        (
            {"BACKPROP_STORE": "redis://cache:6379/zero"},
            "BACKPROP_STORE='redis://cache:6379/zero': use redis://host:port/db (db a number, default 0)",
        ),
        (
            {"BACKPROP_STORE": "redis:///0"},
            "BACKPROP_STORE='redis:///0': use redis://host:port/db (db a number, default 0)",
        ),
        ({"BACKPROP_SESSION_TTL": "soon"}, "BACKPROP_SESSION_TTL='soon' is not a number"),
        ({"BACKPROP_MAX_SESSIONS": "0"}, "BACKPROP_MAX_SESSIONS='0' must be at least 1"),
        ({"BACKPROP_TRAIN_SECONDS": "-1"}, "BACKPROP_TRAIN_SECONDS='-1' must be at least 1"),
        ({"BACKPROP_PORT": "http"}, "BACKPROP_PORT='http' is not a whole number"),
        ({"BACKPROP_PORT": "80.5"}, "BACKPROP_PORT='80.5' is not a whole number"),
        ({"BACKPROP_PORT": "0"}, "BACKPROP_PORT='0' must lie in 1..65535"),
        ({"BACKPROP_PORT": "65536"}, "BACKPROP_PORT='65536' must lie in 1..65535"),
        ({"BACKPROP_WORKERS": "0"}, "BACKPROP_WORKERS='0' must lie in 1..64"),
        ({"BACKPROP_METRICS": "maybe"}, "BACKPROP_METRICS='maybe': use 1 or 0 (true/false, yes/no, on/off)"),
        ({"BACKPROP_LOG_FORMAT": "xml"}, "BACKPROP_LOG_FORMAT='xml': choose 'text' or 'json'"),
        ({"BACKPROP_TRAIN_SLOTS": "0"}, "BACKPROP_TRAIN_SLOTS='0' must lie in 1..64"),
        (
            {"BACKPROP_RATE_LIMIT": "lots"},
            "BACKPROP_RATE_LIMIT='lots': use a count per period, e.g. 120/minute (0: no limit)",
        ),
        (
            {"BACKPROP_TRUSTED_PROXIES": "10.0.0.0/8, proxy.local"},
            "BACKPROP_TRUSTED_PROXIES: 'proxy.local' is not an address or a network such as 10.0.0.0/8",
        ),
        (
            {"BACKPROP_PUBLIC_URL": "backprop.example.org"},
            "BACKPROP_PUBLIC_URL='backprop.example.org': use the address people open, "
            "e.g. https://backprop.example.org",
        ),
        (
            {"BACKPROP_PUBLIC_URL": "https://example.org:99999"},
            "BACKPROP_PUBLIC_URL='https://example.org:99999': the port is not a number from 0 to 65535",
        ),
        (
            {"BACKPROP_PUBLIC_URL": "ftp://example.org"},
            "BACKPROP_PUBLIC_URL='ftp://example.org': use the address people open, "
            "e.g. https://backprop.example.org",
        ),
        (
            {"BACKPROP_PUBLIC_URL": "https://example.org/?x=1"},
            "BACKPROP_PUBLIC_URL='https://example.org/?x=1': use the address people open, "
            "e.g. https://backprop.example.org",
        ),
        (
            {"BACKPROP_PUBLIC_URL": "http://example.org:99999"},
            "BACKPROP_PUBLIC_URL='http://example.org:99999': the port is not a number from 0 to 65535",
        ),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert str(caught.value) == message


def test_allowed_origins_are_read_as_browsers_send_them() -> None:
    settings = Settings.from_env(
        {"BACKPROP_ALLOWED_ORIGINS": " https://LMS.example.edu, http://localhost:8888,,http://[::1]:9000 "}
    )
    assert settings.allowed_origins == (
        "https://lms.example.edu",
        "http://localhost:8888",
        "http://[::1]:9000",
    )
    assert Settings.from_env({}).allowed_origins == ()


@pytest.mark.parametrize(
    "origin",
    ["*", "null", "lms.example.edu", "https://lms.example.edu/", "https://lms.example.edu/course", "ftp://x"],
)
def test_an_allowed_origin_that_is_no_origin_is_refused(origin: str) -> None:
    with pytest.raises(SettingsError, match=r"BACKPROP_ALLOWED_ORIGINS: .* is not an origin"):
        Settings.from_env({"BACKPROP_ALLOWED_ORIGINS": f"https://ok.example,{origin}"})


def test_frame_ancestors_are_read_comma_or_space_separated() -> None:
    settings = Settings.from_env(
        {"BACKPROP_FRAME_ANCESTORS": "'self' https://lms.example.edu,https://*.jupyter.example:*"}
    )
    assert settings.frame_ancestors == ("'self'", "https://lms.example.edu", "https://*.jupyter.example:*")
    assert settings.framed_by_others
    assert not Settings.from_env({"BACKPROP_FRAME_ANCESTORS": "'self'"}).framed_by_others
    assert Settings.from_env({}).frame_ancestors == ()


@pytest.mark.parametrize(
    "source", ["*", "'none'", "https://a.example; script-src *", "https://a.example/path", "data:"]
)
def test_a_frame_ancestor_this_server_does_not_take_is_refused(source: str) -> None:
    with pytest.raises(SettingsError, match="BACKPROP_FRAME_ANCESTORS"):
        Settings.from_env({"BACKPROP_FRAME_ANCESTORS": source})
