//! Secrets never reach `Debug` output: credentials, and calls whose request carries them.

use std::collections::BTreeMap;

use surql::client::{self, Credentials, Token};

const SECRET: &str = "SECRETPASS";

fn assert_hidden(what: &str, shown: &str) {
    assert!(!shown.contains(SECRET), "{what} leaks the secret: {shown}");
}

#[test]
fn credentials_debug_hides_passwords_but_names_the_user() {
    let all = [
        Credentials::root("alice", SECRET),
        Credentials::namespace("ns1", "alice", SECRET),
        Credentials::database("ns1", "db1", "alice", SECRET),
    ];
    for c in &all {
        let shown = format!("{c:?}");
        assert_hidden("Credentials", &shown);
        assert!(shown.contains("alice"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        let pretty = format!("{c:#?}");
        assert_hidden("Credentials (pretty)", &pretty);
    }
    assert!(format!("{:?}", all[2]).contains("db1"));
}

#[test]
fn record_credentials_debug_hides_every_param_value() {
    let mut params = BTreeMap::new();
    params.insert("email", SECRET.to_owned());
    params.insert("pass", SECRET.to_owned());
    params.insert("otp", format!("x{SECRET}x"));
    let c = Credentials::record("ns1", "db1", "account", &params).expect("an object");
    let shown = format!("{c:?}");
    assert_hidden("record Credentials", &shown);
    // which parameters were given is still visible
    for k in ["email", "pass", "otp", "account", "ns1", "db1"] {
        assert!(shown.contains(k), "{k} missing from {shown}");
    }
}

#[test]
fn calls_carrying_secrets_show_only_their_method() {
    let mut params = BTreeMap::new();
    params.insert("pass", SECRET);
    let record = Credentials::record("ns", "db", "ac", &params).expect("an object");
    let token = Token {
        access: SECRET.into(),
        refresh: Some(SECRET.into()),
    };
    let shown = [
        (
            "signin",
            format!("{:?}", client::signin(&Credentials::root("root", SECRET))),
        ),
        (
            "signup",
            format!("{:?}", client::signup(&record).expect("record access")),
        ),
        (
            "authenticate",
            format!("{:?}", client::authenticate(SECRET)),
        ),
        (
            "refresh",
            format!(
                "{:?}",
                client::refresh(&token).expect("has a refresh token")
            ),
        ),
        ("revoke", format!("{:?}", client::revoke(&token))),
        (
            "let", // `set` sends the `let` method
            format!(
                "{:?}",
                client::set("api_key", &SECRET).expect("a valid name")
            ),
        ),
    ];
    for (method, s) in &shown {
        assert_hidden(method, s);
        assert!(s.contains(method), "{s}");
    }
}
