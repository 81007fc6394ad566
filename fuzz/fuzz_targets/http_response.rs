#![no_main]
// Built only with `--features http`: the body is `surql_ws::http::fuzz_response`, the reader
// both drivers share, reached through the smol driver.
libfuzzer_sys::fuzz_target!(|data: &[u8]| surql_smol::internal::fuzz_http_response(data));
