#!/usr/bin/env python3
"""Drafts each app's differences.json from a run of the differential test.

    OBJECTOS_DIFF_REPORT=/tmp/report.json cargo test --test all differential -- --nocapture
    tests/differential/document.py /tmp/report.json

Every differing call gets the reasons of the classes its differences fall in (CLASSES below, first match per
line), or "unclassified" with its first difference, which must then be looked at. Reasons starting with
"deliberate" are listed in the README's differences table; "not yet" ones are gaps still to close.
"""
import json, re, sys, pathlib

CLASSES = [
    (r"ipAddress", "deliberate: a session records the caller's address (the real server records \"\")"),
    (r"^(data\.)?(routes|services|capabilities|scoping|locale|version|name)\b",
     "deliberate: discovery describes what objectos serves (its name, version, routes, services)"),
    (r"organization_id: null null vs ours string",
     "deliberate: seed rows join the first administrator's organization (the real server leaves them unscoped)"),
    (r"portal_password|api_key|Empty string refused for password",
     "deliberate: password and secret fields are write-only, never returned"),
    (r"Malformed JSON|INVALID_JSON", "deliberate: a malformed JSON body is refused (the real server reads it as {})"),
    (r"Unknown field", "deliberate: writing a formula field says why it is refused"),
    (r"RECORD_NOT_FOUND|not found in",
     "deliberate: a record the caller may not read answers 404 (the real server's 403 tells that it exists)"),
    (r"must be a valid date \(ISO-8601\)",
     "deliberate: a date must be a real calendar day written as ISO-8601 (the real server stores 2022-02-30 or 01/02/2024 as given)"),
    (r"^record\.active: true vs ours false",
     "deliberate: the text \"false\" written to a boolean is false (the real server stores true)"),
    (r"^record\.(name|label_text|sku_key): \"[^\"]*(12345\.0|q-txt:7)\" vs ours",
     "deliberate: a number written to a text field is stored as written (12345), not as SQLite's REAL text (12345.0)"),
    (r"^record\.parent: string .* vs ours null null",
     "deliberate: a reference declared deleteBehavior set_null is cleared when its target is deleted (the real server leaves it dangling)"),
    (r"^record\.manager: ours lacks created_at, updated_at, email_verified",
     "deliberate: an expanded user is its public profile (the real server hands whoever may read the referencing record the user's last login IP, failed logins, lock and ban state)"),
    (r"^record\.(due_on|sla_days|opened_on)", "not yet: defaults are applied before beforeInsert hooks on the real server"),
    (r"ours lacks id, organization_id, created_at|turns projection|select-formula",
     "deliberate: a select naming a formula keeps the projection"),
    (r"visible condition|disabled condition|ACTION_NOT_AVAILABLE|ACTION_DISABLED|^error\.httpStatus: 400 vs ours 403",
     "deliberate: an action's visible/disabled is enforced on the server"),
    (r"developerMessage|must be unique|already exists", "not yet: the unique-violation body (message, developerMessage)"),
    (r"^fields\[\d+\]: ours adds label", "not yet: validation-rule field errors carry no label on the real server"),
    (r"^(types|entries)", "not yet: /meta/types lists our 18 types, without the real server's JSON schemas"),
    (r"hook_rejected|ours adds code, fields$|Internal server error",
     "not yet: a hook's refusal answers {error, object} on the real server"),
    (r"preview|email_domain", "not yet: CEL substring/split"),
    (r"droppedFields|autonumber field", "not yet: writes to autonumber/readonly fields are dropped (droppedFields) on the real server"),
    (r"Query parameter|Invalid query request|INVALID_SORT|INVALID_REQUEST|CONFLICTING|having|sum' needs|aggregation",
     "not yet: list/query parameter errors and query-body validation as the real server words them"),
    (r"address|location|avatar|phone|decimal places|max_scale|valid date|invalid_type|sys_file",
     "not yet: value checks (address, location, file, phone, decimal scale) and the real server's lenient dates"),
    (r"is not one of|must be one of|ours lacks value", "not yet: select/multiselect option messages"),
    (r"valid URL|valid datetime|date-time|vector", "not yet: field-validation message wording"),
    (r"granted_by|valid_from", "not yet: sys_user_position's optional grant fields"),
    (r"record\.\w+: ours lacks|ours lacks nameField|_package|sortable|readonly|description|hidden",
     "not yet: object metadata details"),
    (r"sharing|status 200 vs ours 404", "not yet: sharing rules (criteria-based read access)"),
    (r"master record|PermissionDeniedError", "not yet: the wording of master-detail and hook permission refusals"),
    (r"status \d+ vs ours \d+", "not yet: a different status (see the call)"),
    (r"^(error|code|message|error\.\w+|fields\[\d+\]\.\w+): ", "not yet: error wording or code (see the call)"),
    (r"total: \d+ vs ours \d+|elements|TKT-|ITM-|MV-|records\[\d+\]\.\w+: ", "knock-on: an earlier call of this scenario differs (counts, autonumbers, rows)"),
]


# Calls whose difference a person has read and judged: the real server is wrong or unsafe there, or the call
# follows from such a case. Checked before CLASSES.
BY_CALL = {
    "accept-summary-write":
        "deliberate: a write to a summary (roll-up) field is dropped and named in droppedFields (the real server stores the client's value, forging the roll-up)",
    "accept-seed-name-again":
        "deliberate: seed rows join the first administrator's organization, so their unique values are taken there (the real server leaves seeds outside every organization)",
    "dept-insert-code-of-seeded-row":
        "deliberate: seed rows join the first administrator's organization, so their unique values are taken there (the real server leaves seeds outside every organization)",
    "list-offset-negative": "deliberate: a negative offset is refused with 400 (the real server fails with a 500)",
    "list-limit-zero": "deliberate: limit=0 answers no records with the true total and hasMore (the real server answers total 0)",
    "query-sum-text-field": "deliberate: sum/avg over a text field is refused with 400 (the real server answers 0)",
    "create-bad-date-hook-crash":
        "deliberate: a value of the wrong kind for its field (here a date not in ISO-8601) is the caller's 400 before any hook runs (on the real server the app's hook fails on it: 500)",
    "mark-patch-erin-draft-allowed":
        "deliberate: a select row-level policy also bounds updates, as in PostgreSQL (the real server lets a manager update a draft its policy hides, and read it back in the answer)",
    "admin-ensure-lr-erin-submitted":
        "knock-on: an earlier call of this scenario differs (counts, autonumbers, rows)",
    "agent-no-email-condition-error":
        "deliberate: a hook condition that cannot be evaluated on the record refuses the write with 400 naming the hook, as a validation rule does (the real server answers 500)",
    "portal-ticket-after-close":
        "deliberate: a write whose after-hook fails is rolled back with it (the real server answers 403 and keeps the write)",
}


def classify(lines):
    reasons = []
    for line in lines:
        text = line.split(": ", 1)[1] if ": " in line else line
        for pattern, reason in CLASSES:
            if re.search(pattern, line) or re.search(pattern, text):
                if reason not in reasons:
                    reasons.append(reason)
                break
        else:
            r = "unclassified: " + line[:160]
            if r not in reasons:
                reasons.append(r)
    # Envelope lines ("$: ours lacks error, code") follow from the call's other differences.
    if any(not r.startswith("unclassified") for r in reasons):
        reasons = [r for r in reasons if not r.startswith(("unclassified: $:", "unclassified: success:"))]
    return "; ".join(reasons)


def main():
    report = json.load(open(sys.argv[1]))
    root = pathlib.Path(__file__).resolve().parent
    for app, calls in report.items():
        out = {}
        for label, lines in sorted(calls.items()):
            reason = classify(lines)
            if label in BY_CALL:
                # The judged reason replaces the pattern guesses; a knock-on of an earlier call stays said.
                knock = [r for r in reason.split("; ") if r.startswith("knock-on")]
                reason = "; ".join([BY_CALL[label]] + knock)
            out[label] = reason
        path = root / app / "differences.json"
        path.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        print(f"{app}: {len(out)} documented differences")


if __name__ == "__main__":
    main()
