//! Derive macros for surql. The `Model` derive arrives with the model layer; this crate
//! exists now so the workspace layout is fixed from the start.
