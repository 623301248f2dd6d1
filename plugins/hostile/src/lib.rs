//! A hook body that misbehaves on purpose, one way per `mode` of the record it is given. The tests use it to
//! show that nothing a guest does harms the host, other calls or the data.

use objectos_sdk::{Event, Hook, HookResult, Value, abort, data, json, proceed, proceed_with};
use std::hint::black_box;

struct Hostile;

fn recurse(n: u64) -> u64 {
    // Each frame keeps a buffer alive so the stack, not the fuel, runs out first.
    let buf = black_box([n; 64]);
    if n == u64::MAX { 0 } else { recurse(n + 1).wrapping_add(buf[3]) }
}

impl Hook for Hostile {
    fn handle(event: Event) -> HookResult {
        let mut record = event.record()?;
        let mode = record.get("mode").and_then(Value::as_str).unwrap_or("").to_string();
        match mode.as_str() {
            "spin" => {
                let mut i: u64 = 0;
                loop {
                    i = black_box(i.wrapping_add(1));
                }
            }
            "sleep" => loop {
                // Blocks inside a host call (wasi clocks), where neither fuel nor epochs can interrupt.
                std::thread::sleep(std::time::Duration::from_secs(1));
            },
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(black_box(vec![7u8; 1 << 20]));
                }
            }
            "recurse" => {
                let depth = recurse(black_box(0));
                record.insert("depth".into(), json!(depth));
                proceed_with(record)
            }
            "huge" => {
                record.insert("title".into(), Value::String("x".repeat(4 << 20)));
                proceed_with(record)
            }
            "insert-then-trap" => {
                data::insert("activity", &json!({"subject": "probe", "event": "before the trap"}))?;
                panic!("trapping after a data.insert");
            }
            "peek" => {
                // What can this caller see of another object? The count goes back into the record.
                let target = record.get("target").and_then(Value::as_str).unwrap_or("activity");
                match data::find(target, &json!({"limit": 1000})) {
                    Ok(rows) => record.insert("seen".into(), json!(rows.len())),
                    Err(e) => return abort(format!("peek refused: {e:?}")),
                };
                proceed_with(record)
            }
            _ => proceed(),
        }
    }
}

objectos_sdk::export_hook!(Hostile);
