//! `GET /api/v1/incidents/{id}/report` and the console's download over a real SQLite store:
//! each format for a demo-like incident whose attacker-controlled fields carry markup; the
//! PDF rendered to PNG with `pdftoppm` (poppler-utils; the test fails, never skips, without
//! it) and the picture checked for ink; HTML escaping; 400 for an unknown format, 404 for an
//! unknown incident.

mod common;

use common::*;
use rampart_model::{
    ApiEvent, AttackStage, Entity, EntityKind, EntityRole, PriorityReason, Role, Severity,
    Timestamp,
};
use rampart_store::IncidentState;

const EVIL: &str = "<script>alert(1)</script>";

async fn demo_incident(app: &TestApp) -> i64 {
    let mut a = alert(
        "Request spike",
        Severity::High,
        "203.0.113.66",
        1_700_000_000,
    );
    a.stage = AttackStage::Impact;
    a.owasp = Some("API4:2023".into());
    a.mitre = vec!["T1499".into()];
    a.entities = vec![
        Entity::attacker_ip("203.0.113.66"),
        Entity::new(EntityKind::UserAgent, EVIL, EntityRole::Related),
        Entity::target_endpoint(format!("GET /{EVIL}")),
    ];
    a.evidence = (0..5)
        .map(|i| ApiEvent {
            ts: Timestamp::from_secs(1_700_000_000 + i),
            client_ip: Some("203.0.113.66".parse().unwrap()),
            method: "GET".into(),
            path: format!("/{EVIL}").into(),
            status: 200,
            user_agent: EVIL.into(),
            raw: format!("203.0.113.66 - - \"GET /{EVIL} HTTP/1.1\" 200 \"{EVIL}\" é ü 日本 {i}")
                .into(),
            ..Default::default()
        })
        .collect();
    let state = IncidentState {
        title: format!("Spike {EVIL}"),
        severity: Severity::High,
        entities: a.entities.clone(),
        first_activity: a.first_seen,
        last_activity: a.last_seen,
        alert_count: 1,
        priority: 70,
        priority_reasons: vec![PriorityReason {
            points: 30,
            reason: "volumetric".into(),
        }],
    };
    let id = app.store_incident(state, vec![a]).await;
    app.store
        .add_comment(id, "bob", &format!("seen {EVIL} [x](javascript:alert(2))"))
        .await
        .unwrap();
    id
}

async fn fetch(app: &TestApp, token: &str, id: i64, format: &str) -> reqwest::Response {
    app.get(
        &format!("/api/v1/incidents/{id}/report?format={format}"),
        token,
    )
    .await
}

#[tokio::test]
async fn each_format_is_produced_and_attacker_values_stay_inert() {
    let app = spawn_app().await;
    let id = demo_incident(&app).await;
    let viewer = app.token(Role::Viewer).await;

    let r = fetch(&app, &viewer, id, "html").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let html = r.text().await.unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script"), "no script element: {html}");
    assert!(html.contains("id=\"report-lessons\""));
    assert!(html.contains("rate_limit"), "the volumetric lesson");
    assert!(html.contains("T1499") && html.contains("API4:2023"));

    let r = fetch(&app, &viewer, id, "md").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/markdown; charset=utf-8");
    let md = r.text().await.unwrap();
    assert!(
        md.starts_with("# Post-incident review: incident \\#"),
        "{md}"
    );
    assert!(!md.contains("](javascript"), "no link from a comment");
    assert!(md.contains("Spike &lt;script&gt;"));

    let r = fetch(&app, &viewer, id, "pdf").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(
        r.headers()["content-disposition"],
        format!("attachment; filename=\"incident-{id}-report.pdf\"").as_str()
    );
    let pdf = r.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    render_pdf(&pdf);
}

/// Render the first page with pdftoppm (PNG, and grayscale PGM to read the pixels): the PNG
/// exists and is not empty, and the page is not blank.
fn render_pdf(pdf: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.pdf");
    std::fs::write(&file, pdf).unwrap();
    let run = |args: &[&str], out: &str| {
        let status = std::process::Command::new("pdftoppm")
            .args(args)
            .args(["-r", "50", "-f", "1", "-l", "1", "-singlefile"])
            .arg(&file)
            .arg(dir.path().join(out))
            .status()
            .unwrap_or_else(|e| {
                panic!("pdftoppm could not run ({e}): install poppler-utils (.ci/run does)")
            });
        assert!(status.success(), "pdftoppm failed: {status}");
    };
    run(&["-png"], "page");
    let png = std::fs::read(dir.path().join("page.png")).expect("pdftoppm wrote page.png");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    assert!(
        png.len() > 2000,
        "a PNG with something on it: {} bytes",
        png.len()
    );
    run(&["-gray"], "gray");
    let pgm = std::fs::read(dir.path().join("gray.pgm")).expect("pdftoppm wrote gray.pgm");
    // P5\n<w> <h>\n255\n then one byte a pixel
    let mut fields = 0;
    let mut start = 0;
    for (i, b) in pgm.iter().enumerate() {
        if b.is_ascii_whitespace() && i > 0 && !pgm[i - 1].is_ascii_whitespace() {
            fields += 1;
            if fields == 4 {
                start = i + 1;
                break;
            }
        }
    }
    let pixels = &pgm[start..];
    assert!(pixels.len() > 10_000, "a page: {} pixels", pixels.len());
    let dark = pixels.iter().filter(|&&p| p < 128).count();
    assert!(dark > 500, "the page has text on it: {dark} dark pixels");
    assert!(dark < pixels.len() / 2, "and is not black: {dark}");
}

#[tokio::test]
async fn unknown_format_is_400_and_unknown_incident_404() {
    let app = spawn_app().await;
    let id = demo_incident(&app).await;
    let viewer = app.token(Role::Viewer).await;
    let r = fetch(&app, &viewer, id, "docx").await;
    let msg = assert_error(r, 400, "bad_request").await;
    assert!(msg.contains("format"), "{msg}");
    let r = fetch(&app, &viewer, 999_999, "pdf").await;
    assert_error(r, 404, "not_found").await;
}

#[tokio::test]
async fn the_console_downloads_the_report_behind_the_session() {
    let app = spawn_app().await;
    let id = demo_incident(&app).await;
    let c = app.console(Role::Viewer).await;
    let page = c
        .get(&format!("/incidents/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("/incidents/{id}/report?format=pdf")),
        "{page}"
    );
    let r = c.get(&format!("/incidents/{id}/report?format=pdf")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert!(r.bytes().await.unwrap().starts_with(b"%PDF-"));
    let r = c.get(&format!("/incidents/{id}/report?format=md")).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("## Lessons"));
}

/// The console's review applies a lesson through the API's change functions: the
/// suppression rule of a false-positive incident (stored, audited as `user:<name>`) and the
/// rate limit of a volumetric one (an active action on the attacker).
#[tokio::test]
async fn the_console_review_applies_lessons() {
    let app = spawn_app().await;
    let id = demo_incident(&app).await;
    let c = app.console(Role::SocManager).await;
    let page = c
        .get(&format!("/incidents/{id}/review"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("value=\"rate_limit:203.0.113.66\""), "{page}");
    assert!(!page.contains("<script>alert"), "escaped");
    let r = c
        .post(
            &format!("/incidents/{id}/review/apply-action"),
            &[("lesson", "rate_limit:203.0.113.66")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let actions = app
        .store
        .list_actions(&rampart_model::ActionFilter {
            incident_id: Some(id),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].action.target, "ip:203.0.113.66");
    assert_eq!(actions[0].action.kind, rampart_model::ActionKind::RateLimit);

    // classified false positive: the suppression rule
    let r = c
        .post(
            &format!("/incidents/{id}/manage"),
            &[("classification", "FalsePositive")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = c
        .post(
            &format!("/incidents/{id}/review/apply-rule"),
            &[("lesson", "suppression")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let name = format!("suppress-incident-{id}");
    let rule = app
        .store
        .get_automation(rampart_model::AUTOMATION_RULE, &name)
        .await
        .unwrap()
        .expect("the rule is stored");
    assert!(rule.updated_by.starts_with("user:"), "{}", rule.updated_by);
    assert!(rule.body["expires_at"].is_string());
    // a lesson the incident does not have is refused
    let r = c
        .post(
            &format!("/incidents/{id}/review/apply-action"),
            &[("lesson", "rate_limit:198.51.100.1")],
        )
        .await;
    assert_eq!(r.status(), 422);
}
