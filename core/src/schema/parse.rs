//! Reading `DEFINE` / `REMOVE` statements back into the schema model: the statements the
//! server prints in `INFO FOR DB` / `INFO FOR TABLE`, the statements of migration files
//! (so a migration chain replays into a [`Schema`](super::Schema)) and the models'
//! `#[surql(define = "…")]` statements.
//!
//! This is a clause splitter, not a SurrealQL parser: a statement is cut at its top-level
//! clause keywords (outside strings and brackets), and expressions are kept as text. A
//! clause keyword at the top level of an expression (rare: the server prints subqueries in
//! parentheses) would cut the expression short; such statements are best given as raw SQL.

use super::{
    canonical_duration, types, Access, Analyzer, Event, Field, Function, Index, IndexKind, Param,
    Permission, SchemaError, Table, TablePermissions, TableType,
};

/// One statement, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    /// `DEFINE TABLE` (the bool: `OVERWRITE` or `IF NOT EXISTS` was given).
    DefineTable(Table, bool),
    /// `DEFINE FIELD`.
    DefineField(Field, bool),
    /// `DEFINE INDEX`.
    DefineIndex(Index, bool),
    /// `DEFINE EVENT`.
    DefineEvent(Event, bool),
    /// `DEFINE ANALYZER`.
    DefineAnalyzer(Analyzer, bool),
    /// `DEFINE PARAM`.
    DefineParam(Param, bool),
    /// `DEFINE FUNCTION`.
    DefineFunction(Function, bool),
    /// `DEFINE ACCESS … ON DATABASE`.
    DefineAccess(Access, bool),
    /// `REMOVE <kind> [IF EXISTS] <name> [ON <table>]`.
    Remove {
        /// What is removed.
        kind: RemoveKind,
        /// Its name (a field's path as SurrealQL text).
        name: String,
        /// The table, for fields, indexes and events.
        table: Option<String>,
    },
    /// Anything else (data statements, `BEGIN`, `DEFINE USER`, …): kept as text.
    Other(String),
}

/// What a `REMOVE` removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveKind {
    /// `REMOVE TABLE`.
    Table,
    /// `REMOVE FIELD`.
    Field,
    /// `REMOVE INDEX`.
    Index,
    /// `REMOVE EVENT`.
    Event,
    /// `REMOVE ANALYZER`.
    Analyzer,
    /// `REMOVE PARAM`.
    Param,
    /// `REMOVE FUNCTION`.
    Function,
    /// `REMOVE ACCESS … ON DATABASE`.
    Access,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Word,
    Str,
    Group,
    Punct,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Tok,
    start: usize,
    end: usize,
}

fn err(msg: impl Into<String>) -> SchemaError {
    SchemaError(msg.into())
}

/// Tokenizes the top level of `s`: words (identifiers, `fn::x`, `$v`, numbers, `a.b`),
/// quoted strings and identifiers, bracket groups (kept whole) and punctuation.
fn tokenize(s: &str) -> Result<Vec<Token>, SchemaError> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let is_word = |c: u8| {
        c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$' | b':' | b'.' | b'*') || c >= 0x80
    };
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'-' && b.get(i + 1) == Some(&b'-') {
            // a line comment
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        let kind = if matches!(c, b'\'' | b'"' | b'`') {
            i = skip_quoted(b, i)?;
            Tok::Str
        } else if s[i..].starts_with('⟨') {
            let close = s[i..]
                .find('⟩')
                .ok_or_else(|| err("an unclosed ⟨ identifier"))?;
            i += close + '⟩'.len_utf8();
            Tok::Str
        } else if matches!(c, b'(' | b'[' | b'{') {
            i = skip_group(b, i)?;
            Tok::Group
        } else if is_word(c) {
            while i < b.len() && is_word(b[i]) {
                i += 1;
            }
            Tok::Word
        } else {
            i += s[i..].chars().next().map_or(1, char::len_utf8);
            Tok::Punct
        };
        out.push(Token {
            kind,
            start,
            end: i,
        });
    }
    Ok(out)
}

fn skip_quoted(b: &[u8], start: usize) -> Result<usize, SchemaError> {
    let q = b[start];
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            c if c == q => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err(err("an unclosed string"))
}

fn skip_group(b: &[u8], start: usize) -> Result<usize, SchemaError> {
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' | b'`' => {
                i = skip_quoted(b, i)?;
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Err(err("an unclosed bracket"))
}

/// Splits SurrealQL text into statements at top-level `;` (strings, brackets and `--`
/// comments respected); empty statements are dropped.
pub fn split_statements(s: &str) -> Result<Vec<&str>, SchemaError> {
    let toks = tokenize(s)?;
    let mut out = Vec::new();
    let mut first: Option<usize> = None;
    let mut last = 0;
    for t in &toks {
        if t.kind == Tok::Punct && &s[t.start..t.end] == ";" {
            if let Some(f) = first.take() {
                out.push(s[f..last].trim());
            }
        } else {
            first.get_or_insert(t.start);
            last = t.end;
        }
    }
    if let Some(f) = first {
        out.push(s[f..last].trim());
    }
    Ok(out)
}

/// Whether a statement carries a top-level `MIGRATE EXISTING ROWS` clause (SurrealDB 4.0's
/// migration of stored rows on a `DEFINE FIELD`; see [`super::migrate_rows`]).
///
/// ```
/// use surql::schema::parse::has_migrate_clause;
/// assert!(has_migrate_clause("DEFINE FIELD OVERWRITE a ON t TYPE float MIGRATE EXISTING ROWS AS m USING $value FALLBACK 0.0"));
/// assert!(!has_migrate_clause("DEFINE FIELD a ON t TYPE string DEFAULT 'MIGRATE EXISTING ROWS'"));
/// ```
pub fn has_migrate_clause(s: &str) -> bool {
    let Ok(toks) = tokenize(s) else {
        return false;
    };
    let word =
        |t: &Token, w: &str| t.kind == Tok::Word && s[t.start..t.end].eq_ignore_ascii_case(w);
    toks.windows(3)
        .any(|w| word(&w[0], "MIGRATE") && word(&w[1], "EXISTING") && word(&w[2], "ROWS"))
}

/// Parses every statement of a SurrealQL text.
pub fn parse_statements(s: &str) -> Result<Vec<Statement>, SchemaError> {
    split_statements(s)?
        .into_iter()
        .map(parse_statement)
        .collect()
}

struct Cursor<'a> {
    s: &'a str,
    toks: Vec<Token>,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn text(&self, t: &Token) -> &'a str {
        &self.s[t.start..t.end]
    }
    fn peek_word(&self, w: &str) -> bool {
        self.toks
            .get(self.pos)
            .is_some_and(|t| t.kind == Tok::Word && self.text(t).eq_ignore_ascii_case(w))
    }
    fn eat(&mut self, w: &str) -> bool {
        if self.peek_word(w) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn eat_seq(&mut self, ws: &[&str]) -> bool {
        let save = self.pos;
        for w in ws {
            if !self.eat(w) {
                self.pos = save;
                return false;
            }
        }
        true
    }
    fn expect(&mut self, w: &str) -> Result<(), SchemaError> {
        if self.eat(w) {
            Ok(())
        } else {
            Err(err(format!("expected `{w}` in `{}`", self.s)))
        }
    }
    fn next(&mut self) -> Result<&'a str, SchemaError> {
        let t = self
            .toks
            .get(self.pos)
            .copied()
            .ok_or_else(|| err(format!("`{}` ends too early", self.s)))?;
        self.pos += 1;
        Ok(self.text(&t))
    }
    /// The text up to (not including) the next top-level word `stop`.
    fn until(&mut self, stop: &str) -> Result<&'a str, SchemaError> {
        let start = self
            .toks
            .get(self.pos)
            .map(|t| t.start)
            .ok_or_else(|| err(format!("`{}` ends too early", self.s)))?;
        while self.pos < self.toks.len() && !self.peek_word(stop) {
            self.pos += 1;
        }
        let end = self.toks[..self.pos].last().map_or(start, |t| t.end);
        Ok(self.s[start..end].trim())
    }
    /// Splits the rest into `(KEYWORD, text)` clauses at the given top-level keywords.
    /// Inside an `AS` clause (a view's query, which has its own `AS`), only `view_ends`
    /// end the clause.
    fn clauses(&mut self, keywords: &[&str], view_ends: &[&str]) -> Vec<(String, &'a str)> {
        let mut out: Vec<(String, Option<usize>, usize)> = Vec::new();
        while self.pos < self.toks.len() {
            let t = self.toks[self.pos];
            self.pos += 1;
            let word = (t.kind == Tok::Word).then(|| self.text(&t).to_ascii_uppercase());
            let in_view = out.last().is_some_and(|(k, ..)| k == "AS");
            let starts = match &word {
                Some(w) if in_view => view_ends.contains(&w.as_str()),
                Some(w) => keywords.contains(&w.as_str()),
                None => false,
            };
            if starts {
                out.push((word.unwrap_or_default(), None, 0));
            } else if let Some(last) = out.last_mut() {
                last.1.get_or_insert(t.start);
                last.2 = t.end;
            }
        }
        out.into_iter()
            .map(|(k, a, b)| (k, a.map_or("", |a| self.s[a..b].trim())))
            .collect()
    }
}

/// Unquotes a string literal (`'…'` or `"…"`, backslash escapes).
pub fn unquote(s: &str) -> String {
    let s = s.trim();
    let inner = if s.len() >= 2
        && ((s.starts_with('\'') && s.ends_with('\'')) || (s.starts_with('"') && s.ends_with('"')))
    {
        &s[1..s.len() - 1]
    } else {
        return s.to_owned();
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(c) => out.push(c),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// An identifier as written (`` `my-t` ``, `⟨x⟩` or bare), unescaped.
fn ident(s: &str) -> String {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix('`').and_then(|r| r.strip_suffix('`')) {
        inner.replace("\\`", "`").replace("\\\\", "\\")
    } else if let Some(inner) = s.strip_prefix('⟨').and_then(|r| r.strip_suffix('⟩')) {
        inner.to_owned()
    } else {
        s.to_owned()
    }
}

/// A field path as written, in canonical escaped form.
fn path(s: &str) -> String {
    crate::escape::escape_field_path(s.trim()).unwrap_or_else(|_| s.trim().to_owned())
}

fn overwrite(c: &mut Cursor) -> bool {
    c.eat("OVERWRITE") || c.eat_seq(&["IF", "NOT", "EXISTS"])
}

/// Parses one statement (without its `;`).
pub fn parse_statement(s: &str) -> Result<Statement, SchemaError> {
    let s = s.trim().trim_end_matches(';').trim();
    let toks = tokenize(s)?;
    let mut c = Cursor { s, toks, pos: 0 };
    if c.eat("DEFINE") {
        if c.eat("TABLE") {
            let ow = overwrite(&mut c);
            let name = ident(c.next()?);
            return Ok(Statement::DefineTable(table(&mut c, name)?, ow));
        }
        if c.eat("FIELD") {
            let ow = overwrite(&mut c);
            let p = path(c.until("ON")?);
            c.expect("ON")?;
            c.eat("TABLE");
            let t = ident(c.next()?);
            return Ok(Statement::DefineField(field(&mut c, t, p)?, ow));
        }
        if c.eat("INDEX") {
            let ow = overwrite(&mut c);
            let name = ident(c.next()?);
            c.expect("ON")?;
            c.eat("TABLE");
            let t = ident(c.next()?);
            return Ok(Statement::DefineIndex(index(&mut c, t, name)?, ow));
        }
        if c.eat("EVENT") {
            let ow = overwrite(&mut c);
            let name = ident(c.next()?);
            c.expect("ON")?;
            c.eat("TABLE");
            let t = ident(c.next()?);
            return Ok(Statement::DefineEvent(event(&mut c, t, name)?, ow));
        }
        if c.eat("ANALYZER") {
            let ow = overwrite(&mut c);
            let name = ident(c.next()?);
            return Ok(Statement::DefineAnalyzer(analyzer(&mut c, name), ow));
        }
        if c.eat("PARAM") {
            let ow = overwrite(&mut c);
            let name = ident(c.next()?.trim_start_matches('$'));
            return Ok(Statement::DefineParam(param(&mut c, name)?, ow));
        }
        if c.eat("FUNCTION") {
            let ow = overwrite(&mut c);
            let t = c
                .toks
                .get(c.pos)
                .copied()
                .ok_or_else(|| err(format!("`{s}` ends too early")))?;
            let name = c.text(&t).trim_start_matches("fn::").to_owned();
            let mut body = s[t.end..].trim_end().to_owned();
            // `PERMISSIONS FULL` is the default the server prints.
            if let Some(b) = body.strip_suffix(" PERMISSIONS FULL") {
                body = b.to_owned();
            }
            return Ok(Statement::DefineFunction(Function { name, body }, ow));
        }
        if c.eat("ACCESS") {
            let ow = overwrite(&mut c);
            let name = ident(c.next()?);
            if c.eat_seq(&["ON", "DATABASE"]) {
                return Ok(Statement::DefineAccess(
                    Access {
                        name,
                        statement: s.to_owned(),
                    },
                    ow,
                ));
            }
        }
        return Ok(Statement::Other(s.to_owned()));
    }
    if c.eat("REMOVE") {
        let kind = match c.next().map(str::to_ascii_uppercase).as_deref() {
            Ok("TABLE") => RemoveKind::Table,
            Ok("FIELD") => RemoveKind::Field,
            Ok("INDEX") => RemoveKind::Index,
            Ok("EVENT") => RemoveKind::Event,
            Ok("ANALYZER") => RemoveKind::Analyzer,
            Ok("PARAM") => RemoveKind::Param,
            Ok("FUNCTION") => RemoveKind::Function,
            Ok("ACCESS") => RemoveKind::Access,
            _ => return Ok(Statement::Other(s.to_owned())),
        };
        c.eat_seq(&["IF", "EXISTS"]);
        let name = match kind {
            RemoveKind::Field => path(c.until("ON")?),
            RemoveKind::Param => ident(c.next()?.trim_start_matches('$')),
            RemoveKind::Function => c.next()?.trim_start_matches("fn::").to_owned(),
            _ => ident(c.next()?),
        };
        let table = if matches!(
            kind,
            RemoveKind::Field | RemoveKind::Index | RemoveKind::Event
        ) {
            c.expect("ON")?;
            c.eat("TABLE");
            Some(ident(c.next()?))
        } else {
            None
        };
        return Ok(Statement::Remove { kind, name, table });
    }
    Ok(Statement::Other(s.to_owned()))
}

fn table(c: &mut Cursor, name: String) -> Result<Table, SchemaError> {
    let mut t = Table::new(name);
    // Without TYPE the server makes the table `TYPE ANY`.
    t.kind = TableType::Any;
    for (k, v) in c.clauses(
        &[
            "TYPE",
            "SCHEMAFULL",
            "SCHEMALESS",
            "AS",
            "CHANGEFEED",
            "PERMISSIONS",
            "COMMENT",
            "DROP",
        ],
        &["CHANGEFEED", "PERMISSIONS", "COMMENT"],
    ) {
        match k.as_str() {
            "TYPE" => t.kind = table_type(v)?,
            "SCHEMAFULL" => t.schemafull = true,
            "SCHEMALESS" => t.schemafull = false,
            "AS" => {
                let q = v.trim();
                // `AS (SELECT …)` and `AS SELECT …` are the same view.
                let q = match q.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
                    Some(inner) if split_statements(inner).is_ok() => inner.trim(),
                    _ => q,
                };
                t.view = Some(q.to_owned());
            }
            "CHANGEFEED" => {
                let d = v.split_whitespace().next().unwrap_or("");
                t.changefeed = Some(canonical_duration(d));
            }
            "PERMISSIONS" => t.permissions = table_permissions(v)?,
            "COMMENT" => t.comment = Some(unquote(v)),
            _ => {}
        }
    }
    Ok(t)
}

fn table_type(v: &str) -> Result<TableType, SchemaError> {
    let toks = tokenize(v)?;
    let mut c = Cursor { s: v, toks, pos: 0 };
    if c.eat("NORMAL") {
        return Ok(TableType::Normal);
    }
    if c.eat("ANY") {
        return Ok(TableType::Any);
    }
    if !c.eat("RELATION") {
        return Err(err(format!("unknown table type `{v}`")));
    }
    let mut from = Vec::new();
    let mut to = Vec::new();
    let mut enforced = false;
    let mut side: Option<bool> = None;
    while c.pos < c.toks.len() {
        let t = c.toks[c.pos];
        let text = c.text(&t);
        c.pos += 1;
        match text.to_ascii_uppercase().as_str() {
            "IN" | "FROM" => side = Some(true),
            "OUT" | "TO" => side = Some(false),
            "ENFORCED" => enforced = true,
            "|" => {}
            _ => match side {
                Some(true) => from.push(ident(text)),
                Some(false) => to.push(ident(text)),
                None => return Err(err(format!("unexpected `{text}` in `TYPE {v}`"))),
            },
        }
    }
    Ok(TableType::Relation { from, to, enforced })
}

/// `NONE`, `FULL` or `FOR a, b WHERE x, FOR c NONE, …` (unnamed actions: NONE).
fn table_permissions(v: &str) -> Result<TablePermissions, SchemaError> {
    let v = v.trim();
    let mut p = TablePermissions::default();
    if v.eq_ignore_ascii_case("NONE") {
        return Ok(p);
    }
    if v.eq_ignore_ascii_case("FULL") {
        return Ok(TablePermissions {
            select: Permission::Full,
            create: Permission::Full,
            update: Permission::Full,
            delete: Permission::Full,
        });
    }
    let toks = tokenize(v)?;
    // Positions of each top-level `FOR`.
    let fors: Vec<usize> = toks
        .iter()
        .enumerate()
        .filter(|(_, t)| t.kind == Tok::Word && v[t.start..t.end].eq_ignore_ascii_case("FOR"))
        .map(|(i, _)| i)
        .collect();
    for (n, &i) in fors.iter().enumerate() {
        let end = fors.get(n + 1).copied().unwrap_or(toks.len());
        let mut actions = Vec::new();
        let mut j = i + 1;
        while j < end {
            let w = &v[toks[j].start..toks[j].end];
            match w.to_ascii_lowercase().as_str() {
                "select" | "create" | "update" | "delete" => actions.push(w.to_ascii_lowercase()),
                "," => {}
                _ => break,
            }
            j += 1;
        }
        let rest_start = toks.get(j).map_or(v.len(), |t| t.start);
        let rest_end = toks[..end].last().map_or(v.len(), |t| t.end);
        let mut rest = v[rest_start..rest_end.max(rest_start)].trim();
        rest = rest.trim_end_matches(',').trim();
        let perm = if rest.eq_ignore_ascii_case("NONE") {
            Permission::None
        } else if rest.eq_ignore_ascii_case("FULL") {
            Permission::Full
        } else if rest.len() > 5 && rest[..5].eq_ignore_ascii_case("WHERE") {
            Permission::Where(rest[5..].trim().to_owned())
        } else {
            return Err(err(format!("cannot read the permission `{rest}` in `{v}`")));
        };
        for a in actions {
            match a.as_str() {
                "select" => p.select = perm.clone(),
                "create" => p.create = perm.clone(),
                "update" => p.update = perm.clone(),
                _ => p.delete = perm.clone(),
            }
        }
    }
    Ok(p)
}

fn field(c: &mut Cursor, table: String, name: String) -> Result<Field, SchemaError> {
    let mut f = Field::new(table, name, None);
    for (k, v) in c.clauses(
        &[
            "TYPE",
            "FLEXIBLE",
            "DEFAULT",
            "READONLY",
            "VALUE",
            "COMPUTED",
            "ASSERT",
            "REFERENCE",
            "PERMISSIONS",
            "COMMENT",
            // SurrealDB 4.0's `MIGRATE EXISTING ROWS AS … USING … [FALLBACK …]`: what the
            // statement does to stored rows, not part of the definition (the server does
            // not print it back), so it is cut off and left out.
            "MIGRATE",
        ],
        &[],
    ) {
        match k.as_str() {
            "TYPE" => f.ty = Some(types::canonical_type(v)),
            "FLEXIBLE" => f.flexible = true,
            "DEFAULT" => {
                let (always, e) = match v.split_once(char::is_whitespace) {
                    Some((w, rest)) if w.eq_ignore_ascii_case("ALWAYS") => (true, rest.trim()),
                    _ => (false, v),
                };
                f.default_always = always;
                f.default = Some(e.to_owned());
            }
            "READONLY" => f.readonly = true,
            "VALUE" => f.value = Some(v.to_owned()),
            "COMPUTED" => f.computed = Some(v.to_owned()),
            "ASSERT" => f.assert = Some(v.to_owned()),
            "REFERENCE" => {
                let words: Vec<&str> = v.split_whitespace().collect();
                let action = match words.as_slice() {
                    [on, del, rest @ ..]
                        if on.eq_ignore_ascii_case("ON") && del.eq_ignore_ascii_case("DELETE") =>
                    {
                        rest.join(" ").to_ascii_uppercase()
                    }
                    _ => "IGNORE".into(),
                };
                f.reference = Some(action);
            }
            "PERMISSIONS" if !v.eq_ignore_ascii_case("FULL") => {
                f.permissions = Some(v.to_owned());
            }
            "COMMENT" => f.comment = Some(unquote(v)),
            _ => {}
        }
    }
    Ok(f)
}

fn index(c: &mut Cursor, table: String, name: String) -> Result<Index, SchemaError> {
    let mut ix = Index {
        name,
        table,
        fields: Vec::new(),
        kind: IndexKind::Plain,
        comment: None,
    };
    for (k, v) in c.clauses(
        &[
            "FIELDS",
            "COLUMNS",
            "UNIQUE",
            "FULLTEXT",
            "SEARCH",
            "HNSW",
            "COMMENT",
            "CONCURRENTLY",
        ],
        &[],
    ) {
        match k.as_str() {
            "FIELDS" | "COLUMNS" => {
                ix.fields = types::split_top(v, ',').into_iter().map(path).collect();
            }
            "UNIQUE" => ix.kind = IndexKind::Unique,
            "FULLTEXT" | "SEARCH" => {
                let v = v.replace(", ", ",").replace(" (", "(");
                let words: Vec<&str> = v.split_whitespace().collect();
                let mut analyzer = String::from("like");
                let mut bm25 = ("1.2".to_owned(), "0.75".to_owned());
                let mut highlights = false;
                let mut i = 0;
                while i < words.len() {
                    let w = words[i].to_ascii_uppercase();
                    if w == "ANALYZER" {
                        analyzer = ident(words.get(i + 1).copied().unwrap_or(""));
                        i += 1;
                    } else if let Some(args) = w.strip_prefix("BM25") {
                        let args = args.trim_start_matches('(').trim_end_matches(')');
                        if let Some((k1, b)) = args.split_once(',') {
                            bm25 = (k1.trim().to_owned(), b.trim().to_owned());
                        }
                    } else if w == "HIGHLIGHTS" {
                        highlights = true;
                    }
                    i += 1;
                }
                ix.kind = IndexKind::FullText {
                    analyzer,
                    bm25,
                    highlights,
                };
            }
            "HNSW" => {
                let words: Vec<&str> = v.split_whitespace().collect();
                let mut kind = IndexKind::hnsw(0, "EUCLIDEAN");
                if let IndexKind::Hnsw {
                    dimension,
                    dist,
                    vector_type,
                    efc,
                    m,
                } = &mut kind
                {
                    let mut i = 0;
                    while i + 1 < words.len() {
                        let val = words[i + 1];
                        match words[i].to_ascii_uppercase().as_str() {
                            "DIMENSION" => *dimension = val.parse().unwrap_or(0),
                            "DIST" => *dist = val.to_ascii_uppercase(),
                            "TYPE" => *vector_type = val.to_ascii_uppercase(),
                            "EFC" => *efc = val.parse().unwrap_or(150),
                            "M" => *m = val.parse().unwrap_or(12),
                            // M0, LM: derived from M by the server.
                            _ => {
                                i += 1;
                                continue;
                            }
                        }
                        i += 2;
                    }
                }
                ix.kind = kind;
            }
            "COMMENT" => ix.comment = Some(unquote(v)),
            _ => {}
        }
    }
    if ix.fields.is_empty() {
        return Err(err(format!(
            "index `{}` on `{}` has no FIELDS",
            ix.name, ix.table
        )));
    }
    Ok(ix)
}

fn event(c: &mut Cursor, table: String, name: String) -> Result<Event, SchemaError> {
    let mut e = Event {
        name,
        table,
        when: None,
        then: String::new(),
        comment: None,
    };
    for (k, v) in c.clauses(&["WHEN", "THEN", "COMMENT"], &[]) {
        match k.as_str() {
            "WHEN" => e.when = Some(v.to_owned()),
            "THEN" => e.then = v.to_owned(),
            "COMMENT" => e.comment = Some(unquote(v)),
            _ => {}
        }
    }
    // `WHEN true` is what the server prints for an event without a condition.
    if e.when
        .as_deref()
        .is_some_and(|w| w.eq_ignore_ascii_case("true"))
    {
        e.when = None;
    }
    Ok(e)
}

fn analyzer(c: &mut Cursor, name: String) -> Analyzer {
    let mut a = Analyzer {
        name,
        function: None,
        tokenizers: Vec::new(),
        filters: Vec::new(),
        comment: None,
    };
    let list = |v: &str| -> Vec<String> {
        types::split_top(v, ',')
            .into_iter()
            .map(|x| x.trim().to_ascii_lowercase())
            .collect()
    };
    for (k, v) in c.clauses(&["FUNCTION", "TOKENIZERS", "FILTERS", "COMMENT"], &[]) {
        match k.as_str() {
            "FUNCTION" => a.function = Some(v.to_owned()),
            "TOKENIZERS" => a.tokenizers = list(v),
            "FILTERS" => a.filters = list(v),
            "COMMENT" => a.comment = Some(unquote(v)),
            _ => {}
        }
    }
    a
}

fn param(c: &mut Cursor, name: String) -> Result<Param, SchemaError> {
    let mut p = Param {
        name,
        value: String::new(),
        comment: None,
    };
    for (k, v) in c.clauses(&["VALUE", "COMMENT", "PERMISSIONS"], &[]) {
        match k.as_str() {
            "VALUE" => p.value = v.to_owned(),
            "COMMENT" => p.comment = Some(unquote(v)),
            _ => {}
        }
    }
    Ok(p)
}
