#![no_main]
// Built only with `--features http`: the body lives in the smol driver.
libfuzzer_sys::fuzz_target!(|data: &[u8]| surql_smol::internal::fuzz_http_response(data));
