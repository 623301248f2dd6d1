"""schemathesis hooks for scripts/schemathesis.sh: valid references for valid requests.

A lookup or master-detail value is valid only when it names an existing record of its target in the caller's
organization; the OpenAPI document says so with `x-objectos-reference: <target object>` on the property (JSON
Schema cannot), and the server refuses any other id with 400 `reference_not_found`. schemathesis generates
random text for such ids, so a request it calls valid would carry a made-up id. For requests generated as valid
(positive mode) this hook replaces each referenced id in a create or update body with the id of a record the run's
user can see, read from the API when the request is made (`GET /api/v1/data/<target>?limit=5&fields=id`; for
`sys_user`, the run's own user from `get-session`). When the target
has no record, the generated id stays (and the request is refused, as it should be). Requests generated as
invalid are left alone.

The script passes the server and the session in OBJECTOS_ST_BASE and OBJECTOS_ST_TOKEN.
"""
import json
import os
import urllib.request

import schemathesis

BASE = os.environ.get("OBJECTOS_ST_BASE", "")
TOKEN = os.environ.get("OBJECTOS_ST_TOKEN", "")
_refs: dict[str, dict[str, str]] = {}


def _get(path: str):
    req = urllib.request.Request(f"{BASE}{path}", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def _known_ids(target: str) -> list[str]:
    """Ids of records of `target` that exist now (the run deletes records as it goes, so asked each time)."""
    try:
        if target == "sys_user":
            # Users are not listed through the data routes; the run's own user is one.
            user = _get("/api/v1/auth/get-session").get("user", {})
            return [user["id"]] if isinstance(user.get("id"), str) else []
        body = _get(f"/api/v1/data/{target}?limit=5&fields=id")
        return [rec["id"] for rec in body.get("records", []) if isinstance(rec.get("id"), str)]
    except Exception:
        return []


def _references(operation) -> dict[str, str]:
    """property -> target object, for the operation's request body (an object or an array of objects)."""
    key = operation.label
    if key in _refs:
        return _refs[key]
    found: dict[str, str] = {}
    root = operation.schema.raw_schema
    body = operation.definition.raw.get("requestBody", {})
    schema = body.get("content", {}).get("application/json", {}).get("schema", {})

    def resolve(s):
        while isinstance(s, dict) and "$ref" in s:
            node = root
            for part in s["$ref"].lstrip("#/").split("/"):
                node = node.get(part, {})
            s = node
        return s if isinstance(s, dict) else {}

    schema = resolve(schema)
    if schema.get("type") == "array":
        schema = resolve(schema.get("items", {}))
    for name, prop in schema.get("properties", {}).items():
        for alt in [prop] + prop.get("anyOf", []):
            target = alt.get("x-objectos-reference") if isinstance(alt, dict) else None
            if target:
                found[name] = target
    _refs[key] = found
    return found


def _replace(record: dict, refs: dict[str, str], n: int) -> None:
    for name, target in refs.items():
        value = record.get(name)
        if value is None:
            continue
        ids = _known_ids(target)
        if not ids:
            continue
        if isinstance(value, list):
            record[name] = [ids[(n + i) % len(ids)] for i in range(len(value))]
        else:
            record[name] = ids[n % len(ids)]


@schemathesis.hook
def before_call(ctx, case, kwargs):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not BASE:
        return
    refs = _references(case.operation)
    if not refs:
        return
    body = case.body
    if isinstance(body, dict):
        _replace(body, refs, 0)
    elif isinstance(body, list):
        for n, item in enumerate(body):
            if isinstance(item, dict):
                _replace(item, refs, n)
