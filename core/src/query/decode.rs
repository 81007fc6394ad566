//! Row decoding: a statement's raw result → typed rows, errors naming the row.

use crate::value::{from_value, Value};

/// A row could not be decoded; the message names the row index and the field path.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct RowError {
    /// The full message, e.g. "row 3: field `age`: expected i64, found string".
    pub message: String,
}

/// Decodes a statement result into rows: an array gives one `T` per element, NONE or
/// NULL gives no rows, and any other single value is treated as one row.
///
/// ```
/// use surql::query::decode_rows;
/// use surql::Value;
/// let rows: Result<Vec<i64>, _> = decode_rows(Value::Array(vec![]));
/// assert_eq!(rows.unwrap(), Vec::<i64>::new());
/// ```
pub fn decode_rows<T: serde::de::DeserializeOwned>(result: Value) -> Result<Vec<T>, RowError> {
    let rows = match result {
        Value::Array(rows) | Value::Set(rows) => rows,
        Value::None | Value::Null => Vec::new(),
        other => vec![other],
    };
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| {
            from_value(row).map_err(|e| RowError {
                message: format!("row {i}: {e}"),
            })
        })
        .collect()
}

/// The first row, if any (for `first()`/`get()`-style calls).
pub fn decode_first<T: serde::de::DeserializeOwned>(result: Value) -> Result<Option<T>, RowError> {
    let first = match result {
        Value::Array(rows) | Value::Set(rows) => rows.into_iter().next(),
        Value::None | Value::Null => None,
        other => Some(other),
    };
    first
        .map(|row| {
            from_value(row).map_err(|e| RowError {
                message: format!("row 0: {e}"),
            })
        })
        .transpose()
}
