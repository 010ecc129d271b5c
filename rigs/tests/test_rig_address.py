"""A rig's miner address is refused where it is entered (the model and the admin), never at
poll time. The page form and the API refuse it too: rigs/tests/test_rig_forms.py and
rigs/tests/test_rig_api_write.py."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from tests.factories import logged_in

BAD = [
    ({"port": 99999}, "port", "99999 is not between 1 and 65535"),
    ({"port": 0}, "port", "0 is not between 1 and 65535"),
    ({"host": "not a host!!"}, "host", "'not a host!!' is not a host name or an IP address"),
    ({"host": "a..b"}, "host", "is not a host name"),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD)
def test_a_rig_with_a_malformed_address_is_refused_at_save(alpha, change, field, message):
    rig = alpha.rig
    rig.protocol, rig.host, rig.port = "claymore", "10.0.0.5", 3333
    for name, value in change.items():
        setattr(rig, name, value)
    with pytest.raises(ValidationError) as caught:
        rig.full_clean()
    assert message in " ".join(caught.value.message_dict[field])


@pytest.mark.parametrize("host", ["10.0.0.5", "rig-7.lan", "miner.example.com", "::1"])
def test_good_hosts_pass(alpha, host):
    rig = alpha.rig
    rig.protocol, rig.host, rig.port = "claymore", host, 3333
    rig.full_clean()


@pytest.mark.parametrize(("change", "field", "message"), BAD)
def test_the_admin_refuses_a_malformed_address_with_a_message(alpha, change, field, message):
    admin = logged_in(get_user_model().objects.create_superuser("root", "r@example.invalid", "x"))
    form = {"farm": alpha.farm.pk, "name": "r", "cadence_s": 30, "protocol": "claymore"}
    form |= {"host": "10.0.0.5", "port": 3333} | change
    response = admin.post(f"/admin/rigs/rig/{alpha.rig.pk}/change/", form)
    assert response.status_code == 200  # shown again, not saved
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors[field])
