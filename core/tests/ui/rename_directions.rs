use serde::{Deserialize, Serialize};
use surql::model::Model;
use surql::RecordId;

#[derive(Serialize, Deserialize, Model)]
struct Person {
    id: Option<RecordId>,
    #[serde(rename(serialize = "name", deserialize = "full_name"))]
    name: String,
}

fn main() {}
