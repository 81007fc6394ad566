use serde::{Deserialize, Serialize};
use surql::model::Model;
use surql::RecordId;

#[derive(Serialize, Deserialize, Model)]
struct Person {
    id: RecordId,
    name: String,
}

fn main() {}
