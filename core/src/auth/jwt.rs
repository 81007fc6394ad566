//! Reading a JWT's claims locally, **without verifying its signature**.
//!
//! The signature is made with a key only the server knows, so a client cannot check it: what
//! this module reads is what the token *says*, which anybody can write. Use it to route, to
//! pre-filter or to show an expiry, never to decide who someone is; for that, ask the server
//! ([`super::flow::authenticate_token`], [`super::flow::validate_token`]).
//!
//! The core has no JSON dependency (see `rpc/http.rs`), so the payload is read by a small
//! JSON reader here: objects, arrays, strings (with every escape, surrogate pairs included),
//! numbers, booleans and null, nested at most [`MAX_DEPTH`] deep. Anything else is an error,
//! never a panic (the unit tests feed it garbage).
//!
//! ```
//! use surql::auth::jwt::decode_claims;
//! // header {"alg":"HS512"}, payload {"ID":"user:ada","AC":"user_auth","exp":2000000000}
//! let token = "eyJhbGciOiJIUzUxMiJ9.eyJJRCI6InVzZXI6YWRhIiwiQUMiOiJ1c2VyX2F1dGgiLCJleHAiOjIwMDAwMDAwMDB9.sig";
//! let claims = decode_claims(token).unwrap();
//! assert_eq!(claims.access.as_deref(), Some("user_auth"));
//! assert_eq!(claims.record_id().unwrap().to_string(), "user:ada");
//! assert!(claims.check_time(1_999_999_000, 5).is_ok());
//! assert!(claims.check_time(2_000_000_010, 5).is_err());
//! ```

use std::fmt;

use crate::value::{Object, RecordId, Value};

/// How deep the JSON reader follows nested arrays and objects.
pub const MAX_DEPTH: usize = 32;

/// Why a token's claims could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Not three `.`-separated parts.
    #[error("a JWT has three `.`-separated parts; this one has {0}")]
    Shape(usize),
    /// The payload is not base64url.
    #[error("the JWT payload is not base64url: {0}")]
    Base64(String),
    /// The payload is not a JSON object.
    #[error("the JWT payload is not a JSON object: {0}")]
    Json(String),
}

/// Why claims are not valid at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// `exp` (plus the leeway) is in the past.
    #[error("the token expired at {exp} (unix seconds)")]
    Expired {
        /// The `exp` claim.
        exp: i64,
    },
    /// `nbf` (minus the leeway) is in the future.
    #[error("the token is not valid before {nbf} (unix seconds)")]
    NotYetValid {
        /// The `nbf` claim.
        nbf: i64,
    },
}

/// The claims of a SurrealDB token (the keys of `iam/token.rs`: `NS`, `DB`, `AC`, `ID`, and
/// the registered `exp`, `nbf`, `iat`), plus all of them as read.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Claims {
    /// `NS`: the namespace.
    pub ns: Option<String>,
    /// `DB`: the database.
    pub db: Option<String>,
    /// `AC`: the access method.
    pub access: Option<String>,
    /// `ID`: the record user, in record-id syntax (`user:abc`).
    pub id: Option<String>,
    /// `exp`: expiry, unix seconds.
    pub exp: Option<i64>,
    /// `nbf`: not before, unix seconds.
    pub nbf: Option<i64>,
    /// `iat`: issued at, unix seconds.
    pub iat: Option<i64>,
    /// Every claim, as read.
    pub all: Object,
}

impl Claims {
    /// The `ID` claim as a record id (`None` when absent or not a record id).
    pub fn record_id(&self) -> Option<RecordId> {
        crate::escape::parse_record_id(self.id.as_deref()?).ok()
    }

    /// Checks `exp` and `nbf` against `now` (unix seconds), each allowed `leeway_secs` of
    /// clock difference. Absent claims pass.
    pub fn check_time(&self, now: i64, leeway_secs: u64) -> Result<(), TimeError> {
        let leeway = i64::try_from(leeway_secs).unwrap_or(i64::MAX);
        if let Some(exp) = self.exp {
            if exp.saturating_add(leeway) < now {
                return Err(TimeError::Expired { exp });
            }
        }
        if let Some(nbf) = self.nbf {
            if nbf.saturating_sub(leeway) > now {
                return Err(TimeError::NotYetValid { nbf });
            }
        }
        Ok(())
    }

    /// Seconds until `exp` from `now` (`None` without `exp`; 0 when past).
    pub fn remaining(&self, now: i64) -> Option<u64> {
        self.exp
            .map(|exp| u64::try_from(exp.saturating_sub(now)).unwrap_or(0))
    }
}

/// Reads the claims of `token` (a compact JWS: `header.payload.signature`). **The signature
/// is not checked**; see the [module docs](self).
pub fn decode_claims(token: &str) -> Result<Claims, JwtError> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(JwtError::Shape(parts.len()));
    }
    let bytes = base64url_decode(parts[1]).map_err(JwtError::Base64)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| JwtError::Json(e.to_string()))?;
    let all = match parse_json(text).map_err(JwtError::Json)? {
        Value::Object(o) => o,
        other => return Err(JwtError::Json(format!("found {}", other.kind()))),
    };
    let text_claim = |k: &str| match all.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let time_claim = |k: &str| match all.get(k) {
        Some(Value::Int(i)) => Some(*i),
        // NumericDate may carry a fraction; whole seconds are enough here.
        Some(Value::Float(f)) if f.is_finite() => Some(f.trunc() as i64),
        _ => None,
    };
    Ok(Claims {
        ns: text_claim("NS"),
        db: text_claim("DB"),
        access: text_claim("AC"),
        id: text_claim("ID").or_else(|| text_claim("id")),
        exp: time_claim("exp"),
        nbf: time_claim("nbf"),
        iat: time_claim("iat"),
        all,
    })
}

/// Decodes base64url (RFC 4648 §5), with or without `=` padding.
pub fn base64url_decode(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim_end_matches('=');
    if s.len() % 4 == 1 {
        return Err(format!("{} characters cannot be base64", s.len()));
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for (i, c) in s.bytes().enumerate() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return Err(format!("byte {i} is not a base64url character")),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// Encodes base64url without padding (for tests and for building tokens by hand).
pub fn base64url_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// Parses one JSON value (the whole text).
pub fn parse_json(text: &str) -> Result<Value, String> {
    let mut r = Reader {
        s: text.as_bytes(),
        i: 0,
    };
    let v = r.value(0)?;
    r.ws();
    if r.i != r.s.len() {
        return Err(format!("unexpected text at byte {}", r.i));
    }
    Ok(v)
}

struct Reader<'a> {
    s: &'a [u8],
    i: usize,
}

impl fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reader(at {})", self.i)
    }
}

impl Reader<'_> {
    fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.i))
    }

    fn eat(&mut self, word: &str) -> bool {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return self.err("nested too deep");
        }
        self.ws();
        match self.s.get(self.i) {
            None => self.err("unexpected end"),
            Some(b'{') => {
                self.i += 1;
                let mut o = Object::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Value::Object(o));
                }
                loop {
                    self.ws();
                    if self.s.get(self.i) != Some(&b'"') {
                        return self.err("expected a key");
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.s.get(self.i) != Some(&b':') {
                        return self.err("expected `:`");
                    }
                    self.i += 1;
                    let v = self.value(depth + 1)?;
                    o.insert(k, v);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Value::Object(o));
                        }
                        _ => return self.err("expected `,` or `}`"),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Value::Array(a));
                }
                loop {
                    a.push(self.value(depth + 1)?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::Array(a));
                        }
                        _ => return self.err("expected `,` or `]`"),
                    }
                }
            }
            Some(b'"') => self.string().map(Value::String),
            Some(b't') if self.eat("true") => Ok(Value::Bool(true)),
            Some(b'f') if self.eat("false") => Ok(Value::Bool(false)),
            Some(b'n') if self.eat("null") => Ok(Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => self.err("unexpected character"),
        }
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.i;
        while matches!(
            self.s.get(self.i),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.i += 1;
        }
        // Only ASCII bytes were taken.
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Value::Int(i));
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => Err(format!("`{text}` is not a number (byte {start})")),
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let Some(h) = self.s.get(self.i..self.i + 4) else {
            return self.err("truncated \\u escape");
        };
        let text = std::str::from_utf8(h).map_err(|_| "bad \\u escape".to_owned())?;
        let v = u32::from_str_radix(text, 16).map_err(|_| format!("bad \\u escape `{text}`"))?;
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1; // the opening quote
        let mut out = Vec::new();
        loop {
            match self.s.get(self.i) {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    self.i += 1;
                    return String::from_utf8(out).map_err(|e| e.to_string());
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = match self.s.get(self.i) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.i += 1;
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if !self.eat("\\u") {
                                    return self.err("unpaired surrogate");
                                }
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return self.err("unpaired surrogate");
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            let Some(c) = char::from_u32(code) else {
                                return self.err("invalid \\u escape");
                            };
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                            continue;
                        }
                        _ => return self.err("invalid escape"),
                    };
                    self.i += 1;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                Some(&b) if b < 0x20 => return self.err("control character in a string"),
                Some(&b) => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(payload: &str) -> String {
        format!(
            "{}.{}.c2ln",
            base64url_encode(br#"{"alg":"HS512","typ":"JWT"}"#),
            base64url_encode(payload.as_bytes())
        )
    }

    #[test]
    fn base64url_round_trips_every_length() {
        for n in 0..40u8 {
            let bytes: Vec<u8> = (0..n)
                .map(|i| i.wrapping_mul(37).wrapping_add(250))
                .collect();
            let enc = base64url_encode(&bytes);
            assert!(!enc.contains(['+', '/', '=']), "{enc}");
            assert_eq!(base64url_decode(&enc).unwrap(), bytes);
        }
        assert_eq!(base64url_decode("Zm9v").unwrap(), b"foo");
        assert_eq!(base64url_decode("Zm8=").unwrap(), b"fo");
        assert!(base64url_decode("Zm9v+").is_err());
        assert!(base64url_decode("Z").is_err());
    }

    #[test]
    fn a_real_server_token_is_read() {
        // A token issued by SurrealDB 3.3.5 (signature cut short: it is not checked).
        let t = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzUxMiJ9.eyJpYXQiOjE3OTU4NTY4NTAsIm5iZiI6MTc5NTg1Njg1MCwiZXhwIjoxNzk1ODU3NzUwLCJpc3MiOiJTdXJyZWFsREIiLCJqdGkiOiI0YWFlMTA3NC01ODNhLTQyNjgtOWNmMy1jOWMxMzM0ZjIwYzIiLCJOUyI6InQiLCJEQiI6InQiLCJBQyI6InVzZXJfYXV0aCIsIklEIjoidXNlcjp3NmcweWE5aHJ2N25wcWxvMzUzZSJ9.kd8u";
        let c = decode_claims(t).unwrap();
        assert_eq!(c.ns.as_deref(), Some("t"));
        assert_eq!(c.db.as_deref(), Some("t"));
        assert_eq!(c.access.as_deref(), Some("user_auth"));
        assert_eq!(
            c.record_id(),
            Some(RecordId::new("user", "w6g0ya9hrv7npqlo353e"))
        );
        assert_eq!(
            (c.iat, c.nbf, c.exp),
            (Some(1795856850), Some(1795856850), Some(1795857750))
        );
        assert_eq!(c.all.get("iss"), Some(&Value::from("SurrealDB")));
    }

    #[test]
    fn times_are_checked_with_leeway() {
        let c = decode_claims(&token(r#"{"nbf":1000,"exp":2000}"#)).unwrap();
        assert_eq!(c.check_time(1500, 0), Ok(()));
        assert_eq!(c.check_time(2000, 0), Ok(()));
        assert_eq!(c.check_time(2001, 0), Err(TimeError::Expired { exp: 2000 }));
        assert_eq!(c.check_time(2005, 5), Ok(()));
        assert_eq!(c.check_time(2006, 5), Err(TimeError::Expired { exp: 2000 }));
        assert_eq!(
            c.check_time(999, 0),
            Err(TimeError::NotYetValid { nbf: 1000 })
        );
        assert_eq!(c.check_time(995, 5), Ok(()));
        assert_eq!(c.remaining(1500), Some(500));
        assert_eq!(c.remaining(2500), Some(0));
        // no time claims: nothing to fail
        let c = decode_claims(&token(r#"{"ID":"u:1"}"#)).unwrap();
        assert_eq!(c.check_time(i64::MAX, 0), Ok(()));
        assert_eq!(c.remaining(0), None);
        // fractional NumericDate
        let c = decode_claims(&token(r#"{"exp":2000.9}"#)).unwrap();
        assert_eq!(c.exp, Some(2000));
    }

    #[test]
    fn record_ids_in_every_syntax() {
        let id = |s: &str| {
            decode_claims(&token(&format!(r#"{{"ID":{s}}}"#)))
                .unwrap()
                .record_id()
        };
        assert_eq!(id(r#""user:abc""#), Some(RecordId::new("user", "abc")));
        assert_eq!(
            id(r#""user:`a-b c`""#),
            Some(RecordId::new("user", "a-b c"))
        );
        assert_eq!(
            id(r#""user:\u27e8a-b\u27e9""#),
            Some(RecordId::new("user", "a-b"))
        );
        assert_eq!(id(r#""user:42""#), Some(RecordId::new("user", 42)));
        assert_eq!(id(r#""no colon""#), None);
        assert_eq!(id("42"), None);
        // lowercase `id` is accepted too (older tokens)
        let c = decode_claims(&token(r#"{"id":"user:x"}"#)).unwrap();
        assert_eq!(c.record_id(), Some(RecordId::new("user", "x")));
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        assert_eq!(decode_claims("abc"), Err(JwtError::Shape(1)));
        assert_eq!(decode_claims("a.b.c.d"), Err(JwtError::Shape(4)));
        assert!(matches!(decode_claims("a.!!.c"), Err(JwtError::Base64(_))));
        assert!(matches!(
            decode_claims(&format!("a.{}.c", base64url_encode(&[0xff, 0xfe]))),
            Err(JwtError::Json(_))
        ));
        for bad in [
            "",
            "[1]",
            "{",
            "{\"a\"",
            "{\"a\":}",
            "{\"a\":1,}",
            "{\"a\":tru}",
            "\"x",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":\"\\u12\"}",
            "{\"a\":1} x",
            "{\"a\":--1}",
            "{\"a\":\"\u{1}\"}",
            "{1:2}",
        ] {
            let r = decode_claims(&token(bad));
            assert!(matches!(r, Err(JwtError::Json(_))), "{bad:?} gave {r:?}");
        }
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(40), "]".repeat(40));
        assert!(decode_claims(&token(&deep)).is_err());
        let ok = format!("{{\"a\":{}1{}}}", "[".repeat(20), "]".repeat(20));
        assert!(decode_claims(&token(&ok)).is_ok());
    }

    #[test]
    fn json_values_and_escapes() {
        let v = parse_json(
            r#" {"s":"a\"b\\c\/d\n\u00e9\ud83d\ude00","n":-12,"f":1.5e2,"t":true,"x":false,"z":null,"a":[1,{"k":[]}],"o":{}} "#,
        )
        .unwrap();
        let Value::Object(o) = v else { panic!() };
        assert_eq!(o["s"], Value::from("a\"b\\c/d\né😀"));
        assert_eq!(o["n"], Value::Int(-12));
        assert_eq!(o["f"], Value::Float(150.0));
        assert_eq!(o["t"], Value::Bool(true));
        assert_eq!(o["x"], Value::Bool(false));
        assert_eq!(o["z"], Value::Null);
        assert!(matches!(&o["a"], Value::Array(a) if a.len() == 2));
        assert_eq!(o["o"], Value::Object(Object::new()));
        // a number too large for i64 is a float
        assert_eq!(
            parse_json("18446744073709551616").unwrap(),
            Value::Float(18446744073709551616.0)
        );
    }
}
