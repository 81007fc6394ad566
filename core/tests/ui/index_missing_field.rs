use serde::{Deserialize, Serialize};
use surql::model::Model;
use surql::RecordId;

#[derive(Serialize, Deserialize, Model)]
#[serde(rename_all = "camelCase")]
#[surql(index(name = "by_name", fields("first_name", "age")))]
struct Person {
    id: Option<RecordId>,
    first_name: String,
    age: i64,
}

fn main() {}
