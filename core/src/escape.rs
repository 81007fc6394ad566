//! Identifier and record-id escaping for SurrealQL text, and the matching parsers.
//!
//! The rules follow the 3.3.5 server's formatter (common:`fmt/escape.rs`), quoting a
//! little more than it does wherever that makes the text re-parse identically on every
//! server version. Executed queries should bind tables and record ids as typed
//! parameters instead; this module is for names spliced into text and for logs.

use std::borrow::Cow;
use std::fmt;

use crate::value::{
    Bound, Datetime, Decimal, Duration, FileRef, Geometry, KeyRange, Object, Point, Range,
    RecordId, RecordIdKey, Table, Uuid, Value,
};

/// Words the server may read as keywords where an identifier is expected
/// (common:`keywords.rs`), compared ASCII-case-insensitively.
const RESERVED: [&str; 44] = [
    "ALTER", "BEGIN", "BREAK", "CANCEL", "COMMIT", "CONTINUE", "CREATE", "DEFINE", "DELETE", "FOR",
    "IF", "INFO", "INSERT", "KILL", "LIVE", "OPTION", "REBUILD", "RETURN", "RELATE", "REMOVE",
    "SELECT", "LET", "SHOW", "SLEEP", "THROW", "UPDATE", "UPSERT", "USE", "DIFF", "RAND", "NONE",
    "NULL", "AFTER", "BEFORE", "VALUE", "BY", "ALL", "TRUE", "FALSE", "WHERE", "TABLE", "TB",
    "SEQUENCE", "FUNCTION",
];

fn is_reserved(s: &str) -> bool {
    RESERVED.iter().any(|k| k.eq_ignore_ascii_case(s))
}

fn is_plain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn quote(s: &str, q: char) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    crate::value::write_escaped(&mut out, s, q);
    out.push(q);
    out
}

/// Escapes a table name or field-name part exactly like the server's `EscapeIdent`:
/// backticks when `s` is a reserved word (any case), empty, digit-led, contains a
/// character outside `[A-Za-z0-9_]`, or is `NaN`/`Infinity`.
///
/// ```
/// use surql::escape::escape_ident;
/// assert_eq!(escape_ident("person"), "person");
/// assert_eq!(escape_ident("my-table"), "`my-table`");
/// assert_eq!(escape_ident("select"), "`select`");
/// ```
pub fn escape_ident(s: &str) -> Cow<'_, str> {
    if is_reserved(s)
        || s.is_empty()
        || s.starts_with(|c: char| c.is_ascii_digit())
        || !s.chars().all(is_plain_char)
        || s == "NaN"
        || s == "Infinity"
    {
        Cow::Owned(quote(s, '`'))
    } else {
        Cow::Borrowed(s)
    }
}

/// Escapes an object key like the server's `EscapeObjectKey`: bare when it is a plain,
/// non-digit-led identifier, else double-quoted.
pub fn escape_object_key(s: &str) -> Cow<'_, str> {
    if s.is_empty()
        || s.starts_with(|c: char| c.is_ascii_digit())
        || !s.chars().all(is_plain_char)
        || s == "NaN"
        || s == "Infinity"
    {
        Cow::Owned(quote(s, '"'))
    } else {
        Cow::Borrowed(s)
    }
}

/// Escapes a STRING record-id key. Bare only if it matches `^[A-Za-z_][A-Za-z0-9_]*$`,
/// holds at least one ASCII letter and is neither `NaN`/`Infinity` nor a keyword or id
/// generator (`NONE`, `TRUE`, `RAND`, `ULID`, `UUID`, …); otherwise backtick-quoted. A string
/// key therefore never renders as something that parses as a number.
///
/// ```
/// use surql::escape::escape_rid_key;
/// assert_eq!(escape_rid_key("tobie"), "tobie");
/// assert_eq!(escape_rid_key("123"), "`123`");
/// assert_eq!(escape_rid_key("7abc"), "`7abc`");
/// ```
pub fn escape_rid_key(s: &str) -> Cow<'_, str> {
    let bare = s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(is_plain_char)
        && s.chars().any(|c| c.is_ascii_alphabetic())
        && s != "NaN"
        && s != "Infinity"
        && !is_reserved(s)
        && !s.eq_ignore_ascii_case("ULID")
        && !s.eq_ignore_ascii_case("UUID");
    if bare {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(quote(s, '`'))
    }
}

/// Appends the key half of a record id (`tobie`, `` `7abc` ``, `-5`, `u'…'`, `['a', 1]`,
/// `{ a: 1 }`, `1..=5`).
pub fn write_record_id_key(out: &mut String, key: &RecordIdKey) {
    match key {
        RecordIdKey::String(s) => out.push_str(&escape_rid_key(s)),
        RecordIdKey::Int(i) => out.push_str(&i.to_string()),
        RecordIdKey::Uuid(u) => {
            out.push_str("u'");
            out.push_str(&u.to_string());
            out.push('\'');
        }
        RecordIdKey::Array(a) => crate::value::write_value(out, &Value::Array(a.clone())),
        RecordIdKey::Object(o) => crate::value::write_object(out, o),
        RecordIdKey::Range(r) => {
            crate::value::write_range(out, &r.start, &r.end, |o, k| {
                // A range of ranges has no meaning; render the inner one bracketed
                // anyway so that the text stays unambiguous.
                if let RecordIdKey::Range(_) = k {
                    o.push('(');
                    write_record_id_key(o, k);
                    o.push(')');
                } else {
                    write_record_id_key(o, k);
                }
            })
        }
    }
}

/// Appends `table:key` with the table escaped by [`escape_ident`] and the key by
/// [`write_record_id_key`].
pub fn write_record_id(out: &mut String, rid: &RecordId) {
    out.push_str(&escape_ident(&rid.table));
    out.push(':');
    write_record_id_key(out, &rid.key);
}

impl fmt::Display for RecordId {
    /// The SurrealQL text of the record id; [`parse_record_id`] reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        write_record_id(&mut s, self);
        f.write_str(&s)
    }
}

impl fmt::Display for RecordIdKey {
    /// The key as it appears after `table:`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        write_record_id_key(&mut s, self);
        f.write_str(&s)
    }
}

impl std::str::FromStr for RecordId {
    type Err = ParseRecordIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_record_id(s)
    }
}

/// Text that is not a valid record id (or SurrealQL literal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {input:?} at byte {at}: {reason}")]
pub struct ParseRecordIdError {
    /// "record id" or "literal".
    pub what: &'static str,
    /// The rejected text.
    pub input: String,
    /// Byte offset of the problem.
    pub at: usize,
    /// What was expected there.
    pub reason: String,
}

/// Parses `table:key` as SurrealQL writes it: the table bare, `` `quoted` `` or `⟨quoted⟩`;
/// the key a bare word (digits only ⇒ integer, anything else ⇒ string), a quoted string,
/// `u'…'`/`u"…"` (uuid), an array or object literal, or a key range (`1..=5`, `a>..`, `..`).
/// Reads back everything [`write_record_id`] writes.
///
/// ```
/// use surql::escape::parse_record_id;
/// use surql::{RecordId};
/// assert_eq!(parse_record_id("t:123").unwrap(), RecordId::new("t", 123));
/// assert_eq!(parse_record_id("t:`123`").unwrap(), RecordId::new("t", "123"));
/// assert_eq!(parse_record_id("t:⟨a-b⟩").unwrap(), RecordId::new("t", "a-b"));
/// ```
pub fn parse_record_id(s: &str) -> Result<RecordId, ParseRecordIdError> {
    let mut p = Parser::new(s, "record id");
    p.ws();
    let rid = p.record_id()?;
    p.ws();
    p.end()?;
    Ok(rid)
}

/// Parses one SurrealQL literal as [`Value`]'s `Display` writes it (NONE, NULL, booleans,
/// numbers with `f`/`dec` suffixes, strings, `d'…'`, `u'…'`, `b"…"`, `f"…"`, durations,
/// record ids, bare table names, arrays, objects, sets, points, GeoJSON-like geometry
/// objects and ranges). It is the reference reader the writer is tested against; it does
/// not evaluate expressions.
pub fn parse_literal(s: &str) -> Result<Value, ParseRecordIdError> {
    let mut p = Parser::new(s, "literal");
    p.ws();
    let v = p.value(0)?;
    p.ws();
    p.end()?;
    Ok(v)
}

/// Nesting limit of [`parse_literal`]/[`parse_record_id`], so hostile input cannot
/// overflow the stack.
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    s: &'a str,
    i: usize,
    what: &'static str,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str, what: &'static str) -> Self {
        Parser { s, i: 0, what }
    }

    fn err<T>(&self, reason: impl Into<String>) -> Result<T, ParseRecordIdError> {
        Err(ParseRecordIdError {
            what: self.what,
            input: self.s.to_owned(),
            at: self.i,
            reason: reason.into(),
        })
    }

    fn rest(&self) -> &'a str {
        self.s.get(self.i..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn eat(&mut self, t: &str) -> bool {
        if self.rest().starts_with(t) {
            self.i += t.len();
            true
        } else {
            false
        }
    }

    fn ws(&mut self) {
        let n = self.rest().len() - self.rest().trim_start().len();
        self.i += n;
    }

    fn end(&self) -> Result<(), ParseRecordIdError> {
        if self.i == self.s.len() {
            Ok(())
        } else {
            self.err("unexpected text; expected the end")
        }
    }

    fn expect(&mut self, t: &str) -> Result<(), ParseRecordIdError> {
        self.ws();
        if self.eat(t) {
            Ok(())
        } else {
            self.err(format!("expected `{t}`"))
        }
    }

    fn word(&mut self) -> &'a str {
        let r = self.rest();
        let n = r.find(|c: char| !is_plain_char(c)).unwrap_or(r.len());
        self.i += n;
        &r[..n]
    }

    /// The body of a quoted token whose opening quote has been consumed; `close` ends it.
    fn quoted(&mut self, close: char) -> Result<String, ParseRecordIdError> {
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return self.err(format!("unterminated quoted text; expected `{close}`"));
            };
            self.i += c.len_utf8();
            if c == close {
                return Ok(out);
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some(e) = self.peek() else {
                return self.err("missing escape character after `\\`");
            };
            self.i += e.len_utf8();
            match e {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                '0' => out.push('\0'),
                'b' => out.push('\x08'),
                'f' => out.push('\x0C'),
                '\\' | '\'' | '"' | '`' => out.push(e),
                '⟩' if close == '⟩' => out.push(e),
                'u' => out.push(self.unicode_escape()?),
                _ => return self.err(format!("invalid escape sequence `\\{e}`")),
            }
        }
    }

    fn unicode_escape(&mut self) -> Result<char, ParseRecordIdError> {
        let hex = if self.eat("{") {
            let r = self.rest();
            let n = r.find('}').unwrap_or(0);
            if n == 0 || n > 6 {
                return self.err("expected `\\u{…}` with 1 to 6 hex digits");
            }
            self.i += n + 1;
            &r[..n]
        } else {
            let r = self.rest();
            match r.get(..4) {
                Some(h) => {
                    self.i += 4;
                    h
                }
                None => return self.err("expected 4 hex digits after `\\u`"),
            }
        };
        u32::from_str_radix(hex, 16)
            .ok()
            .filter(|_| hex.chars().all(|c| c.is_ascii_hexdigit()))
            .and_then(char::from_u32)
            .map_or_else(|| self.err(format!("invalid unicode escape `{hex}`")), Ok)
    }

    /// A string literal `'…'` or `"…"`, opening quote not yet consumed.
    fn string(&mut self) -> Result<String, ParseRecordIdError> {
        if self.eat("'") {
            self.quoted('\'')
        } else if self.eat("\"") {
            self.quoted('"')
        } else {
            self.err("expected a quoted string")
        }
    }

    /// An identifier: bare `[A-Za-z0-9_]+`, `` `…` `` or `⟨…⟩`.
    fn ident(&mut self) -> Result<String, ParseRecordIdError> {
        if self.eat("`") {
            self.quoted('`')
        } else if self.eat("⟨") {
            self.quoted('⟩')
        } else {
            let w = self.word();
            if w.is_empty() {
                self.err("expected an identifier")
            } else {
                Ok(w.to_owned())
            }
        }
    }

    fn record_id(&mut self) -> Result<RecordId, ParseRecordIdError> {
        let table = self.ident()?;
        if !self.eat(":") {
            return self.err("expected `:` between table and key");
        }
        let key = self.rid_key_or_range()?;
        Ok(RecordId { table, key })
    }

    fn at_range_end(&self) -> bool {
        matches!(
            self.peek(),
            None | Some(',' | ']' | '}' | ')' | ' ' | '\t' | '\n' | '\r')
        )
    }

    fn rid_key_or_range(&mut self) -> Result<RecordIdKey, ParseRecordIdError> {
        let start = if self.rest().starts_with("..") {
            Bound::Unbounded
        } else {
            let k = self.rid_key()?;
            if self.eat(">..") {
                Bound::Excluded(k)
            } else if self.rest().starts_with("..") {
                Bound::Included(k)
            } else {
                return Ok(k);
            }
        };
        if matches!(start, Bound::Unbounded | Bound::Included(_)) && !self.eat("..") {
            return self.err("expected `..`");
        }
        let end = if self.eat("=") {
            Bound::Included(self.rid_key()?)
        } else if self.at_range_end() {
            Bound::Unbounded
        } else {
            Bound::Excluded(self.rid_key()?)
        };
        Ok(RecordIdKey::Range(Box::new(KeyRange { start, end })))
    }

    fn rid_key(&mut self) -> Result<RecordIdKey, ParseRecordIdError> {
        let r = self.rest();
        if r.starts_with("u'") || r.starts_with("u\"") {
            self.i += 1;
            let text = self.string()?;
            return match Uuid::parse(&text) {
                Ok(u) => Ok(RecordIdKey::Uuid(u)),
                Err(e) => self.err(e.to_string()),
            };
        }
        match self.peek() {
            Some('`' | '⟨') => Ok(RecordIdKey::String(self.ident()?)),
            Some('[') => match self.value(1)? {
                Value::Array(a) => Ok(RecordIdKey::Array(a)),
                _ => self.err("expected an array key"),
            },
            Some('{') => match self.value(1)? {
                Value::Object(o) => Ok(RecordIdKey::Object(o)),
                _ => self.err("expected an object key"),
            },
            Some('-' | '+') => {
                let start = self.i;
                self.i += 1;
                let w = self.word();
                if w.is_empty() || !w.bytes().all(|b| b.is_ascii_digit()) {
                    self.i = start;
                    return self.err("expected digits after the sign of an integer key");
                }
                let text = &self.s[start..self.i];
                text.parse::<i64>()
                    .map(RecordIdKey::Int)
                    .or_else(|_| self.err("integer key out of the i64 range"))
            }
            _ => {
                let w = self.word();
                if w.is_empty() {
                    return self.err("expected a record key");
                }
                if w.bytes().all(|b| b.is_ascii_digit()) {
                    w.parse::<i64>()
                        .map(RecordIdKey::Int)
                        .or_else(|_| self.err("integer key out of the i64 range"))
                } else {
                    Ok(RecordIdKey::String(w.to_owned()))
                }
            }
        }
    }

    /// A value, possibly followed by a range operator.
    fn value(&mut self, depth: usize) -> Result<Value, ParseRecordIdError> {
        if depth > MAX_DEPTH {
            return self.err("nested too deeply");
        }
        self.ws();
        let start = if self.rest().starts_with("..") {
            Bound::Unbounded
        } else {
            let v = self.primary(depth)?;
            if self.eat(">..") {
                Bound::Excluded(v)
            } else if self.rest().starts_with("..") {
                Bound::Included(v)
            } else {
                return Ok(v);
            }
        };
        if matches!(start, Bound::Unbounded | Bound::Included(_)) && !self.eat("..") {
            return self.err("expected `..`");
        }
        let end = if self.eat("=") {
            Bound::Included(self.primary(depth)?)
        } else if self.at_range_end() {
            Bound::Unbounded
        } else {
            Bound::Excluded(self.primary(depth)?)
        };
        Ok(Value::Range(Box::new(Range { start, end })))
    }

    fn primary(&mut self, depth: usize) -> Result<Value, ParseRecordIdError> {
        let depth = depth + 1;
        if depth > MAX_DEPTH {
            return self.err("nested too deeply");
        }
        let r = self.rest();
        for (prefix, kind) in [
            ("d'", 'd'),
            ("d\"", 'd'),
            ("u'", 'u'),
            ("u\"", 'u'),
            ("b\"", 'b'),
            ("f\"", 'f'),
        ] {
            if r.starts_with(prefix) {
                self.i += 1;
                return self.prefixed(kind);
            }
        }
        match self.peek() {
            None => self.err("expected a value"),
            Some('\'' | '"') => Ok(Value::String(self.string()?)),
            Some('[') => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.eat("]") {
                        return Ok(Value::Array(items));
                    }
                    items.push(self.value(depth)?);
                    self.ws();
                    if !self.eat(",") {
                        self.expect("]")?;
                        return Ok(Value::Array(items));
                    }
                }
            }
            Some('{') => self.object_or_set(depth),
            Some('(') => {
                self.i += 1;
                let x = self.value(depth)?;
                self.ws();
                if self.eat(",") {
                    let y = self.value(depth)?;
                    self.expect(")")?;
                    match (as_coord(&x), as_coord(&y)) {
                        (Some(x), Some(y)) => Ok(Value::Geometry(Geometry::Point(Point { x, y }))),
                        _ => self.err("a point needs two numbers"),
                    }
                } else {
                    self.expect(")")?;
                    Ok(x)
                }
            }
            Some(c) if c.is_ascii_digit() || c == '-' || c == '+' => self.number(),
            Some(_) => self.word_value(),
        }
    }

    /// The body of a file literal: a backslash makes the next character literal.
    fn file_body(&mut self) -> Result<String, ParseRecordIdError> {
        let close = match self.peek() {
            Some(q @ ('"' | '\'')) => q,
            _ => return self.err("expected a quoted file reference"),
        };
        self.i += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return self.err(format!("unterminated file reference; expected `{close}`"));
            };
            self.i += c.len_utf8();
            if c == close {
                return Ok(out);
            }
            if c == '\\' {
                let Some(e) = self.peek() else {
                    return self.err("missing character after `\\`");
                };
                self.i += e.len_utf8();
                out.push(e);
            } else {
                out.push(c);
            }
        }
    }

    fn prefixed(&mut self, kind: char) -> Result<Value, ParseRecordIdError> {
        let at = self.i;
        let text = if kind == 'f' {
            self.file_body()?
        } else {
            self.string()?
        };
        let fail = |p: &Self, e: String| {
            Err(ParseRecordIdError {
                what: p.what,
                input: p.s.to_owned(),
                at,
                reason: e,
            })
        };
        match kind {
            'd' => Datetime::parse(&text)
                .map(Value::Datetime)
                .or_else(|e| fail(self, e.to_string())),
            'u' => Uuid::parse(&text)
                .map(Value::Uuid)
                .or_else(|e| fail(self, e.to_string())),
            'b' => {
                let b = text.as_bytes();
                if b.len() % 2 != 0 {
                    return fail(
                        self,
                        "bytes literal needs an even number of hex digits".into(),
                    );
                }
                let mut out = Vec::with_capacity(b.len() / 2);
                for pair in b.chunks(2) {
                    let hex = std::str::from_utf8(pair).ok();
                    match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        Some(x) if pair.iter().all(u8::is_ascii_hexdigit) => out.push(x),
                        _ => return fail(self, "bytes literal holds a non-hex digit".into()),
                    }
                }
                Ok(Value::Bytes(out))
            }
            _ => match text.split_once(":/") {
                Some((bucket, key)) if !bucket.is_empty() => Ok(Value::File(FileRef {
                    bucket: bucket.to_owned(),
                    key: format!("/{key}"),
                })),
                _ => fail(self, "file literal must look like f\"bucket:/key\"".into()),
            },
        }
    }

    fn object_or_set(&mut self, depth: usize) -> Result<Value, ParseRecordIdError> {
        self.i += 1; // `{`
        self.ws();
        if self.eat("}") {
            return Ok(Value::Object(Object::new()));
        }
        if self.eat(",") {
            self.expect("}")?;
            return Ok(Value::Set(Vec::new()));
        }
        // An object when a key and `:` come first (but not `::` or a record id `a:b`
        // without spaces, which a key is never written as).
        let save = self.i;
        let key = match self.peek() {
            Some('\'' | '"') => self.string().ok(),
            _ => Some(self.word().to_owned()).filter(|w| !w.is_empty()),
        };
        self.ws();
        if let Some(key) =
            key.filter(|_| self.rest().starts_with(':') && !self.rest().starts_with("::"))
        {
            self.i += 1;
            let mut obj = Object::new();
            obj.insert(key, self.value(depth)?);
            loop {
                self.ws();
                if self.eat("}") {
                    break;
                }
                self.expect(",")?;
                self.ws();
                if self.eat("}") {
                    break;
                }
                let k = match self.peek() {
                    Some('\'' | '"') => self.string()?,
                    _ => {
                        let w = self.word();
                        if w.is_empty() {
                            return self.err("expected an object key");
                        }
                        w.to_owned()
                    }
                };
                self.expect(":")?;
                let v = self.value(depth)?;
                obj.insert(k, v);
            }
            return Ok(geometry_from_object(&obj).map_or(Value::Object(obj), Value::Geometry));
        }
        self.i = save;
        let mut items = vec![self.value(depth)?];
        self.ws();
        if !self.eat(",") {
            return self.err("expected `,` after the first element of a set");
        }
        loop {
            self.ws();
            if self.eat("}") {
                return Ok(Value::Set(items));
            }
            items.push(self.value(depth)?);
            self.ws();
            if !self.eat(",") {
                self.expect("}")?;
                return Ok(Value::Set(items));
            }
        }
    }

    fn number(&mut self) -> Result<Value, ParseRecordIdError> {
        let start = self.i;
        let r = self.rest();
        let b = r.as_bytes();
        let mut n = 0;
        if matches!(b.first(), Some(b'-' | b'+')) {
            n += 1;
        }
        if r[n..].starts_with("Infinity") {
            self.i += n + "Infinity".len();
            return Ok(Value::Float(if b.first() == Some(&b'-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }));
        }
        let digits_start = n;
        while b.get(n).is_some_and(u8::is_ascii_digit) {
            n += 1;
        }
        if n == digits_start {
            return self.err("expected a number");
        }
        let mut is_float = false;
        // `1..5` is a range, so a `.` only belongs to the number when a digit follows.
        if b.get(n) == Some(&b'.') && b.get(n + 1).is_some_and(u8::is_ascii_digit) {
            is_float = true;
            n += 1;
            while b.get(n).is_some_and(u8::is_ascii_digit) {
                n += 1;
            }
        }
        if matches!(b.get(n), Some(b'e' | b'E')) {
            let mut m = n + 1;
            if matches!(b.get(m), Some(b'-' | b'+')) {
                m += 1;
            }
            if b.get(m).is_some_and(u8::is_ascii_digit) {
                is_float = true;
                n = m;
                while b.get(n).is_some_and(u8::is_ascii_digit) {
                    n += 1;
                }
            }
        }
        let num = &r[..n];
        let suffix_len = r[n..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == 'µ'))
            .unwrap_or(r.len() - n);
        let suffix = &r[n..n + suffix_len];
        self.i += n + suffix_len;
        let bad = |p: &mut Self, why: &str| {
            p.i = start;
            p.err(format!("{why}: `{}`", &r[..n + suffix_len]))
        };
        match suffix {
            "f" => num
                .parse::<f64>()
                .map(Value::Float)
                .or_else(|_| bad(self, "invalid float")),
            "dec" => Decimal::parse(num)
                .map(Value::Decimal)
                .or_else(|_| bad(self, "invalid decimal")),
            "" if is_float => num
                .parse::<f64>()
                .map(Value::Float)
                .or_else(|_| bad(self, "invalid float")),
            "" => num
                .parse::<i64>()
                .map(Value::Int)
                .or_else(|_| bad(self, "integer out of the i64 range")),
            _ if !is_float && digits_start == 0 => Duration::parse(&r[..n + suffix_len])
                .map(Value::Duration)
                .or_else(|e| bad(self, e.reason)),
            _ => bad(self, "unknown number suffix"),
        }
    }

    fn word_value(&mut self) -> Result<Value, ParseRecordIdError> {
        let start = self.i;
        let quoted = matches!(self.peek(), Some('`' | '⟨'));
        let w = self.ident()?;
        if self.rest().starts_with(':') && !self.rest().starts_with("::") {
            self.i = start;
            return Ok(Value::RecordId(self.record_id()?));
        }
        if quoted {
            return Ok(Value::Table(Table(w)));
        }
        Ok(match w.to_ascii_uppercase().as_str() {
            "NONE" => Value::None,
            "NULL" => Value::Null,
            "TRUE" => Value::Bool(true),
            "FALSE" => Value::Bool(false),
            _ if w == "NaN" => Value::Float(f64::NAN),
            _ if w == "Infinity" => Value::Float(f64::INFINITY),
            _ if is_reserved(&w) => {
                self.i = start;
                return self.err(format!("`{w}` is a keyword, not a value"));
            }
            _ => Value::Table(Table(w)),
        })
    }
}

fn as_coord(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(*f),
        Value::Int(i) => Some(*i as f64),
        Value::Decimal(d) => d.as_str().parse().ok(),
        _ => None,
    }
}

fn point_from(v: &Value) -> Option<Point> {
    match v.as_array()? {
        [x, y] => Some(Point {
            x: as_coord(x)?,
            y: as_coord(y)?,
        }),
        _ => None,
    }
}

fn points_from(v: &Value) -> Option<Vec<Point>> {
    v.as_array()?.iter().map(point_from).collect()
}

fn rings_from(v: &Value) -> Option<Vec<Vec<Point>>> {
    v.as_array()?.iter().map(points_from).collect()
}

/// The geometry described by a GeoJSON-like object (`{ type: 'Point', coordinates: [x, y] }`,
/// …, `{ type: 'GeometryCollection', geometries: [...] }`), if it is exactly one; the server
/// converts such objects to geometries the same way.
pub fn geometry_from_object(o: &Object) -> Option<Geometry> {
    if o.len() != 2 {
        return None;
    }
    let kind = o.get("type")?.as_str()?;
    if kind == "GeometryCollection" {
        let items = o.get("geometries")?.as_array()?;
        return items
            .iter()
            .map(|g| match g {
                Value::Geometry(g) => Some(g.clone()),
                Value::Object(o) => geometry_from_object(o),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(Geometry::Collection);
    }
    let c = o.get("coordinates")?;
    Some(match kind {
        "Point" => Geometry::Point(point_from(c)?),
        "LineString" => Geometry::Line(points_from(c)?),
        "Polygon" => Geometry::Polygon(rings_from(c)?),
        "MultiPoint" => Geometry::MultiPoint(points_from(c)?),
        "MultiLineString" => Geometry::MultiLine(rings_from(c)?),
        "MultiPolygon" => Geometry::MultiPolygon(
            c.as_array()?
                .iter()
                .map(rings_from)
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}

/// A name that cannot be spliced into SurrealQL as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {input:?}: {allowed}")]
pub struct IdentError {
    /// "identifier", "name" or "field path".
    pub what: &'static str,
    /// The rejected text.
    pub input: String,
    /// What is allowed instead.
    pub allowed: &'static str,
}

const IDENT_RULE: &str = "expected a letter or `_` followed by letters, digits or `_` (ASCII only)";
const NAME_RULE: &str = "expected a non-empty name";
const PATH_RULE: &str =
    "expected non-empty field names separated by `.` (a name holding `.`, `[`, `]` or a \
     backtick is written in backticks), each optionally followed by `[N]` indexes or `[*]`, \
     or a whole part `*` after the first";

/// Whether `s` is a plain identifier, `^[A-Za-z_][A-Za-z0-9_]*$`: the one definition every
/// check in the crate uses. A plain identifier may still need backticks in SurrealQL text
/// (a keyword, `NaN`, `Infinity`): [`escape_ident`] decides that.
pub fn is_plain_ident(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') && s.chars().all(is_plain_char)
}

/// Whether `s` is a word the server may read as a keyword where an identifier is expected
/// (the server's own list, common:`keywords.rs`, compared ASCII-case-insensitively), so it
/// must be written in backticks.
pub fn is_reserved_word(s: &str) -> bool {
    is_reserved(s)
}

/// Checks a name the client writes itself after `$` (a query variable): it must be a
/// plain identifier, `^[A-Za-z_][A-Za-z0-9_]*$`. Returns the name on success.
///
/// Field, table, index and alias names are not checked this way: any non-empty name is
/// legitimate there and is written through [`escape_ident`] (see [`validate_name`]).
pub fn validate_ident(s: &str) -> Result<&str, IdentError> {
    if is_plain_ident(s) {
        Ok(s)
    } else {
        Err(IdentError {
            what: "identifier",
            input: s.to_owned(),
            allowed: IDENT_RULE,
        })
    }
}

/// Checks one table, edge, index or alias name: any non-empty text (SurrealDB accepts any
/// name in backticks). Write it with [`escape_ident`], which adds the backticks when the
/// name needs them.
pub fn validate_name(s: &str) -> Result<&str, IdentError> {
    if s.is_empty() {
        Err(IdentError {
            what: "name",
            input: String::new(),
            allowed: NAME_RULE,
        })
    } else {
        Ok(s)
    }
}

/// One part of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPart<'a> {
    /// A field name (unquoted: a backtick-quoted part of the path is given without its
    /// backticks and escapes).
    Field(Cow<'a, str>),
    /// `[N]`: the element at index `N`.
    Index(u64),
    /// `[*]`: every element.
    AllElements,
    /// `.*`: every field.
    AllFields,
}

/// Splits a field path into its parts: field names separated by `.`, each followed by any
/// number of `[N]` or `[*]`; a part after the first may be `*`. A field name is any
/// non-empty text without `.`, `[`, `]` or a backtick (`first-name`, `名前`, `NaN`,
/// `a b`), or any non-empty text in backticks, with `` \` `` and `\\` escaping a backtick
/// and a backslash (`` `a.b` `` is the one field named `a.b`).
///
/// ```
/// use std::borrow::Cow;
/// use surql::escape::{parse_field_path, PathPart};
/// assert_eq!(
///     parse_field_path("tags[0].first-name").unwrap(),
///     vec![
///         PathPart::Field(Cow::Borrowed("tags")),
///         PathPart::Index(0),
///         PathPart::Field(Cow::Borrowed("first-name")),
///     ]
/// );
/// assert_eq!(
///     parse_field_path("`tags[0]`").unwrap(),
///     vec![PathPart::Field(Cow::Borrowed("tags[0]"))]
/// );
/// ```
pub fn parse_field_path(s: &str) -> Result<Vec<PathPart<'_>>, IdentError> {
    let err = || IdentError {
        what: "field path",
        input: s.to_owned(),
        allowed: PATH_RULE,
    };
    let mut parts = Vec::new();
    let mut rest = s;
    let mut first = true;
    loop {
        // one `.`-separated part: `*`, or a name followed by indexes
        if rest.starts_with('*') && matches!(rest.as_bytes().get(1), None | Some(b'.' | b'[')) {
            // `*` is the wildcard, never a name (a field named `*` is written `` `*` ``)
            if first {
                return Err(err());
            }
            parts.push(PathPart::AllFields);
            rest = &rest[1..];
        } else if let Some(quoted) = rest.strip_prefix('`') {
            let mut name = String::new();
            let mut chars = quoted.char_indices();
            let close = loop {
                match chars.next() {
                    None => return Err(err()),
                    Some((i, '`')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        // the escapes `escape_ident` writes, so its output reads back
                        Some((_, 'n')) => name.push('\n'),
                        Some((_, 't')) => name.push('\t'),
                        Some((_, 'r')) => name.push('\r'),
                        Some((_, '0')) => name.push('\0'),
                        Some((_, 'f')) => name.push('\x0C'),
                        Some((_, 'u')) => {
                            let hex: String = chars
                                .by_ref()
                                .map(|(_, c)| c)
                                .skip_while(|c| *c == '{')
                                .take_while(|c| *c != '}')
                                .collect();
                            let c = u32::from_str_radix(&hex, 16)
                                .ok()
                                .and_then(char::from_u32)
                                .ok_or_else(err)?;
                            name.push(c);
                        }
                        Some((_, c)) => name.push(c),
                        None => return Err(err()),
                    },
                    Some((_, c)) => name.push(c),
                }
            };
            if name.is_empty() {
                return Err(err());
            }
            parts.push(PathPart::Field(Cow::Owned(name)));
            rest = &quoted[close + 1..];
        } else {
            let end = rest.find(['.', '[', ']', '`']).unwrap_or(rest.len());
            if end == 0 {
                return Err(err());
            }
            parts.push(PathPart::Field(Cow::Borrowed(&rest[..end])));
            rest = &rest[end..];
        }
        // indexes, only after a name
        while let Some(after) = rest.strip_prefix('[') {
            if matches!(parts.last(), Some(PathPart::AllFields)) {
                return Err(err());
            }
            let close = after.find(']').ok_or_else(err)?;
            let inner = &after[..close];
            parts.push(if inner == "*" {
                PathPart::AllElements
            } else if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) {
                PathPart::Index(inner.parse().map_err(|_| err())?)
            } else {
                return Err(err());
            });
            rest = &after[close + 1..];
        }
        match rest.strip_prefix('.') {
            Some(next) => rest = next,
            None if rest.is_empty() => return Ok(parts),
            None => return Err(err()),
        }
        first = false;
    }
}

/// Checks a field path (the syntax of [`parse_field_path`]). Returns the path on success.
pub fn validate_field_path(s: &str) -> Result<&str, IdentError> {
    parse_field_path(s).map(|_| s)
}

/// Appends a field path as SurrealQL: each field name through [`escape_ident`] (so
/// `first-name`, `名前`, `NaN` and `select` get backticks, `age` does not), indexes as
/// `[N]` / `[*]`.
///
/// ```
/// use surql::escape::write_field_path;
/// let mut out = String::new();
/// write_field_path(&mut out, "meta.first-name.tags[0].NaN").unwrap();
/// assert_eq!(out, "meta.`first-name`.tags[0].`NaN`");
/// ```
pub fn write_field_path(out: &mut String, path: &str) -> Result<(), IdentError> {
    let parts = parse_field_path(path)?;
    write_path_parts(out, &parts);
    Ok(())
}

/// The SurrealQL text of a field path (see [`write_field_path`]).
pub fn escape_field_path(path: &str) -> Result<String, IdentError> {
    let mut out = String::with_capacity(path.len() + 2);
    write_field_path(&mut out, path)?;
    Ok(out)
}

fn write_path_parts(out: &mut String, parts: &[PathPart<'_>]) {
    for (i, part) in parts.iter().enumerate() {
        match part {
            PathPart::Field(name) => {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(&escape_ident(name));
            }
            PathPart::AllFields => out.push_str(".*"),
            PathPart::Index(n) => {
                out.push('[');
                out.push_str(&n.to_string());
                out.push(']');
            }
            PathPart::AllElements => out.push_str("[*]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ident_escaping() {
        assert_eq!(escape_ident("person"), "person");
        assert_eq!(escape_ident("_x9"), "_x9");
        assert_eq!(escape_ident(""), "``");
        assert_eq!(escape_ident("7abc"), "`7abc`");
        assert_eq!(escape_ident("123"), "`123`");
        assert_eq!(escape_ident("a-b"), "`a-b`");
        assert_eq!(escape_ident("a.b"), "`a.b`");
        assert_eq!(escape_ident("a b"), "`a b`");
        assert_eq!(escape_ident("ünï"), "`ünï`");
        assert_eq!(escape_ident("a`b"), "`a\\`b`");
        assert_eq!(escape_ident("a\\b"), "`a\\\\b`");
        assert_eq!(escape_ident("a\nb"), "`a\\nb`");
        assert_eq!(escape_ident("⟨x⟩"), "`⟨x⟩`");
        assert_eq!(escape_ident("select"), "`select`");
        assert_eq!(escape_ident("SELECT"), "`SELECT`");
        assert_eq!(escape_ident("None"), "`None`");
        assert_eq!(escape_ident("true"), "`true`");
        assert_eq!(escape_ident("NaN"), "`NaN`");
        assert_eq!(escape_ident("Infinity"), "`Infinity`");
        assert_eq!(escape_ident("nan"), "nan");
        assert_eq!(escape_ident("user"), "user");
    }

    #[test]
    fn object_key_escaping() {
        assert_eq!(escape_object_key("a"), "a");
        assert_eq!(escape_object_key("b-c"), "\"b-c\"");
        assert_eq!(escape_object_key("1a"), "\"1a\"");
        assert_eq!(escape_object_key(""), "\"\"");
        assert_eq!(escape_object_key("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(escape_object_key("select"), "select");
    }

    #[test]
    fn rid_key_escaping() {
        assert_eq!(escape_rid_key("tobie"), "tobie");
        assert_eq!(escape_rid_key("_a1"), "_a1");
        assert_eq!(escape_rid_key("123"), "`123`");
        assert_eq!(escape_rid_key("7abc"), "`7abc`");
        assert_eq!(escape_rid_key("1e5"), "`1e5`");
        assert_eq!(escape_rid_key("_"), "`_`");
        assert_eq!(escape_rid_key("_1"), "`_1`");
        assert_eq!(escape_rid_key(""), "``");
        assert_eq!(escape_rid_key("a-b"), "`a-b`");
        assert_eq!(escape_rid_key("a.b"), "`a.b`");
        assert_eq!(escape_rid_key("a b"), "`a b`");
        assert_eq!(escape_rid_key("ünï"), "`ünï`");
        assert_eq!(escape_rid_key("a`b"), "`a\\`b`");
        assert_eq!(escape_rid_key("⟨a⟩"), "`⟨a⟩`");
        assert_eq!(escape_rid_key("a\\b"), "`a\\\\b`");
        assert_eq!(escape_rid_key("a\nb\tc\r\0"), "`a\\nb\\tc\\r\\0`");
        assert_eq!(escape_rid_key("NaN"), "`NaN`");
        assert_eq!(escape_rid_key("Infinity"), "`Infinity`");
        assert_eq!(escape_rid_key("NONE"), "`NONE`");
        assert_eq!(escape_rid_key("null"), "`null`");
        assert_eq!(escape_rid_key("true"), "`true`");
        assert_eq!(escape_rid_key("RAND"), "`RAND`");
        assert_eq!(escape_rid_key("ulid"), "`ulid`");
        assert_eq!(escape_rid_key("UUID"), "`UUID`");
    }

    fn rid(table: &str, key: impl Into<RecordIdKey>) -> RecordId {
        RecordId::new(table, key)
    }

    #[test]
    fn record_id_rendering() {
        assert_eq!(rid("person", "tobie").to_string(), "person:tobie");
        assert_eq!(rid("t", 123).to_string(), "t:123");
        assert_eq!(rid("t", "123").to_string(), "t:`123`");
        assert_eq!(rid("t", -5).to_string(), "t:-5");
        assert_eq!(rid("t", "7abc").to_string(), "t:`7abc`");
        assert_eq!(rid("my-table", "a-b").to_string(), "`my-table`:`a-b`");
        assert_eq!(rid("select", "x").to_string(), "`select`:x");
        let u = Uuid::parse("0190d9a4-2d5e-7b3c-8f4a-1234567890ab").unwrap();
        assert_eq!(
            rid("t", u).to_string(),
            "t:u'0190d9a4-2d5e-7b3c-8f4a-1234567890ab'"
        );
        assert_eq!(
            rid("t", vec![Value::from("a"), Value::Int(1)]).to_string(),
            "t:['a', 1]"
        );
        let mut o = Object::new();
        o.insert("a".into(), Value::Int(1));
        o.insert("b-c".into(), Value::from("x"));
        assert_eq!(rid("t", o).to_string(), "t:{ a: 1, \"b-c\": 'x' }");
        let range = |s, e| RecordIdKey::Range(Box::new(KeyRange { start: s, end: e }));
        assert_eq!(
            rid(
                "t",
                range(Bound::Included(1.into()), Bound::Included(5.into()))
            )
            .to_string(),
            "t:1..=5"
        );
        assert_eq!(
            rid(
                "t",
                range(Bound::Excluded("a".into()), Bound::Excluded("z".into()))
            )
            .to_string(),
            "t:a>..z"
        );
        assert_eq!(
            rid("t", range(Bound::Unbounded, Bound::Unbounded)).to_string(),
            "t:.."
        );
    }

    #[test]
    fn record_id_parsing() {
        let p = |s: &str| parse_record_id(s).unwrap();
        assert_eq!(p("person:tobie"), rid("person", "tobie"));
        assert_eq!(p("t:123"), rid("t", 123));
        assert_eq!(p("t:-5"), rid("t", -5));
        assert_eq!(p("t:`123`"), rid("t", "123"));
        assert_eq!(p("t:7abc"), rid("t", "7abc"));
        assert_eq!(p("t:1e5"), rid("t", "1e5"));
        assert_eq!(p("t:⟨a-b⟩"), rid("t", "a-b"));
        assert_eq!(p("t:⟨a\\⟩b⟩"), rid("t", "a⟩b"));
        assert_eq!(p("`my-table`:`a b`"), rid("my-table", "a b"));
        assert_eq!(p("⟨my table⟩:x"), rid("my table", "x"));
        assert_eq!(p("t:`a\\`b\\\\c\\nd\\u{e9}`"), rid("t", "a`b\\c\nd\u{e9}"));
        assert_eq!(
            p("t:u\"0190d9a4-2d5e-7b3c-8f4a-1234567890ab\""),
            rid(
                "t",
                Uuid::parse("0190d9a4-2d5e-7b3c-8f4a-1234567890ab").unwrap()
            )
        );
        assert_eq!(
            p("t:['a', 1, true, NONE]"),
            rid(
                "t",
                vec![
                    Value::from("a"),
                    Value::Int(1),
                    Value::Bool(true),
                    Value::None
                ]
            )
        );
        assert_eq!(
            p("t:..").key,
            RecordIdKey::Range(Box::new(KeyRange {
                start: Bound::Unbounded,
                end: Bound::Unbounded
            }))
        );
        assert_eq!(
            p("t:1..=5").key,
            RecordIdKey::Range(Box::new(KeyRange {
                start: Bound::Included(1.into()),
                end: Bound::Included(5.into())
            }))
        );
        assert_eq!("t:x".parse::<RecordId>().unwrap(), rid("t", "x"));
    }

    #[test]
    fn record_id_parse_errors() {
        for bad in [
            "",
            "t",
            "t:",
            ":x",
            "t:a-b",
            "t:ünï",
            "t:`open",
            "t:⟨open",
            "t:`\\q`",
            "t:-",
            "t:-x",
            "t:99999999999999999999",
            "t:u'nope'",
            "t:[1",
            "t:{a}",
            "t:x y",
            "t:\\",
        ] {
            let e = parse_record_id(bad).unwrap_err();
            assert_eq!(e.input, bad, "{bad}");
            assert!(e.at <= bad.len());
        }
        let e = parse_record_id("t:a-b").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid record id \"t:a-b\" at byte 3: unexpected text; expected the end"
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let s = format!("t:{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse_record_id(&s).is_err());
        let s = "{a:".repeat(10_000);
        assert!(parse_literal(&s).is_err());
    }

    #[test]
    fn ident_validation() {
        assert_eq!(validate_ident("name"), Ok("name"));
        assert_eq!(validate_ident("_x1"), Ok("_x1"));
        for bad in ["", "1a", "a-b", "a.b", "a b", "ünï", "a;DROP", "`a`"] {
            let e = validate_ident(bad).unwrap_err();
            assert_eq!(e.input, bad);
        }
        assert_eq!(
            validate_ident("a-b").unwrap_err().to_string(),
            "invalid identifier \"a-b\": expected a letter or `_` followed by letters, digits or `_` (ASCII only)"
        );
    }

    #[test]
    fn field_path_validation() {
        for ok in [
            "a",
            "address.city",
            "tags[0]",
            "items[*].price",
            "a.*",
            "m[1][2].x",
            "_a._b",
            "first-name",
            "名前",
            "NaN",
            "a b",
            "a.1",
            "`a.b`",
            "`tags[0]`[1]",
            "`a\\`b`",
        ] {
            assert_eq!(validate_field_path(ok), Ok(ok));
        }
        for bad in [
            "",
            ".a",
            "a.",
            "a..b",
            "*",
            "*.a",
            "a[",
            "a[]",
            "a[-1]",
            "a[x]",
            "a]",
            "a[0]b",
            "a`b",
            "``",
            "`a",
            "`a`b",
            "a.*[0]",
            "a[99999999999999999999999]",
        ] {
            assert!(validate_field_path(bad).is_err(), "{bad}");
        }
    }

    /// Every tricky name, through the one escaper and through the path writer, gives the
    /// same text.
    #[test]
    fn tricky_names_escape_the_same_everywhere() {
        let cases = [
            ("age", "age"),
            ("NaN", "`NaN`"),
            ("Infinity", "`Infinity`"),
            ("nan", "nan"),
            ("first-name", "`first-name`"),
            ("名前", "`名前`"),
            ("select", "`select`"),
            ("Value", "`Value`"),
            ("1a", "`1a`"),
            ("a b", "`a b`"),
            ("$x", "`$x`"),
            ("a;DELETE x", "`a;DELETE x`"),
            ("a)--", "`a)--`"),
        ];
        for (name, want) in cases {
            assert_eq!(escape_ident(name), want, "escape_ident({name:?})");
            assert_eq!(
                escape_field_path(name).as_deref(),
                Ok(want),
                "escape_field_path({name:?})"
            );
        }
        // names holding path syntax are given in backticks and escaped the same way
        for (path, name) in [
            ("`tags[0]`", "tags[0]"),
            ("`a.b`", "a.b"),
            ("`a\\`b`", "a`b"),
        ] {
            assert_eq!(
                escape_field_path(path).as_deref(),
                Ok(&*escape_ident(name)),
                "{path}"
            );
        }
        assert_eq!(escape_field_path("tags[0]").as_deref(), Ok("tags[0]"));
        assert_eq!(
            escape_field_path("items[*].NaN.*").as_deref(),
            Ok("items[*].`NaN`.*")
        );
        assert_eq!(
            escape_field_path("`a\\\\b`").as_deref(),
            Ok("`a\\\\b`"),
            "a backslash stays escaped"
        );
        // the written text reads back as the same parts
        for path in ["a.`b-c`[3].`NaN`", "x.`名前`[*].*", "`a\nb\u{1}\t`.c"] {
            let once = escape_field_path(path).unwrap();
            assert_eq!(escape_field_path(&once).unwrap(), once, "{path}");
        }
    }

    #[test]
    fn names_and_reserved_words() {
        assert_eq!(validate_name("first-name"), Ok("first-name"));
        assert!(validate_name("").is_err());
        for w in ["select", "SELECT", "Value", "none", "tb"] {
            assert!(is_reserved_word(w), "{w}");
            assert!(escape_ident(w).starts_with('`'), "{w}");
        }
        assert!(!is_reserved_word("user"));
        assert!(is_plain_ident("NaN") && is_plain_ident("_x"));
        assert!(!is_plain_ident("first-name") && !is_plain_ident("名前"));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn key() -> impl Strategy<Value = RecordIdKey> {
            let scalar = prop_oneof![
                any::<String>().prop_map(RecordIdKey::String),
                "[a-z0-9_]{0,6}".prop_map(RecordIdKey::String),
                any::<i64>().prop_map(RecordIdKey::Int),
                any::<[u8; 16]>().prop_map(|b| RecordIdKey::Uuid(Uuid(b))),
            ];
            let elem = prop_oneof![
                any::<String>().prop_map(Value::String),
                any::<i64>().prop_map(Value::Int),
                any::<bool>().prop_map(Value::Bool),
                Just(Value::Null),
            ];
            prop_oneof![
                4 => scalar,
                1 => proptest::collection::vec(elem, 0..4).prop_map(RecordIdKey::Array),
            ]
        }

        proptest! {
            #[test]
            fn record_id_round_trips(table in any::<String>(), key in key()) {
                let rid = RecordId { table, key };
                let text = rid.to_string();
                prop_assert_eq!(parse_record_id(&text), Ok(rid), "{}", text);
            }

            #[test]
            fn parsers_never_panic(s in any::<String>()) {
                let _ = parse_record_id(&s);
                let _ = parse_literal(&s);
            }
        }
    }
}
