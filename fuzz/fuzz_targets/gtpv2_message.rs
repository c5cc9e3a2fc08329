#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| telcp::harness::gtpv2::gtpv2_message(data));
