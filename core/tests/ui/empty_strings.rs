use serde::{Deserialize, Serialize};
use surql::model::Model;
use surql::RecordId;

#[derive(Serialize, Deserialize, Model)]
#[surql(table = "", changefeed = "")]
struct Person {
    id: Option<RecordId>,
}

#[derive(Serialize, Deserialize, Model)]
#[surql(view = "")]
struct Adult {
    id: Option<RecordId>,
}

fn main() {}
