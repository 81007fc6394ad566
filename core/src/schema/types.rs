//! SurrealQL types: the type a Rust field type maps to, and one canonical spelling of a
//! type so a model's type and the type the server reports compare equal.

/// The SurrealQL type of a Rust type as `#[derive(Model)]` records it (`FieldMeta::rust_type`,
/// token text such as `"Option < Vec < String > >"`).
///
/// | Rust | SurrealQL |
/// |---|---|
/// | `Option<T>` | `option<T>` (`Option<Option<T>>` is `option<T>`; an `Option` of `any` is `any`) |
/// | `Vec<T>`, `VecDeque<T>`, `[T; N]` | `array<T>` (`Vec<u8>` too: serde writes it as an array) |
/// | `HashSet<T>`, `BTreeSet<T>` | `set<T>` |
/// | `String`, `&str`, `char`, `Cow<str>` | `string` |
/// | `i8`…`i128`, `u8`…`u128`, `isize`, `usize` | `int` |
/// | `f32`, `f64` | `float` |
/// | `bool` | `bool` |
/// | `Datetime`, `DateTime<…>`, `SystemTime` | `datetime` |
/// | `Duration` | `duration` |
/// | `Decimal` | `decimal` |
/// | `Uuid` | `uuid` |
/// | `RecordId` | `record` |
/// | `Geometry` | `geometry` (`Point` is `geometry<point>`) |
/// | `Bytes`, `ByteBuf` | `bytes` |
/// | `Object`, `HashMap<…>`, `BTreeMap<…>`, `Map<…>` | `object` |
/// | `Value` and anything else | `any` |
///
/// ```
/// use surql::schema::types::surql_type_of;
/// assert_eq!(surql_type_of("Option < Vec < String > >"), "option<array<string>>");
/// assert_eq!(surql_type_of("std :: collections :: HashMap < String , i64 >"), "object");
/// assert_eq!(surql_type_of("MyEnum"), "any");
/// ```
pub fn surql_type_of(rust_type: &str) -> String {
    let compact: String = rust_type.chars().filter(|c| !c.is_whitespace()).collect();
    map_type(&compact)
}

/// Splits `Name<args>` into the last path segment of `Name` and the top-level args.
fn split_generic(t: &str) -> (&str, Vec<&str>) {
    let t = match t.strip_prefix('&') {
        Some(r) => {
            let r = r.strip_prefix("'static").unwrap_or(r);
            r.strip_prefix("mut").unwrap_or(r)
        }
        None => t,
    };
    let (head, args) = match t.find('<') {
        Some(i) if t.ends_with('>') => (&t[..i], &t[i + 1..t.len() - 1]),
        _ => (t, ""),
    };
    let name = head.rsplit("::").next().unwrap_or(head);
    (name, split_top(args, ','))
}

/// Splits at top-level separators (outside `<>`, `()`, `[]`).
pub(crate) fn split_top(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth -= 1,
            c if c == sep && depth == 0 => {
                out.push(s[start..i].trim());
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    if !s[start..].trim().is_empty() {
        out.push(s[start..].trim());
    }
    out
}

fn map_type(t: &str) -> String {
    if let Some(inner) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        let elem = split_top(inner, ';').first().copied().unwrap_or("");
        return format!("array<{}>", map_type(elem));
    }
    let (name, args) = split_generic(t);
    let arg = |i: usize| {
        args.get(i)
            .map(|a| map_type(a))
            .unwrap_or_else(|| "any".into())
    };
    match name {
        "Option" => {
            let inner = arg(0);
            if inner == "any" || inner.starts_with("option<") {
                inner
            } else {
                format!("option<{inner}>")
            }
        }
        "Box" | "Arc" | "Rc" => arg(0),
        "Vec" | "VecDeque" | "LinkedList" => format!("array<{}>", arg(0)),
        "HashSet" | "BTreeSet" | "IndexSet" => format!("set<{}>", arg(0)),
        "String" | "str" | "char" => "string".into(),
        "Cow" if args.last().is_some_and(|a| a.ends_with("str")) => "string".into(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" | "u8" | "u16" | "u32" | "u64" | "u128"
        | "usize" => "int".into(),
        "f32" | "f64" => "float".into(),
        "bool" => "bool".into(),
        "Datetime" | "DateTime" | "SystemTime" | "OffsetDateTime" => "datetime".into(),
        "Duration" => "duration".into(),
        "Decimal" => "decimal".into(),
        "Uuid" => "uuid".into(),
        "RecordId" | "Thing" => "record".into(),
        "Geometry" => "geometry".into(),
        "Point" => "geometry<point>".into(),
        "Bytes" | "ByteBuf" => "bytes".into(),
        "Object" | "HashMap" | "BTreeMap" | "Map" | "IndexMap" => "object".into(),
        _ => "any".into(),
    }
}

/// The canonical spelling of a SurrealQL type: what the server reports (`none | int`) and
/// what a model declares (`option<int>`) become the same text, `option<int>`; spacing is
/// `a | b` and `array<float, 4>`; keywords are lower case.
///
/// ```
/// use surql::schema::types::canonical_type;
/// assert_eq!(canonical_type("none | int"), "option<int>");
/// assert_eq!(canonical_type("none | string | int"), "option<string | int>");
/// assert_eq!(canonical_type("option<record<person|post>>"), "option<record<person | post>>");
/// assert_eq!(canonical_type("array<float,4>"), "array<float, 4>");
/// ```
pub fn canonical_type(t: &str) -> String {
    let mut optional = false;
    let mut terms = Vec::new();
    collect_terms(t, &mut optional, &mut terms);
    let body = terms.join(" | ");
    if terms.is_empty() {
        "none".into()
    } else if optional && body != "any" {
        format!("option<{body}>")
    } else {
        body
    }
}

fn collect_terms(t: &str, optional: &mut bool, terms: &mut Vec<String>) {
    for p in split_top(t.trim(), '|') {
        let lower = p.to_ascii_lowercase();
        if lower == "none" {
            *optional = true;
        } else if lower.starts_with("option<") && p.ends_with('>') {
            *optional = true;
            collect_terms(&p["option<".len()..p.len() - 1], optional, terms);
        } else {
            let term = canonical_term(p);
            if !terms.contains(&term) {
                terms.push(term);
            }
        }
    }
}

fn canonical_term(t: &str) -> String {
    let t = t.trim();
    match t.find('<') {
        Some(i) if t.ends_with('>') => {
            let name = t[..i].trim().to_ascii_lowercase();
            let args: Vec<String> = split_top(&t[i + 1..t.len() - 1], ',')
                .into_iter()
                .map(|a| {
                    if a.chars().all(|c| c.is_ascii_digit()) {
                        a.to_owned()
                    } else if matches!(name.as_str(), "record" | "geometry") {
                        // Table names keep their case; alternatives are spaced `a | b`.
                        split_top(a, '|').join(" | ")
                    } else {
                        canonical_type(a)
                    }
                })
                .collect();
            format!("{name}<{}>", args.join(", "))
        }
        // Type keywords are case-insensitive.
        _ => t.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_types_map_to_surrealql_types() {
        for (rust, sql) in [
            ("String", "string"),
            ("& 'static str", "string"),
            ("i64", "int"),
            ("u8", "int"),
            ("f32", "float"),
            ("bool", "bool"),
            ("Option < String >", "option<string>"),
            ("Option < Option < i64 > >", "option<int>"),
            ("Option < Value >", "any"),
            ("surql :: Value", "any"),
            ("Vec < String >", "array<string>"),
            ("Vec < u8 >", "array<int>"),
            ("[f32 ; 4]", "array<float>"),
            (
                "Option < Vec < Option < i64 > > >",
                "option<array<option<int>>>",
            ),
            ("BTreeSet < String >", "set<string>"),
            ("RecordId", "record"),
            ("surql :: RecordId", "record"),
            ("Datetime", "datetime"),
            ("chrono :: DateTime < chrono :: Utc >", "datetime"),
            ("std :: time :: Duration", "duration"),
            ("Decimal", "decimal"),
            ("Uuid", "uuid"),
            ("Geometry", "geometry"),
            ("Point", "geometry<point>"),
            ("serde_bytes :: ByteBuf", "bytes"),
            ("Object", "object"),
            ("HashMap < String , Vec < i64 > >", "object"),
            ("Box < String >", "string"),
            ("MyEnum", "any"),
        ] {
            assert_eq!(surql_type_of(rust), sql, "{rust}");
        }
    }

    #[test]
    fn types_have_one_canonical_spelling() {
        for (given, canon) in [
            ("none | int", "option<int>"),
            ("option<int>", "option<int>"),
            ("int | none", "option<int>"),
            ("none | decimal | duration", "option<decimal | duration>"),
            ("option<decimal|duration>", "option<decimal | duration>"),
            ("array<float,4>", "array<float, 4>"),
            ("array<none | int>", "array<option<int>>"),
            ("record<person|post>", "record<person | post>"),
            ("none | record<person>", "option<record<person>>"),
            ("geometry<point|polygon>", "geometry<point | polygon>"),
            ("INT", "int"),
            ("any", "any"),
            ("int | string", "int | string"),
        ] {
            assert_eq!(canonical_type(given), canon, "{given}");
        }
    }
}
