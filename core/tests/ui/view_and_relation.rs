use serde::{Deserialize, Serialize};
use surql::model::Model;
use surql::RecordId;

#[derive(Serialize, Deserialize, Model)]
#[surql(view = "SELECT * FROM likes")]
#[surql(relation(in = "person", out = "post"))]
struct Likes {
    id: Option<RecordId>,
}

fn main() {}
