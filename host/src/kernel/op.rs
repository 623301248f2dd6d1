//! The operations every entry point expresses its request as ([`DataOp`]) and what they answer ([`OpResult`]).

use crate::data::driver::Record;
use crate::data::query::Query;

/// A data operation, as every entry point expresses it.
#[derive(Clone, Debug)]
pub enum DataOp {
    Find {
        object: String,
        query: Query,
    },
    Get {
        object: String,
        id: String,
        query: Query,
    },
    Create {
        object: String,
        record: Record,
    },
    /// All or nothing.
    CreateMany {
        object: String,
        records: Vec<Record>,
    },
    Update {
        object: String,
        id: String,
        patch: Record,
        expected_version: Option<String>,
    },
    Delete {
        object: String,
        id: String,
        expected_version: Option<String>,
    },
    /// Creates, updates and deletes across objects, all or nothing. With `resolve_refs`, a top-level value
    /// `{"$ref": n}` in an operation's record or patch becomes the id of the record operation `n` (an earlier
    /// one) wrote. A failure is [`DataError::BatchAborted`](crate::data::error::DataError::BatchAborted),
    /// naming the operation that failed.
    Batch {
        operations: Vec<DataOp>,
        resolve_refs: bool,
    },
}

impl DataOp {
    /// The object an operation names (none for a batch).
    pub fn object(&self) -> Option<&str> {
        match self {
            DataOp::Find { object, .. }
            | DataOp::Get { object, .. }
            | DataOp::Create { object, .. }
            | DataOp::CreateMany { object, .. }
            | DataOp::Update { object, .. }
            | DataOp::Delete { object, .. } => Some(object),
            DataOp::Batch { .. } => None,
        }
    }

    /// Whether the operation (or any operation of a batch) writes an object that `pred` picks.
    pub fn touches(&self, pred: &impl Fn(&str) -> bool) -> bool {
        match self {
            DataOp::Batch { operations, .. } => operations.iter().any(|o| o.touches(pred)),
            other => other.object().is_some_and(pred),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum OpResult {
    List {
        records: Vec<Record>,
        total: Option<u64>,
        has_more: bool,
    },
    Record(Record),
    /// An updated record, and the fields of the caller's payload that `readonlyWhen` took out of the update
    /// (they held on the stored record), for the answer's `droppedFields`.
    Updated {
        record: Record,
        readonly_when: Vec<String>,
    },
    Records(Vec<Record>),
    Deleted {
        id: String,
    },
    /// One result per operation of a batch, in order.
    Batch(Vec<OpResult>),
}

impl OpResult {
    /// The one record of a create, read or update.
    pub fn into_record(self) -> Option<Record> {
        match self {
            OpResult::Record(record) | OpResult::Updated { record, .. } => Some(record),
            _ => None,
        }
    }
}
