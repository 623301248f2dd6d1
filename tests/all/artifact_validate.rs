//! Broken artifacts never half-boot: every problem is reported with its JSON path and a reason.

use crate::support::{fixture_json, testapp, upstream_fixtures};
use objectos_host::artifact::{Artifact, ArtifactSource, inspect};
use serde_json::{Value, json};

/// Applies `edit` to the test app and returns every problem as "path: message".
fn problems(edit: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut app = testapp();
    edit(&mut app);
    match Artifact::from_value(app) {
        Ok(_) => vec![],
        Err(e) => e.problems().iter().map(|p| p.to_string()).collect(),
    }
}

fn item(app: &mut Value) -> &mut Value {
    &mut app["objects"][1]
}

#[test]
fn broken_artifacts_name_their_paths() {
    type Edit = Box<dyn FnOnce(&mut Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "unknown field type",
            Box::new(|a| item(a)["fields"]["qty"]["type"] = json!("monye")),
            "objects[1].fields.qty.type: unknown field type \"monye\"",
        ),
        (
            "typo in a type is suggested",
            Box::new(|a| item(a)["fields"]["qty"]["type"] = json!("numbr")),
            "objects[1].fields.qty.type: unknown field type \"numbr\" (did you mean \"number\"?)",
        ),
        (
            "reference to a missing object",
            Box::new(|a| item(a)["fields"]["category"]["reference"] = json!("t_categoryy")),
            "objects[1].fields.category.reference: object \"t_categoryy\" does not exist (did you mean \"t_category\"?)",
        ),
        (
            "duplicate object name",
            Box::new(|a| {
                let dup = a["objects"][1].clone();
                a["objects"].as_array_mut().unwrap().push(dup);
            }),
            "objects[7].name: duplicate object name \"t_item\" (first declared at objects[1])",
        ),
        (
            "select default not among options",
            Box::new(|a| item(a)["fields"]["status"]["defaultValue"] = json!("pending")),
            "objects[1].fields.status.defaultValue: default \"pending\" is not among the options (open, closed, archived)",
        ),
        (
            "required self-lookup cannot be created",
            Box::new(|a| a["objects"][0]["fields"]["parent"]["required"] = json!(true)),
            "objects[0].fields.parent.reference: required lookups form a cycle (t_category → t_category)",
        ),
        (
            "required lookup cycle across objects",
            Box::new(|a| {
                a["objects"][0]["fields"]["best_item"] =
                    json!({"type": "lookup", "reference": "t_item", "required": true});
                item(a)["fields"]["category"]["required"] = json!(true);
            }),
            "required lookups form a cycle (t_category → t_item → t_category)",
        ),
        (
            "retired section",
            Box::new(|a| a["workflows"] = json!([])),
            "workflows: section retired in protocol 17",
        ),
        (
            "unknown section",
            Box::new(|a| a["widgets"] = json!([])),
            "widgets: unknown top-level section",
        ),
        (
            "bad object name",
            Box::new(|a| item(a)["name"] = json!("T-Item")),
            "objects[1].name: object name \"T-Item\" must match ^[a-z_][a-z0-9_]*$",
        ),
        (
            "bad field name",
            Box::new(|a| item(a)["fields"]["Bad Name"] = json!({"type": "text"})),
            "objects[1].fields.Bad Name: field name \"Bad Name\" must match",
        ),
        (
            "choice field without options",
            Box::new(|a| item(a)["fields"]["status"]["options"] = json!([])),
            "objects[1].fields.status.options: a choice field needs at least one option",
        ),
        (
            "bad option value",
            Box::new(|a| item(a)["fields"]["status"]["options"][0]["value"] = json!("Open")),
            "objects[1].fields.status.options[0].value: option value \"Open\" must match ^[a-z][a-z0-9_.]*$",
        ),
        (
            "duplicate option value",
            Box::new(|a| item(a)["fields"]["status"]["options"][1]["value"] = json!("open")),
            "objects[1].fields.status.options[1].value: duplicate option value \"open\"",
        ),
        (
            "min above max",
            Box::new(|a| item(a)["fields"]["qty"]["min"] = json!(5000)),
            "objects[1].fields.qty.min: min 5000 is greater than max 1000",
        ),
        (
            "unknown delete behaviour",
            Box::new(|a| a["objects"][2]["fields"]["item"]["deleteBehavior"] = json!("explode")),
            "objects[2].fields.item.deleteBehavior: unknown delete behavior \"explode\"",
        ),
        (
            "index on a missing field",
            Box::new(|a| item(a)["indexes"] = json!([{"fields": ["nope"]}])),
            "objects[1].indexes[0].fields[0]: index names \"nope\", which is not a field of \"t_item\"",
        ),
        (
            "unknown hook event",
            Box::new(
                |a| a["hooks"] = json!([{"name": "h", "object": "t_item", "events": ["beforeSave"], "body": {"language": "js", "source": "1"}}]),
            ),
            "hooks[0].events[0]: unknown hook event \"beforeSave\"",
        ),
        (
            "hook timeout over the maximum",
            Box::new(
                |a| a["hooks"] = json!([{"name": "h", "object": "t_item", "events": ["beforeInsert"], "body": {"language": "js", "source": "1", "timeoutMs": 60000}}]),
            ),
            "hooks[0].body.timeoutMs: must be between 1 and 30000 (got 60000)",
        ),
        (
            "hook on a missing object",
            Box::new(
                |a| a["hooks"] = json!([{"name": "h", "object": ["t_item", "t_gone"], "events": ["afterInsert"], "body": {"language": "expression", "source": "true"}}]),
            ),
            "hooks[0].object: object \"t_gone\" does not exist",
        ),
        (
            "wasm body without digest",
            Box::new(
                |a| a["hooks"] = json!([{"name": "h", "object": "*", "events": ["afterInsert"], "body": {"language": "wasm", "component": "AGFzbQ=="}}]),
            ),
            "hooks[0].body.sha256: a wasm body needs the component's SHA-256 (64 hex)",
        ),
        (
            "handler with no code anywhere",
            Box::new(
                |a| a["hooks"] = json!([{"name": "h", "object": "t_item", "events": ["afterInsert"], "handler": "doIt"}]),
            ),
            "hooks[0].handler: handler \"doIt\" has no body and the artifact has no runtimeModule",
        ),
        (
            "action on a missing object",
            Box::new(
                |a| a["actions"] = json!([{"name": "go", "objectName": "t_nope", "type": "script", "body": {"language": "js", "source": "1"}}]),
            ),
            "actions[0].objectName: object \"t_nope\" does not exist",
        ),
        (
            "seed for a missing object",
            Box::new(|a| a["data"] = json!([{"object": "t_nope", "records": []}])),
            "data[0].object: object \"t_nope\" does not exist",
        ),
        (
            "seed with an unknown field",
            Box::new(|a| a["data"][0]["records"][1]["colour"] = json!("red")),
            "data[0].records[1].colour: \"colour\" is not a field of \"t_category\"",
        ),
        (
            "seed external id not a field",
            Box::new(|a| a["data"][0]["externalId"] = json!("code")),
            "data[0].externalId: external id \"code\" is not a field of \"t_category\"",
        ),
        (
            "state machine to an undeclared state",
            Box::new(
                |a| item(a)["validations"] = json!([{"name": "sm", "type": "state_machine", "field": "status", "transitions": {"open": ["closed", "done"]}}]),
            ),
            "objects[1].validations[0].transitions.open[1]: state \"done\" is not an option of \"status\"",
        ),
        (
            "unknown validation type",
            Box::new(|a| item(a)["validations"] = json!([{"name": "v", "type": "regex"}])),
            "objects[1].validations[0].type: unknown validation rule type \"regex\"",
        ),
        (
            "formula without expression",
            Box::new(|a| {
                item(a)["fields"]["score"]
                    .as_object_mut()
                    .unwrap()
                    .remove("expression");
            }),
            "objects[1].fields.score.expression: a formula field needs a CEL expression",
        ),
        (
            "incompatible protocol",
            Box::new(|a| a["manifest"]["engines"]["protocol"] = json!("^16")),
            "manifest.engines.protocol: OS_PROTOCOL_INCOMPATIBLE: the app requires protocol \"^16\"",
        ),
        (
            "unknown sharing model",
            Box::new(|a| item(a)["sharingModel"] = json!("everyone")),
            "objects[1].sharingModel: unknown sharing model \"everyone\"",
        ),
        (
            "permission on a missing field",
            Box::new(
                |a| a["permissions"] = json!([{"name": "p", "objects": {"t_item": {"allowRead": true}}, "fields": {"t_item.nope": {"readable": false}}}]),
            ),
            "permissions[0].fields.t_item.nope: \"t_item.nope\" is not an existing <object>.<field>",
        ),
        (
            "formula whose CEL does not parse",
            Box::new(
                |a| item(a)["fields"]["twice"] = json!({"type": "formula", "expression": {"dialect": "cel", "source": "record.qty * "}}),
            ),
            "objects[1].fields.twice.expression: cannot parse CEL `record.qty * `",
        ),
        (
            "rule condition nested too deep",
            Box::new(|a| {
                let deep = format!("{}true{}", "(".repeat(40), ")".repeat(40));
                item(a)["validations"] =
                    json!([{"name": "deep", "type": "script", "condition": deep}])
            }),
            "objects[1].validations[0].condition: the expression nests",
        ),
        (
            "bad autonumber format",
            Box::new(|a| item(a)["fields"]["code"]["autonumberFormat"] = json!("IT-{0000")),
            "objects[1].fields.code.autonumberFormat: unclosed '{' in autonumber format \"IT-{0000\"",
        ),
        (
            "undeclared datasource",
            Box::new(|a| item(a)["datasource"] = json!("warehouse")),
            "objects[1].datasource: datasource \"warehouse\" is not declared in datasources",
        ),
        (
            "field that is not an object",
            Box::new(|a| item(a)["fields"]["qty"] = json!("number")),
            "objects[1].fields.qty: a field must be a JSON object, found a string",
        ),
        (
            "objects not an array",
            Box::new(|a| a["objects"] = json!({})),
            "objects: must be an array, found an object",
        ),
    ];
    assert!(cases.len() >= 15);
    for (what, edit, expected) in cases {
        let found = problems(edit);
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "{what}: expected a problem containing\n  {expected}\nfound\n  {}",
            found.join("\n  ")
        );
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let found = problems(|a| {
        item(a)["fields"]["qty"]["type"] = json!("monye");
        item(a)["fields"]["category"]["reference"] = json!("t_gone");
        a["workflows"] = json!([]);
    });
    assert_eq!(found.len(), 3, "{found:?}");
}

#[test]
fn own_fixtures_are_valid() {
    for rel in [
        "tests/fixtures/expense/objectstack.json",
        "tests/fixtures/testapp.json",
    ] {
        let a = Artifact::from_value(fixture_json(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(!a.definition.objects.is_empty());
    }
}

#[tokio::test]
async fn upstream_fixtures_are_valid_and_runtime_module_handlers_are_listed() {
    let Some(dir) = upstream_fixtures() else {
        return;
    };
    for name in [
        "my-app.json",
        "app-crm.json",
        "app-todo.json",
        "app-showcase.json",
    ] {
        let src = ArtifactSource::parse(dir.join(name).to_str().unwrap()).unwrap();
        let a = Artifact::load(&src)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let unrunnable = inspect::unrunnable_handlers(&a);
        match name {
            "app-showcase.json" => {
                assert_eq!(a.definition.objects.len(), 24);
                let module_only: Vec<&str> = unrunnable
                    .iter()
                    .filter(|u| u.reason.contains("runtime module"))
                    .map(|u| u.name.as_str())
                    .collect();
                assert_eq!(
                    module_only,
                    ["summarizeCompletedTask", "sweepProjectHealth"]
                );
                let report = inspect::render(&a);
                assert!(
                    report.contains("runtimeModule: ./objectstack-runtime.4459eee6cb7bca4f.mjs"),
                    "{report}"
                );
                assert!(
                    report.contains("kept but not executed by this build: translations"),
                    "{report}"
                );
            }
            "app-todo.json" => {
                let module_only: Vec<&str> = unrunnable
                    .iter()
                    .filter(|u| u.reason.contains("runtime module"))
                    .map(|u| u.name.as_str())
                    .collect();
                assert!(
                    module_only.contains(&"complete_task")
                        && module_only.contains(&"computeNextTaskDueDate"),
                    "{module_only:?}"
                );
            }
            "app-crm.json" => {
                assert_eq!(a.definition.hooks[0].name, "opportunity_stage_probability")
            }
            _ => {}
        }
    }
}

#[test]
fn object_extensions_are_merged() {
    let mut app = testapp();
    app["objectExtensions"] = json!([{"extend": "t_category", "fields": {"color": {"type": "color", "label": "Colour"}}}]);
    let a = Artifact::from_value(app).unwrap();
    assert!(a.definition.objects[0].fields.contains_key("color"));
    let found = problems(|a| a["objectExtensions"] = json!([{"extend": "t_nope", "fields": {}}]));
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("objectExtensions[0].extend: object \"t_nope\" does not exist")),
        "{found:?}"
    );
}
