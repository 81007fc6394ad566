//! Row decoding: a statement's raw result → typed rows, errors naming the row.

use crate::cbor;
use crate::rpc::Payload;
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

/// What a statement result's bytes hold, for row decoding.
enum Shape<'a> {
    /// An array (or the array inside a set): its bytes.
    List(&'a [u8]),
    /// NONE or NULL.
    Nothing,
    /// Any other single value.
    One,
}

fn shape(result: &[u8]) -> Result<Shape<'_>, RowError> {
    let (major, arg, next) = cbor::head(result, 0).map_err(|e| RowError {
        message: format!("row 0: {e}"),
    })?;
    Ok(match (major, arg) {
        (4, _) => Shape::List(result),
        (6, Some(cbor::tags::SET)) => Shape::List(result.get(next..).unwrap_or_default()),
        (6, Some(cbor::tags::NONE)) | (7, Some(22)) => Shape::Nothing,
        _ => Shape::One,
    })
}

fn row_error(i: usize, e: &cbor::DecodeError) -> RowError {
    RowError {
        message: format!("row {i}: {}", Payload::describe_error(e)),
    }
}

/// [`decode_rows`] over the CBOR bytes of a statement result, without a [`Value`] tree:
/// the same rows and the same errors.
///
/// ```
/// use surql::query::decode_rows_cbor;
/// use surql::{cbor, Value};
/// let bytes = cbor::encode(&Value::Array(vec![Value::Int(1), Value::Int(2)]));
/// assert_eq!(decode_rows_cbor::<i64>(&bytes).unwrap(), vec![1, 2]);
/// ```
pub fn decode_rows_cbor<T: serde::de::DeserializeOwned>(result: &[u8]) -> Result<Vec<T>, RowError> {
    match shape(result)? {
        Shape::List(list) => cbor::from_slice::<Vec<T>>(list).map_err(|whole| {
            // Find the row at fault, so the message names it as the value path does.
            let rows = match cbor::array_ranges(list) {
                Ok(Some((rows, _))) => rows,
                _ => return row_error(0, &whole),
            };
            rows.into_iter()
                .enumerate()
                .find_map(|(i, r)| {
                    let row = list.get(r)?;
                    cbor::from_slice::<T>(row).err().map(|e| row_error(i, &e))
                })
                .unwrap_or_else(|| row_error(0, &whole))
        }),
        Shape::Nothing => Ok(Vec::new()),
        Shape::One => cbor::from_slice(result)
            .map(|t| vec![t])
            .map_err(|e| row_error(0, &e)),
    }
}

/// [`decode_first`] over the CBOR bytes of a statement result, without a [`Value`] tree:
/// only the first row is read.
pub fn decode_first_cbor<T: serde::de::DeserializeOwned>(
    result: &[u8],
) -> Result<Option<T>, RowError> {
    let first = match shape(result)? {
        Shape::List(list) => {
            let (major, len, start) = cbor::head(list, 0).map_err(|e| row_error(0, &e))?;
            if major != 4 {
                return Err(RowError {
                    message: "row 0: a set's payload is not an array".into(),
                });
            }
            if len == Some(0) || (len.is_none() && list.get(start) == Some(&0xff)) {
                return Ok(None);
            }
            let end = cbor::skip_item(list, start).map_err(|e| row_error(0, &e))?;
            list.get(start..end).unwrap_or_default()
        }
        Shape::Nothing => return Ok(None),
        Shape::One => result,
    };
    cbor::from_slice(first)
        .map(Some)
        .map_err(|e| row_error(0, &e))
}
