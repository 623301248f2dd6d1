//! A hook body that wants the file system. objectos refuses to load it: its world grants no files.

use objectos_sdk::{Event, Hook, HookResult, abort, proceed};

struct Snoop;

impl Hook for Snoop {
    fn handle(_event: Event) -> HookResult {
        match std::fs::read_to_string("/etc/passwd") {
            Ok(text) => abort(text),
            Err(_) => proceed(),
        }
    }
}

objectos_sdk::export_hook!(Snoop);
