//! The permission matrix: declarative cases (who × method × path × body → status, code, fields seen), run
//! in order over REST against the expense fixture's permission sets plus our own objects with private sharing,
//! field-level security and row-level security. Every data path is the one `Kernel::execute`.

use crate::support::{Db, Server, start_server_with};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The expense fixture with our own objects and sets added.
fn artifact() -> Value {
    let mut a: Value =
        serde_json::from_str(include_str!("../fixtures/expense/objectstack.json")).expect("JSON");
    let objects = a["objects"].as_array_mut().expect("objects");
    objects.push(json!({
        "name": "sec_note", "label": "Note", "sharingModel": "private",
        "fields": {
            "title": {"type": "text", "required": true},
            "salary": {"type": "number"},
            "assignee": {"type": "text"}
        }
    }));
    objects.push(json!({
        "name": "sec_board", "label": "Board", "sharingModel": "public_read",
        "fields": {"title": {"type": "text"}}
    }));
    objects.push(json!({
        "name": "sec_task", "label": "Task", "sharingModel": "public_read_write",
        "fields": {"title": {"type": "text"}, "assignee": {"type": "text"}, "rank": {"type": "number"}}
    }));
    // A folder whose pages and pins go with it (cascade): deleting it deletes them as its caller.
    objects.push(json!({
        "name": "sec_folder", "label": "Folder", "sharingModel": "public_read_write",
        "fields": {"name": {"type": "text"}}
    }));
    for (child, sharing) in [("sec_page", "public_read_write"), ("sec_pin", "private")] {
        objects.push(json!({
            "name": child, "label": child, "sharingModel": sharing,
            "fields": {"title": {"type": "text"},
                       "folder": {"type": "master_detail", "reference": "sec_folder", "deleteBehavior": "cascade"}}
        }));
    }
    // A private diary whose entries are controlled by their diary: an entry is read only with its diary.
    objects.push(json!({
        "name": "sec_diary", "label": "Diary", "sharingModel": "private",
        "fields": {"title": {"type": "text"}}
    }));
    objects.push(json!({
        "name": "sec_entry", "label": "Entry", "sharingModel": "controlled_by_parent",
        "fields": {"text": {"type": "text"}, "mood": {"type": "number"},
                   "diary": {"type": "master_detail", "reference": "sec_diary", "deleteBehavior": "cascade"},
                   "folder_ref": {"type": "lookup", "reference": "sec_folder", "deleteBehavior": "cascade"}}
    }));
    // The fixture's escalate action, once more, declaring that it runs as the system (as every body does
    // by default), and once declaring that it runs as its caller.
    let mut elevated = a["actions"][0].clone();
    elevated["name"] = json!("exp_escalate_system");
    elevated["runAs"] = json!("system");
    a["actions"].as_array_mut().expect("actions").push(elevated);
    let mut as_user = a["actions"][0].clone();
    as_user["name"] = json!("exp_escalate_as_user");
    as_user["runAs"] = json!("user");
    a["actions"].as_array_mut().expect("actions").push(as_user);
    a["hooks"].as_array_mut().expect("hooks").push(json!({
        "name": "sec_board_bonus", "object": "sec_board", "events": ["afterInsert"], "onError": "abort",
        "body": {"language": "js", "capabilities": ["api.write"],
                 "source": "if (String(ctx.input.title).startsWith('Pay')) { await ctx.api.object('sec_note').insert({title: 'bonus', salary: 100}); }"}
    }));
    a["sharingRules"] = json!([{
        "name": "sec_public_memos", "object": "sec_note", "type": "criteria", "active": true,
        "condition": {"dialect": "cel", "source": "record.title == \"public memo\""},
        "accessLevel": "read", "sharedWith": {"type": "position", "value": "sec_contributor"}
    }]);
    let sets = a["permissions"].as_array_mut().expect("permissions");
    let crud =
        json!({"allowCreate": true, "allowRead": true, "allowEdit": true, "allowDelete": true});
    sets.push(json!({
        "name": "sec_contributor", "isDefault": false,
        "objects": {"sec_note": crud, "sec_board": {"allowCreate": true, "allowRead": true, "allowEdit": true}, "sec_task": crud,
                    "sec_folder": {"allowCreate": true, "allowRead": true, "allowEdit": true, "allowDelete": true, "modifyAllRecords": true},
                    "sec_page": {"allowCreate": true, "allowRead": true, "allowEdit": true}, "sec_pin": crud,
                    "sec_diary": crud, "sec_entry": crud},
        "fields": {"sec_note.salary": {"readable": false, "editable": false}},
        "rowLevelSecurity": [
            {"name": "own_tasks", "object": "sec_task", "operation": "select", "using": "assignee == current_user.email", "positions": ["sec_contributor"]},
            {"name": "own_tasks_edit", "object": "sec_task", "operation": "update", "using": "assignee == current_user.email", "check": "assignee == current_user.email"},
            {"name": "tasks_created_for_self", "object": "sec_task", "operation": "insert", "check": "assignee == current_user.email"}
        ]
    }));
    sets.push(json!({
        "name": "sec_auditor", "isDefault": false,
        "objects": {"sec_note": {"allowRead": true, "viewAllRecords": true}, "sec_task": {"allowRead": true, "viewAllRecords": true}}
    }));
    sets.push(json!({
        "name": "sec_everyone", "isDefault": true,
        "objects": {"sec_board": {"allowRead": true}}
    }));
    a
}

struct Case {
    who: &'static str,
    method: &'static str,
    path: &'static str,
    body: Value,
    status: u16,
    code: Option<&'static str>,
    /// Every returned record has these fields.
    shows: &'static [&'static str],
    /// No returned record has these fields.
    hides: &'static [&'static str],
    /// The number of records a list returns.
    count: Option<usize>,
    /// Saves the created record's id under this name (`{name}` in later paths).
    save: Option<&'static str>,
}

fn case(
    who: &'static str,
    method: &'static str,
    path: &'static str,
    body: Value,
    status: u16,
) -> Case {
    Case {
        who,
        method,
        path,
        body,
        status,
        code: None,
        shows: &[],
        hides: &[],
        count: None,
        save: None,
    }
}

impl Case {
    fn code(mut self, c: &'static str) -> Case {
        self.code = Some(c);
        self
    }
    fn shows(mut self, f: &'static [&'static str]) -> Case {
        self.shows = f;
        self
    }
    fn hides(mut self, f: &'static [&'static str]) -> Case {
        self.hides = f;
        self
    }
    fn count(mut self, n: usize) -> Case {
        self.count = Some(n);
        self
    }
    fn save(mut self, name: &'static str) -> Case {
        self.save = Some(name);
        self
    }
}

const DENIED: &str = "PERMISSION_DENIED";

fn cases() -> Vec<Case> {
    use serde_json::json as j;
    let report = |title: &str| j!({"title": title, "amount": 10, "category": "travel"});
    vec![
        // --- expense: object permissions and FLS of the fixture's sets ---
        case(
            "emp",
            "POST",
            "/api/v1/data/exp_report",
            report("Taxi"),
            201,
        )
        .save("r1"),
        // Four seeded reports plus this one: public_read_write lets everyone with read see them all.
        case("emp", "GET", "/api/v1/data/exp_report", Value::Null, 200)
            .count(5)
            .shows(&["title", "status", "approved_at"]),
        case(
            "emp",
            "GET",
            "/api/v1/data/exp_report/{r1}",
            Value::Null,
            200,
        )
        .shows(&["title"]),
        case(
            "emp",
            "PATCH",
            "/api/v1/data/exp_report/{r1}",
            j!({"notes": "city tax"}),
            403,
        )
        .code(DENIED),
        case(
            "emp",
            "POST",
            "/api/v1/data/exp_report",
            j!({"title": "Back-dated", "amount": 10, "approved_at": "2026-11-01T10:00:00Z"}),
            403,
        )
        .code(DENIED),
        case(
            "emp",
            "POST",
            "/api/v1/data/exp_report",
            j!({"title": "Self-approved", "amount": 10, "status": "approved"}),
            403,
        )
        .code(DENIED),
        case(
            "emp",
            "DELETE",
            "/api/v1/data/exp_report/{r1}",
            Value::Null,
            403,
        )
        .code(DENIED),
        case(
            "emp",
            "GET",
            "/api/v1/data/exp_ledger_entry",
            Value::Null,
            403,
        )
        .code(DENIED),
        case(
            "emp",
            "POST",
            "/api/v1/data/exp_ledger_entry",
            j!({"report": "{r1}", "amount": 1, "memo": "x"}),
            403,
        )
        .code(DENIED),
        case("nobody", "GET", "/api/v1/data/exp_report", Value::Null, 403).code(DENIED),
        case(
            "nobody",
            "POST",
            "/api/v1/data/exp_report",
            report("No rights"),
            403,
        )
        .code(DENIED),
        case("mgr", "GET", "/api/v1/data/exp_report", Value::Null, 200).count(5),
        case(
            "mgr",
            "GET",
            "/api/v1/data/exp_ledger_entry",
            Value::Null,
            200,
        )
        .count(0),
        case(
            "mgr",
            "POST",
            "/api/v1/data/exp_report",
            report("Manager's"),
            201,
        )
        .save("r2"),
        case(
            "mgr",
            "PATCH",
            "/api/v1/data/exp_report/{r1}",
            j!({"approved_at": "2026-11-01T10:00:00Z"}),
            403,
        )
        .code(DENIED),
        case(
            "mgr",
            "DELETE",
            "/api/v1/data/exp_report/{r2}",
            Value::Null,
            403,
        )
        .code(DENIED),
        // The afterUpdate hook books a ledger entry through ctx.api as the approver: a manager may not create
        // ledger entries, so the approval fails and nothing is written; a director may.
        case(
            "mgr",
            "PATCH",
            "/api/v1/data/exp_report/{r1}",
            j!({"status": "approved"}),
            403,
        )
        .code(DENIED),
        case(
            "mgr",
            "GET",
            "/api/v1/data/exp_report/{r1}",
            Value::Null,
            200,
        )
        .shows(&["status"]),
        case(
            "dir",
            "PATCH",
            "/api/v1/data/exp_report/{r2}",
            j!({"notes": "checked"}),
            200,
        )
        .shows(&["notes"]),
        case(
            "dir",
            "GET",
            "/api/v1/data/exp_ledger_entry",
            Value::Null,
            200,
        )
        .count(0),
        case(
            "dir",
            "PATCH",
            "/api/v1/data/exp_report/{r1}",
            j!({"status": "approved"}),
            200,
        )
        .shows(&["approved_at"]),
        case(
            "dir",
            "GET",
            "/api/v1/data/exp_ledger_entry",
            Value::Null,
            200,
        )
        .count(1),
        case(
            "dir",
            "DELETE",
            "/api/v1/data/exp_report/{r2}",
            Value::Null,
            200,
        ),
        case("admin", "GET", "/api/v1/data/exp_report", Value::Null, 200).count(5),
        case(
            "admin",
            "POST",
            "/api/v1/data/exp_ledger_entry",
            j!({"report": "{r1}", "amount": 1, "memo": "admin"}),
            201,
        ),
        // An action's body runs elevated within the caller's organization: the employee may not edit
        // reports, yet escalating through the action is allowed (and audited as the caller's); the same body
        // declaring runAs: user acts as the caller and is refused.
        case(
            "emp",
            "POST",
            "/api/v1/data/exp_report",
            report("Escalate me"),
            201,
        )
        .save("r3"),
        case(
            "emp",
            "POST",
            "/api/v1/actions/exp_report/exp_escalate_as_user/{r3}",
            j!({}),
            403,
        )
        .code(DENIED),
        case(
            "emp",
            "GET",
            "/api/v1/data/exp_report/{r3}",
            Value::Null,
            200,
        ),
        case(
            "emp",
            "POST",
            "/api/v1/actions/exp_report/exp_escalate_system/{r3}",
            j!({}),
            200,
        ),
        // --- private sharing: only one's own notes, FLS hides salary from contributors ---
        case(
            "alice",
            "POST",
            "/api/v1/data/sec_note",
            j!({"title": "Alice's", "assignee": "alice@example.com"}),
            201,
        )
        .save("n1")
        .hides(&["salary"]),
        case(
            "alice",
            "POST",
            "/api/v1/data/sec_note",
            j!({"title": "Paid", "salary": 100}),
            403,
        )
        .code(DENIED),
        case(
            "bob",
            "POST",
            "/api/v1/data/sec_note",
            j!({"title": "Bob's"}),
            201,
        )
        .save("n2"),
        case("alice", "GET", "/api/v1/data/sec_note", Value::Null, 200)
            .count(1)
            .shows(&["title"])
            .hides(&["salary"]),
        case(
            "alice",
            "GET",
            "/api/v1/data/sec_note/{n2}",
            Value::Null,
            404,
        ),
        case(
            "alice",
            "PATCH",
            "/api/v1/data/sec_note/{n2}",
            j!({"title": "mine now"}),
            404,
        ),
        case(
            "alice",
            "DELETE",
            "/api/v1/data/sec_note/{n2}",
            Value::Null,
            404,
        ),
        case(
            "alice",
            "PATCH",
            "/api/v1/data/sec_note/{n1}",
            j!({"title": "Alice's (edited)"}),
            200,
        )
        .hides(&["salary"]),
        case(
            "alice",
            "PATCH",
            "/api/v1/data/sec_note/{n1}",
            j!({"salary": 5}),
            403,
        )
        .code(DENIED),
        case(
            "alice",
            "GET",
            "/api/v1/data/sec_note?filter=%7B%22salary%22%3A100%7D",
            Value::Null,
            403,
        )
        .code(DENIED),
        case(
            "alice",
            "GET",
            "/api/v1/data/sec_note?sort=salary",
            Value::Null,
            403,
        )
        .code(DENIED),
        case(
            "alice",
            "GET",
            "/api/v1/data/sec_note?select=title,salary",
            Value::Null,
            200,
        )
        .hides(&["salary"]),
        case(
            "alice",
            "POST",
            "/api/v1/data/sec_note/query",
            j!({"where": {"salary": {"$gt": 0}}}),
            403,
        )
        .code(DENIED),
        case(
            "alice",
            "POST",
            "/api/v1/data/sec_note/query",
            j!({"groupBy": ["salary"], "aggregations": [{"function": "count", "alias": "n"}]}),
            403,
        )
        .code(DENIED),
        case(
            "alice",
            "GET",
            "/api/v1/data/sec_note?select=title",
            Value::Null,
            200,
        )
        .count(1),
        case("aud", "GET", "/api/v1/data/sec_note", Value::Null, 200)
            .count(2)
            .shows(&["salary"]),
        case(
            "aud",
            "POST",
            "/api/v1/data/sec_note",
            j!({"title": "Auditor's"}),
            403,
        )
        .code(DENIED),
        case(
            "aud",
            "PATCH",
            "/api/v1/data/sec_note/{n1}",
            j!({"title": "x"}),
            403,
        )
        .code(DENIED),
        case(
            "admin",
            "PATCH",
            "/api/v1/data/sec_note/{n2}",
            j!({"salary": 120}),
            200,
        )
        .shows(&["salary"]),
        case("bob", "GET", "/api/v1/data/sec_note/{n2}", Value::Null, 200).hides(&["salary"]),
        case(
            "bob",
            "GET",
            "/api/v1/data/sec_note?filter=%7B%22title%22%3A%22Bob%27s%22%7D",
            Value::Null,
            200,
        )
        .count(1),
        // --- public_read: everyone reads (default set), only owners edit ---
        case(
            "alice",
            "POST",
            "/api/v1/data/sec_board",
            j!({"title": "Announcement"}),
            201,
        )
        .save("b1"),
        case("nobody", "GET", "/api/v1/data/sec_board", Value::Null, 200).count(1),
        case(
            "nobody",
            "POST",
            "/api/v1/data/sec_board",
            j!({"title": "Graffiti"}),
            403,
        )
        .code(DENIED),
        case(
            "bob",
            "GET",
            "/api/v1/data/sec_board/{b1}",
            Value::Null,
            200,
        ),
        case(
            "bob",
            "PATCH",
            "/api/v1/data/sec_board/{b1}",
            j!({"title": "Hijacked"}),
            403,
        )
        .code(DENIED),
        case(
            "alice",
            "PATCH",
            "/api/v1/data/sec_board/{b1}",
            j!({"title": "Announcement (v2)"}),
            200,
        ),
        // A hook running as alice writes a field she may not edit (a note's salary): the write is refused.
        case(
            "alice",
            "POST",
            "/api/v1/data/sec_board",
            j!({"title": "Pay day"}),
            403,
        )
        .code(DENIED),
        case("nobody", "GET", "/api/v1/data/sec_board", Value::Null, 200).count(1),
        case("emp", "GET", "/api/v1/data/sec_task", Value::Null, 403).code(DENIED),
        // --- RLS: contributors see and edit only tasks assigned to them; `check` on insert and update ---
        case(
            "admin",
            "POST",
            "/api/v1/data/sec_task",
            j!({"title": "t1", "assignee": "alice@example.com", "rank": 1}),
            201,
        )
        .save("t1"),
        case(
            "admin",
            "POST",
            "/api/v1/data/sec_task",
            j!({"title": "t2", "assignee": "alice@example.com", "rank": 2}),
            201,
        ),
        case(
            "admin",
            "POST",
            "/api/v1/data/sec_task",
            j!({"title": "t3", "assignee": "alice@example.com", "rank": 3}),
            201,
        ),
        case(
            "admin",
            "POST",
            "/api/v1/data/sec_task",
            j!({"title": "t4", "assignee": "bob@example.com", "rank": 4}),
            201,
        )
        .save("t4"),
        case(
            "admin",
            "POST",
            "/api/v1/data/sec_task",
            j!({"title": "t5", "assignee": "bob@example.com", "rank": 5}),
            201,
        ),
        case("alice", "GET", "/api/v1/data/sec_task", Value::Null, 200).count(3),
        case(
            "alice",
            "GET",
            "/api/v1/data/sec_task?top=2&sort=rank&count=true",
            Value::Null,
            200,
        )
        .count(2),
        case(
            "alice",
            "GET",
            "/api/v1/data/sec_task?top=2&skip=2&sort=rank",
            Value::Null,
            200,
        )
        .count(1),
        case("bob", "GET", "/api/v1/data/sec_task", Value::Null, 200).count(2),
        case(
            "alice",
            "GET",
            "/api/v1/data/sec_task/{t4}",
            Value::Null,
            404,
        ),
        case(
            "alice",
            "PATCH",
            "/api/v1/data/sec_task/{t4}",
            j!({"title": "stolen"}),
            404,
        ),
        case(
            "alice",
            "PATCH",
            "/api/v1/data/sec_task/{t1}",
            j!({"title": "t1 done"}),
            200,
        ),
        case(
            "alice",
            "PATCH",
            "/api/v1/data/sec_task/{t1}",
            j!({"assignee": "bob@example.com"}),
            403,
        )
        .code(DENIED),
        case(
            "alice",
            "POST",
            "/api/v1/data/sec_task",
            j!({"title": "for bob", "assignee": "bob@example.com"}),
            403,
        )
        .code(DENIED),
        case(
            "alice",
            "POST",
            "/api/v1/data/sec_task",
            j!({"title": "for me", "assignee": "alice@example.com"}),
            201,
        ),
        case("aud", "GET", "/api/v1/data/sec_task", Value::Null, 200).count(6),
        case("admin", "GET", "/api/v1/data/sec_task", Value::Null, 200).count(6),
        // A cascade deletes as its caller: a folder whose pages alice may not delete stays, pages and all
        // (the real server's answer); pins of bob's, which alice may not delete either, hold it too.
        case(
            "alice",
            "POST",
            "/api/v1/data/sec_folder",
            j!({"name": "F1"}),
            201,
        )
        .save("f1"),
        case(
            "alice",
            "POST",
            "/api/v1/data/sec_page",
            j!({"title": "p", "folder": "{f1}"}),
            201,
        )
        .save("p1"),
        case(
            "alice",
            "DELETE",
            "/api/v1/data/sec_folder/{f1}",
            Value::Null,
            403,
        )
        .code(DENIED),
        case(
            "alice",
            "GET",
            "/api/v1/data/sec_page/{p1}",
            Value::Null,
            200,
        ),
        case(
            "alice",
            "GET",
            "/api/v1/data/sec_folder/{f1}",
            Value::Null,
            200,
        ),
        case(
            "alice",
            "POST",
            "/api/v1/data/sec_folder",
            j!({"name": "F2"}),
            201,
        )
        .save("f2"),
        case(
            "alice",
            "POST",
            "/api/v1/data/sec_pin",
            j!({"title": "a", "folder": "{f2}"}),
            201,
        )
        .save("pin_a"),
        case(
            "bob",
            "POST",
            "/api/v1/data/sec_pin",
            j!({"title": "b", "folder": "{f2}"}),
            201,
        )
        .save("pin_b"),
        case(
            "alice",
            "DELETE",
            "/api/v1/data/sec_folder/{f2}",
            Value::Null,
            403,
        )
        .code(DENIED),
        case(
            "bob",
            "GET",
            "/api/v1/data/sec_pin/{pin_b}",
            Value::Null,
            200,
        ),
        case(
            "alice",
            "GET",
            "/api/v1/data/sec_pin/{pin_a}",
            Value::Null,
            200,
        ),
        case(
            "bob",
            "DELETE",
            "/api/v1/data/sec_pin/{pin_b}",
            Value::Null,
            200,
        ),
        case(
            "alice",
            "DELETE",
            "/api/v1/data/sec_folder/{f2}",
            Value::Null,
            200,
        ),
        case(
            "alice",
            "GET",
            "/api/v1/data/sec_pin/{pin_a}",
            Value::Null,
            404,
        ),
        case(
            "admin",
            "DELETE",
            "/api/v1/data/sec_folder/{f1}",
            Value::Null,
            200,
        ),
        case(
            "admin",
            "GET",
            "/api/v1/data/sec_page/{p1}",
            Value::Null,
            404,
        ),
        // controlled_by_parent: bob's entries are not alice's to list, count, group, get or find by filter.
        case(
            "alice",
            "POST",
            "/api/v1/data/sec_diary",
            j!({"title": "mine"}),
            201,
        )
        .save("d_alice"),
        case(
            "alice",
            "POST",
            "/api/v1/data/sec_entry",
            j!({"text": "dear diary", "mood": 1, "diary": "{d_alice}"}),
            201,
        ),
        case(
            "bob",
            "POST",
            "/api/v1/data/sec_diary",
            j!({"title": "bob's"}),
            201,
        )
        .save("d_bob"),
        case(
            "bob",
            "POST",
            "/api/v1/data/sec_entry",
            j!({"text": "secret", "mood": 9, "diary": "{d_bob}"}),
            201,
        )
        .save("e_bob"),
        case("alice", "GET", "/api/v1/data/sec_entry", Value::Null, 200).count(1),
        case(
            "alice",
            "GET",
            "/api/v1/data/sec_entry/{e_bob}",
            Value::Null,
            404,
        ),
        case(
            "alice",
            "GET",
            "/api/v1/data/sec_entry?diary={d_bob}",
            Value::Null,
            200,
        )
        .count(0),
        case(
            "alice",
            "POST",
            "/api/v1/data/sec_entry/query",
            j!({"where": {"mood": {"$gt": 5}}}),
            200,
        )
        .count(0),
        case(
            "alice",
            "POST",
            "/api/v1/data/sec_entry/query",
            j!({"groupBy": ["diary"], "aggregations": [{"function": "count", "alias": "n"}]}),
            200,
        )
        .count(1),
        case(
            "alice",
            "PATCH",
            "/api/v1/data/sec_entry/{e_bob}",
            j!({"text": "read"}),
            404,
        ),
        case("bob", "GET", "/api/v1/data/sec_entry", Value::Null, 200).count(1),
        case("admin", "GET", "/api/v1/data/sec_entry", Value::Null, 200).count(2),
        // A cascade through another reference than the master still needs edit access to the master: alice's
        // folder may not take bob's entry with it.
        case(
            "alice",
            "POST",
            "/api/v1/data/sec_folder",
            j!({"name": "F3"}),
            201,
        )
        .save("f3"),
        case(
            "bob",
            "PATCH",
            "/api/v1/data/sec_entry/{e_bob}",
            j!({"folder_ref": "{f3}"}),
            200,
        ),
        case(
            "alice",
            "DELETE",
            "/api/v1/data/sec_folder/{f3}",
            Value::Null,
            403,
        )
        .code(DENIED),
        case(
            "bob",
            "GET",
            "/api/v1/data/sec_entry/{e_bob}",
            Value::Null,
            200,
        ),
        // The same hook for an administrator writes the note.
        case(
            "admin",
            "POST",
            "/api/v1/data/sec_board",
            j!({"title": "Pay day"}),
            201,
        ),
        case(
            "aud",
            "GET",
            "/api/v1/data/sec_note?filter=%7B%22title%22%3A%22bonus%22%7D",
            Value::Null,
            200,
        )
        .count(1)
        .shows(&["salary"]),
        // A criteria sharing rule shares the administrator's private memos titled "public memo" with the
        // contributors, to read: they see that one (not the other), and still may not edit it.
        case(
            "admin",
            "POST",
            "/api/v1/data/sec_note",
            j!({"title": "public memo", "salary": 1}),
            201,
        )
        .save("memo"),
        case(
            "admin",
            "POST",
            "/api/v1/data/sec_note",
            j!({"title": "private memo"}),
            201,
        ),
        case(
            "alice",
            "GET",
            "/api/v1/data/sec_note?title=public%20memo",
            Value::Null,
            200,
        )
        .count(1)
        .hides(&["salary"]),
        case(
            "bob",
            "GET",
            "/api/v1/data/sec_note/{memo}",
            Value::Null,
            200,
        ),
        case(
            "alice",
            "GET",
            "/api/v1/data/sec_note?title=private%20memo",
            Value::Null,
            200,
        )
        .count(0),
        case(
            "alice",
            "PATCH",
            "/api/v1/data/sec_note/{memo}",
            j!({"title": "mine now"}),
            403,
        )
        .code(DENIED),
        case(
            "alice",
            "DELETE",
            "/api/v1/data/sec_note/{memo}",
            Value::Null,
            403,
        )
        .code(DENIED),
    ]
}

async fn bind(s: &Server, admin: &str, position: &str, sets: &[&str]) {
    let r = s
        .call(
            "POST",
            "/api/v1/auth/admin/bind-permission-sets",
            json!({"position": position, "permissionSets": sets}),
            Some(admin),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// The records of a reply (a list's `records` or a single `record`).
fn records(body: &Value) -> Vec<Value> {
    match (&body["records"], &body["record"]) {
        (Value::Array(rs), _) => rs.clone(),
        (_, r @ Value::Object(_)) => vec![r.clone()],
        _ => vec![],
    }
}

async fn run_matrix(db: Db) {
    let s = start_server_with(
        db,
        "security_matrix",
        artifact(),
        Default::default(),
        |cfg| {
            cfg.js_runtime = Some(crate::support::js_runtime());
        },
    )
    .await;
    let admin = s.sign_up("admin@example.com", "Passw0rd!Passw0rd").await;
    for (position, set) in [
        ("exp_employee", "exp_employee_access"),
        ("exp_manager", "exp_manager_access"),
        ("exp_director", "exp_director_access"),
        ("sec_contributor", "sec_contributor"),
        ("sec_auditor", "sec_auditor"),
    ] {
        bind(&s, &admin, position, &[set]).await;
    }
    // Binding an unknown set is refused, naming it.
    let r = s
        .call(
            "POST",
            "/api/v1/auth/admin/bind-permission-sets",
            json!({"position": "x", "permissionSets": ["no_such_set"]}),
            Some(&admin),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "INVALID_FIELD"), "{:?}", r.body);
    let mut tokens: HashMap<&str, String> = HashMap::new();
    tokens.insert("admin", admin.clone());
    for (who, email, positions) in [
        ("emp", "emp@example.com", &["exp_employee"][..]),
        ("mgr", "mgr@example.com", &["exp_manager"][..]),
        ("dir", "dir@example.com", &["exp_director"][..]),
        ("alice", "alice@example.com", &["sec_contributor"][..]),
        ("bob", "bob@example.com", &["sec_contributor"][..]),
        ("aud", "aud@example.com", &["sec_auditor"][..]),
        ("nobody", "nobody@example.com", &[][..]),
    ] {
        tokens.insert(who, s.create_user(&admin, email, positions).await.0);
    }
    let mut saved: HashMap<&str, String> = HashMap::new();
    let all = cases();
    assert!(all.len() >= 60, "{} cases", all.len());
    for (i, c) in all.iter().enumerate() {
        let mut path = c.path.to_string();
        let mut body = c.body.to_string();
        for (name, id) in &saved {
            path = path.replace(&format!("{{{name}}}"), id);
            body = body.replace(&format!("{{{name}}}"), id);
        }
        let body: Value = serde_json::from_str(&body).expect("body");
        let r = s.call(c.method, &path, body, Some(&tokens[c.who])).await;
        let what = format!(
            "case {i}: {} {} {path} → {} {}",
            c.who, c.method, r.status, r.body
        );
        assert_eq!(r.status, c.status, "{what}");
        if let Some(code) = c.code {
            // Data routes answer `{code}`, action routes `{success: false, error: {code}}`.
            let got = r.body["error"]["code"].as_str().unwrap_or(r.code());
            assert_eq!(got, code, "{what}");
        }
        let rs = records(&r.body);
        if let Some(n) = c.count {
            assert_eq!(rs.len(), n, "{what}");
        }
        for rec in &rs {
            for f in c.shows {
                assert!(rec.get(*f).is_some(), "{what}: {f} missing");
            }
            for f in c.hides {
                assert!(rec.get(*f).is_none(), "{what}: {f} shown");
            }
        }
        if let Some(name) = c.save {
            let id = r.body["id"].as_str().expect("created id").to_string();
            saved.insert(name, id);
        }
    }
    // The audit log holds one row per committed change of the organization's records: every successful
    // write above, plus the ledger entry the director's approval booked through its hook and the note the
    // administrator's board post created through its hook, and the two records that went with their folders
    // (a pin, a page: cascaded deletes are logged too); refused writes (the manager's approval, whose hook was
    // denied, and the refused cascades included) left none.
    let writes = all
        .iter()
        .filter(|c| c.method != "GET" && !c.path.ends_with("/query") && c.status < 300)
        .count();
    let r = s
        .call(
            "GET",
            "/api/v1/data/sys_audit_log?top=500&count=true",
            Value::Null,
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let log = records(&r.body);
    assert_eq!(log.len(), writes + 4, "{log:#?}");
    let r1 = &saved["r1"];
    let of_r1: Vec<&str> = log
        .iter()
        .filter(|row| row["record_id"] == json!(r1))
        .map(|row| row["action"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(of_r1, ["create", "update"], "{log:#?}");
    assert!(
        log.iter().any(|row| row["actor"] == "platform_admin"),
        "admin writes are audited as such"
    );
    let elevated: Vec<&Value> = log
        .iter()
        .filter(|row| row["actor"] == "system_on_behalf_of_user")
        .collect();
    assert_eq!(elevated.len(), 1, "{log:#?}");
    assert_eq!(elevated[0]["record_id"], json!(saved["r3"]));
    assert_eq!(elevated[0]["new_value"]["status"], "pending_director");
    assert!(elevated[0]["user_id"].is_string());
    // Only administrators read it, and nobody writes it.
    let r = s
        .call(
            "GET",
            "/api/v1/data/sys_audit_log",
            Value::Null,
            Some(&tokens["emp"]),
        )
        .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    let r = s
        .call(
            "POST",
            "/api/v1/data/sys_audit_log",
            json!({"action": "create", "object_name": "x", "record_id": "y"}),
            Some(&admin),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, DENIED), "{:?}", r.body);
}

#[tokio::test]
async fn permission_matrix_sqlite() {
    run_matrix(Db::Sqlite).await;
}

#[tokio::test]
async fn permission_matrix_postgres() {
    run_matrix(Db::Postgres).await;
}
