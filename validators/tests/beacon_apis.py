"""The Beacon API's own response schemas (ethereum/beacon-APIs), bundled as test data, and the
check of an answer against them.

fixtures/beacon-apis/responses.json holds, per operation ("GET /eth/v1/beacon/genesis"), the
JSON schema of each documented status's application/json answer with every $ref resolved
inline, and, per event topic, the spec's example payload (the event stream documents its events
by example only, with no schema). It is produced from a checkout of ethereum/beacon-APIs by

    .venv/bin/python -m validators.tests.beacon_apis /path/to/beacon-APIs [commit] > \
        validators/tests/fixtures/beacon-apis/responses.json

(OPERATIONS and TOPICS below say what is bundled; fixtures/beacon-apis/README.md names the
commit). The spec is OpenAPI 3.1, whose schema objects are JSON Schema (2020-12), so
jsonschema checks them as they are.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import jsonschema

BUNDLE = Path(__file__).parent / "fixtures" / "beacon-apis" / "responses.json"

# Every operation the simulated node serves, and every one ethdash's client
# (validators/formats/client.py) calls; pending_deposits is called but not served (a node
# without it answers 404, which the client remembers).
OPERATIONS = [
    ("GET", "/eth/v1/beacon/genesis"),
    ("GET", "/eth/v1/config/spec"),
    ("GET", "/eth/v1/node/health"),
    ("GET", "/eth/v1/node/syncing"),
    ("GET", "/eth/v1/beacon/states/{state_id}/validators"),
    ("POST", "/eth/v1/beacon/states/{state_id}/validators"),
    ("GET", "/eth/v1/beacon/states/{state_id}/validator_balances"),
    ("POST", "/eth/v1/beacon/states/{state_id}/validator_balances"),
    ("GET", "/eth/v1/beacon/states/{state_id}/finality_checkpoints"),
    ("GET", "/eth/v1/beacon/states/{state_id}/sync_committees"),
    ("GET", "/eth/v1/beacon/states/{state_id}/pending_deposits"),
    ("POST", "/eth/v1/beacon/rewards/attestations/{epoch}"),
    ("GET", "/eth/v1/beacon/rewards/blocks/{block_id}"),
    ("POST", "/eth/v1/beacon/rewards/sync_committee/{block_id}"),
    ("GET", "/eth/v1/beacon/headers"),
    ("GET", "/eth/v1/beacon/headers/{block_id}"),
    ("GET", "/eth/v2/beacon/blocks/{block_id}"),
    ("GET", "/eth/v1/validator/duties/proposer/{epoch}"),
    ("POST", "/eth/v1/validator/duties/attester/{epoch}"),
    ("POST", "/eth/v1/validator/duties/sync/{epoch}"),
    ("POST", "/eth/v1/validator/liveness/{epoch}"),
    ("GET", "/eth/v1/events"),
]
TOPICS = ("head", "block", "finalized_checkpoint", "chain_reorg")


# --------------------------------------------------------------------------------- checking


@cache
def bundle() -> dict:
    return json.loads(BUNDLE.read_text())


def operation(method: str, template: str) -> dict:
    return bundle()["operations"][f"{method} {template}"]


def check(method: str, template: str, status: int, body: bytes) -> None:
    """Raises AssertionError unless `status` is documented for the operation and `body` (empty
    when the spec gives that status no JSON content) validates against its schema."""
    responses = operation(method, template)["responses"]
    assert str(status) in responses, f"{method} {template}: {status} not documented"
    schema = responses[str(status)]
    if schema is None and status >= 400 and body:
        # An error the spec lists without content (the health check's 400): the API-wide
        # error shape, as for every error that has one.
        schema = bundle()["error"]
    if schema is None:
        assert body == b"", f"{method} {template} {status}: body where the spec has none"
        return
    document = json.loads(body)
    try:
        jsonschema.validate(document, _closed(schema), cls=jsonschema.Draft202012Validator)
    except jsonschema.ValidationError as error:
        path = "/".join(str(p) for p in error.absolute_path)
        raise AssertionError(f"{method} {template} {status} at {path}: {error.message}") from None


def _closed(schema, inside_all_of: bool = False):
    """The schema with no field beyond those it names: the spec allows nodes to add fields, but a
    simulator that adds one has most likely misnamed it. Each object closes where it is whole
    (unevaluatedProperties sees through allOf), not in the allOf parts it is made of."""
    if isinstance(schema, list):
        return [_closed(item, inside_all_of) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "allOf":
            out[key] = [_closed(part, True) for part in value]
        elif key in ("properties", "patternProperties", "$defs"):
            out[key] = {name: _closed(sub) for name, sub in value.items()}
        elif key in ("items", "anyOf", "oneOf", "additionalProperties", "not"):
            out[key] = _closed(value)
        else:
            out[key] = value
    if ("properties" in out or "allOf" in out) and not inside_all_of:
        out.setdefault("unevaluatedProperties", False)
    return out


def check_event(topic: str, data: dict) -> None:
    """An event's payload has the spec example's fields, each of the example's JSON type."""
    example = bundle()["events"][topic]
    assert set(data) == set(example), f"{topic}: {sorted(data)} != {sorted(example)}"
    for key, value in example.items():
        assert type(data[key]) is type(value), f"{topic}.{key}: {data[key]!r} vs {value!r}"


# --------------------------------------------------------------------------------- bundling


def _resolver(root: Path):
    import yaml  # only the bundling needs it

    documents: dict[Path, dict] = {}

    def load(path: Path) -> dict:
        if path not in documents:
            documents[path] = yaml.safe_load(path.read_text())
        return documents[path]

    def pointer(document, fragment: str):
        for part in [p for p in fragment.split("/") if p]:
            document = document[part.replace("~1", "/").replace("~0", "~")]
        return document

    def resolve(node, here: Path, seen: tuple = ()):
        if isinstance(node, list):
            return [resolve(item, here, seen) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target, _, fragment = node["$ref"].partition("#")
            path = (here.parent / target).resolve() if target else here
            key = (path, fragment)
            if key in seen:
                raise ValueError(f"recursive $ref {node['$ref']} in {here}")
            resolved = resolve(pointer(load(path), fragment), path, (*seen, key))
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            if siblings and isinstance(resolved, dict):  # 3.1: siblings of $ref apply too
                resolved = {**resolved, **resolve(siblings, here, seen)}
            return resolved
        # Examples and descriptions are prose for readers; the check needs none of them.
        return {
            k: resolve(v, here, seen)
            for k, v in node.items()
            if k not in ("example", "examples", "description")
        }

    return load, resolve


def build(root: Path, commit: str) -> dict:
    load, resolve = _resolver(root)
    main = (root / "beacon-node-oapi.yaml").resolve()
    paths = load(main)["paths"]
    operations = {}
    for method, template in OPERATIONS:
        item = resolve(paths[template], main)
        responses = {}
        for status, response in item[method.lower()]["responses"].items():
            content = response.get("content", {})
            if not content:
                responses[status] = None  # no body (the health codes)
            elif "application/json" in content:
                responses[status] = content["application/json"]["schema"]
            else:
                responses[status] = {"not": {}}  # no JSON form: a JSON answer is wrong
        operations[f"{method} {template}"] = {"responses": responses}
    raw_events = yaml_examples(load, main, paths["/eth/v1/events"])
    events = {topic: raw_events[topic] for topic in TOPICS}
    error = resolve({"$ref": "#/components/schemas/ErrorMessage"}, main)
    return {
        "source": "ethereum/beacon-APIs",
        "commit": commit,
        "licence": "CC0-1.0",
        "operations": operations,
        "error": error,
        "events": events,
    }


def _git_head(root: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def yaml_examples(load, main: Path, item: dict) -> dict:
    """The event stream's example payloads, by topic (`data: {...}` of each example)."""
    path = (main.parent / item["$ref"]).resolve()
    content = load(path)["get"]["responses"]["200"]["content"]["text/event-stream"]
    out = {}
    for topic, example in content["examples"].items():
        for line in example["value"].splitlines():
            if line.startswith("data:"):
                out[topic] = json.loads(line[len("data:") :])
    return out


if __name__ == "__main__":
    root = Path(sys.argv[1])
    # The commit: given, for an exported tree (git archive), or read from a checkout.
    commit = sys.argv[2] if len(sys.argv) > 2 else _git_head(root)
    json.dump(build(root, commit), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
