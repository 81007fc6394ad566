//! `Display` for values: valid SurrealQL literals.
