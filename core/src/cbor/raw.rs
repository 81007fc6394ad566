//! One CBOR item kept as its encoded bytes, to bind as a query variable without building a
//! `Value` tree for it.

// `Error` carries the server's error by value so callers can match on it; errors are the
// cold path, so the size of `Result` does not matter here.
#![allow(clippy::result_large_err)]

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::DecodeError;
use crate::value::Value;

/// One well-formed CBOR item, kept as its bytes: a query variable that the request encoder
/// writes into the frame as it is ([`Request::query_with_raw`](crate::rpc::Request::query_with_raw)).
///
/// The model layer binds the rows of `bulk_create`, `bulk_upsert`, `save` and `update` this
/// way: serde writes each row straight to CBOR, with no [`Value`] tree to build, encode and
/// free. Either constructor makes the same promises a [`Value`] variable gets: the bytes
/// are exactly one item, and a decimal the server would silently round is refused
/// ([`check_sendable`](crate::client::check_sendable)).
///
/// ```
/// use surql::cbor::RawValue;
/// use surql::Value;
///
/// let raw = RawValue::from_serde(&vec![1, 2]).unwrap();
/// assert_eq!(raw.as_bytes(), [0x82, 0x01, 0x02]);
/// assert_eq!(raw.to_value().unwrap(), Value::Array(vec![1.into(), 2.into()]));
/// // Bytes from elsewhere must be one complete item surql can read.
/// assert!(RawValue::from_cbor(vec![0x82, 0x01]).is_err());
/// assert!(RawValue::from_cbor(vec![0x01, 0x02]).is_err());
/// // Never shown: a bound value may be a secret.
/// assert_eq!(format!("{raw:?}"), "RawValue(<3 bytes of CBOR>)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RawValue {
    bytes: Arc<[u8]>,
}

fn invalid(reason: String) -> crate::Error {
    crate::Error::Invalid {
        what: "CBOR value".into(),
        reason,
    }
}

impl RawValue {
    /// Serializes `v` straight to CBOR, with the rules of [`to_value`](crate::to_value)
    /// (the bytes mean the value `to_value` builds; struct fields keep their declaration
    /// order). A value that cannot be converted, or a decimal the server would round, is an
    /// error naming the field.
    pub fn from_serde<T: Serialize + ?Sized>(v: &T) -> Result<RawValue, crate::Error> {
        let mut out = Vec::with_capacity(64);
        super::serde_ser::to_vec_checked(v, &mut out).map_err(|e| invalid(e.to_string()))?;
        Ok(RawValue::from_encoded(out))
    }

    /// Takes CBOR bytes encoded elsewhere. They must decode as exactly one item with
    /// surql's decoder ([`decode`](super::decode): no trailing bytes, valid UTF-8, the
    /// tags' payloads in SurrealDB's shapes, at most [`MAX_DEPTH`](super::MAX_DEPTH)
    /// levels) and pass the check on bound values; they are decoded once here to make sure.
    pub fn from_cbor(bytes: impl Into<Arc<[u8]>>) -> Result<RawValue, crate::Error> {
        let bytes = bytes.into();
        let value = super::decode(&bytes).map_err(|e| invalid(e.to_string()))?;
        crate::client::check_sendable("CBOR value", &value)?;
        Ok(RawValue { bytes })
    }

    /// Bytes the core's own checked serializer wrote (one complete item).
    pub(crate) fn from_encoded(bytes: Vec<u8>) -> RawValue {
        RawValue {
            bytes: bytes.into(),
        }
    }

    /// The encoded item.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The item decoded into a [`Value`] (for logs and tests). It fails only for an item
    /// the serializer wrote nested deeper than [`MAX_DEPTH`](super::MAX_DEPTH), which the
    /// server refuses as well.
    pub fn to_value(&self) -> Result<Value, DecodeError> {
        super::decode(&self.bytes)
    }
}

/// The size only: a bound value may be a secret (a new password, a key).
impl fmt::Debug for RawValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawValue(<{} bytes of CBOR>)", self.bytes.len())
    }
}
