import pytest

from ethdash import registry
from ethdash.registry import AlertKind


def _nothing(farm_id, ids, params):
    return []


# A figure with limits and a yes-or-no condition, standing in for the domains' kinds.
TEMPERATURE = AlertKind(
    name="test_temperature",
    label="GPU too hot (test)",
    topic="test",
    object_type="gpu",
    observe=_nothing,
    unit="°C",
    threshold=80.0,
    limits=(30.0, 110.0),
    hysteresis=5.0,
)
OFFLINE = AlertKind(
    name="test_offline",
    label="Rig offline (test)",
    topic="test",
    object_type="rig",
    observe=_nothing,
    severity="critical",
)


@pytest.fixture(autouse=True)
def test_kinds():
    """The test kinds registered for each test, and the registry as it was afterwards."""
    before = dict(registry._alert_kinds)
    registry.register_alert_kind(TEMPERATURE)
    registry.register_alert_kind(OFFLINE)
    yield
    registry._alert_kinds.clear()
    registry._alert_kinds.update(before)
