"""Nobody sees or touches another farm's objects, on every route of the project.

The routes are read from the URL resolver, so a new route is checked without anyone remembering
it. A route that takes an object (a path parameter, or a query parameter listed in
QUERY_OBJECTS) is requested with ANOTHER farm's object, with every method its view takes, as a
logged-in member and with a Bearer token of the requesting farm: the answer must be 404, exactly
as for an object that does not exist. The same request with the requester's own object must not
be 404, or the 404s would prove nothing. A route without parameters (lists, forms, exports) must
not show the other farm's names. Anonymous requests get 401/403 (API) or a redirect to the login
page. A parameter this file does not know fails the test until it is added to OBJECT_OF_PARAMETER
or the route to EXEMPT with the reason.
"""

from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import transaction
from django.shortcuts import resolve_url
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import ApiToken, Farm, Membership
from alerts.models import Alert, AlertRule, NotificationChannel
from ethdash import health, registry
from pools.models import Pool, PoolAccount
from rigs.models import Gpu, Rig
from tests.factories import (
    AlertFactory,
    AlertRuleFactory,
    ApiTokenFactory,
    BeaconNodeFactory,
    MevRelayFactory,
    NotificationChannelFactory,
    PayoutFactory,
    PoolAccountFactory,
    PoolFactory,
    ValidatorFactory,
    ValidatorGroupFactory,
    logged_in,
    make_farm,
)
from validators.models import BeaconNode, MevRelay, Validator, ValidatorGroup

# The format suffix routes of DRF take the renderer's name, not an object.
FORMAT = "json"
# Which of the other farm's objects fills a parameter, by (route name, parameter).
OBJECT_OF_PARAMETER = {
    ("farm-settings", "pk"): Farm,
    ("token-revoke", "pk"): ApiToken,
    ("rigs:detail", "pk"): Rig,
    ("rigs:edit", "pk"): Rig,
    ("rigs:gpu-detail", "pk"): Gpu,
    ("rigs:hive-password", "pk"): Rig,
    ("rigs:hive-config", "pk"): Rig,
    ("pools:detail", "pk"): PoolAccount,
    ("pools:pool", "pk"): Pool,
    ("validator-detail", "pk"): Validator,
    ("validator-income-csv", "pk"): Validator,
    ("validator-group", "pk"): ValidatorGroup,
    ("validator-group-income-csv", "pk"): ValidatorGroup,
    ("beacon-node-delete", "pk"): BeaconNode,
    ("mev-relay-delete", "pk"): MevRelay,
    ("rig-detail", "pk"): Rig,
    ("rig-samples", "pk"): Rig,
    ("rig-series", "pk"): Rig,
    ("rig-telemetry", "pk"): Rig,
    ("gpu-detail", "pk"): Gpu,
    ("gpu-series", "pk"): Gpu,
    ("pool-account-detail", "pk"): PoolAccount,
    ("pool-account-payouts", "pk"): PoolAccount,
    ("pool-account-samples", "pk"): PoolAccount,
    ("pool-detail", "pk"): Pool,
    ("pool-stats", "pk"): Pool,
    ("validator-api-detail", "pk"): Validator,
    ("validator-api-days", "pk"): Validator,
    ("validator-api-epochs", "pk"): Validator,
    ("validator-api-proposals", "pk"): Validator,
    ("validator-group-api-detail", "pk"): ValidatorGroup,
    ("beacon-node-api-detail", "pk"): BeaconNode,
    ("mev-relay-api-detail", "pk"): MevRelay,
    ("alerts:acknowledge", "pk"): Alert,
    ("alerts:mute", "pk"): Alert,
    ("alerts:rule-edit", "pk"): AlertRule,
    ("alerts:rule-delete", "pk"): AlertRule,
    ("alerts:channel-edit", "pk"): NotificationChannel,
    ("alerts:channel-delete", "pk"): NotificationChannel,
    ("alerts:channel-test", "pk"): NotificationChannel,
    ("alert-detail", "pk"): Alert,
    ("alert-acknowledge", "pk"): Alert,
    ("alert-mute", "pk"): Alert,
    ("alert-rule-detail", "pk"): AlertRule,
    ("notification-channel-detail", "pk"): NotificationChannel,
    ("notification-channel-test", "pk"): NotificationChannel,
    ("farm-detail", "pk"): Farm,
    ("membership-detail", "pk"): Membership,
    ("token-api-detail", "pk"): ApiToken,
}
# Routes that take a farm's object in the query string; the resolver cannot know them.
QUERY_OBJECTS = {
    "rig-pool-series": {"rig": Rig},
    "beacon-nodes": {"farm": Farm},
}
# Routes that cannot be checked here, by label (name, ".json" for a format suffix variant), with
# the reason. Admin routes are left out as a whole: the
# admin is for the site's staff, who see every farm by design; tests/test_admin.py checks that
# nobody else gets in.
EXEMPT: dict[str, str] = {}

# Routes that answer anonymous requests by design, with the reason.
PUBLIC = {
    "login": "the login page itself",
    "logout": "logging out needs no login (POST only; it ends whatever session there is)",
    "healthz": "the load balancer's health probe, which shows no farm data",
    "readyz": "the readiness probe: its verdict only to anyone but staff, and no farm data",
    "schema": "the OpenAPI description of the API, the same for everyone",
    "api-docs": "the interactive API documentation, the same for everyone",
    "api-root": "the API's table of contents, links only",
    "hive-worker-api": (
        "the Hive OS agent's endpoint: it authenticates by the rig's id and Hive password inside "
        "the JSON-RPC body, not by session or token (rig A's password cannot push to rig B: "
        "rigs/tests/test_hiveos_agent.py); a GET is 405 and shows nothing"
    ),
}
# A plain function view does not declare its methods, so each of these is tried: 405 means the
# view refused the method before looking anything up, and at least one must reach the lookup.
PROBED_METHODS = ("GET", "POST", "PATCH", "DELETE")


@dataclass(frozen=True)
class Route:
    name: str  # namespace:name
    pattern: str
    parameters: tuple
    methods: tuple
    declared: bool  # methods declared by the view (DRF, class-based), not probed
    is_api: bool

    @property
    def label(self):
        return f"{self.name}.{FORMAT}" if "format" in self.parameters else self.name

    @property
    def objects(self):
        """(parameter, model, in the path) for every farm object the route takes."""
        in_path = [(p, (self.name, p)) for p in self.parameters if p != "format"]
        found = [(p, OBJECT_OF_PARAMETER.get(key), True) for p, key in in_path]
        query = [(p, model, False) for p, model in QUERY_OBJECTS.get(self.name, {}).items()]
        return found + query

    def unknown_parameters(self):
        return [p for p, model, _ in self.objects if model is None]


def _methods(callback):
    actions = getattr(callback, "actions", None)  # a DRF viewset: method -> action
    if actions:
        return tuple(sorted(m.upper() for m in actions)), True
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is not None:
        names = [m for m in view_class.http_method_names if m not in ("head", "options")]
        return tuple(m.upper() for m in names if hasattr(view_class, m)), True
    return PROBED_METHODS, False


def _walk(patterns, prefix="", namespace=None, parameters=()):
    for entry in patterns:
        pattern = entry.pattern
        own = tuple(getattr(pattern, "converters", {}) or pattern.regex.groupindex)
        if isinstance(entry, URLResolver):
            if entry.app_name == "admin":
                continue
            inner = ":".join(filter(None, [namespace, entry.namespace])) or None
            yield from _walk(entry.url_patterns, prefix + str(pattern), inner, parameters + own)
        elif isinstance(entry, URLPattern):
            methods, declared = _methods(entry.callback)
            # An unnamed route cannot be reversed: test_every_route_is_covered asks for a name.
            name = entry.name and (f"{namespace}:{entry.name}" if namespace else entry.name)
            yield Route(
                name=name,
                pattern=prefix + str(pattern),
                parameters=parameters + own,
                methods=methods,
                declared=declared,
                is_api=hasattr(entry.callback, "cls"),  # every DRF view carries its class
            )


ROUTES = list(_walk(get_resolver().url_patterns))
_CHECKABLE = [r for r in ROUTES if r.name and r.label not in EXEMPT]
OBJECT_ROUTES = [r for r in _CHECKABLE if r.objects]
PLAIN_ROUTES = [r for r in _CHECKABLE if not r.parameters or r.parameters == ("format",)]


def farm_objects(world):
    """One object of each kind a route can take, in the world's farm, named after the farm."""
    slug = world.farm.name.lower()
    group = ValidatorGroupFactory(farm=world.farm, name=f"{slug}-group")
    validator = ValidatorFactory(
        farm=world.farm, group=group, label=f"{slug}-validator", pubkey=f"0x{slug:f>96}"
    )
    PayoutFactory(account=world.pool_account, tx_hash=f"0x{slug}-payout")
    # A pool only this farm has an account at (a custom pool it entered): no other farm sees it.
    pool = PoolFactory(name=f"{slug}-pool", base_url=f"https://{slug}.example", farm=world.farm)
    PoolAccountFactory(farm=world.farm, pool=pool, login=f"0x{slug}-wallet")
    channel = NotificationChannelFactory(
        farm=world.farm, name=f"{slug}-channel", target=f"{slug}-ops@example.com"
    )
    rule = AlertRuleFactory(farm=world.farm, name=f"{slug}-rule")
    rule.channels.add(channel)
    alert = AlertFactory(
        rule=rule,
        object_id=world.rig.pk,
        object_name=f"{slug}-rig-alert",
        url=f"/rigs/{world.rig.pk}/",
    )
    return {
        Farm: world.farm,
        Membership: world.farm.memberships.get(user=world.viewer),
        ApiToken: ApiTokenFactory(farm=world.farm, name=f"{slug}-token"),
        Rig: world.rig,
        Gpu: world.gpus[0],
        PoolAccount: world.pool_account,
        Pool: pool,
        Validator: validator,
        ValidatorGroup: group,
        BeaconNode: BeaconNodeFactory(farm=world.farm, name=f"{slug}-node"),
        MevRelay: MevRelayFactory(farm=world.farm, name=f"{slug}-relay"),
        Alert: alert,
        AlertRule: rule,
        NotificationChannel: channel,
    }


def url_of(route, objects):
    """The route's URL filled with these objects (model -> object)."""
    path_kwargs = {p: objects[model].pk for p, model, in_path in route.objects if in_path}
    if "format" in route.parameters:
        path_kwargs["format"] = FORMAT
    url = reverse(route.name, kwargs=path_kwargs)
    # A list is also requested bare (no objects given): then its query stays empty.
    query = {p: objects[m].pk for p, m, in_path in route.objects if not in_path and m in objects}
    return f"{url}?{urlencode(query)}" if query else url


@pytest.fixture(autouse=True)
def _background_alive():
    """Beat, a worker and every listener beat a moment ago, so /readyz answers 200 here and
    its body is checked like any other page's (tests/test_health.py tests its failures)."""
    health.record_beat_tick()
    health.record_worker_run("celery@test")
    for listener in registry.listeners():
        health.record_listener_alive(listener.name)


@pytest.fixture(scope="module")
def farms(django_db_setup, django_db_blocker):
    """Two farms built once for the module, rolled back at its end (each test adds its own
    savepoint, so what a request changes is undone after the test)."""
    fast_hasher = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with (
        django_db_blocker.unblock(),
        override_settings(PASSWORD_HASHERS=fast_hasher),
        transaction.atomic(),
    ):
        own, other = make_farm("Alpha"), make_farm("Zulu")
        yield SimpleNamespace(
            own=own,
            # One session for the module: logging in anew for each test costs more than the test.
            session=logged_in(own.owner),
            own_objects=farm_objects(own),
            other_objects=farm_objects(other),
            token=own.token(*ApiToken.Scope.values),
            # Every name of the other farm's objects carries it; its validator's key too.
            marker="zulu",
        )
        transaction.set_rollback(True)


def _request(client, method, url, *, token=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    data = "{}" if method != "GET" else None
    send = getattr(client, method.lower())
    if data is None:
        return send(url, **headers)
    return send(url, data, content_type="application/json", **headers)


def _as(farms, auth):
    if auth == "session":
        return farms.session, None
    return Client(), farms.token if auth == "token" else None


def _auths(route):
    return ("session", "token") if route.is_api else ("session",)


def _cases(routes, *, public_too=False):
    return [
        pytest.param(route, auth, id=f"{route.label}-{auth}")
        for route in routes
        for auth in _auths(route) + (("anonymous",) if public_too and route.name in PUBLIC else ())
    ]


@pytest.mark.parametrize(("route", "auth"), _cases(OBJECT_ROUTES))
def test_another_farms_object_is_404(db, farms, route, auth):
    unknown = route.unknown_parameters()
    assert not unknown, (
        f"{route.pattern} ({route.name}) takes {unknown}: add to OBJECT_OF_PARAMETER in "
        f"tests/test_isolation.py which farm object fills it, or add the route to EXEMPT with why"
    )
    client, token = _as(farms, auth)
    theirs, ours = url_of(route, farms.other_objects), url_of(route, farms.own_objects)
    answers = {m: _request(client, m, theirs, token=token).status_code for m in route.methods}
    # 405 only where the view's methods are probed: it refused the method before any lookup.
    allowed = {404} if route.declared else {404, 405}
    assert set(answers.values()) <= allowed and 404 in answers.values(), (
        f"{theirs} of another farm answered {answers}"
    )
    own_answers = {}
    for method in (m for m in route.methods if answers[m] == 404):
        own_answers[method] = _request(client, method, ours, token=token).status_code
        if own_answers[method] not in (404, 405) and own_answers[method] < 500:
            break
    else:
        pytest.fail(
            f"{ours} of the requester's own farm answered {own_answers}, so the 404s for "
            f"another farm's object prove nothing"
        )


@pytest.mark.parametrize(("route", "auth"), _cases(PLAIN_ROUTES, public_too=True))
def test_a_list_never_shows_another_farms_objects(db, farms, route, auth):
    client, token = _as(farms, auth)
    response = _request(client, "GET", url_of(route, {}), token=token)
    assert response.status_code < 500
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert farms.marker not in body.decode().lower(), (
        f"{response.request['PATH_INFO']} ({route.label}) shows another farm's object to {auth}"
    )


@pytest.mark.parametrize(
    "route",
    [pytest.param(r, id=r.label) for r in _CHECKABLE if r.name not in PUBLIC],
)
def test_anonymous_is_refused(db, farms, route):
    if route.unknown_parameters():
        pytest.skip("test_another_farms_object_is_404 reports the unknown parameter")
    url = url_of(route, farms.other_objects)
    login = resolve_url(settings.LOGIN_URL)
    client = Client()
    for method in route.methods:
        response = _request(client, method, url)
        if route.is_api:
            assert response.status_code in (401, 403), f"{method} {url}: {response.status_code}"
        elif not (response.status_code == 405 and not route.declared):
            assert response.status_code == 302, f"{method} {url}: {response.status_code}"
            assert response.url.startswith(login), f"{method} {url} went to {response.url}"


def coverage_summary():
    checked = len(set(OBJECT_ROUTES) | set(PLAIN_ROUTES))
    return (
        f"isolation: {checked} of {len(ROUTES)} routes checked ({len(OBJECT_ROUTES)} with another "
        f"farm's objects, {len(PLAIN_ROUTES)} lists and forms for its names), "
        f"{len(EXEMPT)} exempt, admin left out"
    ), checked


def test_every_route_is_covered():
    unnamed = [r.pattern for r in ROUTES if not r.name]
    unknown = {r.pattern: r.unknown_parameters() for r in _CHECKABLE if r.unknown_parameters()}
    summary, checked = coverage_summary()
    print(summary)
    assert not unnamed, f"name these routes, so that the isolation test can build them: {unnamed}"
    assert not unknown, f"parameters without a farm object in OBJECT_OF_PARAMETER: {unknown}"
    # Entries of the tables whose route was renamed or removed would silently check nothing.
    stale = (
        set(EXEMPT) - {r.label for r in ROUTES}
        | set(OBJECT_OF_PARAMETER) - {(r.name, p) for r in ROUTES for p in r.parameters}
        | set(QUERY_OBJECTS) - {r.name for r in ROUTES}
        | set(PUBLIC) - {r.name for r in ROUTES}
    )
    assert not stale, f"tables of tests/test_isolation.py name routes that do not exist: {stale}"
    assert checked + len(EXEMPT) == len(ROUTES), summary
    assert checked > 0
