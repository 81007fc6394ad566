//! `bind_vars`: the `(name, value)` tuple fast path binds exactly what the old path (every
//! binding encoded into a `Value` first, a pair taken apart as an array of two) bound, with
//! the same errors.

use serde::ser::{SerializeTuple, Serializer};
use serde::Serialize;

use super::{bind_vars, check_sendable, check_var_name, encode, CallError};
use crate::value::{Decimal, Object, Value};

/// The implementation before the fast path, verbatim.
fn old_bind_vars(vars: &mut Object, bindings: &impl Serialize) -> Result<(), CallError> {
    match encode("bound variables", bindings)? {
        Value::Object(o) => {
            for (k, v) in o {
                check_var_name(&k)?;
                vars.insert(k, v);
            }
            Ok(())
        }
        Value::Array(mut pair) if pair.len() == 2 => {
            let v = pair.pop().unwrap_or_default();
            match pair.pop() {
                Some(Value::String(k)) => {
                    check_var_name(&k)?;
                    vars.insert(k, v);
                    Ok(())
                }
                other => Err(CallError::Invalid {
                    what: "bound variable",
                    reason: format!(
                        "a (name, value) pair needs a string name, found {}",
                        other.as_ref().map(Value::kind).unwrap_or("nothing")
                    ),
                }),
            }
        }
        other => Err(CallError::Invalid {
            what: "bound variables",
            reason: format!(
                "expected a (name, value) pair or a struct/map of variables, found {}",
                other.kind()
            ),
        }),
    }
}

/// Binds `b` both ways onto a map already holding `$pre`, and asserts the same outcome.
#[track_caller]
fn same(b: impl Serialize) -> Result<Object, CallError> {
    let mut pre = Object::new();
    pre.insert("pre".into(), Value::Int(1));
    let (mut new, mut old) = (pre.clone(), pre);
    let n = bind_vars(&mut new, &b);
    let o = old_bind_vars(&mut old, &b);
    assert_eq!(n, o);
    if let (Err(n), Err(o)) = (&n, &o) {
        assert_eq!(n.to_string(), o.to_string());
    }
    assert_eq!(new, old);
    n.map(|()| new)
}

fn dec(s: &str) -> Value {
    Value::Decimal(Decimal::parse(s).unwrap())
}

#[derive(Serialize)]
struct Point {
    x: i64,
    label: String,
}

#[derive(Serialize)]
struct Wrapper((&'static str, i64));

#[derive(Serialize)]
enum E {
    Unit,
    Pair(&'static str, i64),
}

/// Announces a tuple of `announced` elements and sends `sent` of them.
struct Liar {
    announced: usize,
    sent: Vec<Value>,
}

impl Serialize for Liar {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(self.announced)?;
        for v in &self.sent {
            t.serialize_element(v)?;
        }
        t.end()
    }
}

#[test]
fn pairs_bind_as_before() {
    let bound = same(("x", 5_i64)).unwrap();
    assert_eq!(bound.get("x"), Some(&Value::Int(5)));
    let bound = same(("name", "Ada")).unwrap();
    assert_eq!(bound.get("name"), Some(&Value::from("Ada")));
    let bound = same((
        "p",
        Point {
            x: 1,
            label: "a".into(),
        },
    ))
    .unwrap();
    assert!(matches!(bound.get("p"), Some(Value::Object(_))));
    let bound = same(("t", (1_i64, ("a", 2.5_f64)))).unwrap();
    assert!(matches!(bound.get("t"), Some(Value::Array(a)) if a.len() == 2));
    let bound = same(("n", None::<i64>)).unwrap();
    assert_eq!(bound.get("n"), Some(&Value::None));
    same(("u", ())).unwrap();
    same(("v", vec![1_i64, 2, 3])).unwrap();
    same(("d", dec("1.5"))).unwrap();
    same(("e", E::Unit)).unwrap();
    same(("e", E::Pair("a", 1))).unwrap();
    // A name already bound is replaced.
    assert_eq!(
        same(("pre", 2_i64)).unwrap().get("pre"),
        Some(&Value::Int(2))
    );
    // The name may be anything that serializes as text.
    same(('c', 1_i64)).unwrap();
    same((E::Unit, 1_i64)).unwrap();
    same((String::from("s"), 1_i64)).unwrap();
    same((Value::from("v"), 1_i64)).unwrap();
    // Shapes that reach the pair rule through the value path.
    same(["a", "b"]).unwrap();
    same(vec![Value::from("a"), Value::Int(1)]).unwrap();
    same(Some(("x", 1_i64))).unwrap();
    same(Wrapper(("x", 1))).unwrap();
    same(Liar {
        announced: 2,
        sent: vec![Value::from("x"), Value::Int(1)],
    })
    .unwrap();
}

#[test]
fn pair_errors_are_the_old_ones() {
    // Names check_var_name refuses.
    for bad in ["", "1x", "a b", "a-b", "$x"] {
        same((bad, 1_i64)).unwrap_err();
    }
    // A first element that is not text.
    for e in [
        same((1_i64, 2_i64)).unwrap_err(),
        same((None::<&str>, 2_i64)).unwrap_err(),
        same(((), 2_i64)).unwrap_err(),
        same((vec![1_i64], 2_i64)).unwrap_err(),
        same((dec("1"), 2_i64)).unwrap_err(),
    ] {
        assert!(
            e.to_string()
                .contains("a (name, value) pair needs a string name"),
            "{e}"
        );
    }
    // Encoding failures, with the element's path.
    let e = same(("big", u64::MAX)).unwrap_err();
    assert!(e.to_string().contains("field `[1]`"), "{e}");
    let e = same((u128::MAX, 1_i64)).unwrap_err();
    assert!(e.to_string().contains("field `[0]`"), "{e}");
    let e = same(("m", (1_i64, u64::MAX))).unwrap_err();
    assert!(e.to_string().contains("field `[1][1]`"), "{e}");
    // Decimals the server would round: in the value, in the name, in both.
    let bad = "1e-30";
    let other = "2e-30";
    assert!(same(("p", dec(bad))).unwrap_err().to_string().contains(bad));
    assert!(same((dec(bad), 1_i64))
        .unwrap_err()
        .to_string()
        .contains(bad));
    let e = same((dec(other), dec(bad))).unwrap_err();
    assert!(
        e.to_string().contains(bad),
        "the value is checked first: {e}"
    );
    let e = same((dec(other), vec![dec(bad)])).unwrap_err();
    assert!(e.to_string().contains(bad), "{e}");
}

#[test]
fn other_shapes_bind_as_before() {
    let bound = same(Point {
        x: 1,
        label: "a".into(),
    })
    .unwrap();
    assert_eq!(bound.get("x"), Some(&Value::Int(1)));
    let mut map = std::collections::BTreeMap::new();
    map.insert("a", 1_i64);
    map.insert("b", 2);
    same(&map).unwrap();
    map.insert("not valid", 3);
    same(&map).unwrap_err();
    // Not a pair: other tuple lengths, scalars, sequences of another length.
    same(("x",)).unwrap_err();
    same(("x", 1_i64, 2_i64)).unwrap_err();
    same(()).unwrap_err();
    same(5_i64).unwrap_err();
    same("x").unwrap_err();
    same(vec!["a"]).unwrap_err();
    same(None::<(&str, i64)>).unwrap_err();
    // A tuple announced as two with another number of elements.
    for sent in [
        vec![],
        vec![Value::from("x")],
        vec![Value::from("x"), Value::Int(1), Value::Int(2)],
        vec![
            Value::from("x"),
            Value::Int(1),
            Value::Int(2),
            Value::Int(3),
        ],
    ] {
        same(Liar { announced: 2, sent }).unwrap_err();
    }
    same(Liar {
        announced: 3,
        sent: vec![Value::from("x"), Value::Int(1)],
    })
    .unwrap();
    let e = same(Liar {
        announced: 2,
        sent: vec![Value::from("x"), Value::Int(1), dec("1e-30")],
    })
    .unwrap_err();
    assert!(e.to_string().contains("1e-30"), "{e}");
}

#[test]
fn check_sendable_still_finds_nested_decimals() {
    let bad = dec("1e-30");
    for v in [
        bad.clone(),
        Value::Array(vec![Value::Int(1), bad.clone()]),
        Value::Object([("a".to_owned(), Value::Set(vec![bad.clone()]))].into()),
    ] {
        assert!(check_sendable("v", &v).is_err(), "{v:?}");
    }
    for v in [Value::Int(1), Value::Array(vec![]), dec("1.5")] {
        assert!(check_sendable("v", &v).is_ok(), "{v:?}");
    }
}
