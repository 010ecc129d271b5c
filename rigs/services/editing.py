"""Adding and changing rigs as their owners do it (the page form, the API, the admin)."""

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from rigs import formats
from rigs.models import Rig
from rigs.services.trial import Trial, try_rig

# What decides where, and how, the miner is asked: a change of any of them is a new address.
ADDRESS_FIELDS = ("protocol", "host", "port", "api_password")


class DuplicateName(Exception):
    """The farm already has a rig of this name."""


@dataclass(frozen=True)
class SavedRig:
    rig: Rig
    created: bool
    # The one poll made before saving (a polled rig whose address is new), else None.
    trial: Trial | None


def address_problems(protocol, host) -> dict[str, str]:
    """Field errors of a rig's source beyond the fields' own validators: a polled rig needs a
    host (the port may stay blank: the protocol's default)."""
    if protocol and protocol not in formats.PROTOCOLS:
        return {"protocol": f"Unknown miner protocol {protocol!r}."}
    if protocol and not host:
        return {"host": "A polled rig needs the miner API's host name or IP address."}
    return {}


def kept_password_problem(rig, *, protocol, host, port) -> str | None:
    """Why `rig`'s stored password may not be kept for this address, or None. A stored password
    is only ever sent to the address it was given for: an owner who points the rig (or a test
    connection) elsewhere gives the password again, or removes it, so nobody with the right to
    edit a rig can make ethdash send its miner's password to a host of their choosing."""
    if rig is None or rig.pk is None or not rig.api_password:
        return None
    if (protocol, host, port) == (rig.protocol, rig.host, rig.port):
        return None
    return (
        "The miner's address changed: enter its password again, or remove the stored one "
        "(a stored password is only sent to the address it was given for)."
    )


def name_taken(farm_id, name, *, exclude_pk=None) -> bool:
    rigs = Rig.objects.filter(farm_id=farm_id, name=name)
    if exclude_pk is not None:
        rigs = rigs.exclude(pk=exclude_pk)
    return rigs.exists()


def save_rig(rig, *, changed=(), test=True) -> SavedRig:
    """Saves a rig whose fields have been validated (the model's validators: host, port);
    `changed` names the fields changed on an existing rig.

    A new rig, or one whose miner address, protocol or password changed, is polled at once: its
    next poll time is cleared, and the poll claim takes such rigs first. With `test`, such a
    polled rig's miner is tried once before saving and the result returned; an unreachable miner
    never stops the save (a rig may be added before its miner runs): the caller shows the
    warning. Raises DuplicateName, and saves nothing, if the farm has a rig of that name."""
    created = rig.pk is None
    address_changed = created or any(name in changed for name in ADDRESS_FIELDS)
    trial = None
    if test and rig.protocol and address_changed:
        trial = try_rig(rig.protocol, rig.host, rig.port, rig.api_password)
    if address_changed:
        rig.next_poll_at = None
    # A change saves only what was changed: a poll may have stored figures and a status on
    # the rig in the meantime, which a whole-row save would put back.
    fields = None if created else [*changed, *(["next_poll_at"] if address_changed else [])]
    try:
        with transaction.atomic():
            if fields is None or fields:
                rig.save(update_fields=fields)
    except IntegrityError:
        if name_taken(rig.farm_id, rig.name, exclude_pk=rig.pk):
            if created:
                rig.pk = None
            raise DuplicateName(f"This farm already has a rig named {rig.name!r}.") from None
        raise
    return SavedRig(rig=rig, created=created, trial=trial)
