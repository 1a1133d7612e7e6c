//! End to end: events carrying credentials in every place (escaped and array-valued
//! headers, cookies, query keys, JSON and form bodies) go through decode, the pipeline
//! (detection raises alerts with these events as evidence) and into a real SQLite store;
//! then every byte of the database files is searched for the secrets.
//!
//! Guards issue 8 item 2: "secrets reach the store" (`events.raw`, alert evidence).

use std::sync::Arc;

use rampart_decode::{decoder_by_name, DecodeConfig};
use rampart_pipeline::PipelineConfig;
use rampart_store::{AlertFilter, Store};
use rampart_store_sqlite::SqliteStore;

const SECRETS: &[&str] = &[
    "E2eSlashSECRET",
    "E2eUniSECRET",
    "E2eArrSECRETa",
    "E2eArrSECRETb",
    "E2eCookieSECRET",
    "E2eQuerySECRET",
    "E2eBodySECRET",
    "E2eFormSECRET",
    "E2eClfSECRET",
];

/// Lines that each carry secrets and an SQL injection (so a content detector alerts on the
/// event and keeps it as evidence).
fn lines() -> Vec<(&'static str, String)> {
    let sqli = "id=1%27%20union%20select%20password%20from%20users--";
    vec![
        (
            "rampart",
            format!(
                r#"{{"ts":"2026-01-04T08:00:00Z","client_ip":"198.51.100.4","method":"POST","path":"/api/v1/login","query":"{sqli}&access_token=E2eQuerySECRET","status":200,"request":{{"headers":{{"user-agent":"e2e-marker-agent","Authorization":"Bearer E2eSlashSECRET\/x","cookie":"sid=E2eCookieSECRET"}},"body":"{{\"user\":\"bob\",\"password\":\"E2eBodySECRET\"}}"}}}}"#
            ),
        ),
        (
            "rampart",
            format!(
                r#"{{"ts":"2026-01-04T08:00:01Z","client_ip":"198.51.100.4","method":"POST","path":"/api/v1/login","query":"{sqli}","status":200,"request":{{"headers":{{"user-agent":"e2e-marker-agent","authorization":["Bearer E2eArrSECRETa","Bearer \u0045\u0032eUniSECRET"],"x-api-key":["E2eArrSECRETb"]}},"body":"user=bob&password=E2eFormSECRET"}}}}"#
            ),
        ),
        (
            "combined",
            format!(
                r#"198.51.100.4 - - [04/Jan/2026:08:00:02 +0000] "GET /search?{sqli}&api_key=E2eClfSECRET HTTP/1.1" 200 90 "https://app.example/?token=E2eClfSECRET" "e2e-marker-agent""#
            ),
        ),
    ]
}

#[tokio::test]
async fn no_secret_reaches_any_byte_of_the_sqlite_store() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sqlite = Arc::new(
        SqliteStore::open(&dir.path().join("rampart.db"))
            .await
            .unwrap_or_else(|e| panic!("open store: {e}")),
    );
    let store: Arc<dyn Store> = sqlite.clone();
    let (p, task) = rampart_pipeline::spawn(store.clone(), PipelineConfig::default())
        .await
        .unwrap_or_else(|e| panic!("spawn pipeline: {e}"));
    let cfg = DecodeConfig::default();
    let events = lines()
        .iter()
        .map(|(format, line)| {
            let d = decoder_by_name(format).unwrap_or_else(|| panic!("no decoder {format}"));
            d.decode(line, &cfg)
                .unwrap_or_else(|e| panic!("{format}: {e}"))
                .into_owned()
        })
        .collect::<Vec<_>>();
    assert!(
        events
            .iter()
            .all(|e| e.api_key_id.is_some() || e.source_format == "combined"),
        "identities are still derived"
    );
    p.push_events(events, None)
        .await
        .unwrap_or_else(|e| panic!("push: {e}"));
    p.flush().await.unwrap_or_else(|e| panic!("flush: {e}"));

    let alerts = store
        .list_alerts(&AlertFilter::default())
        .await
        .unwrap_or_else(|e| panic!("alerts: {e}"));
    assert!(
        alerts.items.iter().any(|a| !a.draft.evidence.is_empty()),
        "the events are alert evidence: {:?}",
        alerts
            .items
            .iter()
            .map(|a| &a.draft.title)
            .collect::<Vec<_>>()
    );
    let evidence = serde_json::to_string(&alerts.items).unwrap_or_default();
    for s in SECRETS {
        assert!(!evidence.contains(s), "{s} in alert evidence");
    }

    drop(p);
    let _ = task.await;
    drop(store);
    sqlite.close().await;
    drop(sqlite);

    // Every file of the store (database, WAL, shared memory), byte for byte.
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap_or_else(|e| panic!("{e}")) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        bytes.extend(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())));
    }
    let found = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        found("e2e-marker-agent"),
        "the events were stored in clear text"
    );
    assert!(found("[redacted]"), "the redaction marks were stored");
    for s in SECRETS {
        assert!(!found(s), "{s} found in the store files");
    }
}

/// Detection sees what the client sent, the store only the redacted form: an SQL injection
/// written into a secret field (`password=` in the query) still raises an injection alert,
/// and neither the stored event nor the alert's evidence keeps the value.
///
/// Guards the order decode (identities) -> detect (clear values) -> sanitize -> store:
/// redacting at decode time hid such payloads from every detector.
#[tokio::test]
async fn an_injection_in_a_secret_field_is_detected_and_not_stored() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("rampart.db"))
            .await
            .unwrap_or_else(|e| panic!("open store: {e}")),
    );
    let (p, _task) = rampart_pipeline::spawn(store.clone(), PipelineConfig::default())
        .await
        .unwrap_or_else(|e| panic!("spawn pipeline: {e}"));
    let payload = "1%27%20union%20select%20password%20from%20users--";
    let line = format!(
        r#"198.51.100.7 - - [04/Jan/2026:08:00:02 +0000] "GET /api/v1/login?user=bob&password={payload} HTTP/1.1" 200 90 "-" "Mozilla/5.0""#
    );
    let ev = decoder_by_name("combined")
        .unwrap_or_else(|| unreachable!())
        .decode(&line, &DecodeConfig::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .into_owned();
    assert!(ev.query.contains(payload), "decoding keeps the clear value");
    p.push_events(vec![ev], None)
        .await
        .unwrap_or_else(|e| panic!("push: {e}"));
    p.flush().await.unwrap_or_else(|e| panic!("flush: {e}"));
    let alerts = store
        .list_alerts(&AlertFilter::default())
        .await
        .unwrap_or_else(|e| panic!("alerts: {e}"));
    assert!(
        alerts.items.iter().any(|a| a.draft.detector == "injection"),
        "the injection is detected: {:?}",
        alerts
            .items
            .iter()
            .map(|a| &a.draft.detector)
            .collect::<Vec<_>>()
    );
    let stored = store
        .list_events(&Default::default())
        .await
        .unwrap_or_else(|e| panic!("events: {e}"));
    let all = serde_json::to_string(&(&stored, &alerts.items)).unwrap_or_default();
    assert!(all.contains("password=[redacted]"), "{all}");
    for v in [payload, "from users", "from%20users"] {
        assert!(
            !all.contains(v),
            "the value of a secret field is not stored: {all}"
        );
    }
}
