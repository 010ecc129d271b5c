"""accounts.services: a farm never loses its last owner, not even to two owners at once."""

import threading
import time

import pytest
from django.db import connection, transaction

from accounts import services
from accounts.models import Membership
from tests.factories import MembershipFactory, make_farm


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_two_owners_demoting_each_other_at_once_leave_one_owner():
    world = make_farm("Race")
    first = Membership.objects.get(farm=world.farm, user=world.owner)
    second = MembershipFactory(farm=world.farm, role=Membership.Role.OWNER)
    demoted = threading.Event()
    outcomes = {}

    def demote_second():
        try:
            with transaction.atomic():
                services.change_role(membership=second, role=Membership.Role.VIEWER)
                demoted.set()
                time.sleep(0.5)  # the other demotion is now waiting for the farm's owner rows
            outcomes["second"] = "demoted"
        finally:
            connection.close()

    def demote_first():
        demoted.wait(5)
        try:
            # Read before the other demotion commits: both still look like owners.
            services.change_role(
                membership=Membership.objects.get(pk=first.pk), role=Membership.Role.VIEWER
            )
            outcomes["first"] = "demoted"
        except services.LastOwnerError:
            outcomes["first"] = "refused"
        finally:
            connection.close()

    threads = [threading.Thread(target=demote_second), threading.Thread(target=demote_first)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes == {"second": "demoted", "first": "refused"}
    owners = Membership.objects.filter(farm=world.farm, role=Membership.Role.OWNER)
    assert list(owners.values_list("pk", flat=True)) == [first.pk]
