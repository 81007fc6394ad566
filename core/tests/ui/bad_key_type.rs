use serde::{Deserialize, Serialize};
use surql::model::Model;

#[derive(Serialize, Deserialize, Model)]
struct Counter {
    id: Option<u32>,
    n: i64,
}

fn main() {}
