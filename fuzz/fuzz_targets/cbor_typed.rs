#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    surql::internal::fuzz_cbor_typed(data);
});
