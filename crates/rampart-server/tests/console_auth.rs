//! The console's sign-in, sessions, CSRF and access policy: every console route of
//! `console::ROUTES` called by a signed-in user of every role, allowed or refused exactly as
//! `rampart_model::roles::MATRIX` says; wrong passwords, lockout, idle and absolute expiry,
//! sign-out and CSRF failures; security headers on every answer.

mod common;

use common::*;
use rampart_model::{Role, Session, Timestamp};
use rampart_server::console::ROUTES;
use rampart_server::{Credential, Route, ServerConfig};

/// A request for a console route that changes nothing harmful whoever sends it: the path with
/// its parameters filled in and form fields the handler refuses or ignores. A new route fails
/// the test until it is here.
fn sample(r: &Route, incident: i64) -> (String, Vec<(&'static str, &'static str)>) {
    let path = r
        .path
        .replace("{id}", &incident.to_string())
        .replace("{name}", "no-such-token")
        .replace("{task_id}", "999999")
        .replace("{kind}", "ip")
        .replace("{value}", "203.0.113.250")
        .replace("{*value}", "203.0.113.250");
    let fields = match (r.method, r.path) {
        ("get", _) => vec![],
        ("post", "/logout") => vec![],
        // no csrf token: 403 from the form itself
        ("post", "/login") => vec![("username", "x"), ("password", "y")],
        // no incident selected: 422
        ("post", "/incidents/bulk") => vec![("op", "tag"), ("value", "x")],
        // a nameless view: 422
        ("post", "/incidents/views") => vec![("name", ""), ("query", "")],
        // no such view (its id is the incident's): 404
        ("post", "/incidents/views/{id}/delete") => vec![],
        // changes nothing: 303
        ("post", "/incidents/{id}/manage") => vec![("tab", "story")],
        // nothing given: 422
        (
            "post",
            "/incidents/{id}/resolve" | "/incidents/{id}/merge" | "/incidents/{id}/contain",
        ) => vec![],
        ("post", "/incidents/{id}/comments") => vec![("text", "")],
        ("post", "/incidents/{id}/tasks") => vec![("title", "")],
        // idempotent: the second role's call adds nothing
        ("post", "/incidents/{id}/tasks/seed") => vec![],
        // no such task or action: 404
        ("post", "/incidents/{id}/tasks/{task_id}") => vec![("done", "true")],
        ("post", "/actions/{id}/approve") => vec![],
        ("post", "/actions/{id}/revert") => vec![("reason", "sample")],
        // nothing to undo: 303 back to the incident
        ("post", "/incidents/{id}/disruption/undo") => vec![],
        // no such lesson: 422
        ("post", "/incidents/{id}/review/apply-rule" | "/incidents/{id}/review/apply-action") => {
            vec![("lesson", "none")]
        }
        // no target: 422
        ("post", "/actions") => vec![("kind", "block_ip"), ("reason", "")],
        // nothing given: 422
        ("post", "/settings/users") => vec![],
        // no such user ({name} is filled with a token name): 422 for the missing field first
        ("post", "/settings/users/{name}/disable") => vec![],
        ("post", "/settings/users/{name}/password") => vec![("password", "")],
        ("post", "/settings/tokens") => vec![("purpose", "api")],
        // no such token: 404
        ("post", "/settings/tokens/{name}/revoke") => vec![],
        // {kind} is filled with "ip", no automation kind: 404
        ("post", "/automation/{kind}" | "/automation/{kind}/{name}") => vec![("text", "")],
        ("post", "/automation/{kind}/{name}/delete") => vec![],
        // no such delivery or run (their ids are the incident's): 404
        ("post", "/webhook-deliveries/{id}/retry") => vec![],
        ("post", "/playbook-runs/{id}/approve" | "/playbook-runs/{id}/cancel") => vec![],
        // nothing proven benign: 303 back
        ("post", "/incidents/{id}/investigation/resolve" | "/incidents/{id}/investigation/run") => {
            vec![]
        }
        // no such playbook: 422
        ("post", "/incidents/{id}/playbooks") => vec![("playbook", "no-such-playbook")],
        // no name: 422 with the form again
        ("post", "/hunt/queries") => vec![("query", "ApiEvents")],
        // no such saved query: 404
        ("post", "/hunt/queries/{name}/delete") => vec![],
        (m, p) => panic!("no sample request for {m} {p}: add one"),
    };
    (path, fields)
}

#[tokio::test]
async fn every_role_against_every_console_route() {
    let app = spawn_app().await;
    let incident = app.seed_ten().await[0].id;
    let mut consoles = Vec::new();
    for role in Role::ALL {
        consoles.push((*role, app.console(*role).await));
    }
    let anonymous = no_redirect_client();
    let mut checked = 0;
    // sign-out last: it ends the sessions the other calls use
    let mut routes: Vec<&Route> = ROUTES.iter().collect();
    routes.sort_by_key(|r| r.path == "/logout");
    for r in routes {
        let (path, fields) = sample(r, incident);
        let what = format!("{} {}", r.method, r.path);
        let Some(permission) = r.permission else {
            assert_eq!(r.credential, Credential::Bearer, "{what}");
            let resp = if r.method == "get" {
                anonymous.get(app.url(&path)).send().await.unwrap()
            } else {
                anonymous
                    .post(app.url(&path))
                    .form(&fields)
                    .send()
                    .await
                    .unwrap()
            };
            assert!(resp.status().as_u16() < 500, "{what} is public");
            continue;
        };
        assert_eq!(
            r.credential,
            Credential::Session,
            "{what} takes the session"
        );
        // no session: to the sign-in form
        let resp = if r.method == "get" {
            anonymous.get(app.url(&path)).send().await.unwrap()
        } else {
            anonymous
                .post(app.url(&path))
                .form(&fields)
                .send()
                .await
                .unwrap()
        };
        assert_eq!(resp.status(), 303, "{what} anonymous");
        let to = resp.headers()["location"].to_str().unwrap();
        assert!(to.starts_with("/login?next="), "{what}: {to}");
        // an API token is no session
        let resp = anonymous
            .get(app.url(&path))
            .bearer_auth(&app.admin)
            .send()
            .await
            .unwrap();
        assert!(
            resp.status() == 303 || resp.status() == 405,
            "{what} with a bearer token: {}",
            resp.status()
        );
        for (role, c) in &consoles {
            let resp = if r.method == "get" {
                c.get(&path).await
            } else {
                c.post(&path, &fields).await
            };
            let status = resp.status().as_u16();
            let streams = resp
                .headers()
                .get("content-type")
                .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
            // an event stream never ends: its status says enough
            let body = if streams {
                String::new()
            } else {
                resp.text().await.unwrap_or_default()
            };
            if role.grants(permission) {
                assert!(
                    status != 401 && status != 403 && status < 500,
                    "{what} as {role} (holds {permission}): {status} {body}"
                );
            } else {
                assert_eq!(status, 403, "{what} as {role}");
                assert!(
                    body.contains(&format!(
                        "your role {role} lacks the permission {permission}"
                    )),
                    "{what} as {role}: {body}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        ROUTES.iter().filter(|r| r.permission.is_some()).count() * Role::ALL.len()
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    let user = app.user(Role::Tier1).await;
    let client = no_redirect_client();
    for (name, pw) in [(user.as_str(), "wrong password"), ("nobody", PASSWORD)] {
        let r = app.login_as(&client, name, pw).await;
        assert_eq!(r.status(), 401, "{name}");
        assert!(set_cookie(&r, "rampart_session").is_none());
        let page = r.text().await.unwrap();
        assert!(page.contains("wrong user name or password"), "{page}");
    }
    let ok = app.login_as(&client, &user, PASSWORD).await;
    assert_eq!(ok.status(), 303);
    assert_eq!(ok.headers()["location"], "/incidents");
    let cookie = ok
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("rampart_session="))
        .unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "no TLS here: {cookie}");
    // the secret is not what the store keeps
    let secret = set_cookie(&ok, "rampart_session").unwrap();
    let audit = app
        .store
        .list_audit(&rampart_store::AuditFilter {
            object_id: Some(user.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.items[0].action, "user.login");
    assert!(!format!("{audit:?}").contains(&secret));
}

#[tokio::test]
async fn cookies_are_secure_behind_tls() {
    let app = spawn_app().await;
    let user = app.user(Role::Tier1).await;
    let client = no_redirect_client();
    let form = client
        .get(app.url("/login"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let login_cookie = set_cookie(&form, "rampart_login").unwrap();
    let csrf = csrf_of(&form.text().await.unwrap());
    let r = client
        .post(app.url("/login"))
        .header("x-forwarded-proto", "https")
        .header("cookie", format!("rampart_login={login_cookie}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", &user),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let all: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(all.iter().all(|c| c.contains("; Secure")), "{all:?}");
}

#[tokio::test]
async fn repeated_failures_lock_the_account_then_the_source() {
    let app = spawn_app_with(ServerConfig {
        login_max_failures: 3,
        login_max_source_failures: 6,
        ..Default::default()
    })
    .await;
    let user = app.user(Role::Tier2).await;
    let other = app.user(Role::Tier2).await;
    let client = no_redirect_client();
    for _ in 0..2 {
        assert_eq!(app.login_as(&client, &user, "nope").await.status(), 401);
    }
    // the third failure locks the account
    let r = app.login_as(&client, &user, "nope").await;
    assert_eq!(r.status(), 429);
    assert!(r.text().await.unwrap().contains("too many failed sign-ins"));
    // locked: even the right password is refused, and no session is made
    let r = app.login_as(&client, &user, PASSWORD).await;
    assert_eq!(r.status(), 429);
    assert!(set_cookie(&r, "rampart_session").is_none());
    // another account from the same source still signs in (3 failures < 6 for the source)
    assert_eq!(app.login_as(&client, &other, PASSWORD).await.status(), 303);
    // failures against many accounts lock the source
    for i in 0..3 {
        let _ = app.login_as(&client, &format!("ghost{i}"), "nope").await;
    }
    let third = app.user(Role::Tier2).await;
    assert_eq!(app.login_as(&client, &third, PASSWORD).await.status(), 429);
    let audit = app
        .store
        .list_audit(&rampart_store::AuditFilter {
            object_type: Some("user".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(audit.items.iter().any(|a| a.action == "user.lockout"));
}

/// A session stored directly with these times; its cookie secret.
async fn stored_session(app: &TestApp, role: Role, last_seen: i64, expires_at: i64) -> String {
    let user = app.user(role).await;
    let (u, _) = app.store.user_by_name(&user).await.unwrap().unwrap();
    let secret = "s".repeat(64);
    app.store
        .create_session(
            &Session {
                id_hash: rampart_server::hash_token(&secret),
                user_id: u.id,
                csrf: "t".repeat(64),
                created_at: Timestamp(last_seen),
                last_seen: Timestamp(last_seen),
                expires_at: Timestamp(expires_at),
            },
            "test",
        )
        .await
        .unwrap();
    secret
}

#[tokio::test]
async fn idle_and_expired_sessions_go_back_to_sign_in() {
    let app = spawn_app().await;
    let client = no_redirect_client();
    let now = Timestamp::now().millis();
    let get = |secret: String| {
        let client = client.clone();
        let url = app.url("/incidents?severity=High");
        async move {
            client
                .get(url)
                .header("cookie", format!("rampart_session={secret}"))
                .send()
                .await
                .unwrap()
        }
    };
    // idle for longer than the 30 min default
    let idle = stored_session(&app, Role::Tier1, now - 31 * 60 * 1000, now + 3_600_000).await;
    let r = get(idle).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        "/login?next=%2Fincidents%3Fseverity%3DHigh"
    );
    // past its absolute end
    app.sqlite
        .execute_raw("DELETE FROM sessions")
        .await
        .unwrap();
    let old = stored_session(&app, Role::Tier1, now - 1000, now - 1).await;
    assert_eq!(get(old).await.status(), 303);
    // fresh: in
    app.sqlite
        .execute_raw("DELETE FROM sessions")
        .await
        .unwrap();
    let fresh = stored_session(&app, Role::Tier1, now - 1000, now + 3_600_000).await;
    assert_eq!(get(fresh).await.status(), 200);
}

#[tokio::test]
async fn logout_ends_the_session_everywhere() {
    let app = spawn_app().await;
    let c = app.console(Role::Tier1).await;
    let r = c.post("/logout", &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    // the old cookie no longer works, on this node or another sharing the store
    assert_eq!(c.get("/incidents").await.status(), 303);
    let node = app.second_node(ServerConfig::default()).await;
    let r = no_redirect_client()
        .get(node.url("/incidents"))
        .header("cookie", format!("rampart_session={}", c.cookie))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn sessions_work_on_every_node_sharing_the_store() {
    let app = spawn_app().await;
    let c = app.console(Role::Tier1).await;
    let node = app.second_node(ServerConfig::default()).await;
    let r = no_redirect_client()
        .get(node.url("/incidents"))
        .header("cookie", format!("rampart_session={}", c.cookie))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn state_changes_without_the_csrf_token_are_refused() {
    let app = spawn_app().await;
    let ids: Vec<String> = app
        .seed_ten()
        .await
        .iter()
        .map(|i| i.id.to_string())
        .collect();
    let c = app.console(Role::Tier1).await;
    fn tag<'a>(id: &'a str, csrf: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
        let mut f = vec![("id", id), ("op", "tag"), ("value", "csrf-probe")];
        if let Some(t) = csrf {
            f.push(("csrf", t));
        }
        f
    }
    let tag = |csrf| tag(&ids[0], csrf);
    let wrong = "0".repeat(64);
    for (what, fields) in [
        ("missing", tag(None)),
        ("wrong", tag(Some(&wrong))),
        ("empty", tag(Some(""))),
    ] {
        let r = c.post_raw("/incidents/bulk", &fields).await;
        assert_eq!(r.status(), 403, "{what}");
        assert!(r
            .text()
            .await
            .unwrap()
            .contains("csrf token missing or wrong"));
    }
    // the right token, but from another site
    let r = c
        .client
        .post(format!("{}/incidents/bulk", c.base))
        .header("cookie", format!("rampart_session={}", c.cookie))
        .header("origin", "http://evil.example")
        .form(&tag(Some(&c.csrf)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let inc = app
        .store
        .get_incident(ids[0].parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!inc.incident.tags.contains(&"csrf-probe".to_string()));
    // with it, the change is made and audited as the user
    let r = c.post("/incidents/bulk", &tag(None)).await;
    assert_eq!(r.status(), 303);
    let inc = app
        .store
        .get_incident(ids[0].parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(inc.incident.tags.contains(&"csrf-probe".to_string()));
    let audit = app
        .store
        .list_audit(&rampart_store::AuditFilter {
            object_type: Some("incident".into()),
            object_id: Some(ids[0].clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.items[0].actor, format!("user:{}", c.user));
    // the sign-in form's own token: missing or not matching its cookie
    let client = no_redirect_client();
    let user = app.user(Role::Tier1).await;
    let r = client
        .post(app.url("/login"))
        .form(&[
            ("csrf", "x"),
            ("username", user.as_str()),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(set_cookie(&r, "rampart_session").is_none());
}

#[tokio::test]
async fn pages_carry_the_security_headers_and_sign_in_returns_where_asked() {
    let app = spawn_app().await;
    let c = app.console(Role::Viewer).await;
    for path in ["/incidents", "/login", "/static/console.js"] {
        let r = c.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(h["x-content-type-options"], "nosniff");
    }
    let r = c.get("/").await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/incidents");
    // next: only a path of this site
    let client = no_redirect_client();
    let user = app.user(Role::Tier1).await;
    for (next, to) in [
        ("/incidents/3?tab=graph", "/incidents/3?tab=graph"),
        ("//evil.example/x", "/incidents"),
        ("https://evil.example/", "/incidents"),
    ] {
        let form = client.get(app.url("/login")).send().await.unwrap();
        let cookie = set_cookie(&form, "rampart_login").unwrap();
        let csrf = csrf_of(&form.text().await.unwrap());
        let r = client
            .post(app.url("/login"))
            .header("cookie", format!("rampart_login={cookie}"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", &user),
                ("password", PASSWORD),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["location"], to, "{next}");
    }
}

#[tokio::test]
async fn the_queue_keeps_its_view_in_the_url_and_escapes_titles() {
    let app = spawn_app().await;
    let incidents = app.seed_ten().await;
    let hostile = incidents[0].id;
    app.store
        .update_incident(
            hostile,
            &rampart_model::IncidentPatch {
                title: Some("<script>alert('t')</script>\"><img src=x onerror=alert(2)>".into()),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap();
    let c = app.console(Role::Tier1).await;
    let page = c.get("/incidents").await.text().await.unwrap();
    assert!(!page.contains("<script>alert"), "escaped");
    assert!(!page.contains("<img src=x"), "escaped");
    assert!(page.contains("&lt;script&gt;alert"));
    // a filtered, sorted view: only what matches, in order, and the same again on reload
    let view = "/incidents?severity=High&sort=created&dir=asc";
    let first = c.get(view).await.text().await.unwrap();
    let again = c.get(view).await.text().await.unwrap();
    let rows = |p: &str| -> Vec<i64> {
        p.match_indices("<tr data-id=\"")
            .map(|(i, m)| {
                let rest = &p[i + m.len()..];
                rest[..rest.find('"').unwrap()].parse().unwrap()
            })
            .collect()
    };
    let expected: Vec<i64> = {
        let mut v: Vec<_> = incidents
            .iter()
            .filter(|i| i.severity == rampart_model::Severity::High)
            .collect();
        v.sort_by_key(|i| (i.created_at, i.id));
        v.iter().map(|i| i.id).collect()
    };
    assert!(!expected.is_empty());
    assert_eq!(rows(&first), expected);
    assert_eq!(rows(&again), expected);
    // the filters are shown as chosen
    assert!(
        first.contains("value=\"High\" checked"),
        "severity box stays checked"
    );
    // a bad filter value is a 400 page in words
    let r = c.get("/incidents?sort=evil").await;
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("bad value &quot;evil&quot; for sort"));
    // saved views: per user
    let r = c
        .post(
            "/incidents/views",
            &[
                ("name", "high first"),
                ("query", "severity=High&sort=created&dir=asc"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let page = c.get("/incidents").await.text().await.unwrap();
    assert!(page.contains("data-view=\"high first\""));
    let other = app.console(Role::Tier1).await;
    assert!(!other
        .get("/incidents")
        .await
        .text()
        .await
        .unwrap()
        .contains("high first"));
}

#[tokio::test]
async fn new_incidents_arrive_live() {
    let app = spawn_app().await;
    let max = app.seed_ten().await.iter().map(|i| i.id).max().unwrap();
    let c = app.console(Role::Viewer).await;
    let page = c.get("/incidents").await.text().await.unwrap();
    assert!(
        page.contains(&format!("data-since=\"{max}\"")),
        "the queue says where live starts"
    );
    let mut live = c.get(&format!("/incidents/live?since={max}")).await;
    assert_eq!(live.status(), 200);
    assert!(live.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let fresh = app
        .seed_incidents(&[Seed {
            title: "a fresh <b>incident</b>",
            severity: rampart_model::Severity::Critical,
            status: rampart_model::IncidentStatus::Active,
            owner: None,
            tags: &[],
            priority: 99,
            ip: "198.51.100.77",
        }])
        .await[0]
        .id;
    let mut seen = String::new();
    let wanted = format!("\"id\":{fresh}");
    tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while !seen.contains(&wanted) {
            let chunk = live.chunk().await.unwrap().expect("the stream stays open");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("the new incident arrives within the poll interval");
    assert!(seen.contains("event: incident"), "{seen}");
    assert!(
        !seen.contains(&format!("\"id\":{max}")),
        "only incidents after since: {seen}"
    );
    // signing out ends the stream at its next poll
    assert_eq!(c.post("/logout", &[]).await.status(), 303);
    tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(chunk) = live.chunk().await.unwrap() {
            assert!(
                !String::from_utf8_lossy(&chunk).contains("event: incident"),
                "nothing more after sign-out"
            );
        }
    })
    .await
    .expect("the stream ends after sign-out");
}
