use serde::{Deserialize, Serialize};
use surql::model::Model;

#[derive(Serialize, Deserialize, Model)]
struct Person {
    name: String,
    age: i64,
}

fn main() {}
