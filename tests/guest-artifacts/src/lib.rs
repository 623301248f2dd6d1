//! Paths of the first-party guest components, built by this crate's build script from `plugins/`.

include!(concat!(env!("OUT_DIR"), "/guests.rs"));

/// The bytes of a built component.
pub fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}
