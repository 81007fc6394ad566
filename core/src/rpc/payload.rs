//! A reply's `result`, kept as the CBOR bytes it arrived in until the caller says what
//! type it wants.

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::cbor::{self, DecodeError};
use crate::value::{from_value, Value};

/// What [`cbor::from_slice`] prefixes to an error about an item that is well-formed but
/// does not fit the requested type.
const SHAPE_PREFIX: &str = "the item does not fit the requested type: ";

/// A successful reply's `result`: either the CBOR bytes of that one item (replies to
/// ordinary requests, read straight into the caller's type without a [`Value`] tree) or a
/// value the connection already had to decode.
#[derive(Clone)]
pub struct Payload {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Raw(Arc<[u8]>),
    Value(Value),
}

impl Payload {
    /// A payload over the CBOR encoding of exactly one item. The bytes are checked only
    /// when the payload is read.
    pub fn from_cbor(bytes: impl Into<Arc<[u8]>>) -> Self {
        Payload {
            repr: Repr::Raw(bytes.into()),
        }
    }

    /// The CBOR bytes of the item, if the payload holds bytes rather than a decoded value.
    pub fn raw_bytes(&self) -> Option<&[u8]> {
        match &self.repr {
            Repr::Raw(b) => Some(b),
            Repr::Value(_) => None,
        }
    }

    /// The CBOR bytes of the item: the payload's own bytes (shared, not copied), or the
    /// encoding of the value it holds.
    pub fn into_cbor(self) -> Arc<[u8]> {
        match self.repr {
            Repr::Raw(b) => b,
            Repr::Value(v) => cbor::encode(&v).into(),
        }
    }

    /// Whether the result is NONE, NULL or an empty array: how the server answers a write
    /// that affected nothing. Looks at the bytes without decoding a longer item.
    pub fn is_empty(&self) -> bool {
        match &self.repr {
            // Tag 6 is NONE whatever it wraps, if it is the one item the bytes hold (a
            // reply's last `result` arrives unchecked, see `split_reply`).
            Repr::Raw(b) if b.first() == Some(&0xc6) => cbor::skip_item(b, 0) == Ok(b.len()),
            // NULL, `[]` and an indefinite `[]` are at most two bytes; anything longer
            // holds something.
            Repr::Raw(b) if b.len() <= 2 => cbor::decode(b).is_ok_and(|v| value_is_empty(&v)),
            Repr::Raw(_) => false,
            Repr::Value(v) => value_is_empty(v),
        }
    }

    /// The result as a [`Value`] tree.
    pub fn to_value(&self) -> Result<Value, DecodeError> {
        match &self.repr {
            Repr::Raw(b) => cbor::decode(b),
            Repr::Value(v) => Ok(v.clone()),
        }
    }

    /// The result as a [`Value`] tree, without copying a value already decoded.
    pub fn into_value(self) -> Result<Value, DecodeError> {
        match self.repr {
            Repr::Raw(b) => cbor::decode(&b),
            Repr::Value(v) => Ok(v),
        }
    }

    /// The result as `T`, straight from the bytes when there are bytes
    /// ([`cbor::from_slice`]), else with [`from_value`]. The same rules apply either way;
    /// a mismatch names the path and the value found (``field `[3].age`: expected i64,
    /// found string "x"``).
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        match &self.repr {
            Repr::Raw(b) => cbor::from_slice(b),
            Repr::Value(v) => from_value(v.clone()).map_err(|e| DecodeError {
                offset: 0,
                message: format!("{SHAPE_PREFIX}{e}"),
            }),
        }
    }

    /// Like [`Payload::deserialize`], consuming the payload (no copy of a decoded value).
    pub fn into_deserialized<T: DeserializeOwned>(self) -> Result<T, DecodeError> {
        match self.repr {
            Repr::Raw(b) => cbor::from_slice(&b),
            Repr::Value(v) => from_value(v).map_err(|e| DecodeError {
                offset: 0,
                message: format!("{SHAPE_PREFIX}{e}"),
            }),
        }
    }

    /// The message of a [`Payload::deserialize`] error, without the CBOR framing when the
    /// item was well-formed but of the wrong shape (so it reads like a `from_value` error:
    /// path and value found).
    pub fn describe_error(e: &DecodeError) -> String {
        match e.message.strip_prefix(SHAPE_PREFIX) {
            Some(rest) => rest.to_owned(),
            None => e.to_string(),
        }
    }
}

fn value_is_empty(v: &Value) -> bool {
    match v {
        Value::None | Value::Null => true,
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

impl From<Value> for Payload {
    fn from(v: Value) -> Self {
        Payload {
            repr: Repr::Value(v),
        }
    }
}

/// Only the kind and size: a payload may be a session token (the answer to `signin`,
/// `signup`, `refresh`) or user data, and `Debug` output ends up in logs.
impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Value(v) => f.debug_struct("Payload").field("kind", &v.kind()).finish(),
            Repr::Raw(b) => {
                let kind = cbor::decode(b).map(|v| v.kind()).unwrap_or("invalid CBOR");
                f.debug_struct("Payload")
                    .field("kind", &kind)
                    .field("bytes", &b.len())
                    .finish()
            }
        }
    }
}

/// Payloads are equal when they mean the same value (bytes that do not decode are equal
/// only to the same bytes).
impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        if let (Repr::Raw(a), Repr::Raw(b)) = (&self.repr, &other.repr) {
            if a == b {
                return true;
            }
        }
        match (self.to_value(), other.to_value()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

impl PartialEq<Value> for Payload {
    fn eq(&self, other: &Value) -> bool {
        self.to_value().is_ok_and(|v| v == *other)
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_content() {
        let p = Payload::from(Value::from("eyJSECRETTOKEN"));
        let text = format!("{p:?}");
        assert!(!text.contains("SECRETTOKEN"), "{text}");
        assert!(text.contains("string"), "{text}");
    }
}
