//! Conformance case of custom detection runs: a slot is claimed once, a later slot always,
//! an abandoned run again once its lease expired, and a lost claim cannot finish.

use rampart_model::Timestamp;
use serde_json::json;

use crate::Store;

/// Claims and finishes of detection runs, as two nodes would race on them.
pub async fn detection_runs_are_claimed_once_per_slot(s: &dyn Store) {
    let t = Timestamp;
    assert!(s.detection_runs().await.expect("runs").is_empty());
    // node a claims the 10:05 slot; node b loses it
    assert!(s
        .claim_detection("brute", t(300_000), "a", t(1_000), t(61_000))
        .await
        .expect("claim"));
    assert!(!s
        .claim_detection("brute", t(300_000), "b", t(2_000), t(62_000))
        .await
        .expect("claim"));
    // b cannot finish a run it does not hold; a can, once
    assert!(!s
        .finish_detection("brute", t(300_000), "b", t(3_000), &json!({"alerts": 9}))
        .await
        .expect("finish"));
    assert!(s
        .finish_detection("brute", t(300_000), "a", t(3_000), &json!({"alerts": 2}))
        .await
        .expect("finish"));
    assert!(!s
        .finish_detection("brute", t(300_000), "a", t(4_000), &json!({"alerts": 3}))
        .await
        .expect("finish"));
    // a finished slot is not claimed again, even after its lease
    assert!(!s
        .claim_detection("brute", t(300_000), "b", t(100_000), t(160_000))
        .await
        .expect("claim"));
    let runs = s.detection_runs().await.expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].name, "brute");
    assert_eq!(runs[0].slot, t(300_000));
    assert_eq!(runs[0].owner, "a");
    assert_eq!(runs[0].finished_at, Some(t(3_000)));
    assert_eq!(runs[0].outcome, json!({"alerts": 2}));

    // the next slot: b claims it, then dies; a takes over only once the lease expired
    assert!(s
        .claim_detection("brute", t(600_000), "b", t(600_000), t(660_000))
        .await
        .expect("claim"));
    let runs = s.detection_runs().await.expect("runs");
    assert_eq!(runs[0].finished_at, None, "running");
    assert!(!s
        .claim_detection("brute", t(600_000), "a", t(650_000), t(710_000))
        .await
        .expect("claim"));
    assert!(s
        .claim_detection("brute", t(600_000), "a", t(661_000), t(721_000))
        .await
        .expect("claim"));
    // b's late finish is refused: a holds the run now
    assert!(!s
        .finish_detection("brute", t(600_000), "b", t(662_000), &json!({}))
        .await
        .expect("finish"));
    assert!(s
        .finish_detection("brute", t(600_000), "a", t(663_000), &json!({"alerts": 0}))
        .await
        .expect("finish"));
    // an earlier slot is never claimed again
    assert!(!s
        .claim_detection("brute", t(300_000), "b", t(700_000), t(760_000))
        .await
        .expect("claim"));
    // detections are independent
    assert!(s
        .claim_detection("scan", t(300_000), "b", t(700_000), t(760_000))
        .await
        .expect("claim"));
    let names: Vec<_> = s
        .detection_runs()
        .await
        .expect("runs")
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, vec!["brute", "scan"]);
}
