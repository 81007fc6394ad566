//! Fixtures shared by the criterion benches: a realistic query result, as a `Value` tree
//! and as a typed row, so every bench measures the same data.

use surql::{Datetime, RecordId, Value};

/// One row of the benchmark table, as an application would declare it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Row {
    /// `person:⟨n⟩`.
    pub id: RecordId,
    /// A short name.
    pub name: String,
    /// An age in years.
    pub age: i64,
    /// An email address.
    pub email: String,
    /// A few labels.
    pub tags: Vec<String>,
    /// Creation time.
    pub created: Datetime,
    /// A float score.
    pub score: f64,
}

/// `n` deterministic rows.
pub fn rows(n: usize) -> Vec<Row> {
    (0..n)
        .map(|i| Row {
            id: RecordId::new("person", format!("p{i:06}")),
            name: format!("Person number {i}"),
            age: 18 + (i % 60) as i64,
            email: format!("person{i}@example.com"),
            tags: (0..(i % 4) + 1).map(|t| format!("tag{t}")).collect(),
            created: Datetime {
                secs: 1_704_067_200 + i as i64 * 37,
                nanos: (i as u32 * 7919) % 1_000_000_000,
            },
            score: i as f64 * 0.731,
        })
        .collect()
}

/// The same rows as the `Value` a `SELECT` returns.
pub fn query_result(n: usize) -> Value {
    Value::Array(
        rows(n)
            .into_iter()
            .map(|r| {
                let mut o = surql::Object::new();
                o.insert("id".into(), Value::RecordId(r.id));
                o.insert("name".into(), r.name.into());
                o.insert("age".into(), Value::Int(r.age));
                o.insert("email".into(), r.email.into());
                o.insert(
                    "tags".into(),
                    Value::Array(r.tags.into_iter().map(Value::from).collect()),
                );
                o.insert("created".into(), Value::Datetime(r.created));
                o.insert("score".into(), Value::Float(r.score));
                Value::Object(o)
            })
            .collect(),
    )
}

/// A mix of identifiers and record keys that need no quoting, need backticks, or are
/// reserved words, for the escaping benches.
pub fn escape_inputs() -> Vec<String> {
    let mut v = Vec::new();
    for i in 0..100 {
        v.push(format!("person_{i}"));
        v.push(format!("{i}"));
        v.push(format!("user-{i}"));
        v.push(format!("ünï{i}"));
        v.push(if i % 2 == 0 {
            "SELECT".into()
        } else {
            "table".into()
        });
    }
    v
}
