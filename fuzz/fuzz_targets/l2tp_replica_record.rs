#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| telcp::harness::l2tp::replica_record(data));
