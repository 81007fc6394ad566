//! The state of one server-side session as this client knows it: the token pair, the
//! selected namespace and database, and the session variables.
//!
//! One type serves both transports. Over WebSocket the connection machine
//! ([`crate::conn::Connection`]) keeps one per session and replays it after a reconnect
//! ([`SessionState::replay_requests`]); over HTTP the client keeps one and re-sends it as
//! headers on every request ([`crate::rpc::http::HttpSession`] is this type). Both learn
//! from the same rule, [`SessionState::apply`], applied to each SUCCESSFUL call, so a
//! `refresh` updates the token the WebSocket replays exactly as it updates the HTTP
//! `Authorization` header.
//!
//! `Debug` never prints the tokens (nor variable values, which may hold secrets too).

use std::collections::BTreeMap;
use std::fmt;

use crate::rpc::{Method, Payload, Request};
use crate::value::Value;

/// What the client knows of one session. See the module docs.
#[derive(Clone, Default, PartialEq)]
pub struct SessionState {
    /// The bearer (access) token the session is authenticated with.
    pub token: Option<String>,
    /// The refresh token of the pair, when the server issued one (record access
    /// `WITH REFRESH`); what `refresh` needs besides the access token.
    pub refresh: Option<String>,
    /// The selected namespace.
    pub ns: Option<String>,
    /// The selected database.
    pub db: Option<String>,
    /// Session variables (`let`), WebSocket only.
    pub vars: BTreeMap<String, Value>,
}

impl fmt::Debug for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |t: &Option<String>| t.as_ref().map(|_| "<redacted>");
        f.debug_struct("SessionState")
            .field("token", &redact(&self.token))
            .field("refresh", &redact(&self.refresh))
            .field("ns", &self.ns)
            .field("db", &self.db)
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SessionState {
    /// Whether [`SessionState::apply`] reads the call's result for `method` (the token
    /// of `signin`, `signup` and `refresh`); for every other method the result may be
    /// passed as `Value::None` without decoding it.
    pub fn reads_result(method: Method) -> bool {
        matches!(method, Method::Signin | Method::Signup | Method::Refresh)
    }

    /// Remembers what a SUCCESSFUL call `req` (answered with `result`) changed:
    /// - `signin`/`signup`/`refresh`: the token (a JWT text, or the `{access, refresh}`
    ///   pair, both kept); a result without a token changes nothing; a `signin`/`signup`
    ///   whose credentials name `NS`/`DB` also selects them, as the server does;
    /// - `authenticate`: its token; the refresh token is dropped (it belonged to the
    ///   pair the session no longer uses);
    /// - `revoke`: forgets the refresh token when it is the one revoked;
    /// - `use`: ns/db (text sets, NULL unsets, NONE or absent leaves as is);
    /// - `let`/`unset`: the variable (`let` with NONE unsets, as the server does);
    /// - `invalidate`: both tokens; `reset`: everything.
    pub fn apply(&mut self, req: &Request, result: &Value) {
        match req.method {
            Method::Signin | Method::Signup | Method::Refresh => {
                if let Some((access, refresh)) = token_pair(result) {
                    self.token = Some(access);
                    self.refresh = refresh;
                    if req.method != Method::Refresh {
                        // The server selects the namespace/database it signed into
                        // (`iam/signin.rs`); without this a replay's `use` would put
                        // back the ones selected before.
                        let creds = req.params.first();
                        if let Some(ns) = credential(creds, "NS", "ns") {
                            self.ns = Some(ns);
                        }
                        if let Some(db) = credential(creds, "DB", "db") {
                            self.db = Some(db);
                        }
                    }
                }
            }
            Method::Authenticate => {
                if let Some(Value::String(t)) = req.params.first() {
                    self.token = Some(t.clone());
                    self.refresh = None;
                }
            }
            Method::Revoke => {
                let revoked = req.params.first().and_then(|p| p.get("refresh"));
                if let (Some(Value::String(r)), Some(mine)) = (revoked, &self.refresh) {
                    if r == mine {
                        self.refresh = None;
                    }
                }
            }
            Method::Use => {
                apply_use_param(&mut self.ns, req.params.first());
                apply_use_param(&mut self.db, req.params.get(1));
            }
            Method::Let => {
                if let Some(Value::String(name)) = req.params.first() {
                    match req.params.get(1) {
                        None | Some(Value::None) => {
                            self.vars.remove(name);
                        }
                        Some(v) => {
                            self.vars.insert(name.clone(), v.clone());
                        }
                    }
                }
            }
            Method::Unset => {
                if let Some(Value::String(name)) = req.params.first() {
                    self.vars.remove(name);
                }
            }
            Method::Invalidate => {
                self.token = None;
                self.refresh = None;
            }
            Method::Reset => *self = SessionState::default(),
            _ => {}
        }
    }

    /// [`SessionState::apply`] for a result still in bytes: decodes it only when
    /// [`SessionState::reads_result`] says so.
    pub fn apply_payload(&mut self, req: &Request, result: &Payload) {
        let v = if Self::reads_result(req.method) {
            result.to_value().unwrap_or(Value::None)
        } else {
            Value::None
        };
        self.apply(req, &v);
    }

    /// The requests that restore this state on a fresh socket, in order:
    /// `authenticate(token)`, `use(ns, db)`, then each `let`. (`attach` for an attached
    /// session and the `session` envelope field are the caller's business.)
    pub fn replay_requests(&self) -> Vec<Request> {
        let mut out = Vec::new();
        if let Some(t) = &self.token {
            out.push(Request::authenticate(t.clone()));
        }
        if self.ns.is_some() || self.db.is_some() {
            let p = |x: &Option<String>| x.clone().map_or(Value::None, Value::String);
            out.push(Request::new(Method::Use, vec![p(&self.ns), p(&self.db)]));
        }
        for (name, v) in &self.vars {
            out.push(Request::let_var(name.clone(), v.clone()));
        }
        out
    }
}

/// A text credential, the uppercase key first (as the server reads them).
fn credential(creds: Option<&Value>, upper: &str, lower: &str) -> Option<String> {
    let creds = creds?;
    creds
        .get(upper)
        .or_else(|| creds.get(lower))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// `use` params: text = set, NULL = unset, NONE/absent = leave unchanged.
fn apply_use_param(slot: &mut Option<String>, param: Option<&Value>) {
    match param {
        Some(Value::String(s)) => *slot = Some(s.clone()),
        Some(Value::Null) => *slot = None,
        _ => {}
    }
}

/// The access and (if any) refresh token of a signin/signup/refresh result: a JWT text
/// or `{access, refresh}`.
fn token_pair(result: &Value) -> Option<(String, Option<String>)> {
    match result {
        Value::String(s) => Some((s.clone(), None)),
        Value::Object(o) => {
            let access = o.get("access").and_then(Value::as_str)?.to_owned();
            let refresh = o.get("refresh").and_then(Value::as_str).map(str::to_owned);
            Some((access, refresh))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Object;

    fn pair(access: &str, refresh: &str) -> Value {
        let mut o = Object::new();
        o.insert("access".into(), access.into());
        o.insert("refresh".into(), refresh.into());
        Value::Object(o)
    }

    #[test]
    fn token_pair_follows_signin_refresh_authenticate_revoke() {
        let mut s = SessionState::default();
        s.apply(&Request::signin(Object::new()), &pair("a1", "r1"));
        assert_eq!(
            (s.token.as_deref(), s.refresh.as_deref()),
            (Some("a1"), Some("r1"))
        );
        let refresh = Request::new(Method::Refresh, vec![pair("a1", "r1")]);
        s.apply(&refresh, &pair("a2", "r2"));
        assert_eq!(
            (s.token.as_deref(), s.refresh.as_deref()),
            (Some("a2"), Some("r2"))
        );
        // A result without a token changes nothing.
        s.apply(&refresh, &Value::None);
        assert_eq!(s.token.as_deref(), Some("a2"));
        // Revoking another pair's refresh token keeps ours.
        s.apply(
            &Request::new(Method::Revoke, vec![pair("x", "other")]),
            &Value::None,
        );
        assert_eq!(s.refresh.as_deref(), Some("r2"));
        s.apply(
            &Request::new(Method::Revoke, vec![pair("a2", "r2")]),
            &Value::None,
        );
        assert_eq!(
            (s.token.as_deref(), s.refresh.as_deref()),
            (Some("a2"), None)
        );
        s.apply(&Request::signin(Object::new()), &pair("a3", "r3"));
        s.apply(&Request::authenticate("t4"), &Value::None);
        assert_eq!(
            (s.token.as_deref(), s.refresh.as_deref()),
            (Some("t4"), None)
        );
        s.apply(&Request::signin(Object::new()), &Value::from("plain"));
        assert_eq!(
            (s.token.as_deref(), s.refresh.as_deref()),
            (Some("plain"), None)
        );
    }

    #[test]
    fn signin_into_a_database_selects_it() {
        let mut s = SessionState::default();
        s.apply(&Request::use_ns_db("old", "olddb"), &Value::None);
        let mut creds = Object::new();
        creds.insert("NS".into(), "app".into());
        creds.insert("db".into(), "main".into());
        creds.insert("user".into(), "u".into());
        s.apply(&Request::signin(creds.clone()), &Value::from("t"));
        assert_eq!(
            (s.ns.as_deref(), s.db.as_deref()),
            (Some("app"), Some("main"))
        );
        // A failed (token-less) answer selects nothing.
        let mut other = creds;
        other.insert("NS".into(), "x".into());
        s.apply(&Request::signin(other), &Value::None);
        assert_eq!(s.ns.as_deref(), Some("app"));
        // Root signin leaves the selection alone.
        s.apply(&Request::signin(Object::new()), &Value::from("t2"));
        assert_eq!(
            (s.ns.as_deref(), s.db.as_deref()),
            (Some("app"), Some("main"))
        );
    }

    #[test]
    fn vars_use_invalidate_reset_and_replay_plan() {
        let mut s = SessionState::default();
        s.apply(&Request::signin(Object::new()), &pair("a", "r"));
        s.apply(&Request::use_ns_db("n", "d"), &Value::None);
        s.apply(&Request::let_var("x", Value::Int(1)), &Value::None);
        s.apply(&Request::let_var("y", Value::Int(2)), &Value::None);
        s.apply(&Request::let_var("y", Value::None), &Value::None);
        let plan: Vec<(Method, Vec<Value>)> = s
            .replay_requests()
            .into_iter()
            .map(|r| (r.method, r.params))
            .collect();
        assert_eq!(
            plan,
            vec![
                (Method::Authenticate, vec![Value::from("a")]),
                (Method::Use, vec![Value::from("n"), Value::from("d")]),
                (Method::Let, vec![Value::from("x"), Value::Int(1)]),
            ]
        );
        s.apply(&Request::unset("x"), &Value::None);
        assert!(s.vars.is_empty());
        s.apply(&Request::new(Method::Invalidate, vec![]), &Value::None);
        assert_eq!((s.token.clone(), s.refresh.clone()), (None, None));
        assert_eq!(s.ns.as_deref(), Some("n"));
        s.apply(&Request::new(Method::Reset, vec![]), &Value::None);
        assert_eq!(s, SessionState::default());
    }

    #[test]
    fn debug_hides_tokens_and_variable_values() {
        let mut s = SessionState::default();
        s.apply(
            &Request::signin(Object::new()),
            &pair("SECRETTOKEN", "SECRETREFRESH"),
        );
        s.apply(
            &Request::let_var("k", Value::from("SECRETPASS")),
            &Value::None,
        );
        let d = format!("{s:?}");
        for secret in ["SECRETTOKEN", "SECRETREFRESH", "SECRETPASS"] {
            assert!(!d.contains(secret), "{d}");
        }
        assert!(d.contains("<redacted>"), "{d}");
    }
}
