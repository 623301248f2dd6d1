//! Record ids.

use rand::Rng;

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/// A 16-character random id (96 bits), the shape the real server uses.
pub fn new_id() -> String {
    let mut rng = rand::rng();
    (0..16)
        .map(|_| ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())] as char)
        .collect()
}
