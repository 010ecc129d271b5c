"""The validators admin: every changelist opens, bulk import goes through the registry, the group
action, read-only records."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model

from tests.factories import (
    BeaconNodeFactory,
    DepositRequestFactory,
    EpochSummaryFactory,
    ProposalFactory,
    StatusChangeFactory,
    SyncDutyFactory,
    ValidatorSyncFactory,
    WithdrawalFactory,
    logged_in,
)
from validators.models import (
    BeaconNode,
    Validator,
    ValidatorDay,
    ValidatorEpoch,
    ValidatorGroup,
)
from validators.services import adding

PUBKEY = "0x" + "ef" * 48


@pytest.fixture
def root(db):
    user = get_user_model().objects.create_superuser("root", "root@example.invalid", "x")
    return logged_in(user)


@pytest.fixture
def records(alpha):
    """One of each record, so that every changelist renders a row."""
    farm = alpha.farm
    node = BeaconNodeFactory(farm=farm, name="alpha-bn", url="http://10.0.0.5:5052")
    (validator,) = adding.add_validators(farm, "7", group="rack").created
    ValidatorSyncFactory(farm=farm, next_epoch=10, head_epoch=12, node=node)
    EpochSummaryFactory(farm=farm, epoch=10, validators=1)
    records = (
        ProposalFactory,
        SyncDutyFactory,
        WithdrawalFactory,
        StatusChangeFactory,
        DepositRequestFactory,
    )
    for record in records:
        record(validator=validator)
    return validator


MODELS = [
    "beaconnode", "mevrelay", "validatorgroup", "validator", "validatorsync", "epochsummary",
    "proposal", "syncduty", "withdrawal", "statuschange", "depositrequest",
]  # fmt: skip


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("q", ["", "alpha", "7", "0xef", "10"])
def test_every_changelist_opens_and_searches(root, records, model, q):
    response = root.get(f"/admin/validators/{model}/", {"q": q} if q else {})
    assert response.status_code == 200


def test_validators_are_found_by_index_pubkey_or_label(root, alpha):
    adding.add_validators(alpha.farm, ["7", "70", PUBKEY], label="")
    Validator.objects.filter(index=70).update(label="seven-oh")

    def found(q):
        page = root.get("/admin/validators/validator/", {"q": q})
        return sorted(str(v) for v in page.context["cl"].result_list)

    assert found("7") == ["#7"]
    assert found("0xEFEF") == [PUBKEY[:12] + "…"]
    assert found("seven") == ["seven-oh"]


def test_composite_key_records_stay_out_of_the_admin():
    assert not admin.site.is_registered(ValidatorEpoch)
    assert not admin.site.is_registered(ValidatorDay)


@pytest.mark.parametrize("model", ["epochsummary", "proposal", "syncduty", "withdrawal"])
def test_chain_records_are_read_only(root, model):
    assert root.get(f"/admin/validators/{model}/add/").status_code == 403


def test_bulk_import_adds_a_pasted_list(root, alpha):
    changelist = root.get("/admin/validators/validator/").content.decode()
    assert "/admin/validators/validator/bulk-import/" in changelist
    adding.add_validators(alpha.farm, "1")
    response = root.post(
        "/admin/validators/validator/bulk-import/",
        {"farm": alpha.farm.pk, "entries": f"1\n2, 3 {PUBKEY.upper()}", "group": "imported"},
        follow=True,
    )
    message = next(str(m) for m in response.context["messages"])
    assert message == "3 validator(s) added to Alpha, 1 skipped (repeated or already there)."
    group = ValidatorGroup.objects.get(farm=alpha.farm, name="imported")
    assert group.validators.count() == 3
    assert Validator.objects.filter(pubkey=PUBKEY).exists()


def test_bulk_import_lists_malformed_entries_and_saves_nothing(root, alpha):
    response = root.post(
        "/admin/validators/validator/bulk-import/",
        {"farm": alpha.farm.pk, "entries": "1 x2 3"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was saved" in html and "x2" in html
    assert "neither an index" in html
    assert not Validator.objects.exists()


def test_assign_to_group_creates_the_group_in_each_farm(root, alpha, bravo):
    adding.add_validators(alpha.farm, "1 2")
    adding.add_validators(bravo.farm, "1")
    ids = list(Validator.objects.values_list("pk", flat=True))
    response = root.post(
        "/admin/validators/validator/",
        {"action": "assign_to_group", "_selected_action": ids, "group": "cold"},
        follow=True,
    )
    assert "3 validator(s) moved to the group cold." in response.content.decode()
    assert ValidatorGroup.objects.filter(name="cold").count() == 2
    assert all(v.group.farm_id == v.farm_id for v in Validator.objects.select_related("group"))
    root.post(
        "/admin/validators/validator/",
        {"action": "assign_to_group", "_selected_action": ids, "group": ""},
    )
    assert not Validator.objects.filter(group__isnull=False).exists()


def test_a_bad_auth_header_is_refused_in_the_admin(root, alpha):
    response = root.post(
        "/admin/validators/beaconnode/add/",
        {
            "farm": alpha.farm.pk,
            "name": "n",
            "url": "http://10.0.0.5:5052",
            "auth_header": "just-a-token",
            "priority": 0,
        },
    )
    assert response.status_code == 200
    assert "auth_header" in response.context["adminform"].form.errors
    assert not BeaconNode.objects.exists()


def test_resolve_now_queues_one_task_per_farm(root, alpha, bravo, monkeypatch):
    from validators import tasks

    queued = []
    monkeypatch.setattr(tasks.resolve_farm_validators, "delay", queued.append)
    adding.add_validators(alpha.farm, "1 2")
    adding.add_validators(bravo.farm, "1")
    ids = list(Validator.objects.values_list("pk", flat=True))
    root.post("/admin/validators/validator/", {"action": "resolve_now", "_selected_action": ids})
    assert sorted(queued) == sorted([alpha.farm.pk, bravo.farm.pk])
