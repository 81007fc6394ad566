//! Typed live events: a live query's notifications decoded into the caller's type (a model,
//! or any `Deserialize` type), with the changed fields of DIFF mode and the marker of a
//! re-subscription after a reconnect.
//!
//! The drivers' typed streams (`qs.live(&db)`, `LiveStream::typed::<T>()`) are adapters over
//! their untyped `LiveStream`: every item it receives from the core's [`Mux`](crate::mux::Mux)
//! goes through [`LiveDecoder::decode`], which is the whole of the typed layer, so both
//! drivers decode, report and signal exactly the same way.
//!
//! ```
//! use surql::mux::LiveItem;
//! use surql::realtime::{LiveDecoder, LiveEvent};
//! use surql::rpc::{Action, Notification as Raw};
//! use surql::{Object, RecordId, Uuid, Value};
//!
//! #[derive(Debug, serde::Deserialize)]
//! struct Person { name: String }
//!
//! let decoder = LiveDecoder::<Person>::serde(false);
//! let raw = Raw {
//!     live_id: Uuid([7; 16]),
//!     action: Action::Create,
//!     record: Value::RecordId(RecordId::new("person", "ada")),
//!     result: Value::Object(Object::from([("name".to_owned(), Value::from("Ada"))])),
//!     session: None,
//! };
//! let LiveEvent::Notification(n) = decoder.decode(LiveItem::Notification(raw)).unwrap() else {
//!     panic!("a notification")
//! };
//! assert_eq!(n.action, Action::Create);
//! assert_eq!(n.record_id, RecordId::new("person", "ada"));
//! assert_eq!(n.data.unwrap().name, "Ada");
//! ```

// `Error` carries the server's error by value so callers can match on it; errors are the
// cold path, so the size of `Result` does not matter here.
#![allow(clippy::result_large_err)]

use serde::de::DeserializeOwned;

use crate::client;
use crate::error::Error;
use crate::live::changed_fields;
use crate::model::{decode_model, Model};
use crate::mux::LiveItem;
use crate::query::QuerySet;
use crate::rpc::{self, Action, Request};
use crate::signals::Signals;
use crate::value::{RecordId, Uuid, Value};

/// One live notification, typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification<T> {
    /// The live query's server id (it changes after a reconnect; see
    /// [`LiveEvent::Resubscribed`]).
    pub live_id: Uuid,
    /// What happened: [`Action::Create`], [`Action::Update`] or [`Action::Delete`] (an action
    /// this client does not know is kept as [`Action::Other`]).
    pub action: Action,
    /// The record that changed.
    pub record_id: RecordId,
    /// The record: after the change, or as it was before a DELETE. In DIFF mode only a
    /// CREATE carries it (an UPDATE carries patches, a DELETE nothing); `None` then.
    pub data: Option<T>,
    /// DIFF mode: the top-level fields the change touched, in first-seen order (every field
    /// for a CREATE, none for a DELETE). Empty otherwise.
    pub changed_fields: Vec<String>,
    /// DIFF mode: the JSON-patch operations as the server sent them. `None` otherwise.
    pub diff: Option<Value>,
}

/// What a typed live stream yields.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveEvent<T> {
    /// A change of a matching record.
    Notification(Notification<T>),
    /// The connection was lost and restored, and the live query re-issued: it now runs
    /// under the id `new`, and the stream goes on. Changes made while the connection was
    /// down were NOT notified; read them from a change feed if they matter.
    Resubscribed {
        /// The id before the reconnect.
        old: Uuid,
        /// The id now.
        new: Uuid,
    },
}

impl<T> LiveEvent<T> {
    /// The notification, if this is one.
    pub fn notification(self) -> Option<Notification<T>> {
        match self {
            LiveEvent::Notification(n) => Some(n),
            LiveEvent::Resubscribed { .. } => None,
        }
    }

    /// The notification, by reference, if this is one.
    pub fn as_notification(&self) -> Option<&Notification<T>> {
        match self {
            LiveEvent::Notification(n) => Some(n),
            LiveEvent::Resubscribed { .. } => None,
        }
    }
}

/// The request that subscribes to the changes of the records `qs` selects: its `LIVE SELECT
/// [DIFF] … WHERE …` with bound parameters (SurrealDB 3.x captures them at registration), as
/// one `query`. The drivers' `qs.live(&db)` sends it as a live subscription.
pub fn live_request<M>(qs: &QuerySet<M>, diff: bool) -> Result<Request, Error> {
    let compiled = if diff {
        qs.compile_live_diff()
    } else {
        qs.compile_live()
    }
    .map_err(|e| Error::invalid("live query", e.to_string()))?;
    Ok(client::execute(compiled)?.into_parts().0)
}

/// How a record value becomes a `T`: [`decode_model`] for models (it puts a record id back
/// into the model's key type), plain serde otherwise.
pub type DecodeFn<T> = fn(Value) -> Result<T, String>;

/// Plain serde decoding, as a [`DecodeFn`].
pub fn serde_decode<T: DeserializeOwned>(v: Value) -> Result<T, String> {
    crate::value::from_value(v).map_err(|e| e.to_string())
}

type Fire<T> = fn(&Signals, &Notification<T>);

/// Turns the items of an untyped live subscription into [`LiveEvent`]s, and fires the
/// `post_live_change` signals ([`Signals::on_live_change`]) of a model stream.
pub struct LiveDecoder<T> {
    diff: bool,
    decode: DecodeFn<T>,
    /// The type name, for error messages.
    type_name: &'static str,
    signals: Option<(Signals, Fire<T>)>,
}

impl<T> std::fmt::Debug for LiveDecoder<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveDecoder")
            .field("type", &self.type_name)
            .field("diff", &self.diff)
            .field("signals", &self.signals.is_some())
            .finish()
    }
}

impl<T: DeserializeOwned> LiveDecoder<T> {
    /// Decodes records with serde; `diff` says whether the live query runs in DIFF mode.
    pub fn serde(diff: bool) -> Self {
        LiveDecoder {
            diff,
            decode: serde_decode::<T>,
            type_name: std::any::type_name::<T>(),
            signals: None,
        }
    }
}

impl<M: Model> LiveDecoder<M> {
    /// Decodes records as model `M`; with `signals`, fires its `post_live_change` handlers
    /// for every notification decoded.
    pub fn model(diff: bool, signals: Option<Signals>) -> Self {
        LiveDecoder {
            diff,
            decode: decode_model::<M>,
            type_name: M::META.rust_name,
            signals: signals.map(|s| (s, Signals::fire_live_change::<M> as Fire<M>)),
        }
    }
}

impl<T> LiveDecoder<T> {
    /// Whether the live query runs in DIFF mode.
    pub fn is_diff(&self) -> bool {
        self.diff
    }

    /// One item of the subscription, typed. A notification that does not decode is an
    /// [`Error::Decode`] naming the record; the subscription itself goes on.
    pub fn decode(&self, item: LiveItem) -> Result<LiveEvent<T>, Error> {
        match item {
            LiveItem::Resubscribed { old, new } => Ok(LiveEvent::Resubscribed { old, new }),
            LiveItem::Notification(n) => {
                let n = self.decode_notification(n)?;
                if let Some((signals, fire)) = &self.signals {
                    fire(signals, &n);
                }
                Ok(LiveEvent::Notification(n))
            }
        }
    }

    /// One notification, typed (no signal is fired).
    pub fn decode_notification(&self, n: rpc::Notification) -> Result<Notification<T>, Error> {
        let record_id = match n.record {
            Value::RecordId(rid) => rid,
            other => {
                return Err(Error::Decode {
                    context: format!("a {:?} notification of live query {}", n.action, n.live_id),
                    detail: format!("its record is {}, not a record id", other.kind()),
                })
            }
        };
        let fail = |detail: String| Error::Decode {
            context: format!(
                "the {:?} notification of {record_id} (live query {}) as {}",
                n.action, n.live_id, self.type_name
            ),
            detail,
        };
        let (data, changed, diff) = if self.diff {
            // CREATE is one whole-document `replace` carrying the new record.
            let created = match (&n.action, n.result.as_array()) {
                (Action::Create, Some(ops)) => ops
                    .iter()
                    .find(|op| matches!(op.get("path").and_then(Value::as_str), Some("" | "/")))
                    .and_then(|op| op.get("value"))
                    .filter(|v| v.as_object().is_some())
                    .cloned(),
                _ => None,
            };
            let data = created.map(self.decode).transpose().map_err(fail)?;
            (data, changed_fields(&n.result), Some(n.result))
        } else {
            let data = match n.result {
                Value::None | Value::Null => None,
                v => Some((self.decode)(v).map_err(fail)?),
            };
            (data, Vec::new(), None)
        };
        Ok(Notification {
            live_id: n.live_id,
            action: n.action,
            record_id,
            data,
            changed_fields: changed,
            diff,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Object;
    use serde::{Deserialize, Serialize};
    use std::sync::{Arc, Mutex};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, crate::model::Model)]
    #[surql(table = "person")]
    struct Person {
        id: Option<String>,
        name: String,
    }

    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect::<Object>(),
        )
    }

    fn raw(action: Action, result: Value) -> rpc::Notification {
        rpc::Notification {
            live_id: Uuid([1; 16]),
            action,
            record: Value::RecordId(RecordId::new("person", "ada")),
            result,
            session: None,
        }
    }

    fn ada() -> Value {
        obj(&[
            ("id", Value::RecordId(RecordId::new("person", "ada"))),
            ("name", "Ada".into()),
        ])
    }

    #[test]
    fn models_get_their_key_back_and_signals_fire() {
        let signals = Signals::default();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        signals.on_live_change::<Person>(move |n| {
            log.lock().unwrap().push((n.action.clone(), n.data.clone()))
        });
        let d = LiveDecoder::<Person>::model(false, Some(signals.clone()));
        let ev = d
            .decode(LiveItem::Notification(raw(Action::Update, ada())))
            .unwrap();
        let n = ev.notification().unwrap();
        let p = Person {
            id: Some("ada".into()),
            name: "Ada".into(),
        };
        assert_eq!(n.data, Some(p.clone()));
        assert!(n.changed_fields.is_empty());
        assert_eq!(n.diff, None);
        // A re-subscription is reported, and fires nothing.
        let ev = d
            .decode(LiveItem::Resubscribed {
                old: Uuid([1; 16]),
                new: Uuid([2; 16]),
            })
            .unwrap();
        assert_eq!(
            ev,
            LiveEvent::Resubscribed {
                old: Uuid([1; 16]),
                new: Uuid([2; 16])
            }
        );
        assert_eq!(*seen.lock().unwrap(), vec![(Action::Update, Some(p))]);
        // A decoder without signals fires none.
        LiveDecoder::<Person>::model(false, None)
            .decode(LiveItem::Notification(raw(Action::Create, ada())))
            .unwrap();
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[test]
    fn diff_mode_reports_fields_and_the_created_record() {
        let d = LiveDecoder::<Person>::model(true, None);
        let op = |op: &str, path: &str, value: Value| {
            obj(&[("op", op.into()), ("path", path.into()), ("value", value)])
        };
        let created = d
            .decode_notification(raw(
                Action::Create,
                Value::Array(vec![op("replace", "", ada())]),
            ))
            .unwrap();
        assert_eq!(created.data.unwrap().name, "Ada");
        assert_eq!(created.changed_fields, vec!["id", "name"]);
        let updated = d
            .decode_notification(raw(
                Action::Update,
                Value::Array(vec![op("replace", "/name", "Bea".into())]),
            ))
            .unwrap();
        assert_eq!(updated.data, None);
        assert_eq!(updated.changed_fields, vec!["name"]);
        assert!(updated.diff.is_some());
        let deleted = d
            .decode_notification(raw(
                Action::Delete,
                Value::Array(vec![op("replace", "", Value::None)]),
            ))
            .unwrap();
        assert_eq!(deleted.data, None);
        assert!(deleted.changed_fields.is_empty());
        assert_eq!(deleted.record_id, RecordId::new("person", "ada"));
    }

    #[test]
    fn undecodable_records_name_the_record_and_the_type() {
        let d = LiveDecoder::<Person>::model(false, None);
        let e = d
            .decode_notification(raw(Action::Create, obj(&[("name", Value::Int(3))])))
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("person:ada") && text.contains("Person"),
            "{text}"
        );
        // A key of the wrong type for the model is refused, not coerced.
        let e = d
            .decode_notification(raw(
                Action::Create,
                obj(&[
                    ("id", Value::RecordId(RecordId::new("person", 7))),
                    ("name", "x".into()),
                ]),
            ))
            .unwrap_err();
        assert!(e.to_string().contains("key type is String"), "{e}");
        let mut bad = raw(Action::Create, ada());
        bad.record = Value::Int(1);
        let e = d.decode_notification(bad).unwrap_err();
        assert!(e.to_string().contains("not a record id"), "{e}");
        // Plain serde types decode without key rewriting.
        let v = LiveDecoder::<Value>::serde(false)
            .decode_notification(raw(Action::Delete, ada()))
            .unwrap();
        assert_eq!(v.data, Some(ada()));
    }
}
