"""schemathesis hooks for scripts/schemathesis.sh: what JSON Schema cannot say about the app's data.

The OpenAPI document describes shapes; some refusals depend on data, and the document names them instead of
encoding them: `x-objectos-reference: <target>` on a lookup property (the id must name an existing record of the
target in the caller's organization), and `x-objectos-rules` on each write operation (the object's validation
rules with their messages, its hooks, its references and unique fields). These hooks make schemathesis honour
both, and nothing else:

* **Valid references for valid requests.** For requests generated as valid (positive mode), each referenced id in
  a create or update body is replaced with the id of a record the run's user can see, read from the API when the
  request is made (`GET /api/v1/data/<target>?limit=5&fields=id`; for `sys_user`, the run's own user from
  `get-session`). When the target has no record, the generated id stays (and the refusal is checked below).
* **A future expiry.** An API key's `expiresAt` must lie ahead of the server's clock (at most the documented
  TTL); positive requests get a time one day ahead instead of the generated one, which JSON Schema cannot
  relate to now.
* **Coherent `having`.** A query body's `having` may name only the request's own aliases (its `groupBy` fields
  and aggregation aliases); positive query bodies keep only such keys, as a client would write them.
* **Refusals of valid requests must be explained** (check `valid_refusals_are_explained`). The built-in
  positive_data_acceptance check lets 400 through (schemathesis.toml); this check fails every 400 or 422 to a
  request generated as valid unless each reason it gives is one the document names and the server is right
  about: a validation rule's refusal whose message is one of the operation's `x-objectos-rules` (a branch of a
  conditional rule included), a `required` for a field the rules mark `requiredWhen`, an `invalid_option` for
  one marked `optionVisibleWhen`, a
  rule or hook condition that cannot be evaluated on the record (it fails closed, naming itself), a
  `reference_not_found` for a referenced field whose id is verified absent (`GET /api/v1/data/<target>/<id>` →
  404), a hook's refusal (`{error, object}`) on an object whose rules list a hook, a refused field the request
  did not write on such an object (a before-hook wrote the value), or on an action route an
  ACTION_DISABLED where the action declares a `disabled` condition, or a refusal raised by the action's own code
  (`kind: code`). Every other 400 (a shape the document allows but the server refuses) still fails.

Requests generated as invalid are left alone. The script passes the server and the session in OBJECTOS_ST_BASE
and OBJECTOS_ST_TOKEN.
"""
import datetime
import json
import os
import urllib.error
import urllib.parse
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


def _aliases(body: dict) -> set[str]:
    names = {g for g in body.get("groupBy") or [] if isinstance(g, str)}
    for agg in body.get("aggregations") or []:
        if isinstance(agg, dict):
            alias = agg.get("alias") or agg.get("field")
            if isinstance(alias, str):
                names.add(alias)
    return names


def _keep_aliases(having, aliases: set[str]):
    if not isinstance(having, dict):
        return having
    out = {}
    for key, value in having.items():
        if key in ("$and", "$or") and isinstance(value, list):
            out[key] = [_keep_aliases(v, aliases) for v in value]
        elif key == "$not":
            out[key] = _keep_aliases(value, aliases)
        elif key in aliases:
            out[key] = value
    return out


@schemathesis.hook("before_call")
def coherent_having(ctx, case, kwargs):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("having"), dict):
        body["having"] = _keep_aliases(body["having"], _aliases(body))


def _absent(target: str, record_id) -> bool:
    """The record `target/record_id` does not exist for the run's user (the API answers 404)."""
    if not isinstance(record_id, str) or not BASE:
        return False
    path = f"/api/v1/data/{target}/{urllib.parse.quote(record_id, safe='')}"
    try:
        _get(path)
        return False
    except urllib.error.HTTPError as e:
        return e.code == 404
    except Exception:
        return False


# The host's own refusals on the action route; any other 400 VALIDATION_ERROR there is the action's code.
_HOST_ACTION_MESSAGES = ("Invalid action params", "recordId must be", "Action '", "Cannot read the request body",
                         "The request body is not JSON")


def _sent(request_body, field) -> bool:
    """Whether the caller's own body wrote `field` (in the record, or in any record of a list)."""
    if isinstance(request_body, dict):
        return field in request_body
    if isinstance(request_body, list):
        return any(isinstance(r, dict) and field in r for r in request_body)
    return True


def _explained(rules: list, body, request_body=None) -> bool:
    if not isinstance(body, dict):
        return False
    kinds = {r.get("kind") for r in rules}
    error = body.get("error")
    if body.get("success") is False and isinstance(error, dict):
        # The action envelope: a disabled condition that holds, or the action's own code refusing.
        code, message = error.get("code"), str(error.get("message") or "")
        if code == "ACTION_DISABLED":
            return "disabled" in kinds
        return code == "VALIDATION_ERROR" and "code" in kinds and not message.startswith(_HOST_ACTION_MESSAGES)
    if set(body) == {"error", "object"} and isinstance(body["error"], str):
        return any(r.get("kind") == "hook" for r in rules)
    fields = body.get("fields")
    if not isinstance(fields, list) or not fields:
        return False
    messages = {m for r in rules if r.get("kind") == "validation" for m in [r.get("message"), *(r.get("messages") or [])]}
    required_when = {r.get("field") for r in rules if r.get("kind") == "requiredWhen"}
    option_when = {r.get("field") for r in rules if r.get("kind") == "optionVisibleWhen"}
    validations = {r.get("name") for r in rules if r.get("kind") == "validation"}
    hooks = {r.get("name") for r in rules if r.get("kind") == "hook"}
    references = {r.get("field"): r.get("object") for r in rules if r.get("kind") == "reference"}
    for f in fields:
        if not isinstance(f, dict):
            return False
        code = f.get("code")
        if f.get("message") in messages:  # rule_violation, or a format rule's invalid_format
            continue
        if code == "required" and f.get("field") in required_when:
            continue
        if code == "invalid_option" and f.get("field") in option_when:
            continue
        constraint = f.get("constraint") if isinstance(f.get("constraint"), dict) else {}
        # A rule or hook condition that cannot be evaluated on this record fails closed, naming itself.
        if code == "rule_violation" and constraint.get("reason") == "unevaluable" and constraint.get("rule") in validations:
            continue
        if code == "hook_condition_unevaluable" and constraint.get("hook") in hooks:
            continue
        # A value the caller did not write, refused on an object with hooks: a before-hook wrote it.
        if hooks and f.get("field") not in (None, "_record") and not _sent(request_body, f.get("field")):
            continue
        if code == "reference_not_found" and f.get("field") in references:
            target = (f.get("constraint") or {}).get("target") or references[f.get("field")]
            values = f.get("value") if isinstance(f.get("value"), list) else [f.get("value")]
            if values and all(_absent(target, v) for v in values):
                continue
        return False
    return True


@schemathesis.check
def valid_refusals_are_explained(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code not in (400, 422):
        return None
    rules = case.operation.definition.raw.get("x-objectos-rules") or []
    try:
        body = response.json()
    except Exception:
        body = None
    if _explained(rules, body, case.body):
        return None
    raise AssertionError(
        f"Valid data should have been accepted: {response.status_code} for a reason the document does not name "
        f"(x-objectos-rules: {[r.get('kind') + ':' + str(r.get('name') or r.get('field')) for r in rules]})"
    )


@schemathesis.hook("before_call")
def future_expiry(ctx, case, kwargs):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not case.path.endswith("/auth/api-keys"):
        return
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("expiresAt"), str):
        ahead = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
        body["expiresAt"] = ahead.strftime("%Y-%m-%dT%H:%M:%S.000Z")
