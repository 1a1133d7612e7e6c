//! Throughput: generate and encode 1M combined lines.

use std::time::Instant;

use rampart_sim::{encode, OutputFormat, SimConfig, Simulator};

fn main() {
    let n = 1_000_000u64;
    for fmt in [OutputFormat::Combined, OutputFormat::NginxJson] {
        let cfg = SimConfig {
            events: n,
            ..SimConfig::default()
        };
        let t0 = Instant::now();
        let mut line = String::with_capacity(512);
        let mut bytes = 0usize;
        let mut count = 0u64;
        for (ev, _label) in Simulator::new(cfg) {
            line.clear();
            encode(&ev, fmt, &mut line);
            bytes += line.len() + 1;
            count += 1;
        }
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "{}: {count} lines, {:.1} MB in {secs:.2}s: {:.0} lines/s",
            fmt.name(),
            bytes as f64 / 1e6,
            count as f64 / secs
        );
    }
}
