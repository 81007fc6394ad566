use serde::{Deserialize, Serialize};
use surql::model::Model;
use surql::RecordId;

#[derive(Serialize, Deserialize, Model)]
struct Person {
    id: Option<RecordId>,
    #[surql(id)]
    key: Option<i64>,
    name: String,
}

fn main() {}
