//! Any `Serialize` type → [`Value`](super::Value).
use super::Value;

/// Options for [`to_value_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SerializeOptions {
    /// Send integers outside `i64` (u64 above `i64::MAX`, i128, u128) as decimals instead
    /// of refusing them.
    pub big_ints_as_decimal: bool,
}

/// A value could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SerError(pub String);

/// Converts any `Serialize` value into a [`Value`] with default options.
pub fn to_value<T: serde::Serialize + ?Sized>(v: &T) -> Result<Value, SerError> {
    to_value_with(v, SerializeOptions::default())
}

/// Converts any `Serialize` value into a [`Value`].
pub fn to_value_with<T: serde::Serialize + ?Sized>(
    _v: &T,
    _opts: SerializeOptions,
) -> Result<Value, SerError> {
    Err(SerError("not yet implemented".into()))
}
