//! [`Value`](super::Value) → any `Deserialize` type, with errors naming the path.
use super::Value;

/// A value could not be converted; the message names the path and what was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeError(pub String);

/// Converts a [`Value`] into any `Deserialize` type.
pub fn from_value<T: serde::de::DeserializeOwned>(_v: Value) -> Result<T, DeError> {
    Err(DeError("not yet implemented".into()))
}
