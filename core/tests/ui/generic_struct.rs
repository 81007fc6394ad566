use serde::{Deserialize, Serialize};
use surql::model::Model;
use surql::RecordId;

#[derive(Serialize, Deserialize, Model)]
struct Wrapper<T> {
    id: Option<RecordId>,
    value: T,
}

#[derive(Serialize, Deserialize, Model)]
struct Borrowed<'a> {
    id: Option<RecordId>,
    name: &'a str,
}

fn main() {}
