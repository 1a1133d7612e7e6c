#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rampart_fuzz::run("aws_alb", data));
