#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| surql::internal::fuzz_record_id_parse(data));
