use super::*;
use crate::value::{RecordId, Table};
use pretty_assertions::assert_eq;

fn obj(pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn s(x: &str) -> Value {
    Value::String(x.to_owned())
}

fn uuid(b: u8) -> Uuid {
    Uuid([b; 16])
}

#[test]
fn method_names_round_trip() {
    assert_eq!(Method::ALL.len(), 37);
    for m in Method::ALL {
        assert_eq!(Method::from_wire(m.as_str()), Some(*m));
        assert_eq!(m.as_str(), m.as_str().to_lowercase());
    }
    assert_eq!(Method::from_wire("set"), Some(Method::Let));
    assert_eq!(Method::from_wire("QUERY"), None);
    assert_eq!(Method::InsertRelation.as_str(), "insert_relation");
    assert_eq!(Method::QueryStream.to_string(), "query_stream");
}

#[test]
fn request_envelope_bytes_match_the_spec() {
    // protocol.md §4.4: {"id":1,"method":"query","params":["SELECT * FROM $t",{"t":table("person")}]}
    let mut vars = Object::new();
    vars.insert("t".into(), Value::Table(Table::new("person")));
    let bytes = Request::query("SELECT * FROM $t", vars).encode(Some(1));
    let mut expected = vec![
        0xa3, 0x62, b'i', b'd', 0x01, 0x66, b'm', b'e', b't', b'h', b'o', b'd', 0x65, b'q', b'u',
        b'e', b'r', b'y', 0x66, b'p', b'a', b'r', b'a', b'm', b's', 0x82, 0x70,
    ];
    expected.extend_from_slice(b"SELECT * FROM $t");
    expected.extend_from_slice(&[0xa1, 0x61, b't', 0xc7, 0x66]);
    expected.extend_from_slice(b"person");
    assert_eq!(bytes, expected);
}

#[test]
fn request_envelope_with_session_and_txn() {
    let req = Request::ping().with_session(uuid(1)).with_txn(uuid(2));
    assert_eq!(
        req.to_value(Some(7)),
        obj(vec![
            ("id", Value::Int(7)),
            ("method", s("ping")),
            ("params", Value::Array(vec![])),
            ("session", Value::Uuid(uuid(1))),
            ("txn", Value::Uuid(uuid(2))),
        ])
    );
    let bytes = req.encode(None);
    // No id key; session is tag 37 (d8 25) over 16 bytes (50).
    assert_eq!(bytes.first(), Some(&0xa4));
    let tail: Vec<u8> = [&[0xd8, 0x25, 0x50][..], &[2u8; 16][..]].concat();
    assert!(bytes.ends_with(&tail));
    assert_eq!(
        crate::cbor::decode(&bytes).expect("decodes"),
        req.to_value(None)
    );
}

#[test]
fn none_response_bytes() {
    // §4.4: {"id":1,"result":NONE} = a2 62 69 64 01 66 72 65 73 75 6c 74 c6 f6
    let b = [
        0xa2, 0x62, 0x69, 0x64, 0x01, 0x66, 0x72, 0x65, 0x73, 0x75, 0x6c, 0x74, 0xc6, 0xf6,
    ];
    assert_eq!(
        decode_incoming(&b),
        Ok(Incoming::Response {
            id: Some(1),
            result: Ok(Value::None),
            session: None
        })
    );
}

fn method_not_found() -> Value {
    obj(vec![
        ("cause", Value::None),
        ("code", Value::Int(-32601)),
        (
            "details",
            obj(vec![
                ("details", obj(vec![("name", s("unknown"))])),
                ("kind", s("Method")),
            ]),
        ),
        ("kind", s("NotFound")),
        ("message", s("Method not found")),
    ])
}

#[test]
fn error_response_is_parsed() {
    let env = obj(vec![("error", method_not_found()), ("id", Value::Int(9))]);
    let got = decode_incoming(&crate::cbor::encode(&env)).expect("decodes");
    let Incoming::Response {
        id: Some(9),
        result: Err(e),
        session: None,
    } = got
    else {
        panic!("expected an error response, got {got:?}");
    };
    assert_eq!(e.code, Some(-32601));
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(e.detail_kind(), Some("Method"));
    assert!(e.is_method_not_found() && e.is_not_found());
    assert!(!e.is_transaction_conflict());
    assert_eq!(e.cause, None);
    assert_eq!(
        e.to_string(),
        "Method not found (NotFound/Method, code -32601)"
    );
}

fn conflict() -> ServerError {
    ServerError::from_value(&obj(vec![
        (
            "cause",
            obj(vec![
                ("cause", Value::None),
                ("code", Value::Int(-32000)),
                ("kind", s("Internal")),
                ("message", s("Transaction conflict: Write conflict")),
            ]),
        ),
        ("code", Value::Int(-32009)),
        ("details", obj(vec![("kind", s("TransactionConflict"))])),
        ("kind", s("Query")),
        (
            "message",
            s("There was a problem with the key-value store: Transaction conflict: Write conflict, retry the transaction. This transaction can be retried"),
        ),
    ]))
}

#[test]
fn error_classification() {
    let c = conflict();
    assert!(c.is_transaction_conflict());
    assert_eq!(
        c.cause.as_ref().map(|c| c.kind.clone()),
        Some(ErrorKind::Internal)
    );
    assert!(std::error::Error::source(&c).is_some());

    // Only the structure counts: a message saying "can be retried" (a 2.x server's
    // unstructured error, or a user's THROW) is not a conflict.
    let old = ServerError::from_value(&obj(vec![
        ("code", Value::Int(-32000)),
        ("message", s("Failed to commit transaction due to a read or write conflict. This transaction can be retried")),
    ]));
    assert_eq!(old.kind, ErrorKind::Internal);
    assert!(!old.is_transaction_conflict());
    let thrown = ServerError::from_value(&obj(vec![
        ("code", Value::Int(-32006)),
        ("kind", s("Thrown")),
        (
            "message",
            s("An error occurred: This transaction can be retried"),
        ),
    ]));
    assert!(!thrown.is_transaction_conflict());
    assert!(!crate::txn::is_retryable(&thrown));
    // the code alone, or the kind nested one level down, is enough
    let by_code = ServerError::from_value(&obj(vec![
        ("code", Value::Int(-32009)),
        ("kind", s("Query")),
        ("message", s("whatever")),
    ]));
    assert!(by_code.is_transaction_conflict());
    let nested = ServerError::from_value(&obj(vec![
        ("kind", s("Query")),
        ("message", s("whatever")),
        (
            "details",
            obj(vec![
                ("kind", s("Kvs")),
                ("details", obj(vec![("kind", s("TransactionConflict"))])),
            ]),
        ),
    ]));
    assert!(nested.is_transaction_conflict());
    assert!(crate::txn::is_retryable(&nested));

    // even with the conflict code, an unknown commit outcome is never retried
    let mut unknown = ServerError::new(
        ErrorKind::Query,
        "The transaction's commit outcome is unknown. This transaction can be retried",
    );
    unknown.code = Some(-32009);
    assert!(!unknown.is_transaction_conflict());

    let expired = ServerError::from_value(&obj(vec![
        ("cause", Value::None),
        ("code", Value::Int(-32002)),
        (
            "details",
            obj(vec![
                ("details", obj(vec![("kind", s("TokenExpired"))])),
                ("kind", s("Auth")),
            ]),
        ),
        ("kind", s("NotAllowed")),
        ("message", s("The token has expired")),
    ]));
    assert!(expired.is_auth_error() && expired.is_token_expired());
    assert!(!expired.is_session_expired());
    assert_eq!(expired.inner_detail_kind(), Some("TokenExpired"));

    let parse = ServerError::from_value(&obj(vec![
        ("code", Value::Int(-32000)),
        ("kind", s("Validation")),
        ("message", s("Parse error: Unexpected token")),
    ]));
    assert!(parse.is_parse_error());
    let thrown = ServerError::new(ErrorKind::Thrown, "An error occurred: boom");
    assert!(thrown.is_thrown() && !thrown.is_parse_error());
    assert_eq!(
        ErrorKind::from_wire("Weird"),
        ErrorKind::Other("Weird".into())
    );
    // A malformed error never panics and still says what happened.
    assert_eq!(
        ServerError::from_value(&Value::Int(3)).kind,
        ErrorKind::Internal
    );
    assert_eq!(ServerError::from_value(&s("bad")).message, "bad");
}

#[test]
fn deeply_nested_causes_are_bounded() {
    let mut v = obj(vec![("message", s("leaf"))]);
    for _ in 0..100 {
        v = obj(vec![("message", s("x")), ("cause", v)]);
    }
    let mut e = ServerError::from_value(&v);
    let mut depth = 0;
    while let Some(c) = e.cause {
        e = *c;
        depth += 1;
    }
    assert_eq!(depth, 32);
}

fn notification_value(action: &str, live: Uuid) -> Value {
    obj(vec![
        ("action", s(action)),
        ("id", Value::Uuid(live)),
        ("record", Value::RecordId(RecordId::new("person", "x"))),
        ("result", obj(vec![("name", s("x"))])),
        ("session", Value::Uuid(uuid(9))),
    ])
}

#[test]
fn notification_without_id_is_recognised() {
    let env = obj(vec![("result", notification_value("CREATE", uuid(3)))]);
    assert_eq!(
        decode_incoming(&crate::cbor::encode(&env)),
        Ok(Incoming::Notification(Notification {
            live_id: uuid(3),
            action: Action::Create,
            record: Value::RecordId(RecordId::new("person", "x")),
            result: obj(vec![("name", s("x"))]),
            session: None,
        }))
    );
    // KILLED with NONE record/result, envelope session of an attached session.
    let killed = obj(vec![
        ("action", s("KILLED")),
        ("id", Value::Uuid(uuid(3))),
        ("record", Value::None),
        ("result", Value::None),
        ("session", Value::None),
    ]);
    let env = obj(vec![("result", killed), ("session", Value::Uuid(uuid(5)))]);
    let Ok(Incoming::Notification(n)) = decode_incoming(&crate::cbor::encode(&env)) else {
        panic!("expected a notification");
    };
    assert_eq!(n.action, Action::Killed);
    assert_eq!(n.session, Some(uuid(5)));
    assert_eq!(n.record, Value::None);
    assert_eq!(Action::from_wire("ERROR"), Action::Other("ERROR".into()));
}

#[test]
fn a_reply_with_an_id_is_never_a_notification() {
    // A `select` result that looks like a notification but carries the request id.
    let env = obj(vec![
        ("id", Value::Int(4)),
        ("result", notification_value("CREATE", uuid(3))),
    ]);
    assert!(matches!(
        decode_incoming(&crate::cbor::encode(&env)),
        Ok(Incoming::Response {
            id: Some(4),
            result: Ok(_),
            ..
        })
    ));
    // Id-less reply that is not a notification (fire-and-forget ping).
    let env = obj(vec![("result", Value::None)]);
    assert_eq!(
        decode_incoming(&crate::cbor::encode(&env)),
        Ok(Incoming::Response {
            id: None,
            result: Ok(Value::None),
            session: None
        })
    );
}

#[test]
fn malformed_messages_are_errors_not_panics() {
    let cases: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xff],
        crate::cbor::encode(&Value::Int(1)),
        crate::cbor::encode(&obj(vec![("id", s("abc")), ("result", Value::None)])),
        crate::cbor::encode(&obj(vec![("id", Value::Int(-1)), ("result", Value::None)])),
        crate::cbor::encode(&obj(vec![
            ("result", Value::None),
            ("session", Value::Int(1)),
        ])),
        crate::cbor::encode(&obj(vec![(
            "result",
            obj(vec![("action", s("CREATE")), ("id", s("not-a-uuid"))]),
        )])),
        crate::cbor::encode(&obj(vec![(
            "result",
            obj(vec![
                ("action", Value::Int(1)),
                ("id", Value::Uuid(uuid(1))),
            ]),
        )])),
    ];
    for c in cases {
        let r = decode_incoming(&c);
        assert!(r.is_err(), "{c:02x?} decoded to {r:?}");
        fuzz_decode_incoming(&c);
    }
    assert!(decode_incoming(&[0xff])
        .unwrap_err()
        .to_string()
        .starts_with("invalid message from the server: not CBOR"));
}

#[test]
fn stream_frames_are_decoded_only_for_stream_requests() {
    let frame = obj(vec![
        ("index", Value::Int(0)),
        ("stream", s("rows")),
        ("values", Value::Array(vec![Value::Int(1), Value::Int(2)])),
    ]);
    let bytes = crate::cbor::encode(&obj(vec![("id", Value::Int(3)), ("result", frame.clone())]));
    assert_eq!(
        decode_incoming_with(&bytes, |id| id == 3),
        Ok(Incoming::Stream {
            id: 3,
            frame: StreamFrame::Rows {
                index: 0,
                values: vec![Value::Int(1), Value::Int(2)]
            },
            session: None
        })
    );
    assert_eq!(
        decode_incoming_with(&bytes, |_| false),
        Ok(Incoming::Response {
            id: Some(3),
            result: Ok(frame),
            session: None
        })
    );
}

#[test]
fn every_stream_frame_kind() {
    let err = obj(vec![
        ("code", Value::Int(-32000)),
        ("kind", s("Internal")),
        ("message", s("gone")),
    ]);
    let cases = vec![
        (
            obj(vec![
                ("statements", Value::Int(2)),
                ("stream", s("begin")),
                ("version", Value::Int(1)),
            ]),
            StreamFrame::Begin {
                statements: 2,
                version: 1,
            },
        ),
        (
            obj(vec![
                ("index", Value::Int(1)),
                ("stream", s("value")),
                ("value", Value::Int(3)),
            ]),
            StreamFrame::Value {
                index: 1,
                value: Value::Int(3),
            },
        ),
        (
            obj(vec![
                ("index", Value::Int(1)),
                ("single", Value::Bool(true)),
                ("stream", s("finished")),
                ("time", s("1.5ms")),
                ("type", Value::None),
            ]),
            StreamFrame::Finished {
                index: 1,
                time: "1.5ms".into(),
                kind: None,
                single: true,
                error: None,
            },
        ),
        (
            obj(vec![
                ("error", err.clone()),
                ("results", Value::Int(0)),
                ("stream", s("end")),
                ("time", s("7ms")),
            ]),
            StreamFrame::End {
                results: 0,
                time: "7ms".into(),
                error: Some(ServerError::from_value(&err)),
            },
        ),
        (
            obj(vec![("stream", s("later")), ("x", Value::Int(1))]),
            StreamFrame::Unknown {
                tag: "later".into(),
                value: obj(vec![("stream", s("later")), ("x", Value::Int(1))]),
            },
        ),
    ];
    for (v, want) in cases {
        assert_eq!(StreamFrame::from_value(v), Ok(want));
    }
    assert!(
        StreamFrame::from_value(obj(vec![("stream", s("rows")), ("index", Value::Int(-1))]))
            .is_err()
    );
    assert!(
        StreamFrame::from_value(obj(vec![("stream", s("end")), ("results", Value::Int(1))]))
            .is_err()
    );
    assert!(StreamFrame::from_value(Value::Int(1)).is_err());
}

#[test]
fn query_rows_ok_and_err() {
    // §12 and §13: an OK row, a THROW row, a live row.
    let rows = Value::Array(vec![
        obj(vec![
            ("result", Value::Int(1)),
            ("status", s("OK")),
            ("time", s("1.2ms")),
            ("type", Value::None),
        ]),
        obj(vec![
            ("kind", s("Thrown")),
            ("result", s("An error occurred: boom")),
            ("status", s("ERR")),
            ("time", s("12.5µs")),
            ("type", Value::None),
        ]),
        obj(vec![
            ("details", obj(vec![("kind", s("TransactionConflict"))])),
            ("kind", s("Query")),
            ("result", s("Cannot COMMIT: conflict")),
            ("status", s("ERR")),
            ("time", s("3ms")),
            ("type", Value::None),
        ]),
        obj(vec![
            ("result", Value::Uuid(uuid(4))),
            ("status", s("OK")),
            ("time", s("812ns")),
            ("type", s("live")),
        ]),
    ]);
    let got = parse_query_results(rows).expect("valid rows");
    assert_eq!(
        got[0],
        QueryResult {
            time: "1.2ms".into(),
            kind: None,
            result: Ok(Value::Int(1))
        }
    );
    assert_eq!(
        got[1],
        QueryResult {
            time: "12.5µs".into(),
            kind: None,
            result: Err(ServerError::new(
                ErrorKind::Thrown,
                "An error occurred: boom"
            )),
        }
    );
    let conflict_row = got[2].result.clone().unwrap_err();
    assert_eq!(conflict_row.code, None);
    assert!(conflict_row.is_transaction_conflict());
    assert_eq!(got[3].kind.as_deref(), Some("live"));
    assert_eq!(got[3].result, Ok(Value::Uuid(uuid(4))));
}

#[test]
fn malformed_query_rows_say_where() {
    assert_eq!(
        parse_query_results(Value::Int(1)).unwrap_err().message,
        "a query result must be an array of statement results, found a int"
    );
    assert_eq!(
        parse_query_results(Value::Array(vec![Value::Null]))
            .unwrap_err()
            .message,
        "statement result 0 is a null, expected an object {status, time, result}"
    );
    let bad = Value::Array(vec![obj(vec![("status", s("MAYBE"))])]);
    assert_eq!(
        parse_query_results(bad).unwrap_err().message,
        "statement result 0: unknown status \"MAYBE\", expected \"OK\" or \"ERR\""
    );
}

// ---------------------------------------------------------------------------------------------
// Raw replies

#[test]
fn split_reply_keeps_the_result_as_bytes() {
    let result = Value::Array(vec![obj(vec![("age", Value::Int(3))])]);
    let frame = cbor::encode(&obj(vec![
        ("id", Value::Int(7)),
        ("result", result.clone()),
        ("session", Value::Uuid(uuid(1))),
    ]));
    let (id, payload) = split_reply(&frame).expect("a plain reply");
    assert_eq!(id, 7);
    assert_eq!(payload.raw_bytes(), Some(&cbor::encode(&result)[..]));
    assert_eq!(payload.to_value(), Ok(result.clone()));
    assert_eq!(payload, result);
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Row {
        age: i64,
    }
    assert_eq!(payload.deserialize::<Vec<Row>>(), Ok(vec![Row { age: 3 }]));
    assert!(!payload.is_empty());
}

#[test]
fn split_reply_leaves_everything_else_to_the_full_decoder() {
    let frames = [
        // An error reply.
        obj(vec![
            ("id", Value::Int(1)),
            ("error", obj(vec![("code", Value::Int(-32000))])),
        ]),
        // No id (a notification, or an uncorrelated reply).
        obj(vec![("result", Value::Int(1))]),
        // A negative or non-integer id.
        obj(vec![("id", Value::Int(-1)), ("result", Value::Int(1))]),
        obj(vec![("id", s("1")), ("result", Value::Int(1))]),
        // No result.
        obj(vec![("id", Value::Int(1))]),
        // Not a map.
        Value::Array(vec![Value::Int(1)]),
    ];
    for f in frames {
        assert!(split_reply(&cbor::encode(&f)).is_none(), "{f:?}");
    }
    // Malformed envelope entries, and trailing bytes after an envelope whose last entry is
    // not `result` (it is walked then).
    let mut trailing = cbor::encode(&obj(vec![
        ("id", Value::Int(1)),
        ("result", Value::Null),
        ("session", Value::Uuid(uuid(1))),
    ]));
    trailing.push(0);
    assert!(split_reply(&trailing).is_none(), "trailing bytes");
    let mut cut = cbor::encode(&obj(vec![
        ("id", Value::Int(1)),
        ("result", s("abc")),
        ("session", Value::Uuid(uuid(1))),
    ]));
    cut.pop();
    assert!(split_reply(&cut).is_none());
    // `{id: "1…` cut inside the id, and an id that is not CBOR.
    let mut cut_id = cbor::encode(&obj(vec![("id", s("12345")), ("result", Value::Null)]));
    cut_id.truncate(6);
    assert!(split_reply(&cut_id).is_none());
    assert!(split_reply(&hex_frame("a2 62 69 64 1c 66 72 65 73 75 6c 74 f6")).is_none());
}

#[test]
fn a_final_result_is_handed_over_unwalked_and_checked_by_its_reader() {
    // `{id, result}` as the server writes it: the result is the rest of the frame.
    let rows = Value::Array(vec![obj(vec![("age", Value::Int(3))])]);
    let frame = cbor::encode(&obj(vec![("id", Value::Int(4)), ("result", rows.clone())]));
    let (id, payload) = split_reply(&frame).expect("a reply");
    assert_eq!(id, 4);
    assert_eq!(payload.raw_bytes(), Some(&cbor::encode(&rows)[..]));
    assert_eq!(payload, rows);

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Row {
        age: i64,
    }
    // Bytes after the result, or a result cut short, reach the reader, which refuses them
    // whichever way it reads (typed, as a value, or asking whether the answer is empty).
    for result in [Value::None, rows.clone()] {
        let mut trailing = cbor::encode(&obj(vec![("id", Value::Int(4)), ("result", result)]));
        trailing.push(0x00);
        let mut cut = trailing.clone();
        cut.truncate(trailing.len() - 2);
        for frame in [trailing, cut] {
            let (id, payload) = split_reply(&frame).expect("located without walking");
            assert_eq!(id, 4);
            let e = payload.to_value().expect_err("not one item");
            assert!(e.to_string().contains("invalid CBOR at byte"), "{e}");
            assert!(payload.deserialize::<Vec<Row>>().is_err());
            assert!(payload.deserialize::<Option<Value>>().is_err());
            assert!(!payload.is_empty(), "{frame:02x?}");
            assert!(!format!("{payload:?}").contains("kind: \"none\""));
            // The full decoder refuses the same frame.
            assert!(decode_incoming(&frame).is_err());
        }
    }
    let (_, empty) = split_reply(&cbor::encode(&obj(vec![
        ("id", Value::Int(4)),
        ("result", Value::None),
    ])))
    .expect("a reply");
    assert!(empty.is_empty());
    // A frame that ends right after the `result` key: an empty item, refused when read.
    let (_, nothing) =
        split_reply(&hex_frame("a2 62 69 64 04 66 72 65 73 75 6c 74")).expect("a reply");
    assert!(nothing.to_value().is_err());
    assert!(!nothing.is_empty());

    // The same frame with `result` first (walked, then `id` read), or in an indefinite
    // map: the same answer.
    let result_first = hex_frame("a2 66 72 65 73 75 6c 74 82 01 02 62 69 64 04");
    let indefinite = hex_frame("bf 62 69 64 04 66 72 65 73 75 6c 74 82 01 02 ff");
    for frame in [result_first, indefinite] {
        let (id, payload) = split_reply(&frame).expect("a reply");
        assert_eq!(id, 4);
        assert_eq!(payload, Value::Array(vec![Value::Int(1), Value::Int(2)]));
        assert_eq!(payload.raw_bytes(), Some(&[0x82, 0x01, 0x02][..]));
    }
    // An error entry before a final `result` still makes it an error reply.
    let both = hex_frame("a3 65 65 72 72 6f 72 a0 62 69 64 04 66 72 65 73 75 6c 74 f6");
    assert!(split_reply(&both).is_none());
    // Over HTTP (no id) the same rules hold.
    let mut body = cbor::encode(&obj(vec![("result", s("tok"))]));
    body.push(0xff);
    let p = http::decode_response_payload(200, &body).expect("located");
    assert!(p.deserialize::<String>().is_err());
}

#[test]
fn split_reply_finds_the_same_id_and_result_as_decode_incoming() {
    // Keys in any order, an indefinite-length map, a duplicate key (the last wins).
    let frame = hex_frame("bf 66 72 65 73 75 6c 74 01 62 69 64 05 66 72 65 73 75 6c 74 02 ff");
    let (id, payload) = split_reply(&frame).expect("a reply");
    let Ok(Incoming::Response {
        id: full_id,
        result: Ok(full),
        ..
    }) = decode_incoming(&frame)
    else {
        panic!("decode_incoming disagrees");
    };
    assert_eq!(Some(id), full_id);
    assert_eq!(payload.to_value(), Ok(full));
    assert_eq!(payload, Value::Int(2));
}

fn hex_frame(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("hex"))
        .collect()
}

#[test]
fn payload_reports_decode_failures_with_path_and_offset() {
    let bytes = cbor::encode(&Value::Array(vec![obj(vec![("age", s("x"))])]));
    let payload = Payload::from_cbor(bytes);
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Row {
        age: i64,
    }
    let e = payload.deserialize::<Vec<Row>>().expect_err("wrong type");
    let msg = Payload::describe_error(&e);
    assert!(msg.contains("`[0].age`"), "{msg}");
    assert!(msg.contains("expected i64"), "{msg}");
    // The same message comes from a decoded value.
    let from_value = Payload::from(payload.to_value().expect("valid"))
        .deserialize::<Vec<Row>>()
        .expect_err("wrong type");
    assert_eq!(Payload::describe_error(&from_value), msg);
    // Malformed bytes keep their CBOR framing (offset).
    let broken = Payload::from_cbor(vec![0x62, 0x61]);
    let e = broken.to_value().expect_err("truncated");
    assert!(
        Payload::describe_error(&e).contains("invalid CBOR at byte 1"),
        "{e}"
    );
    assert!(broken.deserialize::<String>().is_err());
}

#[test]
fn payload_emptiness_matches_the_value() {
    for (v, empty) in [
        (Value::None, true),
        (Value::Null, true),
        (Value::Array(vec![]), true),
        (Value::Array(vec![Value::Null]), false),
        (Value::Int(0), false),
        (obj(vec![]), false),
    ] {
        assert_eq!(
            Payload::from_cbor(cbor::encode(&v)).is_empty(),
            empty,
            "{v:?}"
        );
        assert_eq!(Payload::from(v.clone()).is_empty(), empty, "{v:?}");
    }
    assert!(Payload::from_cbor(hex_frame("9f ff")).is_empty());
    assert!(Payload::from_cbor(hex_frame("c6 82 01 02")).is_empty());
}

#[test]
fn http_payload_answers_match_value_answers() {
    let body = cbor::encode(&obj(vec![("result", s("tok"))]));
    let p = http::decode_response_payload(200, &body).expect("ok");
    assert!(p.raw_bytes().is_some());
    assert_eq!(p, s("tok"));
    let err = cbor::encode(&obj(vec![(
        "error",
        obj(vec![("code", Value::Int(-32000)), ("message", s("bad"))]),
    )]));
    assert!(http::decode_response_payload(200, &err).is_err());
    assert!(http::decode_response_payload(500, b"oops").is_err());
}

#[test]
fn http_rpc_payload_errors_are_the_drivers_errors() {
    let body = cbor::encode(&obj(vec![("result", s("tok"))]));
    assert_eq!(
        http::rpc_payload(Method::Signin, 200, &body).expect("ok"),
        s("tok")
    );
    match http::rpc_payload(Method::Query, 200, &[0xff, 0x00]) {
        Err(crate::Error::Protocol(m)) => assert!(m.starts_with("answer to `query`: "), "{m}"),
        other => panic!("expected a protocol error naming `query`, got {other:?}"),
    }
    let err = cbor::encode(&obj(vec![(
        "error",
        obj(vec![("code", Value::Int(-32000)), ("message", s("bad"))]),
    )]));
    assert!(matches!(
        http::rpc_payload(Method::Query, 200, &err),
        Err(crate::Error::Server(e)) if e.message == "bad"
    ));
    assert!(matches!(
        http::rpc_payload(Method::Query, 500, b"oops"),
        Err(crate::Error::Http { status: 500, .. })
    ));
}

#[test]
fn debug_of_a_request_shows_no_bound_value() {
    let mut vars = Object::new();
    vars.insert("new".into(), Value::from("n3w-pa55word"));
    let q = Request::new(
        Method::Query,
        vec![
            Value::from("UPDATE $user SET pw = crypto::argon2::generate($new)"),
            Value::Object(vars),
        ],
    );
    let shown = format!("{q:?}");
    assert!(!shown.contains("n3w-pa55word"), "{shown}");
    assert!(
        shown.contains("generate($new)") && shown.contains("\"new\""),
        "{shown}"
    );
    let l = Request::new(
        Method::Let,
        vec![Value::from("k"), Value::from("api-key-123")],
    );
    assert!(!format!("{l:?}").contains("api-key-123"));
    let s = Request::new(Method::Signin, vec![Value::from("pw-secret")]);
    assert!(!format!("{s:?}").contains("pw-secret"));
    let p = Request::new(Method::Select, vec![Value::from("person")]);
    assert!(format!("{p:?}").contains("person"));
}

/// Requests of every shape the encoder meets, including values of every kind.
fn sample_requests() -> Vec<Request> {
    let mut vars = Object::new();
    vars.insert("t0".into(), Value::Table(Table::new("person")));
    vars.insert(
        "p0".into(),
        obj(vec![
            ("n", Value::Int(-5)),
            ("f", Value::Float(-0.0)),
            ("u", Value::Uuid(uuid(9))),
            ("r", Value::RecordId(RecordId::new("a", 1))),
            ("s", Value::Set(vec![s("x")])),
            ("none", Value::None),
        ]),
    );
    vec![
        Request::ping(),
        Request::query("SELECT * FROM $t0 WHERE x = $p0", vars.clone()),
        Request::query("RETURN 1", Object::new())
            .with_session(uuid(3))
            .with_txn(uuid(4)),
        Request::new(
            Method::Insert,
            vec![Value::Table(Table::new("t")), vars["p0"].clone()],
        ),
        Request::use_ns_db("ns", "db").with_session(uuid(5)),
    ]
}

#[test]
fn direct_encoding_is_the_bytes_of_the_wire_map() {
    for req in sample_requests() {
        for id in [None, Some(0), Some(1), Some(300), Some(u64::MAX)] {
            assert_eq!(
                req.encode(id),
                cbor::encode(&req.to_value(id)),
                "{req:?} id {id:?}"
            );
        }
    }
}

fn raw(v: &Value) -> RawValue {
    RawValue::from_serde(v).expect("encodes")
}

#[test]
fn raw_vars_are_spliced_into_the_variables() {
    let rows = Value::Array(vec![
        obj(vec![("name", s("ada"))]),
        obj(vec![("n", Value::Int(2))]),
    ]);
    let mut vars = Object::new();
    vars.insert("t0".into(), Value::Table(Table::new("person")));
    vars.insert("z".into(), Value::Int(1));
    let mut raws = BTreeMap::new();
    raws.insert("p0".to_owned(), raw(&rows));
    let req =
        Request::query_with_raw("INSERT INTO $t0 $p0", vars.clone(), raws).with_session(uuid(1));

    // Byte for byte what binding the decoded value sends, keys in order around it.
    let mut all = vars.clone();
    all.insert("p0".into(), rows.clone());
    let plain = Request::query("INSERT INTO $t0 $p0", all.clone()).with_session(uuid(1));
    assert_eq!(req.encode(Some(9)), plain.encode(Some(9)));
    assert_eq!(req.to_value(Some(9)), plain.to_value(Some(9)));
    assert_eq!(req.var_names(), ["p0", "t0", "z"]);
    assert_eq!(req.raw_vars().len(), 1);
    // The params themselves keep only the value variables.
    assert_eq!(req.params[1], Value::Object(vars));

    // `Debug` names the raw variable and never shows it.
    let shown = format!("{req:?}");
    assert!(shown.contains(r#"["p0", "t0", "z"]"#), "{shown}");
    assert!(!shown.contains("ada"), "{shown}");
}

#[test]
fn a_raw_var_shadows_a_value_of_the_same_name() {
    let mut vars = Object::new();
    vars.insert("a".into(), Value::Int(1));
    vars.insert("b".into(), Value::Int(2));
    let mut raws = BTreeMap::new();
    raws.insert("b".to_owned(), raw(&Value::from("raw")));
    let req = Request::query_with_raw("RETURN [$a, $b]", vars, raws);
    let mut want = Object::new();
    want.insert("a".into(), Value::Int(1));
    want.insert("b".into(), Value::from("raw"));
    let plain = Request::query("RETURN [$a, $b]", want);
    assert_eq!(req.encode(None), plain.encode(None));
    assert_eq!(req.var_names(), ["a", "b"]);
}

#[test]
fn raw_vars_always_travel_in_params_1() {
    // Params rebuilt after binding: padded with NONE, or a non-object replaced.
    let mut raws = BTreeMap::new();
    raws.insert("x".to_owned(), raw(&Value::Int(5)));
    let mut req = Request::query_with_raw("RETURN $x", Object::new(), raws);
    let x = obj(vec![("x", Value::Int(5))]);
    for params in [
        vec![],
        vec![s("RETURN $x")],
        vec![s("RETURN $x"), Value::Int(3), Value::Bool(true)],
    ] {
        req.params = params.clone();
        let mut want = params;
        want.resize(want.len().max(2), Value::None);
        want[1] = x.clone();
        let got = cbor::decode(&req.encode(Some(1))).unwrap();
        assert_eq!(got.get("params"), Some(&Value::Array(want)));
        assert_eq!(got, req.to_value(Some(1)));
    }
}

/// A `query` answer of one statement row with these entries (values as raw CBOR).
fn one_row(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = vec![0x81];
    cbor::Encoder::new(&mut b).map(entries.len());
    for (k, v) in entries {
        cbor::Encoder::new(&mut b).text(k);
        b.extend_from_slice(v);
    }
    b
}

#[test]
fn statement_rows_read_their_fields_as_the_decoder_does() {
    let text = |t: &str| cbor::encode(&s(t));
    let (ok, err, one, two) = (text("OK"), text("ERR"), [0x01], [0x02]);
    let (ms, live) = (text("1ms"), text("live"));
    let chunked_ok = [0x7f, 0x61, b'O', 0x61, b'K', 0xff];
    let chunked_time = [0x7f, 0x61, b'1', 0x62, b'm', b's', 0xff];
    let bad_utf8 = [0x62, 0xff, 0xfe];
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            one_row(&[
                ("status", &ok),
                ("time", &ms),
                ("type", &live),
                ("result", &one),
            ]),
            "plain",
        ),
        (
            one_row(&[
                ("status", &err),
                ("time", &text("a")),
                ("result", &one),
                ("status", &ok),
                ("time", &text("bb")),
                ("result", &two),
            ]),
            "duplicates: the last wins",
        ),
        (
            one_row(&[
                ("status", &chunked_ok),
                ("time", &chunked_time),
                ("result", &one),
            ]),
            "chunked text",
        ),
        (
            one_row(&[
                ("status", &ok),
                ("time", &[0x05]),
                ("type", &[0xf6]),
                ("result", &one),
            ]),
            "time and type not text",
        ),
        (
            one_row(&[
                ("status", &err),
                ("time", &ms),
                ("result", &text("boom")),
                ("kind", &text("NotFound")),
                ("details", &cbor::encode(&obj(vec![("a", Value::Int(1))]))),
            ]),
            "a failed statement",
        ),
        (one_row(&[("status", &ok)]), "no result: NONE"),
        (one_row(&[("time", &ms), ("result", &one)]), "no status"),
        (
            one_row(&[("status", &[0x01]), ("result", &one)]),
            "status not text",
        ),
        (one_row(&[("status", &text("MAYBE"))]), "unknown status"),
        (
            one_row(&[("status", &bad_utf8), ("result", &one)]),
            "status not UTF-8",
        ),
        (
            one_row(&[("status", &ok), ("time", &bad_utf8), ("result", &one)]),
            "time not UTF-8",
        ),
        (
            one_row(&[("status", &ok), ("type", &bad_utf8), ("result", &one)]),
            "type not UTF-8",
        ),
    ];
    for (b, what) in cases {
        let reference = cbor::decode(&b).map(|v| parse_query_results(v).map_err(|e| e.message));
        match split_query_results(&b) {
            Ok(Some(rows)) => {
                let Ok(Ok(want)) = reference else {
                    panic!("{what}: located, but the value path refuses it: {reference:?}");
                };
                assert_eq!(rows.len(), want.len(), "{what}");
                for (got, want) in rows.iter().zip(&want) {
                    assert_eq!(got.time, want.time, "{what}");
                    assert_eq!(got.kind, want.kind, "{what}");
                    let got = got.result.clone().map(|r| match r {
                        Some(r) => cbor::decode(&b[r]).expect("a value"),
                        None => Value::None,
                    });
                    assert_eq!(got, want.result, "{what}");
                }
            }
            // Left to the value path.
            Ok(None) => assert!(
                !matches!(reference, Ok(Ok(_))) || what == "chunked text",
                "{what}: {reference:?}"
            ),
            Err(e) => assert!(reference.is_err(), "{what}: {e}"),
        }
    }
    // Text in chunks is still read by the walk (decoded, not borrowed).
    let b = one_row(&[
        ("status", &chunked_ok),
        ("time", &chunked_time),
        ("result", &one),
    ]);
    let rows = split_query_results(&b).unwrap().expect("located");
    assert_eq!(rows[0].time, "1ms");
    assert!(matches!(rows[0].result, Ok(Some(_))));
}

/// The protocol's own keys are recognised by their bytes (no UTF-8 pass); every other key
/// is still checked: an invalid one is refused as decoding refuses it, and near misses of a
/// known key are ordinary keys.
#[test]
fn known_keys_by_their_bytes_other_keys_still_checked() {
    let text = |t: &str| cbor::encode(&s(t));
    let (ok, ms, one) = (text("OK"), text("1ms"), [0x01]);
    // A row with one more entry whose key is `key` (raw CBOR), and where its `result` lies.
    let row = |key: &[u8]| {
        let mut b = vec![0x81, 0xa4];
        let mut at = 0;
        for (k, v) in [("status", &ok[..]), ("time", &ms[..]), ("result", &one[..])] {
            cbor::Encoder::new(&mut b).text(k);
            at = b.len();
            b.extend_from_slice(v);
        }
        b.extend_from_slice(key);
        b.push(0x02);
        (b, at..at + 1)
    };
    let (bad, _) = row(&[0x62, 0xff, 0xfe]);
    assert!(cbor::decode(&bad).is_err());
    assert!(
        split_query_results(&bad).is_err(),
        "an invalid key is refused"
    );
    for near in ["tim", "times", "Result", "statu", "ids"] {
        let (b, result) = row(&text(near));
        let rows = split_query_results(&b).unwrap().expect("located");
        assert_eq!(rows[0].time, "1ms", "{near}");
        assert_eq!(rows[0].result, Ok(Some(result)), "{near}");
    }
}

/// `split_envelope` reads a plain integer id from its head; every other id goes through
/// `decode` as before. Both give what decoding the id gives, for every kind of id.
#[test]
fn envelope_ids_read_from_the_head_agree_with_decoding() {
    let ids: &[&[u8]] = &[
        &[0x00],
        &[0x05],
        &[0x17],
        &[0x18, 0x18],
        &[0x18, 0x05], // not minimal
        &[0x19, 0x03, 0xe8],
        &[0x1a, 0xff, 0xff, 0xff, 0xff],
        &[0x1b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // i64::MAX
        &[0x1b, 0x80, 0, 0, 0, 0, 0, 0, 0],                      // i64::MAX + 1
        &[0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // u64::MAX
        &[0x20],                                                 // -1
        &[0xc6, 0xf6],                                           // NONE
        &[0xf6],                                                 // null
        &[0x61, b'x'],
        &[0xf9, 0x3e, 0x00], // 1.5
        &[0x1c],             // reserved additional information
    ];
    for id in ids {
        let mut frame = vec![0xa2, 0x62, b'i', b'd'];
        frame.extend_from_slice(id);
        frame.extend_from_slice(&[0x66, b'r', b'e', b's', b'u', b'l', b't', 0x01]);
        // The rule before the head read: decode the id, NONE is no id, an integer must be
        // non-negative, anything else is not a reply.
        let want = match crate::cbor::decode(id) {
            Ok(Value::None) => Some(None),
            Ok(Value::Int(n)) => u64::try_from(n).ok().map(Some),
            _ => None,
        };
        let got = split_envelope(&frame).map(|(id, _)| id);
        assert_eq!(got, want, "id bytes {id:02x?}");
    }
}

/// A statement row's `type` sent as NONE or null reads as no type, like any non-text.
#[test]
fn statement_type_none_or_null_is_no_kind() {
    for ty in [&[0xc6, 0xf6][..], &[0xf6], &[0x64, b'l', b'i', b'v', b'e']] {
        let mut row = vec![0x81, 0xa4];
        row.extend_from_slice(&[0x66, b'r', b'e', b's', b'u', b'l', b't', 0x01]);
        row.extend_from_slice(&[0x66, b's', b't', b'a', b't', b'u', b's', 0x62, b'O', b'K']);
        row.extend_from_slice(&[0x64, b't', b'i', b'm', b'e', 0x63, b'1', b'm', b's']);
        row.extend_from_slice(&[0x64, b't', b'y', b'p', b'e']);
        row.extend_from_slice(ty);
        let rows = split_query_results(&row)
            .expect("decodes")
            .expect("a query answer");
        let want = (ty.len() > 2).then(|| "live".to_owned());
        assert_eq!(rows[0].kind, want, "type bytes {ty:02x?}");
        assert_eq!(rows[0].time, "1ms");
    }
}
