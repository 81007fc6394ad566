use serde::{Deserialize, Serialize};
use surql::model::Model;

#[derive(Serialize, Deserialize, Model)]
enum Shape {
    Circle { r: f64 },
    Square { side: f64 },
}

fn main() {}
