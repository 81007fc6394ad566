use serde::{Deserialize, Serialize};
use surql::model::Model;

#[derive(Serialize, Deserialize, Model)]
#[serde(rename_all = "PascalCase")]
struct Person {
    id: Option<i64>,
    name: String,
}

fn main() {}
