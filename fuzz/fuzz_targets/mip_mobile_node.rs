#![no_main]
// The harness takes no clock: the target (outside the library) reads it once.
static START: std::sync::LazyLock<std::time::Instant> =
    std::sync::LazyLock::new(std::time::Instant::now);
libfuzzer_sys::fuzz_target!(|data: &[u8]| telcp::harness::mip::mobile_node(*START, data));
