"""Production settings: `check --deploy` clean with the environment docs/deploy.md gives, secure
cookies by default without DEBUG, the Content Security Policy and templates it can hold to,
and who may read the API schema and docs."""

import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

from tests.factories import logged_in

ROOT = Path(__file__).resolve().parent.parent


def _documented_environment() -> dict[str, str]:
    """The variables of docs/deploy.md's "Environment" block, comments stripped."""
    text = (ROOT / "docs" / "deploy.md").read_text()
    block = text.split("## Environment", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    env = {}
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, value = line.partition("=")
            env[name.strip()] = value.strip()
    return env


def _run_django(tmp_path, env_vars, *args):
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "ethdash.settings",
        "ETHDASH_DATA_DIR": str(tmp_path / "data"),
        "STATIC_ROOT": str(tmp_path / "static"),
        **env_vars,
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_production_environment(tmp_path):
    env = _documented_environment()
    assert env["SECURE_HSTS_SECONDS"] and env["SECURE_PROXY_SSL_HEADER"]
    env["SECRET_KEY"] = secrets.token_urlsafe(50)  # the block's "..." stands for one
    env["DEBUG"] = "0"
    result = _run_django(tmp_path, env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_cookies_are_secure_by_default_without_debug(tmp_path):
    show = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER)"
    )
    off = _run_django(tmp_path, {"DEBUG": "0", "SECRET_KEY": "k" * 60}, "-c", show)
    assert off.stdout.split() == ["True", "True", "None"], off.stderr
    lan = _run_django(
        tmp_path,
        {
            "DEBUG": "0",
            "SECRET_KEY": "k" * 60,
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
        },
        "-c",
        show,
    )
    assert lan.stdout.split() == ["False", "False", "('HTTP_X_FORWARDED_PROTO',", "'https')"]


def test_a_rate_that_is_no_rate_fails_at_start_up(tmp_path):
    result = _run_django(
        tmp_path,
        {"DEBUG": "0", "SECRET_KEY": "k" * 60, "ETHDASH_THROTTLE_API": "lots"},
        "-c",
        "import django; django.setup()",
    )
    assert result.returncode != 0 and "ETHDASH_THROTTLE_API='lots' is not a rate" in result.stderr


# -- Content Security Policy -------------------------------------------------------------------


def test_pages_carry_a_policy_without_inline_script_or_outside_origin(alpha):
    response = logged_in(alpha.owner).get("/")
    policy = response["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives["script-src"] == ["'self'"]
    assert directives["default-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "http" not in policy  # no outside origin anywhere
    assert Client().get("/accounts/login/")["Content-Security-Policy"] == policy


def _templates():
    dirs = [ROOT / "templates", *ROOT.glob("*/templates")]
    return [path for directory in dirs for path in directory.rglob("*.html")]


SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.I)


@pytest.mark.parametrize("path", _templates(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_template_has_inline_script_handlers_or_style_attributes(path):
    text = path.read_text()
    for attributes in SCRIPT_TAG.findall(text):
        # A script is a file; a JSON data block (not run) is allowed.
        assert "src=" in attributes or "application/json" in attributes, attributes
    assert not HANDLER.search(text), HANDLER.search(text)
    assert not STYLE_ATTRIBUTE.search(text), STYLE_ATTRIBUTE.search(text)


def test_the_validator_add_page_refreshes_with_a_script_file(owner_client, alpha):
    html = owner_client.get("/validators/add/").content.decode()
    assert "setTimeout" not in html
    # The paste box is styled by a class, not a style attribute.
    assert 'class="entries"' in html and "style=" not in html


# -- the schema and the API docs ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_the_schema_and_docs_need_a_login_or_a_token_by_default(api, alpha, path):
    assert django_settings.ETHDASH_API_DOCS_PUBLIC is False
    assert Client().get(path).status_code in (401, 403)
    assert logged_in(alpha.viewer).get(path).status_code == 200
    token = alpha.token("read")
    assert api.get(path, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_the_schema_and_docs_are_public_when_a_setting_says_so(settings, path):
    settings.ETHDASH_API_DOCS_PUBLIC = True
    assert Client().get(path).status_code == 200


def test_the_docs_page_loads_its_set_up_script_as_a_file(alpha):
    client = logged_in(alpha.viewer)
    html = client.get("/api/docs/").content.decode()
    for attributes in SCRIPT_TAG.findall(html):
        assert "src=" in attributes, attributes
    assert client.get("/api/docs/?script=").status_code == 200


def test_the_browsable_api_allows_inline_styles_only(alpha):
    response = logged_in(alpha.viewer).get("/api/v1/rigs/", HTTP_ACCEPT="text/html")
    policy = response["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives["style-src"] == ["'self'", "'unsafe-inline'"]
    assert directives["script-src"] == ["'self'"]
    # JSON answers carry the site's policy unchanged.
    json_policy = logged_in(alpha.viewer).get("/api/v1/rigs/", HTTP_ACCEPT="application/json")
    assert "unsafe-inline" not in json_policy["Content-Security-Policy"]


def test_the_schema_documents_429_with_retry_after_on_every_operation(alpha):
    schema = logged_in(alpha.viewer).get("/api/schema/?format=json").json()
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert operations
    for path, method, operation in operations:
        throttled = operation["responses"].get("429")
        assert throttled and "Retry-After" in throttled["headers"], (path, method)
