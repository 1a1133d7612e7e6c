//! What every fuzz target runs: one decoder (by name) on the input as lossy text, directly and
//! through `AutoDecoder`, and enrichment of what decodes with every proxy trusted. A panic is
//! the crash libFuzzer reports.

use rampart_decode::enrich::{enrich, EnrichInput};
use rampart_decode::{decoder_by_name, AutoDecoder, DecodeConfig};

/// Run the decoder named `name` on `data`.
pub fn run(name: &str, data: &[u8]) {
    let input = String::from_utf8_lossy(data);
    let cfg = DecodeConfig::default();
    let trusting = DecodeConfig {
        trusted_proxies: vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()],
        principal_header: Some("x-user-id".into()),
        ..Default::default()
    };
    let d = decoder_by_name(name).expect("registered decoder");
    let _ = d.sniff(&input);
    if let Ok(mut ev) = d.decode(&input, &cfg) {
        enrich(&mut ev, EnrichInput { remote_user: Some("fuzz") }, &trusting);
    }
    if let Ok(mut ev) = AutoDecoder::new().decode(&input, &cfg) {
        enrich(&mut ev, EnrichInput::default(), &trusting);
    }
}
