//! Every size a client controls in a query or a write, with its limit. A request past one is refused with
//! 400 naming the limit (never a 500, never minutes of work): these are the numbers the README's Security
//! section lists.

/// Nesting of `$and` / `$or` / `$not` (object form) or nested arrays (array form) in one filter.
pub const MAX_FILTER_DEPTH: usize = 16;
/// Conditions and logical nodes in one filter, every branch of every `$or` counted.
pub const MAX_FILTER_NODES: usize = 512;
/// Values in one `$in` / `$nin` list.
pub const MAX_IN_VALUES: usize = 1000;
/// Characters in one filter value (including `$contains`/`$like` patterns) and in a `search` text.
pub const MAX_VALUE_CHARS: usize = 4096;
/// Values in one list field's value (a multi-select, tags, a multi-value lookup); each is at most
/// MAX_VALUE_CHARS characters.
pub const MAX_LIST_ITEMS: usize = 1000;
/// Largest `offset` / `skip`.
pub const MAX_OFFSET: u64 = 10_000_000;
/// Records in one multi-record write (`createMany`, `updateMany`, `deleteMany`, per-object `batch`) and
/// operations in one cross-object `/batch`: a write transaction holds the single SQLite writer, so one
/// request must not hold it for long.
pub const MAX_WRITE_BATCH: usize = 1000;
/// Related records one `expand` of one page may load (a multi-valued lookup can name many).
pub const MAX_EXPAND_ROWS: usize = 10_000;
/// The page cap when the deployment sets none (`--max-page-size`): lists, queries, aggregations and guest
/// `find` calls return at most this many rows (or groups) a call.
pub const DEFAULT_MAX_PAGE_SIZE: u64 = 1000;
