//! What kind of failure an error is, whoever reports it (the data layer, the sandbox, a guest through the WIT
//! `error` variant). A leaf: `http/errors.rs` is the only place a kind becomes an HTTP status.

/// The WIT `error` variant's cases (denied, not-found, invalid, conflict, internal) plus the ones only the host
/// produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller may not do this.
    Denied,
    /// No such object, record, action or service (for this caller).
    NotFound,
    /// The request is malformed or breaks a rule or a limit.
    Invalid,
    /// The request conflicts with the stored state (unique, version, restrict).
    Conflict,
    /// A needed resource is down or busy; trying again later may work.
    Unavailable,
    /// Untrusted code ran out of its time.
    Timeout,
    /// This build or deployment cannot do it (a body that cannot run here).
    NotImplemented,
    /// A fault of the server (never a client's mistake).
    Internal,
}
