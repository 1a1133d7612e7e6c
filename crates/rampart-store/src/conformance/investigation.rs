//! Conformance case of stored automated investigations: each new incident is claimed once,
//! an abandoned claim again after its lease, a lost claim cannot store, a manual re-run
//! replaces the result, and retention takes the investigation with its incident.

use rampart_model::{IncidentPatch, IncidentStatus, Severity, Timestamp};
use serde_json::json;

use super::{draft, incident_with_alert, state};
use crate::{Retention, RetentionTable, Store};

/// Claims and results of investigations, as two nodes would race on them.
pub async fn investigations_are_claimed_once_and_kept(s: &dyn Store) {
    let st = |t: &str| state(t, Severity::High, 50, vec![]);
    let (a, _) = incident_with_alert(s, st("a"), draft("bola", Severity::High, vec![], 0)).await;
    let (b, _) = incident_with_alert(s, st("b"), draft("bola", Severity::High, vec![], 0)).await;
    let now = Timestamp::now();
    let t = |d: i64| Timestamp(now.millis() + d);
    let since = t(-60_000);

    // created before `since`: nothing to claim
    assert!(s
        .claim_investigations("x", t(60_000), now, t(1), 10)
        .await
        .expect("claim")
        .is_empty());
    // node 1 takes one, node 2 the other, then nothing is left
    assert_eq!(
        s.claim_investigations("n1", since, now, t(30_000), 1)
            .await
            .expect("claim"),
        vec![a]
    );
    assert_eq!(
        s.claim_investigations("n2", since, now, t(30_000), 10)
            .await
            .expect("claim"),
        vec![b]
    );
    assert!(s
        .claim_investigations("n3", since, t(1_000), t(31_000), 10)
        .await
        .expect("claim")
        .is_empty());
    let running = s.get_investigation(a).await.expect("get").expect("stored");
    assert_eq!(running.owner, "n1");
    assert_eq!(running.finished_at, None);
    assert_eq!(running.result, serde_json::Value::Null);

    // n1 finishes a; n2 cannot store over it; a finished one is never claimed again
    assert!(!s
        .finish_investigation(a, Some("n2"), t(2_000), &json!({"verdict": "clean"}))
        .await
        .expect("finish"));
    assert!(s
        .finish_investigation(a, Some("n1"), t(2_000), &json!({"verdict": "malicious"}))
        .await
        .expect("finish"));
    let done = s.get_investigation(a).await.expect("get").expect("stored");
    assert_eq!(done.finished_at, Some(t(2_000)));
    assert_eq!(done.result["verdict"], "malicious");

    // n2 died on b: after its lease n3 takes it over, and n2's late result is refused
    assert!(s
        .claim_investigations("n3", since, t(20_000), t(50_000), 10)
        .await
        .expect("claim")
        .is_empty());
    assert_eq!(
        s.claim_investigations("n3", since, t(40_000), t(70_000), 10)
            .await
            .expect("claim"),
        vec![b]
    );
    assert!(!s
        .finish_investigation(b, Some("n2"), t(41_000), &json!({}))
        .await
        .expect("finish"));
    assert!(s
        .finish_investigation(b, Some("n3"), t(42_000), &json!({"verdict": "clean"}))
        .await
        .expect("finish"));

    // a manual re-run replaces the result
    assert!(s
        .finish_investigation(a, None, t(50_000), &json!({"verdict": "suspicious"}))
        .await
        .expect("rerun"));
    let again = s.get_investigation(a).await.expect("get").expect("stored");
    assert_eq!(again.owner, "manual");
    assert_eq!(again.result["verdict"], "suspicious");

    // retention deletes a resolved incident's investigation with it
    s.update_incident(
        a,
        &IncidentPatch {
            status: Some(IncidentStatus::Resolved),
            ..IncidentPatch::default()
        },
        "test",
    )
    .await
    .expect("resolve");
    let rule = Retention {
        table: RetentionTable::Incidents,
        before: Some(t(3_600_000)),
        keep_rows: None,
    };
    assert_eq!(
        s.prune(&rule, 10, "system:retention").await.expect("prune"),
        1
    );
    assert_eq!(s.get_investigation(a).await.expect("get"), None);
    assert!(s.get_investigation(b).await.expect("get").is_some());
}
