//! UTC datetimes with nanosecond precision and durations, with RFC 3339 / SurrealQL text forms.

/// A UTC instant: seconds since the Unix epoch plus nanoseconds (0..1e9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Datetime {
    /// Seconds since 1970-01-01T00:00:00Z (may be negative).
    pub secs: i64,
    /// Nanoseconds within the second, `0..1_000_000_000`.
    pub nanos: u32,
}

/// A non-negative span of time with nanosecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Duration {
    /// Whole seconds.
    pub secs: u64,
    /// Nanoseconds within the second, `0..1_000_000_000`.
    pub nanos: u32,
}

/// Text that is not a valid datetime or duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {input:?}: {reason}")]
pub struct ParseTemporalError {
    /// "datetime" or "duration".
    pub what: &'static str,
    /// The rejected text.
    pub input: String,
    /// What was wrong.
    pub reason: &'static str,
}
