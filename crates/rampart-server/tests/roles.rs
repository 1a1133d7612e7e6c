//! The access policy, route by route: every route of `ROUTES` called with a token of every
//! role, allowed or refused exactly as `rampart_model::roles::MATRIX` says; and the README's
//! tables are the ones the code has.

mod common;

use common::*;
use rampart_model::roles::MATRIX;
use rampart_model::{Permission, Role};
use rampart_server::{Credential, Route, ROUTES};
use reqwest::Method;
use serde_json::Value;

/// A request for a route that changes nothing whoever sends it: the path with its parameters
/// filled in and a body the handler refuses or ignores (so an allowed caller gets a 2xx or a
/// 4xx from the handler itself, never 401/403). A new route fails the test until it is here.
fn sample(r: &Route, incident: i64) -> (String, &'static str) {
    let path = r
        .path
        .replace("{id}", &incident.to_string())
        .replace("{name}", "no-such-token")
        .replace("{task_id}", "999999")
        .replace("{*path}", "orders/1");
    let body = match (r.method, r.path) {
        ("get" | "delete" | "any", _) => "",
        ("post", "/api/v1/events") => "",
        ("post", "/api/v1/alerts") => "[]",
        // No kind: 422 from the handler; no such action: 404.
        ("post", "/api/v1/actions") => "{}",
        ("post", "/api/v1/actions/{id}/approve") => "",
        ("post", "/api/v1/actions/{id}/revert") => r#"{"reason":"sample"}"#,
        // Seeding is idempotent: the second role's call adds nothing.
        ("post", "/api/v1/incidents/{id}/tasks/seed") => "",
        // No title: 422; no such task: 404.
        ("post" | "patch", p) if p.contains("incidents") || p == "/api/v1/tokens" => "{}",
        // No name: 422 from the rule grammar.
        ("post" | "put", p) if p.starts_with("/api/v1/automation/") => "{}",
        // No name: 422 from the playbook grammar; no playbook field: 422; no such run: 404.
        ("post" | "put", p) if p.starts_with("/api/v1/playbooks") => "{}",
        ("post", "/api/v1/playbook-runs") => "{}",
        ("post", p) if p.starts_with("/api/v1/playbook-runs/") => "",
        // No name: 422 from the webhook grammar.
        ("post" | "put", p) if p.starts_with("/api/v1/webhooks") => "{}",
        // No such delivery: 404.
        ("post", "/api/v1/webhook-deliveries/{id}/retry") => "",
        // A query over an empty range: 200 with no rows.
        ("post", "/api/v1/hunt") => r#"{"query":"ApiEvents | take 1"}"#,
        // No name: 422 from the deployment checks.
        ("post", "/api/v1/deployments") => "{}",
        // Runs the investigation of the sample incident.
        ("post", "/api/v1/incidents/{id}/investigation") => "",
        // No name: 422 from the saved-query checks.
        ("post" | "put", p) if p.starts_with("/api/v1/hunt/queries") => "{}",
        (m, p) => panic!("no sample request for {m} {p}: add one"),
    };
    (path, body)
}

async fn call(
    app: &TestApp,
    r: &Route,
    path: &str,
    body: &'static str,
    token: Option<&str>,
) -> reqwest::Response {
    let method = match r.method {
        "any" => Method::GET,
        m => Method::from_bytes(m.to_ascii_uppercase().as_bytes()).unwrap(),
    };
    let mut req = app.client.request(method, app.url(path));
    if let Some(t) = token {
        req = match r.credential {
            Credential::Bearer => req.bearer_auth(t),
            Credential::EnforcerKey => req.header("x-rampart-enforcer-key", t),
            Credential::BouncerKey => req.header("x-api-key", t),
            Credential::Session => unreachable!("API routes take no session"),
        };
    }
    if !body.is_empty() {
        req = req.header("content-type", "application/json").body(body);
    }
    req.send().await.expect("request")
}

#[tokio::test]
async fn every_role_against_every_route() {
    // One anonymous call per route: more than the default failed-authentication burst.
    let app = spawn_app_with(rampart_server::ServerConfig {
        auth_failure_burst: 1000,
        ..Default::default()
    })
    .await;
    let incident = app.seed_ten().await[0].id;
    let mut tokens = Vec::new();
    for role in Role::ALL {
        tokens.push((*role, app.token(*role).await));
    }
    let mut checked = 0;
    for r in ROUTES {
        let (path, body) = sample(r, incident);
        let what = format!("{} {}", r.method, r.path);
        let Some(permission) = r.permission else {
            assert_eq!(
                call(&app, r, &path, body, None).await.status(),
                200,
                "{what} is public"
            );
            for (role, token) in &tokens {
                let status = call(&app, r, &path, body, Some(token)).await.status();
                assert_eq!(status, 200, "{what} as {role}");
            }
            continue;
        };
        let anonymous = call(&app, r, &path, body, None).await;
        assert_error(anonymous, 401, "unauthorized").await;
        for (role, token) in &tokens {
            let resp = call(&app, r, &path, body, Some(token)).await;
            let status = resp.status().as_u16();
            if role.grants(permission) {
                assert!(
                    status != 401 && status != 403 && status < 500,
                    "{what} as {role} (holds {permission}): {status} {}",
                    resp.text().await.unwrap_or_default()
                );
            } else {
                let message = assert_error(resp, 403, "forbidden").await;
                assert_eq!(
                    message,
                    format!("role {role} lacks the permission {permission}"),
                    "{what} as {role}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, (ROUTES.len() - 1) * Role::ALL.len());
}

#[tokio::test]
async fn enforcer_tokens_open_the_enforcement_endpoints_and_nothing_else() {
    let app = spawn_app().await;
    let incident = app.seed_ten().await[0].id;
    let enforcer = app.token(Role::Enforcer).await;
    let mut enforcing = 0;
    for r in ROUTES.iter().filter(|r| r.auth()) {
        let (path, body) = sample(r, incident);
        let resp = call(&app, r, &path, body, Some(&enforcer)).await;
        if r.permission == Some(Permission::Enforce) {
            assert!(resp.status().is_success(), "{} {}", r.method, r.path);
            assert_ne!(r.credential, Credential::Bearer, "{} {}", r.method, r.path);
            enforcing += 1;
        } else {
            assert_eq!(resp.status(), 403, "{} {}", r.method, r.path);
            assert_eq!(r.credential, Credential::Bearer, "{} {}", r.method, r.path);
        }
    }
    assert_eq!(enforcing, 5);
}

#[tokio::test]
async fn a_refused_caller_gets_403_whatever_its_request() {
    // The permission is checked before the handler reads its path, query or body: a caller
    // without it learns nothing from 400/404/422 answers.
    let app = spawn_app().await;
    let tokens = [
        (Role::Viewer, app.token(Role::Viewer).await),
        (Role::Ingest, app.token(Role::Ingest).await),
    ];
    for r in ROUTES.iter().filter(|r| r.auth()) {
        let path = r.path.replace("{id}", "abc").replace("{name}", "%ff");
        let path = format!("{path}?limit=-1&$top=x");
        let permission = r.permission.unwrap();
        for (role, token) in &tokens {
            if role.grants(permission) {
                continue;
            }
            let resp = call(&app, r, &path, "{not json", Some(token)).await;
            let what = format!("{} {path} as {role}", r.method);
            let message = assert_error(resp, 403, "forbidden").await;
            assert!(message.contains(permission.as_str()), "{what}: {message}");
        }
    }
}

#[tokio::test]
async fn defender_routes_need_what_their_v1_counterparts_need() {
    let need = |method: &str, path: &str| {
        ROUTES
            .iter()
            .find(|r| r.method == method && r.path == path)
            .unwrap_or_else(|| panic!("{method} {path}"))
            .permission
    };
    let pairs = [
        ("get", "/api/incidents", "/api/v1/incidents"),
        ("get", "/api/incidents/{id}", "/api/v1/incidents/{id}"),
        ("patch", "/api/incidents/{id}", "/api/v1/incidents/{id}"),
    ];
    for (method, defender, v1) in pairs {
        assert_eq!(
            need(method, defender),
            need(method, v1),
            "{method} {defender}"
        );
    }
    for r in ROUTES
        .iter()
        .filter(|r| r.path.starts_with("/api/incidents"))
    {
        assert!(
            pairs.iter().any(|(m, d, _)| *m == r.method && *d == r.path),
            "{} {} has no v1 counterpart listed",
            r.method,
            r.path
        );
    }
}

#[tokio::test]
async fn stored_analyst_tokens_keep_working_as_tier2() {
    let app = spawn_app().await;
    let incident = app.seed_ten().await[0].id;
    let secret = app.token(Role::Tier2).await;
    // A row written before the SOC roles existed.
    let n = app
        .sqlite
        .execute_raw("UPDATE tokens SET role = 'analyst' WHERE role = 'tier2'")
        .await
        .unwrap();
    assert_eq!(n, 1);
    app.tokens.reload(&*app.store).await.unwrap();

    let path = format!("/api/v1/incidents/{incident}");
    let r = app
        .patch(&path, &secret, serde_json::json!({"status": "InProgress"}))
        .await;
    assert_eq!(r.status(), 200);
    let refused = assert_error(app.get("/api/v1/tokens", &secret).await, 403, "forbidden").await;
    assert_eq!(refused, "role tier2 lacks the permission manage_tokens");
    let listed = app.get_json("/api/v1/tokens").await;
    let roles: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["role"].as_str())
        .collect();
    assert!(
        roles.contains(&"tier2") && !roles.contains(&"analyst"),
        "{listed}"
    );
}

#[tokio::test]
async fn token_api_takes_the_new_role_names_and_analyst() {
    let app = spawn_app().await;
    let cases = [
        ("a", "tier1", Some("tier1")),
        ("b", "soc_manager", Some("soc_manager")),
        ("c", "enforcer", Some("enforcer")),
        ("d", "analyst", Some("tier2")),
        ("e", "Tier3", Some("tier3")),
        ("f", "root", None),
    ];
    for (name, role, expected) in cases {
        let r = app
            .post(
                "/api/v1/tokens",
                &app.admin,
                serde_json::json!({"name": name, "role": role}),
            )
            .await;
        match expected {
            Some(want) => {
                assert_eq!(r.status(), 201, "{role}");
                let v: Value = r.json().await.unwrap();
                assert_eq!(v["role"], want, "{role}");
            }
            None => {
                let m = assert_error(r, 422, "unprocessable").await;
                assert!(m.contains("invalid role"), "{m}");
            }
        }
    }
}

// --- the README's tables ------------------------------------------------------------------

const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");

fn permissions_table() -> String {
    let mut out = String::from("| permission |");
    for role in Role::ALL {
        out.push_str(&format!(" `{role}` |"));
    }
    out.push_str("\n|---|");
    out.push_str(&":-:|".repeat(Role::ALL.len()));
    out.push('\n');
    for (permission, row) in MATRIX {
        out.push_str(&format!("| `{permission}` |"));
        for granted in row {
            out.push_str(if granted { " ✓ |" } else { " |" });
        }
        out.push('\n');
    }
    out
}

fn routes_table() -> String {
    table_of(ROUTES)
}

fn table_of(routes: &[Route]) -> String {
    let mut out = String::from("| route | permission |\n|---|---|\n");
    for r in routes {
        let need = r
            .permission
            .map_or("none (public)".to_string(), |p| format!("`{p}`"));
        out.push_str(&format!(
            "| `{} {}` | {need} |\n",
            r.method.to_ascii_uppercase(),
            r.path
        ));
    }
    out
}

/// The README text between `<!-- begin NAME -->` and `<!-- end NAME -->`, and where it is.
fn section(readme: &str, name: &str) -> std::ops::Range<usize> {
    let begin = format!("<!-- begin {name} -->\n");
    let start = readme
        .find(&begin)
        .unwrap_or_else(|| panic!("README lacks {begin:?}"))
        + begin.len();
    let end = readme[start..]
        .find(&format!("<!-- end {name} -->"))
        .unwrap_or_else(|| panic!("README lacks the end of {name}"))
        + start;
    start..end
}

#[test]
fn readme_tables_match_the_code() {
    let mut readme = std::fs::read_to_string(README).expect("reading README.md");
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    for (name, table) in [
        ("permissions", permissions_table()),
        ("routes", routes_table()),
        ("console-routes", table_of(rampart_server::console::ROUTES)),
    ] {
        let at = section(&readme, name);
        if update {
            readme.replace_range(at, &table);
        } else {
            assert_eq!(
                readme[at].to_string(),
                table,
                "README's {name} table is stale: rerun with UPDATE_EXPECT=1"
            );
        }
    }
    if update {
        std::fs::write(README, readme).expect("writing README.md");
    }
}

#[test]
fn every_permission_is_held_by_some_role_and_route_permissions_are_known() {
    for p in Permission::ALL {
        assert!(p.roles().next().is_some(), "{p} is held by nobody");
    }
    let public: Vec<&str> = ROUTES
        .iter()
        .filter(|r| !r.auth())
        .map(|r| r.path)
        .collect();
    assert_eq!(public, ["/healthz"], "only /healthz is public");
    let metrics = ROUTES.iter().find(|r| r.path == "/metrics").unwrap();
    assert_eq!(
        metrics.permission,
        Some(Permission::Read),
        "Prometheus scrapes with a read token"
    );
}

#[tokio::test]
async fn openapi_names_each_operations_permission() {
    let app = spawn_app().await;
    let doc = app.get_json("/api/v1/openapi.json").await;
    for r in ROUTES {
        let method = if r.method == "any" { "get" } else { r.method };
        let op = &doc["paths"][r.path][method];
        let expected = r.permission.map(|p| Value::from(p.as_str()));
        assert_eq!(
            op.get("x-rampart-permission").cloned(),
            expected,
            "{} {}",
            r.method,
            r.path
        );
    }
}
