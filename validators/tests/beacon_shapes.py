"""What the Beacon API's answers look like on the wire, for the tests of the simulated node: its
hex fields and the rule that no integer is ever a JSON number."""

import re

DECIMAL = re.compile(r"^-?\d+$")
ROOT = re.compile(r"^0x[0-9a-f]{64}$")
ADDRESS = re.compile(r"^0x[0-9a-f]{40}$")
PUBKEY = re.compile(r"^0x[0-9a-f]{96}$")
SIGNATURE = re.compile(r"^0x[0-9a-f]{192}$")


def all_integers_are_strings(value):
    """No JSON number anywhere: every integer is a decimal string (booleans allowed)."""
    if isinstance(value, dict):
        return all(all_integers_are_strings(v) for v in value.values())
    if isinstance(value, list):
        return all(all_integers_are_strings(v) for v in value)
    return isinstance(value, str | bool) or value is None
