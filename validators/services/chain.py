"""Chain arithmetic shared by the validators app: epochs to UTC days, the year in epochs, the
reasons an epoch was not perfect. Pure functions, no I/O."""

import datetime as dt
import enum

SECONDS_PER_YEAR = 365.25 * 86400
GWEI_PER_ETH = 10**9


class Flag(enum.IntFlag):
    """Why a validator's epoch was not perfect (ValidatorEpoch.flags)."""

    MISSED = 1  # no attestation counted at all (source and target penalised, no head reward)
    HEAD = 2  # head vote wrong or late
    TARGET = 4  # target vote wrong or late
    SOURCE = 8  # source vote wrong or late
    INACTIVITY = 16  # inactivity-leak penalty
    SYNC_MISSED = 32  # a sync-committee duty not done
    PROPOSAL_MISSED = 64  # a proposal missed or orphaned
    SLASHED = 128
    NEGATIVE = 256  # consensus income below zero
    # Attestation penalties no vote can avoid: a slashed validator earns nothing for its votes
    # and pays for source and target whatever it did (spec: only unslashed participants count).
    PENALISED = 512


def epoch_start(epoch: int, genesis_time: int, seconds_per_slot: float, slots_per_epoch: int):
    """UTC start of an epoch."""
    seconds = genesis_time + epoch * slots_per_epoch * seconds_per_slot
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


def epoch_day(epoch: int, genesis_time: int, seconds_per_slot: float, slots_per_epoch: int):
    """The UTC day an epoch belongs to: the day its first slot starts in."""
    return epoch_start(epoch, genesis_time, seconds_per_slot, slots_per_epoch).date()


def epochs_per_year(seconds_per_slot: float, slots_per_epoch: int) -> float:
    return SECONDS_PER_YEAR / (seconds_per_slot * slots_per_epoch)
