use serde::{Deserialize, Serialize};
use surql::model::Model;
use surql::RecordId;

#[derive(Serialize, Deserialize, Model)]
#[surql(table = "person", schemaful)]
struct Person {
    id: Option<RecordId>,
    name: String,
}

fn main() {}
