//! Unit tests of the parsing and naming logic (no `surql` needed: they run the derive on
//! `syn` inputs and look at what it decided or which errors it reports).

use super::*;
use syn::parse_quote;

fn model(input: DeriveInput) -> ModelDef {
    match parse_model(&input) {
        Ok(m) => m,
        Err(e) => panic!("unexpected errors: {:?}", messages(e)),
    }
}

fn messages(e: syn::Error) -> Vec<String> {
    e.into_iter().map(|e| e.to_string()).collect()
}

/// All error messages of a derive that must fail.
fn errors(input: DeriveInput) -> Vec<String> {
    match parse_model(&input) {
        Ok(_) => panic!("expected errors, the derive accepted the input"),
        Err(e) => messages(e),
    }
}

/// The one error message of a derive that must fail, checked to contain `needle`.
#[track_caller]
fn assert_error(input: DeriveInput, needle: &str) {
    let errs = errors(input);
    assert!(
        errs.iter().any(|e| e.contains(needle)),
        "no error contains {needle:?}; errors: {errs:#?}"
    );
}

fn names(m: &ModelDef) -> Vec<&str> {
    m.fields.iter().map(|f| f.name.as_str()).collect()
}

fn tokens(t: impl ToTokens) -> String {
    t.to_token_stream().to_string()
}

// --- rename_all ---------------------------------------------------------------------------

#[test]
fn rename_rule_table() {
    // Expected values follow serde_derive's `RenameRule::apply_to_field`.
    #[rustfmt::skip]
    let cases: &[(&str, [&str; 8])] = &[
        // field         lowercase       UPPERCASE       PascalCase   camelCase    snake_case      SCREAMING_SNAKE  kebab-case      SCREAMING-KEBAB
        ("first_name",  ["first_name",  "FIRST_NAME",  "FirstName", "firstName", "first_name",  "FIRST_NAME",   "first-name",  "FIRST-NAME"]),
        ("id",          ["id",          "ID",          "Id",        "id",        "id",          "ID",           "id",          "ID"]),
        ("user_id_2",   ["user_id_2",   "USER_ID_2",   "UserId2",   "userId2",   "user_id_2",   "USER_ID_2",    "user-id-2",   "USER-ID-2"]),
        ("_private",    ["_private",    "_PRIVATE",    "Private",   "private",   "_private",    "_PRIVATE",     "-private",    "-PRIVATE"]),
        ("a__b",        ["a__b",        "A__B",        "AB",        "aB",        "a__b",        "A__B",         "a--b",        "A--B"]),
        ("http2_url",   ["http2_url",   "HTTP2_URL",   "Http2Url",  "http2Url",  "http2_url",   "HTTP2_URL",    "http2-url",   "HTTP2-URL"]),
        // serde leaves a field's existing case alone except where the rule sets it.
        ("already_Mixed", ["already_Mixed", "ALREADY_MIXED", "AlreadyMixed", "alreadyMixed", "already_Mixed", "ALREADY_MIXED", "already-Mixed", "ALREADY-MIXED"]),
        // Non-ASCII letters are not re-cased (serde only changes ASCII case).
        ("名前_x",      ["名前_x",      "名前_X",      "名前X",     "名前X",     "名前_x",      "名前_X",       "名前-x",      "名前-X"]),
        ("é_b",         ["é_b",         "é_B",         "éB",        "éB",        "é_b",         "é_B",          "é-b",         "é-B"]),
    ];
    let rules = [
        "lowercase",
        "UPPERCASE",
        "PascalCase",
        "camelCase",
        "snake_case",
        "SCREAMING_SNAKE_CASE",
        "kebab-case",
        "SCREAMING-KEBAB-CASE",
    ];
    for (field, expected) in cases {
        for (rule, want) in rules.iter().zip(expected) {
            let r = RenameRule::from_name(rule).unwrap();
            assert_eq!(
                r.apply_to_field(field),
                *want,
                "rename_all = {rule:?} on {field:?}"
            );
        }
        assert_eq!(RenameRule::None.apply_to_field(field), *field);
    }
    assert_eq!(RenameRule::from_name("Title Case"), None);
    assert_eq!(RenameRule::from_name("camelcase"), None);
    // Degenerate names do not panic (serde itself would, on camelCase of `__`).
    assert_eq!(RenameRule::CamelCase.apply_to_field("__"), "");
    assert_eq!(RenameRule::PascalCase.apply_to_field(""), "");
}

#[test]
fn rename_all_applies_to_every_field_and_raw_identifiers_lose_r_hash() {
    let m = model(parse_quote! {
        #[serde(rename_all = "camelCase")]
        struct Person {
            #[serde(rename = "id")]
            id: Option<RecordId>,
            first_name: String,
            r#type: String,
            #[serde(rename = "LAST")]
            last_name: String,
        }
    });
    assert_eq!(names(&m), ["firstName", "type", "LAST"]);
    assert_eq!(m.fields[1].ident.to_string(), "r#type");
    assert_eq!(m.id.name, "id");
}

#[test]
fn rename_all_in_both_directions() {
    let m = model(parse_quote! {
        #[serde(rename_all(serialize = "kebab-case", deserialize = "kebab-case"))]
        struct A { id: Option<i64>, first_name: String }
    });
    assert_eq!(names(&m), ["first-name"]);
    assert_error(
        parse_quote! {
            #[serde(rename_all(serialize = "kebab-case", deserialize = "camelCase"))]
            struct A { id: Option<i64>, first_name: String, last_name: String }
        },
        "a model field must have the same name in both directions (`first_name` is serialized \
         as `first-name` and deserialized as `firstName`)",
    );
    // Reported once, on `rename_all`, not once per field.
    let errs = errors(parse_quote! {
        #[serde(rename_all(serialize = "kebab-case", deserialize = "camelCase"))]
        struct A { id: Option<i64>, first_name: String, last_name: String }
    });
    assert_eq!(errs.len(), 1, "{errs:?}");
}

#[test]
fn field_rename_forms() {
    let m = model(parse_quote! {
        struct A {
            id: Option<RecordId>,
            #[serde(rename = "first-name")]
            a: String,
            #[serde(rename(serialize = "x", deserialize = "x"))]
            b: String,
            #[serde(default, rename = "名前", alias = "name")]
            c: String,
            #[serde(rename = "tags[0]")]
            d: String,
            // An unrelated serde attribute with a value before the rename.
            #[serde(with = "m", rename = "e2")]
            e: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            f: Option<String>,
        }
    });
    assert_eq!(names(&m), ["first-name", "x", "名前", "tags[0]", "e2", "f"]);
}

#[test]
fn rename_in_one_direction_must_agree() {
    assert_error(
        parse_quote! {
            struct A {
                id: Option<RecordId>,
                #[serde(rename(serialize = "a", deserialize = "b"))]
                x: String,
            }
        },
        "a model field must have the same name in both directions (`x` is serialized as `a` \
         and deserialized as `b`)",
    );
    assert_error(
        parse_quote! {
            struct A {
                id: Option<RecordId>,
                #[serde(rename(serialize = "a"))]
                x: String,
            }
        },
        "serialized as `a` and deserialized as `x`",
    );
    // Only serialized: a field serde never reads is still stored under its serialized name.
    let m = model(parse_quote! {
        struct A {
            id: Option<RecordId>,
            #[serde(skip_deserializing, rename(serialize = "a"))]
            x: String,
        }
    });
    assert_eq!(names(&m), ["a"]);
}

// --- Option stripping -------------------------------------------------------------------

#[test]
fn option_stripping() {
    let inner = |ty: Type| option_inner(&ty).map(tokens);
    assert_eq!(inner(parse_quote!(Option<i64>)).as_deref(), Some("i64"));
    assert_eq!(
        inner(parse_quote!(std::option::Option<String>)).as_deref(),
        Some("String")
    );
    assert_eq!(
        inner(parse_quote!(::std::option::Option<String>)).as_deref(),
        Some("String")
    );
    assert_eq!(
        inner(parse_quote!(core::option::Option<Vec<u8>>)).as_deref(),
        Some("Vec < u8 >")
    );
    assert_eq!(
        inner(parse_quote!(::core::option::Option<u8>)).as_deref(),
        Some("u8")
    );
    // One layer only.
    assert_eq!(
        inner(parse_quote!(Option<Option<i64>>)).as_deref(),
        Some("Option < i64 >")
    );
    assert_eq!(inner(parse_quote!((Option<i64>))).as_deref(), Some("i64"));
    for not_option in [
        parse_quote!(i64),
        parse_quote!(Vec<Option<i64>>),
        parse_quote!(foo::Option<i64>),
        parse_quote!(std::Option<i64>),
        parse_quote!(alloc::option::Option<i64>),
        parse_quote!(std::option::Option<i64>::Assoc),
        parse_quote!(<T as Tr>::Option<i64>),
        parse_quote!(Option),
        parse_quote!(Option<'a>),
        parse_quote!(MyOption<i64>),
        parse_quote!(&Option<i64>),
        parse_quote!([Option<i64>; 2]),
    ] {
        let ty: Type = not_option;
        assert_eq!(option_inner(&ty).map(tokens), None, "{}", tokens(&ty));
    }
}

#[test]
fn handle_types_strip_one_option_and_replace_self() {
    let m = model(parse_quote! {
        struct Node {
            id: Option<i64>,
            name: String,
            age: Option<i64>,
            nested: Option<Option<u8>>,
            parent: Option<Box<Self>>,
            tags: Vec<String>,
        }
    });
    let got: Vec<(String, String, bool)> = m
        .fields
        .iter()
        .map(|f| (f.ident.to_string(), f.handle_ty.to_string(), f.optional))
        .collect();
    let want = [
        ("name", "String", false),
        ("age", "i64", true),
        ("nested", "Option < u8 >", true),
        ("parent", "Box < Node >", true),
        ("tags", "Vec < String >", false),
    ];
    assert_eq!(got.len(), want.len());
    for ((gn, gt, go), (wn, wt, wo)) in got.iter().zip(want) {
        assert_eq!((gn.as_str(), gt.as_str(), *go), (wn, wt, wo));
    }
    assert_eq!(tokens(&m.id.key_ty), "i64");
}

// --- the id -----------------------------------------------------------------------------

#[test]
fn id_by_name_or_attribute() {
    let m = model(parse_quote! {
        struct A { id: Option<RecordId>, x: i64 }
    });
    assert_eq!(m.id.ident.to_string(), "id");
    assert_eq!(tokens(&m.id.key_ty), "RecordId");
    assert_eq!(names(&m), ["x"]);

    let m = model(parse_quote! {
        struct Tag {
            #[surql(id)]
            #[serde(rename = "id")]
            slug: std::option::Option<String>,
            label: String,
        }
    });
    assert_eq!(m.id.ident.to_string(), "slug");
    assert_eq!(m.id.name, "id");
    assert_eq!(tokens(&m.id.key_ty), "String");
    assert_eq!(names(&m), ["label"]);

    // `skip_serializing` on the id is fine (writes leave the id out anyway).
    let m = model(parse_quote! {
        struct A {
            #[serde(skip_serializing_if = "Option::is_none")]
            id: Option<Uuid>,
        }
    });
    assert!(m.fields.is_empty());
}

#[test]
fn id_errors() {
    assert_error(
        parse_quote!(
            struct A {
                name: String,
            }
        ),
        NO_ID,
    );
    assert_error(
        parse_quote!(
            struct A {
                id: RecordId,
            }
        ),
        "the id field must be `Option<…>` (None until the server assigns it)",
    );
    assert_error(
        parse_quote!(
            struct A {
                id: Option<RecordId>,
                #[surql(id)]
                key: Option<i64>,
            }
        ),
        "two id fields: `id` and `key`",
    );
    assert_error(
        parse_quote!(
            struct A {
                #[surql(id)]
                key: Option<i64>,
            }
        ),
        "the id field must be stored as `id`, but it is serialized as `key`",
    );
    assert_error(
        parse_quote!(
            #[serde(rename_all = "PascalCase")]
            struct A {
                id: Option<i64>,
            }
        ),
        "serialized as `Id`; add #[serde(rename = \"id\")]",
    );
    assert_error(
        parse_quote!(
            struct A {
                #[serde(skip)]
                id: Option<i64>,
            }
        ),
        "the id field cannot be #[serde(skip)]",
    );
    assert_error(
        parse_quote!(
            struct A {
                #[surql(server)]
                id: Option<i64>,
            }
        ),
        "`#[surql(server)]` does not apply to the id field",
    );
}

// --- field attributes -------------------------------------------------------------------

#[test]
fn field_kinds_ok() {
    let m = model(parse_quote! {
        struct A {
            id: Option<RecordId>,
            plain: String,
            #[surql(server)]
            s1: Option<Datetime>,
            #[surql(server = "time::now()")]
            s2: Option<Datetime>,
            #[surql(computed)]
            c1: Option<i64>,
            #[surql(computed = "string::len(plain)")]
            #[surql(flexible)]
            c2: Object,
        }
    });
    let kinds: Vec<(&FieldKindDef, bool)> =
        m.fields.iter().map(|f| (&f.kind, f.flexible)).collect();
    assert_eq!(
        kinds,
        [
            (&FieldKindDef::Data, false),
            (&FieldKindDef::Server(None), false),
            (&FieldKindDef::Server(Some("time::now()".into())), false),
            (&FieldKindDef::Computed(None), false),
            (
                &FieldKindDef::Computed(Some("string::len(plain)".into())),
                true
            ),
        ]
    );
}

#[test]
fn field_attribute_errors() {
    assert_error(
        parse_quote!(
            struct A {
                id: Option<i64>,
                #[surql(serverr)]
                x: i64,
            }
        ),
        "unknown field attribute `serverr`: expected one of `id`, `server`, `computed`, `flexible`",
    );
    assert_error(
        parse_quote!(
            struct A {
                id: Option<i64>,
                #[surql(table = "x")]
                x: i64,
            }
        ),
        "(`table` is a model attribute: put it on the struct)",
    );
    assert_error(
        parse_quote!(
            struct A {
                id: Option<i64>,
                #[surql(server, computed)]
                x: i64,
            }
        ),
        "a field is either `server` or `computed`, not both",
    );
    assert_error(
        parse_quote!(
            struct A {
                id: Option<i64>,
                #[surql(server)]
                #[surql(computed = "1")]
                x: i64,
            }
        ),
        "a field is either `server` or `computed`, not both",
    );
    assert_error(
        parse_quote!(
            struct A {
                id: Option<i64>,
                #[surql(server = "")]
                x: i64,
            }
        ),
        "the server expression must not be empty",
    );
    assert_error(
        parse_quote!(
            struct A {
                id: Option<i64>,
                #[surql(flexible = "yes")]
                x: i64,
            }
        ),
        "`flexible` takes no value",
    );
    assert_error(
        parse_quote!(
            struct A {
                id: Option<i64>,
                #[surql(server, server)]
                x: i64,
            }
        ),
        "duplicate `server`",
    );
    assert_error(
        parse_quote!(
            struct A {
                id: Option<i64>,
                #[serde(skip)]
                #[surql(server)]
                x: i64,
            }
        ),
        "`#[surql(server)]` has no effect on a field with #[serde(skip)]",
    );
    assert_error(
        parse_quote!(
            struct A {
                id: Option<i64>,
                a: i64,
                #[serde(rename = "a")]
                b: i64,
            }
        ),
        "two fields are stored as `a`",
    );
}

#[test]
fn skipped_and_flattened_fields_are_not_stored() {
    let m = model(parse_quote! {
        struct A {
            id: Option<i64>,
            a: i64,
            #[serde(skip)]
            b: i64,
            #[serde(skip_serializing)]
            c: i64,
            #[serde(skip_deserializing)]
            d: i64,
            #[serde(flatten)]
            e: Extra,
            f: i64,
        }
    });
    assert_eq!(names(&m), ["a", "d", "f"]);
}

// --- container attributes ---------------------------------------------------------------

#[test]
fn container_defaults() {
    let m = model(parse_quote!(
        pub(crate) struct Person {
            id: Option<RecordId>,
        }
    ));
    assert_eq!(m.table, "Person");
    assert_eq!(m.kind, KindDef::Normal);
    assert!(!m.schemafull);
    assert_eq!(m.changefeed, None);
    assert_eq!(m.permissions, [None, None, None, None]);
    assert!(m.indexes.is_empty());
    assert_eq!(tokens(&m.krate), ":: surql");
    assert_eq!(tokens(&m.vis), "pub (crate)");
}

#[test]
fn every_container_attribute() {
    let m = model(parse_quote! {
        #[derive(Serialize, Deserialize, Model)]
        #[serde(rename_all = "camelCase")]
        #[surql(table = "likes", crate = "surql_smol::surql")]
        #[surql(schemafull, changefeed = "7d")]
        #[surql(relation(in = ["person", "bot"], out = "post", enforced))]
        #[surql(permissions(select = "true", update = "in = $auth.id"))]
        #[surql(index(name = "by_when", fields("likedAt")))]
        #[surql(index(name = "pair", fields("in", "out"), unique))]
        #[surql(index(name = "city", fields = ["address.city", "tags[0]"]))]
        /// Doc comments are attributes too.
        struct Likes {
            id: Option<RecordId>,
            #[serde(rename = "in")]
            from: RecordId,
            #[serde(rename = "out")]
            to: RecordId,
            liked_at: Datetime,
            address: Object,
            #[serde(rename = "tags[0]")]
            first_tag: String,
        }
    });
    assert_eq!(m.table, "likes");
    assert_eq!(tokens(&m.krate), "surql_smol :: surql");
    assert!(m.schemafull);
    assert_eq!(m.changefeed.as_deref(), Some("7d"));
    assert_eq!(
        m.kind,
        KindDef::Relation {
            from: vec!["person".into(), "bot".into()],
            to: vec!["post".into()],
            enforced: true
        }
    );
    assert_eq!(
        m.permissions,
        [
            Some("true".into()),
            None,
            Some("in = $auth.id".into()),
            None
        ]
    );
    assert_eq!(
        m.indexes,
        [
            IndexDef {
                name: "by_when".into(),
                fields: vec!["likedAt".into()],
                unique: false
            },
            IndexDef {
                name: "pair".into(),
                fields: vec!["in".into(), "out".into()],
                unique: true
            },
            IndexDef {
                name: "city".into(),
                fields: vec!["address.city".into(), "tags[0]".into()],
                unique: false
            },
        ]
    );

    let m = model(parse_quote! {
        #[surql(relation)]
        struct E { id: Option<RecordId> }
    });
    assert_eq!(
        m.kind,
        KindDef::Relation {
            from: vec![],
            to: vec![],
            enforced: false
        }
    );
    let m = model(parse_quote! {
        #[surql(view = "SELECT * FROM person WHERE age >= 18", crate = "crate")]
        struct V { id: Option<RecordId> }
    });
    assert_eq!(
        m.kind,
        KindDef::View {
            query: "SELECT * FROM person WHERE age >= 18".into()
        }
    );
    assert_eq!(tokens(&m.krate), "crate");
}

#[test]
fn container_attribute_errors() {
    let cases: Vec<(DeriveInput, &str)> = vec![
        (
            parse_quote!(
                #[surql(tabel = "x")]
                struct A {
                    id: Option<i64>,
                }
            ),
            "unknown model attribute `tabel`: expected one of `table`, `crate`, `schemafull`, \
             `changefeed`, `view`, `relation`, `permissions`, `index`",
        ),
        (
            parse_quote!(
                #[surql(flexible)]
                struct A {
                    id: Option<i64>,
                }
            ),
            "(`flexible` is a field attribute: put it on a field)",
        ),
        (
            parse_quote!(
                #[surql(table = "")]
                struct A {
                    id: Option<i64>,
                }
            ),
            "the table name must not be empty",
        ),
        (
            parse_quote!(
                #[surql(changefeed = "")]
                struct A {
                    id: Option<i64>,
                }
            ),
            "the changefeed duration must not be empty",
        ),
        (
            parse_quote!(
                #[surql(view = " ")]
                struct A {
                    id: Option<i64>,
                }
            ),
            "the view's query must not be empty",
        ),
        (
            parse_quote!(
                #[surql(table)]
                struct A {
                    id: Option<i64>,
                }
            ),
            "expected `table = \"…\"`",
        ),
        (
            parse_quote!(
                #[surql(table = "a")]
                #[surql(table = "b")]
                struct A {
                    id: Option<i64>,
                }
            ),
            "duplicate `table`",
        ),
        (
            parse_quote!(
                #[surql(view = "SELECT 1", relation)]
                struct A {
                    id: Option<i64>,
                }
            ),
            "a model is either a `view` or a `relation`, not both",
        ),
        (
            parse_quote!(
                #[surql(relation(from = "a"))]
                struct A {
                    id: Option<i64>,
                }
            ),
            "unknown relation attribute `from`: expected one of `in`, `out`, `enforced`",
        ),
        (
            parse_quote!(
                #[surql(relation(in = ""))]
                struct A {
                    id: Option<i64>,
                }
            ),
            "a relation's `in` table must not be empty",
        ),
        (
            parse_quote!(
                #[surql(permissions(read = "true"))]
                struct A {
                    id: Option<i64>,
                }
            ),
            "unknown permission `read`: expected one of `select`, `create`, `update`, `delete`",
        ),
        (
            parse_quote!(
                #[surql(permissions)]
                struct A {
                    id: Option<i64>,
                }
            ),
            "expected `permissions(select = ",
        ),
        (
            parse_quote!(
                #[surql(index(fields("x")))]
                struct A {
                    id: Option<i64>,
                    x: i64,
                }
            ),
            "an index needs a name",
        ),
        (
            parse_quote!(
                #[surql(index(name = "i"))]
                struct A {
                    id: Option<i64>,
                    x: i64,
                }
            ),
            "an index needs its fields",
        ),
        (
            parse_quote!(
                #[surql(index(name = "i", fields()))]
                struct A {
                    id: Option<i64>,
                    x: i64,
                }
            ),
            "an index needs at least one field",
        ),
        (
            parse_quote!(
                #[surql(index(name = "i", fields("y")))]
                struct A {
                    id: Option<i64>,
                    x: i64,
                }
            ),
            "the index `i` names `y`, which is not a field of the model (its fields, by \
             database name: `x`)",
        ),
        (
            parse_quote!(
                #[serde(rename_all = "camelCase")]
                #[surql(index(name = "i", fields("first_name")))]
                struct A {
                    id: Option<i64>,
                    first_name: String,
                }
            ),
            "names `first_name`, which is not a field of the model (its fields, by database \
             name: `firstName`)",
        ),
        (
            parse_quote!(
                #[surql(index(name = "i", fields("x")), index(name = "i", fields("x")))]
                struct A {
                    id: Option<i64>,
                    x: i64,
                }
            ),
            "two indexes are named `i`",
        ),
        (
            parse_quote!(
                #[surql(crate = "not a path")]
                struct A {
                    id: Option<i64>,
                }
            ),
            "`crate` must be a path such as \"surql_smol::surql\"",
        ),
        (
            parse_quote!(
                #[surql(schemafull = true)]
                struct A {
                    id: Option<i64>,
                }
            ),
            "`schemafull` takes no value",
        ),
    ];
    for (input, needle) in cases {
        assert_error(input, needle);
    }
}

#[test]
fn every_empty_string_is_reported() {
    let errs = errors(parse_quote! {
        #[surql(table = "", changefeed = "", permissions(select = "", delete = "true"))]
        #[surql(index(name = "", fields("x", "")))]
        struct A {
            id: Option<i64>,
            #[surql(server = "")]
            x: i64,
        }
    });
    assert_eq!(
        errs,
        [
            "the table name must not be empty",
            "the changefeed duration must not be empty",
            "a permission condition must not be empty",
            "an index name must not be empty",
            "an index field must not be empty",
            "the server expression must not be empty",
        ]
    );
}

#[test]
fn index_fields_may_live_in_a_flattened_struct() {
    let m = model(parse_quote! {
        #[surql(index(name = "i", fields("inner")))]
        struct A { id: Option<i64>, #[serde(flatten)] extra: Extra }
    });
    assert_eq!(m.indexes[0].fields, ["inner"]);
}

// --- shapes -----------------------------------------------------------------------------

#[test]
fn shape_errors() {
    assert_error(
        parse_quote!(
            enum A {
                X,
            }
        ),
        "supports structs with named fields only, not enums",
    );
    assert_error(
        parse_quote!(
            union A {
                x: u8,
            }
        ),
        "supports structs with named fields only, not unions",
    );
    assert_error(
        parse_quote!(
            struct A(Option<i64>);
        ),
        "a tuple struct has no field names to store",
    );
    assert_error(
        parse_quote!(
            struct A;
        ),
        "a unit struct has none",
    );
    assert_error(
        parse_quote!(
            struct A<T> {
                id: Option<i64>,
                x: T,
            }
        ),
        "does not support generic structs",
    );
    assert_error(
        parse_quote!(
            struct A<'a> {
                id: Option<i64>,
                x: &'a str,
            }
        ),
        "does not support generic structs",
    );
}

#[test]
fn several_errors_are_reported_at_once() {
    let errs = errors(parse_quote! {
        #[surql(tabel = "x")]
        struct A<T> {
            #[surql(serverr)]
            x: T,
        }
    });
    assert_eq!(errs.len(), 4, "{errs:#?}");
    assert!(errs[0].contains("generic"));
    assert!(errs[1].contains("unknown model attribute `tabel`"));
    assert!(errs[2].contains("unknown field attribute `serverr`"));
    assert!(errs[3].contains("a model needs an `id"));
}

// --- generated code ---------------------------------------------------------------------

#[test]
fn generated_code_parses_and_names_the_crate() {
    let input: DeriveInput = parse_quote! {
        #[surql(table = "person", crate = "surql_smol::surql")]
        pub struct Person {
            id: Option<RecordId>,
            #[serde(rename = "first-name")]
            first_name: Option<String>,
            #[surql(server = "time::now()")]
            created_at: Option<Datetime>,
        }
    };
    let out = expand(&input).unwrap();
    let file: syn::File = syn::parse2(out.clone()).expect("the expansion is valid Rust");
    assert_eq!(
        file.items.len(),
        3,
        "impl Model, struct PersonFields, impl Debug"
    );
    let s = out.to_string();
    for needle in [
        "impl surql_smol :: surql :: model :: Model for Person",
        "type Key = RecordId ;",
        "type Fields = PersonFields ;",
        "table : \"person\"",
        "rust_name : \"Person\"",
        "id_field : \"id\"",
        "name : \"first-name\" , rust_name : \"first_name\" , rust_type : \"Option < String >\"",
        "kind : surql_smol :: surql :: model :: FieldKind :: Server { value : :: core :: option :: Option :: Some (\"time::now()\") }",
        "pub struct PersonFields",
        "pub id : surql_smol :: surql :: model :: Field < Person , surql_smol :: surql :: RecordId >",
        "pub first_name : surql_smol :: surql :: model :: Field < Person , String >",
        "first_name : surql_smol :: surql :: model :: Field :: new (\"first-name\")",
        "# [automatically_derived]",
    ] {
        assert!(s.contains(needle), "missing {needle:?} in\n{s}");
    }
    assert!(
        !s.contains("::surql ::"),
        "no stray default crate path: {s}"
    );
}

#[test]
fn an_error_expands_to_compile_error() {
    let input: DeriveInput = parse_quote!(
        struct A {
            x: i64,
        }
    );
    let out = expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .to_string();
    assert!(out.contains("compile_error"), "{out}");
}

#[test]
#[ignore = "prints an expansion to read"]
fn print_expansion() {
    let input: DeriveInput = parse_quote! {
        #[surql(table = "person", index(name = "i", fields("age")))]
        pub struct Person {
            id: Option<RecordId>,
            name: String,
            age: Option<i64>,
        }
    };
    println!("{}", expand(&input).unwrap());
}
