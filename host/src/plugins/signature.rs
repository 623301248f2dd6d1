//! Embedded signatures in the WebAssembly tool-conventions format (`Signatures.md`), as the `wasmsign2`
//! tool writes them, so that either side verifies the other's files:
//!
//! - the first section of a signed module or component is a custom section named `signature`;
//! - the signed hash is SHA-256 over every section after it, as stored (id, LEB128 size, payload);
//! - each signer signs `"wasmsig" ‖ 0x01 (version) ‖ 0x01 (content type) ‖ 0x01 (SHA-256) ‖ hashes` with
//!   Ed25519; several signers may sign the same hashes (multiple signatures, one set).
//!
//! Keys use the same serialization: public `0x01 ‖ 32 bytes`, secret `0x81 ‖ seed (32) ‖ public (32)`.
//! A key id is the first 12 bytes of SHA-256 of the raw public key.

use ring::digest::{Context, SHA256, digest};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};

const SIGNATURE_SECTION: &str = "signature";
const DOMAIN: &[u8] = b"wasmsig";
const SPEC_VERSION: u8 = 0x01;
const CONTENT_TYPE: u8 = 0x01;
const HASH_SHA256: u8 = 0x01;
const ED25519_ALG: u8 = 0x01;
const PUBLIC_KEY_TAG: u8 = 0x01;
const SECRET_KEY_TAG: u8 = 0x81;
const MODULE_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
/// Bounds on what a signature section may declare (a hostile file must not make us allocate much).
const MAX_SETS: u32 = 64;
const MAX_HASHES: u32 = 64;
const MAX_SIGNATURES: u32 = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("not a WebAssembly module or component")]
    NotWasm,
    #[error("the file is truncated or malformed at byte {0}")]
    Malformed(usize),
    #[error("the signature section is malformed: {0}")]
    BadSignatureSection(String),
    #[error("a key file is malformed: {0}")]
    BadKey(String),
}

/// One section as stored: the byte range of the whole section (id, size and payload).
struct RawSection {
    start: usize,
    end: usize,
    /// For custom sections, the name and where the payload after the name starts.
    custom: Option<(String, usize)>,
}

fn leb_u32(bytes: &[u8], pos: &mut usize) -> Result<u32, SignatureError> {
    let (mut value, mut shift) = (0u64, 0u32);
    loop {
        let b = *bytes.get(*pos).ok_or(SignatureError::Malformed(*pos))?;
        *pos += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 28 {
            return Err(SignatureError::Malformed(*pos));
        }
    }
    u32::try_from(value).map_err(|_| SignatureError::Malformed(*pos))
}

fn put_leb(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn put_slice(out: &mut Vec<u8>, s: &[u8]) {
    put_leb(out, s.len() as u32);
    out.extend_from_slice(s);
}

fn sections(bytes: &[u8]) -> Result<Vec<RawSection>, SignatureError> {
    if bytes.len() < 8 || (bytes[..8] != MODULE_HEADER && bytes[..8] != COMPONENT_HEADER) {
        return Err(SignatureError::NotWasm);
    }
    let mut out = Vec::new();
    let mut pos = 8;
    while pos < bytes.len() {
        let start = pos;
        let id = bytes[pos];
        pos += 1;
        let size = leb_u32(bytes, &mut pos)? as usize;
        let payload = pos;
        let end = payload
            .checked_add(size)
            .filter(|e| *e <= bytes.len())
            .ok_or(SignatureError::Malformed(start))?;
        let custom = if id == 0 {
            let mut p = payload;
            let name_len = leb_u32(bytes, &mut p)? as usize;
            let name_end = p
                .checked_add(name_len)
                .filter(|e| *e <= end)
                .ok_or(SignatureError::Malformed(p))?;
            let name = std::str::from_utf8(&bytes[p..name_end])
                .map_err(|_| SignatureError::Malformed(p))?
                .to_string();
            Some((name, name_end))
        } else {
            None
        };
        out.push(RawSection { start, end, custom });
        pos = end;
    }
    Ok(out)
}

/// A signature by one key over a set of hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub key_id: Option<Vec<u8>>,
    pub signature: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SignedHashes {
    hashes: Vec<[u8; 32]>,
    signatures: Vec<Signer>,
}

fn encode(sets: &[SignedHashes]) -> Vec<u8> {
    let mut out = vec![SPEC_VERSION, CONTENT_TYPE, HASH_SHA256];
    put_leb(&mut out, sets.len() as u32);
    for set in sets {
        let mut s = Vec::new();
        put_leb(&mut s, set.hashes.len() as u32);
        for h in &set.hashes {
            s.extend_from_slice(h);
        }
        put_leb(&mut s, set.signatures.len() as u32);
        for sig in &set.signatures {
            let mut one = Vec::new();
            put_slice(&mut one, sig.key_id.as_deref().unwrap_or(&[]));
            one.push(ED25519_ALG);
            put_slice(&mut one, &sig.signature);
            put_slice(&mut s, &one);
        }
        put_slice(&mut out, &s);
    }
    out
}

fn take<'a>(b: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], SignatureError> {
    let end = pos
        .checked_add(n)
        .filter(|e| *e <= b.len())
        .ok_or_else(|| SignatureError::BadSignatureSection(format!("truncated at byte {pos}")))?;
    let s = &b[*pos..end];
    *pos = end;
    Ok(s)
}

fn read_slice<'a>(b: &'a [u8], pos: &mut usize) -> Result<&'a [u8], SignatureError> {
    let n =
        leb_u32(b, pos).map_err(|e| SignatureError::BadSignatureSection(e.to_string()))? as usize;
    take(b, pos, n)
}

fn decode(b: &[u8]) -> Result<Vec<SignedHashes>, SignatureError> {
    let bad = |m: &str| SignatureError::BadSignatureSection(m.to_string());
    let mut pos = 0;
    let header = take(b, &mut pos, 3)?;
    if header != [SPEC_VERSION, CONTENT_TYPE, HASH_SHA256] {
        return Err(bad(
            "unsupported version, content type or hash function (expected 1, 1, SHA-256)",
        ));
    }
    let count = leb_u32(b, &mut pos).map_err(|e| bad(&e.to_string()))?;
    if count > MAX_SETS {
        return Err(bad("too many signed hash sets"));
    }
    let mut sets = Vec::new();
    for _ in 0..count {
        let s = read_slice(b, &mut pos)?;
        let mut p = 0;
        let n = leb_u32(s, &mut p).map_err(|e| bad(&e.to_string()))?;
        if n > MAX_HASHES {
            return Err(bad("too many hashes"));
        }
        let mut hashes = Vec::new();
        for _ in 0..n {
            let mut h = [0u8; 32];
            h.copy_from_slice(take(s, &mut p, 32)?);
            hashes.push(h);
        }
        let n = leb_u32(s, &mut p).map_err(|e| bad(&e.to_string()))?;
        if n > MAX_SIGNATURES {
            return Err(bad("too many signatures"));
        }
        let mut signatures = Vec::new();
        for _ in 0..n {
            let one = read_slice(s, &mut p)?;
            let mut q = 0;
            let key_id = read_slice(one, &mut q)?.to_vec();
            let alg = take(one, &mut q, 1)?[0];
            let signature = read_slice(one, &mut q)?.to_vec();
            // Signatures of other algorithms are not ours to judge: skipped, as wasmsign2 does.
            if alg == ED25519_ALG {
                signatures.push(Signer {
                    key_id: (!key_id.is_empty()).then_some(key_id),
                    signature,
                });
            }
        }
        sets.push(SignedHashes { hashes, signatures });
    }
    if pos != b.len() {
        return Err(bad("trailing bytes after the last signature"));
    }
    Ok(sets)
}

/// The file split at the signature section: its decoded sets (none when unsigned) and the signed content.
struct Split<'a> {
    sets: Vec<SignedHashes>,
    header: &'a [u8],
    content: Vec<&'a [u8]>,
}

fn split(bytes: &[u8]) -> Result<Split<'_>, SignatureError> {
    let all = sections(bytes)?;
    let mut sets = Vec::new();
    let mut content = Vec::new();
    for (i, s) in all.iter().enumerate() {
        match &s.custom {
            Some((name, payload)) if name == SIGNATURE_SECTION => {
                if i != 0 {
                    return Err(SignatureError::BadSignatureSection(
                        "the signature section must be the first section".into(),
                    ));
                }
                sets = decode(&bytes[*payload..s.end])?;
            }
            _ => content.push(&bytes[s.start..s.end]),
        }
    }
    Ok(Split {
        sets,
        header: &bytes[..8],
        content,
    })
}

fn content_hash(content: &[&[u8]]) -> [u8; 32] {
    let mut h = Context::new(&SHA256);
    for part in content {
        h.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(h.finish().as_ref());
    out
}

fn message(hashes: &[[u8; 32]]) -> Vec<u8> {
    let mut m = DOMAIN.to_vec();
    m.extend_from_slice(&[SPEC_VERSION, CONTENT_TYPE, HASH_SHA256]);
    for h in hashes {
        m.extend_from_slice(h);
    }
    m
}

/// An Ed25519 public key (32 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// `0x01 ‖ key`, the tool-conventions serialization; also accepts the bare 32 bytes or 64 hex digits.
    pub fn from_bytes(b: &[u8]) -> Result<PublicKey, SignatureError> {
        let raw: Vec<u8> = match b.len() {
            33 if b[0] == PUBLIC_KEY_TAG => b[1..].to_vec(),
            32 => b.to_vec(),
            _ => {
                let text = std::str::from_utf8(b)
                    .map_err(|_| SignatureError::BadKey("not an Ed25519 public key".into()))?;
                hex::decode(text.trim())
                    .ok()
                    .filter(|k| k.len() == 32)
                    .ok_or_else(|| SignatureError::BadKey("not an Ed25519 public key".into()))?
            }
        };
        let mut k = [0u8; 32];
        k.copy_from_slice(&raw);
        Ok(PublicKey(k))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = vec![PUBLIC_KEY_TAG];
        v.extend_from_slice(&self.0);
        v
    }

    /// The first 12 bytes of SHA-256 of the key, in hex.
    pub fn key_id(&self) -> String {
        hex::encode(&digest(&SHA256, &self.0).as_ref()[..12])
    }
}

/// An Ed25519 key pair.
pub struct SecretKey {
    pair: Ed25519KeyPair,
    seed: [u8; 32],
}

impl SecretKey {
    pub fn generate() -> Result<SecretKey, SignatureError> {
        let mut seed = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed)
            .map_err(|_| SignatureError::BadKey("no randomness available".into()))?;
        Self::from_seed(seed)
    }

    fn from_seed(seed: [u8; 32]) -> Result<SecretKey, SignatureError> {
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|_| SignatureError::BadKey("not an Ed25519 seed".into()))?;
        Ok(SecretKey { pair, seed })
    }

    /// `0x81 ‖ seed ‖ public key` (what wasmsign2 writes and reads).
    pub fn from_bytes(b: &[u8]) -> Result<SecretKey, SignatureError> {
        if b.len() != 65 || b[0] != SECRET_KEY_TAG {
            return Err(SignatureError::BadKey(
                "not an Ed25519 secret key (0x81 ‖ 64 bytes)".into(),
            ));
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&b[1..33]);
        let key = Self::from_seed(seed)?;
        if key.public_key().0[..] != b[33..] {
            return Err(SignatureError::BadKey(
                "the secret key's public half does not match its seed".into(),
            ));
        }
        Ok(key)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = vec![SECRET_KEY_TAG];
        v.extend_from_slice(&self.seed);
        v.extend_from_slice(&self.public_key().0);
        v
    }

    pub fn public_key(&self) -> PublicKey {
        let mut k = [0u8; 32];
        k.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey(k)
    }
}

/// Signs `bytes` (a module or component), adding this signer to any signatures already over the same
/// content, or replacing a signature section whose content no longer matches. Returns the signed file.
pub fn sign(bytes: &[u8], key: &SecretKey) -> Result<Vec<u8>, SignatureError> {
    let parts = split(bytes)?;
    let hash = content_hash(&parts.content);
    let msg = message(&[hash]);
    let signer = Signer {
        key_id: Some(hex::decode(key.public_key().key_id()).unwrap_or_default()),
        signature: key.pair.sign(&msg).as_ref().to_vec(),
    };
    // Keep the signers that signed exactly this content; drop the rest.
    let mut sets: Vec<SignedHashes> = parts
        .sets
        .into_iter()
        .filter(|s| s.hashes == [hash])
        .collect();
    match sets.first_mut() {
        Some(set) => {
            set.signatures.retain(|s| s.key_id != signer.key_id);
            set.signatures.push(signer);
        }
        None => sets.push(SignedHashes {
            hashes: vec![hash],
            signatures: vec![signer],
        }),
    }
    let payload = {
        let mut p = Vec::new();
        put_slice(&mut p, SIGNATURE_SECTION.as_bytes());
        p.extend_from_slice(&encode(&sets));
        p
    };
    let mut out = parts.header.to_vec();
    out.push(0);
    put_slice(&mut out, &payload);
    for part in parts.content {
        out.extend_from_slice(part);
    }
    Ok(out)
}

/// What verification found: the content's SHA-256 and the public keys (of those given) whose signatures over
/// exactly this content are valid. Empty when the file is unsigned or every signature fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub content_sha256: String,
    pub signed: bool,
    pub valid_keys: Vec<PublicKey>,
}

pub fn verify(bytes: &[u8], keys: &[PublicKey]) -> Result<Verified, SignatureError> {
    let parts = split(bytes)?;
    let hash = content_hash(&parts.content);
    let mut valid_keys = Vec::new();
    for set in &parts.sets {
        // A set signs the whole content only with a single hash equal to ours (partial signatures are not
        // accepted, as the format recommends for runtimes).
        if set.hashes != [hash] {
            continue;
        }
        let msg = message(&set.hashes);
        for key in keys {
            let id = hex::decode(key.key_id()).unwrap_or_default();
            let ok = set.signatures.iter().any(|s| {
                s.key_id.as_ref().is_none_or(|k| *k == id)
                    && UnparsedPublicKey::new(&ED25519, &key.0)
                        .verify(&msg, &s.signature)
                        .is_ok()
            });
            if ok && !valid_keys.contains(key) {
                valid_keys.push(key.clone());
            }
        }
    }
    Ok(Verified {
        content_sha256: hex::encode(hash),
        signed: !parts.sets.is_empty(),
        valid_keys,
    })
}

/// The key ids named by the signatures in a file (for `plugin inspect`).
pub fn signer_ids(bytes: &[u8]) -> Result<Vec<String>, SignatureError> {
    Ok(split(bytes)?
        .sets
        .iter()
        .flat_map(|s| s.signatures.iter())
        .map(|s| {
            s.key_id
                .as_ref()
                .map_or_else(|| "(no key id)".into(), hex::encode)
        })
        .collect())
}

/// A custom section's payload, by name (the plugin manifest travels in one).
pub fn custom_section<'a>(bytes: &'a [u8], name: &str) -> Result<Option<&'a [u8]>, SignatureError> {
    Ok(sections(bytes)?.into_iter().find_map(|s| match s.custom {
        Some((n, payload)) if n == name => Some(&bytes[payload..s.end]),
        _ => None,
    }))
}

/// The file with a custom section set (replacing one of the same name), placed after the others so that an
/// existing signature section stays first. Any signature is invalidated: sign after setting.
pub fn with_custom_section(
    bytes: &[u8],
    name: &str,
    data: &[u8],
) -> Result<Vec<u8>, SignatureError> {
    let all = sections(bytes)?;
    let mut out = bytes[..8].to_vec();
    for s in &all {
        if !matches!(&s.custom, Some((n, _)) if n == name) {
            out.extend_from_slice(&bytes[s.start..s.end]);
        }
    }
    let mut payload = Vec::new();
    put_slice(&mut payload, name.as_bytes());
    payload.extend_from_slice(data);
    out.push(0);
    put_slice(&mut out, &payload);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest valid module plus one custom section.
    fn module() -> Vec<u8> {
        let mut m = MODULE_HEADER.to_vec();
        let mut payload = Vec::new();
        put_slice(&mut payload, b"note");
        payload.extend_from_slice(b"hello");
        m.push(0);
        put_slice(&mut m, &payload);
        m
    }

    #[test]
    fn sign_verify_tamper_and_two_signers() {
        let (a, b) = (
            SecretKey::generate().unwrap(),
            SecretKey::generate().unwrap(),
        );
        let signed = sign(&module(), &a).unwrap();
        let v = verify(&signed, &[a.public_key(), b.public_key()]).unwrap();
        assert_eq!(v.valid_keys, vec![a.public_key()]);
        let both = sign(&signed, &b).unwrap();
        let v = verify(&both, &[a.public_key(), b.public_key()]).unwrap();
        assert_eq!(v.valid_keys.len(), 2);
        assert_eq!(signer_ids(&both).unwrap().len(), 2);
        let mut tampered = both.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(
            verify(&tampered, &[a.public_key()])
                .unwrap()
                .valid_keys
                .is_empty()
        );
        assert!(!verify(&module(), &[a.public_key()]).unwrap().signed);
        let key = SecretKey::from_bytes(&a.to_bytes()).unwrap();
        assert_eq!(key.public_key(), a.public_key());
        assert_eq!(
            PublicKey::from_bytes(&a.public_key().to_bytes()).unwrap(),
            a.public_key()
        );
    }
}
