//! `[detect] disabled`: a disabled detector is not in the engine, so it sees no event and
//! holds no state (it used to run, with only its alerts suppressed).

use std::collections::BTreeSet;

use rampart_decode::{AutoDecoder, DecodeConfig};
use rampart_pipeline::{build_engine, DetectionSetup};

/// An enumeration walk by a scanner: what `param_enumeration`, `bola` and
/// `suspicious_user_agent` are for.
fn walk() -> Vec<String> {
    (0..400)
        .map(|i| {
            format!(
                "203.0.113.9 - - [04/Jan/2026:08:{:02}:{:02} +0000] \"GET /api/v1/users/{} HTTP/1.1\" 200 120 \"-\" \"sqlmap/1.7\"",
                i / 60,
                i % 60,
                1000 + i
            )
        })
        .collect()
}

fn fired(setup: &DetectionSetup) -> (Vec<&'static str>, BTreeSet<String>) {
    let mut engine = build_engine(setup);
    let mut decoder = AutoDecoder::new();
    let cfg = DecodeConfig::default();
    let mut out = Vec::new();
    for line in walk() {
        let ev = decoder.decode(&line, &cfg).expect("decodes");
        engine.observe(&ev, &mut out);
    }
    let ids = engine.ids();
    (ids, out.into_iter().map(|a| a.detector).collect())
}

#[test]
fn disabled_detectors_are_left_out_of_the_engine() {
    let off = ["param_enumeration", "suspicious_user_agent", "scanner"];
    let (all_ids, all_fired) = fired(&DetectionSetup::default());
    for id in off {
        assert!(all_ids.contains(&id), "{id} is built by default");
    }
    assert!(
        off.iter().any(|id| all_fired.contains(*id)),
        "the walk triggers one of {off:?} when enabled: {all_fired:?}"
    );

    let mut setup = DetectionSetup::default();
    for id in off {
        setup.disable(id);
    }
    let (ids, fired) = fired(&setup);
    for id in off {
        assert!(!ids.contains(&id), "{id} is still in the engine: {ids:?}");
        assert!(!fired.contains(id), "{id} fired while disabled");
    }
    assert_eq!(ids.len(), all_ids.len() - off.len(), "{ids:?}");
}
