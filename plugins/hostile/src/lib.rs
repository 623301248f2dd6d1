//! A hook body that misbehaves on purpose, one way per `mode` of the record it is given. The tests use it to
//! show that nothing a guest does harms the host, other calls or the data.

use objectos_sdk::{Event, Hook, HookResult, Value, abort, data, json, proceed, proceed_with};
use std::hint::black_box;

struct Hostile;

/// Recursion that lives on the Wasm call stack (no locals in linear memory), so the engine's stack limit,
/// not the guest's own shadow stack, is what runs out. The combining step keeps LLVM from turning it into a loop.
#[inline(never)]
fn recurse(n: u64) -> u64 {
    if n % 1_000_000_007 == 1_000_000_006 {
        return n;
    }
    let deeper = recurse(n.wrapping_mul(3).wrapping_add(1));
    deeper.wrapping_mul(n | 1).rotate_left(3)
}

impl Hook for Hostile {
    fn handle(event: Event) -> HookResult {
        let mut record = event.record()?;
        let mode = record
            .get("mode")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
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
                    // Reserved, not written: memory grows without burning fuel on filling it.
                    let mut chunk: Vec<u8> = Vec::with_capacity(4 << 20);
                    chunk.push(7);
                    hoard.push(black_box(chunk));
                }
            }
            "recurse" => {
                let depth = recurse(black_box(1));
                record.insert("depth".into(), json!(depth));
                proceed_with(record)
            }
            "huge" => {
                // 2 MiB handed back as the "record": the host refuses it by size before reading it.
                Ok(objectos_sdk::Outcome::Proceed(Some(" ".repeat(2 << 20))))
            }
            "garbage" => {
                // A "record" that is not JSON at all.
                Ok(objectos_sdk::Outcome::Proceed(Some("this is not JSON".into())))
            }
            "deep" => {
                // JSON nested 200,000 levels deep (400 KB, under the output cap).
                let depth = 200_000;
                Ok(objectos_sdk::Outcome::Proceed(Some(
                    "[".repeat(depth) + &"]".repeat(depth),
                )))
            }
            "insert-then-trap" => {
                data::insert(
                    "activity",
                    &json!({"subject": "probe", "event": "before the trap"}),
                )?;
                panic!("trapping after a data.insert");
            }
            "peek" => {
                // What can this caller see of another object? The count goes back into the record.
                let target = record
                    .get("target")
                    .and_then(Value::as_str)
                    .unwrap_or("activity");
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
