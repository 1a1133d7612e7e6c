//! The first-incident walkthrough: each step is done when the store says so or the user saw
//! the page it is about, on a real incident, through the console's own forms.

mod common;

use common::*;
use rampart_model::Role;

fn done(page: &str, step: &str) -> bool {
    page.contains(&format!("id=\"step-{step}\" class=\"done\""))
}

#[tokio::test]
async fn every_step_is_done_by_doing_it() {
    let app = spawn_app().await;
    app.seed_ten().await;
    let c = app.console(Role::Tier2).await;
    let page = c.get("/walkthrough").await.text().await.unwrap();
    let at = page
        .find("data-incident=\"")
        .expect("an incident to walk through")
        + 15;
    let id: i64 = page[at..at + page[at..].find('"').unwrap()]
        .parse()
        .unwrap();
    let inc = app.store.get_incident(id).await.unwrap().unwrap().incident;
    let ip = inc
        .entities
        .iter()
        .find(|e| e.kind == rampart_model::EntityKind::Ip)
        .unwrap()
        .value
        .clone();
    for s in ["triage", "story", "entity", "contain", "verify", "resolve"] {
        assert!(page.contains(&format!("id=\"step-{s}\"")), "{s}");
        assert!(!done(&page, s), "{s} is not done yet");
    }
    // the same incident on every visit
    let again = c.get("/walkthrough").await.text().await.unwrap();
    assert!(again.contains(&format!("data-incident=\"{id}\"")));

    let path = format!("/incidents/{id}");
    // the incident's page guides through the next step; other incidents' pages do not
    let guided = c
        .get(&format!("{path}?tab=alerts"))
        .await
        .text()
        .await
        .unwrap();
    assert!(guided.contains("id=\"guide\""), "guide banner");
    assert!(guided.contains("Walkthrough, step 1: Triage it in the queue"));
    let other = if id == 1 { 2 } else { 1 };
    let plain = c
        .get(&format!("/incidents/{other}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!plain.contains("id=\"guide\""));
    let r = c
        .post(
            &format!("{path}/manage"),
            &[("assigned_to", c.user.as_str()), ("status", "InProgress")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(done(
        &c.get("/walkthrough").await.text().await.unwrap(),
        "triage"
    ));

    let story = c
        .get(&format!("{path}?tab=story"))
        .await
        .text()
        .await
        .unwrap();
    // triaged, and reading the story now: the next step is the entity
    assert!(
        story.contains("Walkthrough, step 3: Inspect the attacker"),
        "triage and story are done"
    );
    let page = c.get("/walkthrough").await.text().await.unwrap();
    assert!(done(&page, "story"));
    // verifying before containing does not count
    assert_eq!(c.get(&format!("{path}?tab=response")).await.status(), 200);
    assert!(!done(
        &c.get("/walkthrough").await.text().await.unwrap(),
        "verify"
    ));

    assert_eq!(c.get(&format!("/entities/ip/{ip}")).await.status(), 200);
    assert!(done(
        &c.get("/walkthrough").await.text().await.unwrap(),
        "entity"
    ));

    let r = c
        .post(
            &format!("{path}/contain"),
            &[("kind", "block_ip"), ("entity", ip.as_str())],
        )
        .await;
    assert_eq!(r.status(), 303);
    let page = c.get("/walkthrough").await.text().await.unwrap();
    assert!(done(&page, "contain"));
    assert!(!done(&page, "verify"));
    assert_eq!(c.get(&format!("{path}?tab=response")).await.status(), 200);
    assert!(done(
        &c.get("/walkthrough").await.text().await.unwrap(),
        "verify"
    ));

    let r = c
        .post(
            &format!("{path}/resolve"),
            &[
                ("classification", "TruePositive"),
                ("determination", "MultiStagedAttack"),
                ("findings", "blocked the scanner; no data left"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let page = c.get("/walkthrough").await.text().await.unwrap();
    assert!(done(&page, "resolve"));
    for s in ["triage", "story", "entity", "contain", "verify", "resolve"] {
        assert!(done(&page, s), "{s} stays done");
    }
    assert!(
        page.contains("id=\"walkthrough-complete\""),
        "every step is done"
    );
    // another user walks through their own
    let other = app.console(Role::Tier1).await;
    let theirs = other.get("/walkthrough").await.text().await.unwrap();
    assert!(!done(&theirs, "story"));
    assert!(theirs.contains("may not contain"));
}
