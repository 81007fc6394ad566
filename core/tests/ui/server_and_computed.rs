use serde::{Deserialize, Serialize};
use surql::model::Model;
use surql::RecordId;

#[derive(Serialize, Deserialize, Model)]
struct Person {
    id: Option<RecordId>,
    name: String,
    #[surql(server = "0", computed = "string::len(name)")]
    name_len: Option<i64>,
}

fn main() {}
