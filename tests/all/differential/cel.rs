//! CEL as the real server evaluates it. Every expression of `tests/differential/cel/cases.json` was evaluated
//! by the real server's engine (`@objectstack/formula` 17.4.0 over cel-js; `record.mjs` wrote
//! `expected.json`) over one record; objectos must give the same value, or fail where it fails. The faults a
//! validation rule reports (a missing key, a comparison with null) must also read the same. `known` in
//! cases.json lists the expressions where the real engine is wrong, with the reason; they are not compared.

use super::read_json;
use crate::support::repo_path;
use serde_json::Value;

/// Equal as JSON, numbers compared by value (cel-js has one number type on the wire: 3 and 3.0 are equal).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Faults whose words a rule's error carries to the client.
fn fault_is_quoted(error: &str) -> bool {
    error.starts_with("runtime: No such key: ") && !error.contains("index out of bounds")
        || error.contains("no such overload: dyn<null>")
}

#[test]
fn expressions_match_the_real_engine() {
    let cases = read_json(&repo_path("tests/differential/cel/cases.json"));
    let expected = read_json(&repo_path("tests/differential/cel/expected.json"));
    let record = cases["record"].as_object().expect("record").clone();
    let previous = cases["previous"].clone();
    let now = chrono::DateTime::parse_from_rfc3339(cases["now"].as_str().expect("now"))
        .expect("now")
        .to_utc();
    let known = cases["known"].as_object().cloned().unwrap_or_default();
    let mut differences = Vec::new();
    let all = expected.as_array().expect("expected.json is a list");
    for case in all {
        let source = case["source"].as_str().expect("source");
        // Where the real engine is wrong (cases.json says why), objectos answers as CEL defines it.
        if known.contains_key(source) {
            continue;
        }
        let ours = objectos_host::expr::compile(source)
            .and_then(|c| c.evaluate_in(&record, &[("previous", &previous)], now));
        match (
            case.get("value"),
            case.get("error").and_then(Value::as_str),
            &ours,
        ) {
            (Some(real), _, Ok(v)) if same(real, v) => {}
            (None, Some(real), Err(e)) if !fault_is_quoted(real) || real == e => {}
            _ => differences.push(format!("{source}: real {case} / ours {ours:?}")),
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} expressions differ from the real engine:\n{}",
        differences.len(),
        all.len(),
        differences.join("\n")
    );
}
