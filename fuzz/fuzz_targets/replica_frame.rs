#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| telcp::harness::replica::frame(data));
