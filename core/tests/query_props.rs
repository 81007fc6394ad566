//! Property: random filter trees compile, variables are unique and numbered densely,
//! parentheses balance, and no value text leaks into the executed query.

use proptest::prelude::*;
use surql::query::{QuerySet, F, Q};

fn leaf() -> impl Strategy<Value = Q> {
    let field = prop::sample::select(vec!["a", "b.c", "value", "d_1"]);
    let val = "[a-z]{1,6}";
    (field, val, 0u8..8).prop_map(|(f, v, k)| {
        let f = F::new(f);
        let v = format!("VAL_{v}");
        match k {
            0 => f.eq(v),
            1 => f.gt(v),
            2 => f.icontains(v),
            3 => f.is_in([v.clone(), v]),
            4 => f.is_null(true),
            5 => f.istartswith(v),
            6 => f.like(v),
            _ => f.contains_any([v]),
        }
    })
}

fn tree() -> impl Strategy<Value = Q> {
    leaf().prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Q::and),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Q::or),
            inner.clone().prop_map(|q| !q),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| a & b),
            (inner.clone(), inner).prop_map(|(a, b)| a | b),
        ]
    })
}

proptest! {
    #[test]
    fn random_trees_compile(q in tree(), extra in tree()) {
        let c = QuerySet::table("t").filter(q).exclude(extra).compile().unwrap();
        let mut depth = 0i64;
        for ch in c.text.chars() {
            match ch {
                '(' => depth += 1,
                ')' => { depth -= 1; prop_assert!(depth >= 0, "{}", c.text); }
                _ => {}
            }
        }
        prop_assert_eq!(depth, 0, "{}", &c.text);
        prop_assert!(!c.text.contains("VAL_"), "value leaked: {}", c.text);
        let params: Vec<&String> = c.vars.keys().filter(|k| k.starts_with('p')).collect();
        for i in 0..params.len() {
            let name = format!("p{i}");
            prop_assert!(c.vars.contains_key(&name));
            let placeholder = format!("${name}");
            let uses = c.text.match_indices(placeholder.as_str())
                .filter(|(at, _)| !c.text[at + placeholder.len()..].starts_with(|ch: char| ch.is_ascii_digit()))
                .count();
            prop_assert_eq!(uses, 1, "{} in {}", name, &c.text);
        }
    }
}
