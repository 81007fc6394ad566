//! Derive macros for surql (placeholder: the real derive lands from the `derive` branch).
use proc_macro::TokenStream;

/// Placeholder.
#[proc_macro_derive(Model, attributes(surql))]
pub fn derive_model(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}
