//! The one sink every statement is compiled into: bound (`$p0`, collected vars) or inline (literals).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::CompiledQuery;
use crate::cbor::RawValue;
use crate::value::{Table, Value};

/// How values reach the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Values become `$p0, $p1, …` in the order the compiler meets them; tables `$t0, …`.
    Bound,
    /// Values are written as SurrealQL literals (logs and docs only, never executed by us).
    Inline,
}

/// The sink. Statements are written into `text`; subqueries hoisted into `LET` preludes
/// are collected in `lets` (innermost first) and placed before the main statement.
#[derive(Debug)]
pub(crate) struct Writer {
    mode: Mode,
    pub(crate) text: String,
    vars: BTreeMap<String, Value>,
    raw_vars: BTreeMap<String, RawValue>,
    next_param: usize,
    tables: Vec<String>,
    lets: Vec<String>,
}

impl Writer {
    pub(crate) fn new(mode: Mode) -> Self {
        Writer {
            mode,
            text: String::new(),
            vars: BTreeMap::new(),
            raw_vars: BTreeMap::new(),
            next_param: 0,
            tables: Vec::new(),
            lets: Vec::new(),
        }
    }

    pub(crate) fn sql(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// Writes a fresh `$pN` placeholder and returns its name (`pN`).
    fn placeholder(&mut self) -> String {
        let name = format!("p{}", self.next_param);
        self.next_param += 1;
        self.text.push('$');
        self.text.push_str(&name);
        name
    }

    /// Writes a user value: a fresh placeholder in bound mode, a literal in inline mode.
    pub(crate) fn value(&mut self, v: Value) {
        match self.mode {
            Mode::Bound => {
                let name = self.placeholder();
                self.vars.insert(name, v);
            }
            Mode::Inline => {
                let _ = write!(self.text, "{v}");
            }
        }
    }

    /// Writes a value already encoded as CBOR: a fresh placeholder bound to the bytes in
    /// bound mode (numbered with the other values), its decoded literal in inline mode.
    pub(crate) fn raw(&mut self, v: RawValue) {
        match self.mode {
            Mode::Bound => {
                let name = self.placeholder();
                self.raw_vars.insert(name, v);
            }
            Mode::Inline => match v.to_value() {
                Ok(v) => {
                    let _ = write!(self.text, "{v}");
                }
                Err(_) => {
                    let _ = write!(self.text, "<{} bytes of CBOR>", v.as_bytes().len());
                }
            },
        }
    }

    /// Binds a caller-named variable (`name` already validated) without writing anything;
    /// in inline mode it is a `LET` prelude so the log text reads back the same.
    pub(crate) fn bind_named(&mut self, name: &str, v: Value) {
        match self.mode {
            Mode::Bound => {
                self.vars.insert(name.to_owned(), v);
            }
            Mode::Inline => {
                self.lets.push(format!("LET ${name} = {v};"));
            }
        }
    }

    /// Writes a table: bound as a typed table value (one variable per distinct table).
    pub(crate) fn table(&mut self, name: &str) {
        match self.mode {
            Mode::Bound => {
                let idx = match self.tables.iter().position(|t| t == name) {
                    Some(i) => i,
                    None => {
                        self.tables.push(name.to_owned());
                        let i = self.tables.len() - 1;
                        self.vars
                            .insert(format!("t{i}"), Value::Table(Table::new(name)));
                        i
                    }
                };
                let _ = write!(self.text, "$t{idx}");
            }
            Mode::Inline => {
                let _ = write!(self.text, "{}", Value::Table(Table::new(name)));
            }
        }
    }

    /// Runs `body` into a fresh text buffer, stores `LET $sN = (<body>);` and writes `$sN`.
    pub(crate) fn hoist<E>(
        &mut self,
        body: impl FnOnce(&mut Writer) -> Result<(), E>,
    ) -> Result<(), E> {
        let outer = std::mem::take(&mut self.text);
        let res = body(self);
        let inner = std::mem::replace(&mut self.text, outer);
        res?;
        let name = format!("s{}", self.lets.len());
        self.lets.push(format!("LET ${name} = ({inner});"));
        self.text.push('$');
        self.text.push_str(&name);
        Ok(())
    }

    /// Ends the current statement and moves it into the prelude list (used by queries
    /// that build their own `LET`s, such as hybrid search). Returns the LET variable name.
    pub(crate) fn let_statement<E>(
        &mut self,
        body: impl FnOnce(&mut Writer) -> Result<(), E>,
    ) -> Result<String, E> {
        let outer = std::mem::take(&mut self.text);
        let res = body(self);
        let inner = std::mem::replace(&mut self.text, outer);
        res?;
        let name = format!("s{}", self.lets.len());
        self.lets.push(format!("LET ${name} = ({inner});"));
        Ok(name)
    }

    /// Finishes: preludes, then the main statement (whose index is the result index).
    pub(crate) fn finish(mut self) -> CompiledQuery {
        self.text.push(';');
        let result_index = self.lets.len();
        let mut text = String::new();
        for l in &self.lets {
            text.push_str(l);
            text.push(' ');
        }
        text.push_str(&self.text);
        CompiledQuery {
            text,
            vars: self.vars,
            raw_vars: self.raw_vars,
            result_index,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbor::RawValue;

    #[test]
    fn raw_values_are_numbered_with_the_others() {
        let raw = RawValue::from_serde(&[1, 2]).unwrap();
        let mut w = Writer::new(Mode::Bound);
        w.sql("RETURN [");
        w.value(Value::from("a"));
        w.sql(", ");
        w.raw(raw.clone());
        w.sql(", ");
        w.value(Value::from("b"));
        w.sql("]");
        let q = w.finish();
        assert_eq!(q.text, "RETURN [$p0, $p1, $p2];");
        assert_eq!(q.vars.keys().collect::<Vec<_>>(), ["p0", "p2"]);
        assert_eq!(q.raw_vars.get("p1"), Some(&raw));

        // Inline (logs, docs): the decoded literal.
        let mut w = Writer::new(Mode::Inline);
        w.sql("RETURN ");
        w.raw(raw);
        assert_eq!(w.finish().text, "RETURN [1, 2];");
    }
}
