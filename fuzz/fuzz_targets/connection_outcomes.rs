#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| surql::internal::fuzz_connection_outcomes(
    data,
    std::time::Instant::now()
));
