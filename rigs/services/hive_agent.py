"""The Hive OS agent pointed at ethdash (HIVE_HOST_URL): its rig password, its hello, its stats.

The agent speaks JSON-RPC to `/worker/api?id_rig=<RIG_ID>&method=<method>` with RIG_ID and
RIG_PASSWD of its /hive-config/rig.conf in the body (hive/bin/agent, hive/bin/hello). Here RIG_ID
is the rig's id in ethdash and RIG_PASSWD a password ethdash generates: a telemetry credential,
stored as a hash only, shown once.
"""

import hmac
import re
import secrets

from django.db import transaction
from django.utils import timezone

from accounts.models import hash_token
from rigs.formats import hiveos, hiveos_conf
from rigs.models import Gpu, HiveConfig, Rig
from rigs.services.ingest import ingest_hiveos

PASSWORD_BYTES = 24  # 32 characters of [A-Za-z0-9_-], safe inside rig.conf's double quotes
# The rig.conf lines ethdash sets in its hello answer, whatever was pasted.
SET_BY_ETHDASH = ("HIVE_HOST_URL", "RIG_ID", "RIG_PASSWD")
# The keys of hello's answer (hive/bin/hello reads `.result.<key>`) and the file each one writes
# under /hive-config/, by HiveConfig field.
ANSWER_KEYS = {
    "wallet_conf": "wallet",  # wallet.conf: written when present, kept when absent
    "nvidia_oc_conf": "nvidia_oc",  # nvidia-oc.conf: written when present, DELETED when absent
    "amd_oc_conf": "amd_oc",  # amd-oc.conf: the same
    "autofan_conf": "autofan",  # autofan.conf: written when present, kept when absent
}
# The files under /hive-config/, by HiveConfig field.
FILE_NAMES = {
    "rig_conf": "rig.conf",
    "wallet_conf": "wallet.conf",
    "nvidia_oc_conf": "nvidia-oc.conf",
    "amd_oc_conf": "amd-oc.conf",
    "autofan_conf": "autofan.conf",
}
# The files hello deletes when its answer does not carry them.
DELETED_WHEN_ABSENT = ("nvidia_oc_conf", "amd_oc_conf")
# What hello may be told to write into HIVE_HOST_URL: the URL it reached ethdash with, nothing a
# shell would read as more than a word.
SERVER_URL = re.compile(r"https?://[^\s\"'`$\\;&|<>()]+")


class NoConfigAnswer(Exception):
    """ethdash has no configuration to answer this hello with; str() says why, for the agent's
    log."""


def set_hive_password(rig) -> str:
    """Gives the rig a new Hive password and returns it; only its hash is kept, so this is the
    only time it can be shown. The previous password stops working at once."""
    raw = secrets.token_urlsafe(PASSWORD_BYTES)
    rig.hive_password_hash = hash_token(raw)
    rig.hive_password_set_at = timezone.now()
    Rig.objects.filter(pk=rig.pk).update(
        hive_password_hash=rig.hive_password_hash, hive_password_set_at=rig.hive_password_set_at
    )
    return raw


def rig_for_agent(rig_id, password):
    """The rig whose id and Hive password these are, or None. A rig without a Hive password
    accepts none; a wrong id and a wrong password are refused alike."""
    rig_id = str(rig_id or "").strip()
    if not rig_id.isdigit() or not isinstance(password, str) or not password:
        return None
    rig = Rig.objects.filter(pk=int(rig_id)).exclude(hive_password_hash="").first()
    # Hash the password whether or not the rig exists, so timing does not tell rig ids apart.
    offered = hash_token(password)
    if rig is None or not hmac.compare_digest(offered, rig.hive_password_hash):
        return None
    return rig


def store_hello(*, rig, body):
    """Stores what a hello says: the detected GPUs onto the rig's GPUs by PCI bus (name, vendor,
    memory; a GPU not known yet is added), the detection order the agent's stats arrays follow,
    and the host's description. Raises hiveos.BadRequest, storing nothing, for an unusable
    GPU list."""
    hello = hiveos.parse_hello(body)
    with transaction.atomic():
        locked = Rig.objects.select_for_update().get(pk=rig.pk)
        known = list(Gpu.objects.filter(rig=locked).order_by("index"))
        by_bus = {g.pci_bus: g for g in known if g.pci_bus is not None}
        taken = {g.index for g in known}
        for g in hello.gpus:
            gpu = by_bus.get(g.pci_bus)
            if gpu is None:
                # A GPU known only by its index (a miner that gives no bus) at this detection
                # position is this card: it gets its bus now. A CPU never does.
                gpu = next(
                    (
                        x
                        for x in known
                        if x.pci_bus is None and x.index == g.index and x.kind != Gpu.Kind.CPU
                    ),
                    None,
                )
            if gpu is None:
                index = g.index if g.index not in taken else max(taken) + 1
                taken.add(index)
                gpu = Gpu(rig=locked, index=index)
                known.append(gpu)
            gpu.pci_bus, gpu.name, gpu.vendor = g.pci_bus, g.name[:120], g.vendor[:40]
            if g.memory_mb is not None:
                gpu.memory_mb = g.memory_mb
            gpu.save()
            by_bus[g.pci_bus] = gpu
        locked.hive_detected_buses = hello.detected_buses
        locked.hive_hello = hello.host
        Rig.objects.filter(pk=locked.pk).update(
            hive_detected_buses=hello.detected_buses, hive_hello=hello.host
        )
    rig.hive_detected_buses, rig.hive_hello = hello.detected_buses, hello.host
    return hello


def store_stats(*, rig, body):
    """Stores a stats body as the rig's reading taken now (rigs.services.ingest.ingest_hiveos).
    Raises MinerError, storing nothing, when the body is not one the agent builds."""
    return ingest_hiveos(rig=rig, body=body)


def save_hive_config(*, rig, rig_conf, oc_files_confirmed, **files):
    """Stores the rig's pasted Hive OS files (HiveConfig), the rig's one set, replacing any
    before. Each must be `KEY=value` lines (hiveos_conf.parse; raises ConfError, storing
    nothing). rig.conf's RIG_PASSWD is emptied (`RIG_PASSWD=`, where it was) and comments holding
    one are dropped before anything is stored: the password is a credential ethdash keeps only
    as a hash. Returns the stored HiveConfig and how many rig.conf lines that changed."""
    unknown = set(files) - set(ANSWER_KEYS)
    if unknown:
        raise TypeError(f"Not a Hive OS file of HiveConfig: {sorted(unknown)}")
    for text in files.values():
        hiveos_conf.parse(text)
    stored_conf, removed = hiveos_conf.without_values(rig_conf, ["RIG_PASSWD"])
    if not set(hiveos_conf.keys(stored_conf)) - set(SET_BY_ETHDASH):
        # hello would write a rig.conf of these three lines alone: no MINER, no WORKER_NAME.
        raise hiveos_conf.ConfError(
            "rig.conf has no line but HIVE_HOST_URL, RIG_ID and RIG_PASSWD: paste the whole file "
            "(cat /hive-config/rig.conf on the rig)"
        )
    texts = {field: hiveos_conf.render(hiveos_conf.parse(files.get(field, "")))
             for field in ANSWER_KEYS}  # fmt: skip
    config, _ = HiveConfig.objects.update_or_create(
        rig=rig,
        defaults={"rig_conf": stored_conf, "oc_files_confirmed": oc_files_confirmed, **texts},
    )
    return config, removed


def stored_files(config):
    """The names of the files a HiveConfig holds (a blank one is not held), and of those hello
    will delete on the rig because the answer lacks them."""
    held = [name for field, name in FILE_NAMES.items() if getattr(config, field).strip()]
    deleted = [FILE_NAMES[f] for f in DELETED_WHEN_ABSENT if not getattr(config, f).strip()]
    return held, deleted


def remove_hive_config(*, rig):
    """Forgets the rig's Hive OS files: hello is answered without a configuration again."""
    HiveConfig.objects.filter(rig=rig).delete()


def hello_answer(*, rig, params):
    """The `result` of the answer to an authenticated hello: the rig's stored rig.conf with
    HIVE_HOST_URL set to the URL the agent reached ethdash with (its params.server_url), RIG_ID to
    the rig's id here and RIG_PASSWD to the password it authenticated with (params.passwd), plus
    each stored file under the key hello reads for it, a file not stored being absent. Raises
    NoConfigAnswer when there is no stored rig.conf, when the owner has not confirmed the OC
    files, or when server_url is not a URL to write back: an error answer writes nothing."""
    config = HiveConfig.objects.filter(rig=rig).first()
    if config is None:
        raise NoConfigAnswer(
            "ethdash stored this rig's hardware. It has no copy of this rig's rig.conf, so it "
            "answers without one: rig.conf, wallet.conf and overclocking stay as they are."
        )
    if not config.oc_files_confirmed:
        raise NoConfigAnswer(
            "ethdash stored this rig's hardware. Its copy of this rig's files is not confirmed "
            "complete (nvidia-oc.conf, amd-oc.conf), so it answers without them: every file of "
            "the rig stays as it is."
        )
    server_url = params.get("server_url")
    if not isinstance(server_url, str) or not SERVER_URL.fullmatch(server_url):
        raise NoConfigAnswer(
            f"The hello's server_url {server_url!r} is not an http(s) URL to write into "
            "HIVE_HOST_URL: the rig's files stay as they are."
        )
    values = {"HIVE_HOST_URL": server_url, "RIG_ID": str(rig.pk), "RIG_PASSWD": params["passwd"]}
    # The agent writes each value with `echo "$value" > file`, which ends it with one newline.
    result = {"config": hiveos_conf.with_values(config.rig_conf, values).rstrip("\n")}
    for field, key in ANSWER_KEYS.items():
        text = getattr(config, field)
        if text.strip():
            result[key] = text.rstrip("\n")
    return result
