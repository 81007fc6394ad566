use serde::{Deserialize, Serialize};
use surql::model::Model;
use surql::RecordId;

#[derive(Serialize, Deserialize, Model)]
#[surql(table = "person")]
struct Person {
    id: Option<RecordId>,
    name: String,
    age: i64,
}

fn main() {
    let _ = Person::fields().name.gt(18);
}
