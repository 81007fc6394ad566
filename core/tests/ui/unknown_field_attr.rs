use serde::{Deserialize, Serialize};
use surql::model::Model;
use surql::{Datetime, RecordId};

#[derive(Serialize, Deserialize, Model)]
struct Person {
    id: Option<RecordId>,
    #[surql(serverside)]
    created_at: Option<Datetime>,
    #[surql(flexible, table = "x")]
    extra: surql::Object,
}

fn main() {}
