use serde::{Deserialize, Serialize};
use surql::model::Model;

#[derive(Serialize, Deserialize, Model)]
struct Marker;

fn main() {}
