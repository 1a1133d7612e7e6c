//! Conformance cases of hunting: one seeded dataset (events, alerts, incidents, entities,
//! actions, audit rows at known times around a fixed `now`) and a table of queries with the
//! result each must give, identical on every backend; then the bounds (time range, row limit,
//! timeout).
//!
//! A result is written one line per row after a header of `name:type` columns, values
//! separated by ` | `, strings bare, nulls as `null`, arrays as JSON.

use std::borrow::Cow;
use std::time::Duration;

use rampart_hunt::plan::{plan, Options};
use rampart_hunt::rows::Rows;
use rampart_model::{
    ActionKind, ActionScope, ActionStatus, AlertDraft, AttackStage, Entity, EntityKind, EntityRole,
    NewAction, NewAudit, PriorityReason, Severity, Timestamp,
};

use super::{event, T0};
use crate::{Change, ChangeSet, IncidentRef, IncidentState, Store, StoreError};

/// The `now` every case runs at: one hour after [`T0`].
pub const HUNT_NOW: i64 = T0 + HOUR;
const HOUR: i64 = 3_600_000;
const MIN: i64 = 60_000;

/// Seed the hunting dataset. Events at T0-30h and T0+2h fall outside the default range
/// (the 24 h before `HUNT_NOW`), as do the old incident, its alert and one audit entry.
pub async fn seed_hunt(s: &dyn Store) {
    struct Ev {
        at: i64,
        ip: &'static str,
        method: &'static str,
        path: &'static str,
        query: &'static str,
        status: u16,
        principal: Option<&'static str>,
        ua: &'static str,
        latency: Option<u64>,
        bytes: Option<u64>,
    }
    let curl = "curl/8.5";
    let moz = "Mozilla/5.0 (X11)";
    let sqlmap = "sqlmap/1.7";
    #[rustfmt::skip]
    let rows = [
        Ev { at: -30 * HOUR, ip: "198.51.100.1", method: "GET", path: "/old", query: "", status: 200, principal: None, ua: curl, latency: Some(1), bytes: Some(1) },
        Ev { at: -2 * HOUR, ip: "203.0.113.9", method: "POST", path: "/api/v1/login", query: "", status: 401, principal: None, ua: curl, latency: Some(1000), bytes: Some(100) },
        Ev { at: -2 * HOUR + 1000, ip: "203.0.113.9", method: "POST", path: "/api/v1/login", query: "", status: 401, principal: None, ua: curl, latency: Some(2000), bytes: Some(100) },
        Ev { at: -2 * HOUR + 2000, ip: "203.0.113.9", method: "POST", path: "/api/v1/login", query: "", status: 200, principal: Some("alice"), ua: curl, latency: Some(3000), bytes: Some(500) },
        Ev { at: -90 * MIN, ip: "203.0.113.9", method: "GET", path: "/api/v1/users/1", query: "id=1", status: 200, principal: Some("alice"), ua: curl, latency: Some(4000), bytes: Some(1200) },
        Ev { at: -90 * MIN + 1000, ip: "203.0.113.9", method: "GET", path: "/api/v1/users/2", query: "id=2", status: 200, principal: Some("alice"), ua: curl, latency: Some(5000), bytes: Some(1300) },
        Ev { at: -90 * MIN + 2000, ip: "203.0.113.9", method: "GET", path: "/api/v1/users/3", query: "", status: 404, principal: Some("alice"), ua: curl, latency: Some(6000), bytes: Some(50) },
        Ev { at: -HOUR, ip: "192.0.2.10", method: "GET", path: "/api/v1/orders", query: "", status: 200, principal: Some("bob"), ua: moz, latency: Some(10000), bytes: Some(2000) },
        Ev { at: -HOUR + 1000, ip: "192.0.2.10", method: "GET", path: "/api/v1/orders/7", query: "", status: 200, principal: Some("bob"), ua: moz, latency: Some(20000), bytes: Some(3000) },
        Ev { at: -30 * MIN, ip: "192.0.2.10", method: "DELETE", path: "/api/v1/orders/7", query: "", status: 403, principal: Some("bob"), ua: moz, latency: Some(30000), bytes: Some(0) },
        Ev { at: -10 * MIN, ip: "2001:db8::7", method: "GET", path: "/api/v1/search", query: "q=' OR 1=1 --", status: 500, principal: None, ua: sqlmap, latency: None, bytes: None },
        Ev { at: 30 * MIN, ip: "2001:db8::7", method: "GET", path: "/admin/../etc/passwd", query: "", status: 400, principal: None, ua: sqlmap, latency: Some(700), bytes: Some(10) },
        Ev { at: 2 * HOUR, ip: "192.0.2.10", method: "GET", path: "/future", query: "", status: 200, principal: Some("bob"), ua: moz, latency: Some(1), bytes: Some(1) },
    ];
    let events: Vec<_> = rows
        .iter()
        .map(|r| {
            let mut e = event(r.at, r.ip, r.path, r.status);
            e.method = Cow::Borrowed(r.method);
            e.query = Cow::Borrowed(r.query);
            e.principal = r.principal.map(Cow::Borrowed);
            e.user_agent = Cow::Borrowed(r.ua);
            e.latency_us = r.latency;
            e.response_bytes = r.bytes;
            e
        })
        .collect();
    s.insert_events(&events, None).await.expect("insert events");

    let ent = |k, v: &str| Entity::new(k, v, EntityRole::Attacker);
    let st = |title: &str, severity, priority, entities, last: i64| IncidentState {
        title: title.into(),
        severity,
        entities,
        first_activity: Timestamp(T0 + last - HOUR),
        last_activity: Timestamp(T0 + last),
        alert_count: 1,
        priority,
        priority_reasons: vec![PriorityReason {
            points: priority,
            reason: "severity".into(),
        }],
    };
    let alert = |detector: &str, severity, at: i64| AlertDraft {
        title: format!("{detector} fired"),
        first_seen: Timestamp(T0 + at),
        last_seen: Timestamp(T0 + at + 1000),
        stage: AttackStage::Exploitation,
        ..super::draft(detector, severity, vec![], at)
    };
    let a = st(
        "Credential stuffing from 203.0.113.9",
        Severity::High,
        80,
        vec![
            ent(EntityKind::Ip, "203.0.113.9"),
            ent(EntityKind::User, "alice"),
        ],
        -HOUR,
    );
    let b = st(
        "SQL injection from 2001:db8::7",
        Severity::Critical,
        95,
        vec![
            ent(EntityKind::Ip, "2001:db8::7"),
            ent(EntityKind::Endpoint, "GET /api/v1/search"),
        ],
        -10 * MIN,
    );
    let c = st(
        "Old scan",
        Severity::Low,
        10,
        vec![ent(EntityKind::Ip, "198.51.100.1")],
        -48 * HOUR,
    );
    let applied = s
        .apply(&ChangeSet {
            changes: vec![
                Change::CreateIncident { temp: 0, state: a },
                Change::InsertAlert {
                    alert: alert("credential_stuffing", Severity::High, -2 * HOUR),
                    incident: IncidentRef::New(0),
                },
                Change::InsertAlert {
                    alert: alert("bola", Severity::Medium, -90 * MIN),
                    incident: IncidentRef::New(0),
                },
                Change::CreateIncident { temp: 1, state: b },
                Change::InsertAlert {
                    alert: alert("content_inspection", Severity::Critical, -10 * MIN),
                    incident: IncidentRef::New(1),
                },
                Change::CreateIncident { temp: 2, state: c },
                Change::InsertAlert {
                    alert: alert("scanner", Severity::Low, -48 * HOUR),
                    incident: IncidentRef::New(2),
                },
            ],
        })
        .await
        .expect("apply");
    let action = |kind, target: &str, status, incident, by: &str, at: i64| NewAction {
        kind,
        target: target.into(),
        scope: ActionScope::default(),
        rate: None,
        reason: "hunt".into(),
        incident_id: incident,
        requested_by: by.into(),
        status,
        created_at: Timestamp(T0 + at),
        starts_at: (status == ActionStatus::Active).then_some(Timestamp(T0 + at)),
        expires_at: (status == ActionStatus::Active).then_some(Timestamp(T0 + 24 * HOUR)),
        duration_secs: 86_400,
    };
    let inc = &applied.incident_ids;
    for (n, by) in [
        (
            action(
                ActionKind::BlockIp,
                "203.0.113.9",
                ActionStatus::Active,
                Some(inc[0]),
                "token:alice",
                -30 * MIN,
            ),
            "token:alice",
        ),
        (
            action(
                ActionKind::DisablePrincipal,
                "alice",
                ActionStatus::PendingApproval,
                Some(inc[0]),
                "user:carol",
                -5 * MIN,
            ),
            "user:carol",
        ),
    ] {
        s.create_action(&n, by).await.expect("create action");
    }
    let audit = |at: i64, actor: &str, action: &str, id: &str| NewAudit {
        at: Timestamp(T0 + at),
        actor: actor.into(),
        action: action.into(),
        object_type: "incident".into(),
        object_id: id.into(),
        details: serde_json::json!({"note": "hunt"}),
    };
    s.append_audit(&[
        audit(-20 * MIN, "user:carol", "incident.update", "A"),
        audit(-15 * MIN, "user:dave", "incident.comment", "B"),
        audit(-40 * HOUR, "user:carol", "incident.update", "old"),
    ])
    .await
    .expect("append audit");
}

/// A result as the case table writes it.
pub fn show(rows: &Rows) -> String {
    let mut out = rows
        .columns
        .iter()
        .map(|c| format!("{}:{}", c.name, c.ty.as_str()))
        .collect::<Vec<_>>()
        .join(" | ");
    for r in &rows.rows {
        out.push('\n');
        let cells: Vec<String> = r
            .iter()
            .map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                v => v.to_string(),
            })
            .collect();
        out.push_str(&cells.join(" | "));
    }
    if rows.truncated {
        out.push_str("\n(truncated)");
    }
    out
}

/// Run `query` at [`HUNT_NOW`] with the default bounds.
pub async fn run_hunt(s: &dyn Store, query: &str) -> Result<Rows, String> {
    let p = plan(query, &Options::at(HUNT_NOW)).map_err(|e| format!("plan: {e}"))?;
    s.hunt(&p, Duration::from_secs(10)).await.map_err(|e| {
        format!(
            "store: {e} ({:?})",
            std::error::Error::source(&e).map(|s| s.to_string())
        )
    })
}

/// Every query of [`HUNT_CASES`] gives its result.
pub async fn hunt_queries_give_their_results(s: &dyn Store) {
    seed_hunt(s).await;
    let mut failures = Vec::new();
    for (query, expected) in HUNT_CASES {
        let got = match run_hunt(s, query).await {
            Ok(rows) => show(&rows),
            Err(e) => e,
        };
        if got != expected.trim() {
            failures.push(format!("    ({query:?}, r#\"\n{got}\n\"#),"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} hunting cases differ on {}; what they gave:\n{}",
        failures.len(),
        HUNT_CASES.len(),
        s.backend(),
        failures.join("\n")
    );
}

/// The bounds: the time range (default and given), the row limit with `truncated`, and the
/// timeout.
pub async fn hunt_queries_are_bounded(s: &dyn Store) {
    seed_hunt(s).await;
    let at = |from: Option<i64>, to: Option<i64>, limit: Option<u32>| Options {
        now: HUNT_NOW,
        from,
        to,
        limit,
    };
    let count = |o: Options| async move {
        let p = plan("ApiEvents | count", &o).expect("plan");
        show(&s.hunt(&p, Duration::from_secs(10)).await.expect("hunt"))
    };
    // the default range is the 24 h before now; a given one replaces it
    assert_eq!(count(at(None, None, None)).await, "Count:long\n11");
    assert_eq!(
        count(at(Some(T0 - 31 * HOUR), Some(T0 + 3 * HOUR), None)).await,
        "Count:long\n13"
    );
    assert_eq!(
        count(at(Some(T0 - HOUR), Some(T0), None)).await,
        "Count:long\n4"
    );
    // the range bounds every table of a join too
    let p = plan(
        "Incidents | join kind=inner (Entities) on IncidentId | summarize dcount(IncidentId)",
        &at(Some(T0 - 72 * HOUR), None, None),
    )
    .expect("plan");
    let rows = s.hunt(&p, Duration::from_secs(10)).await.expect("hunt");
    assert_eq!(show(&rows), "dcount_IncidentId:long\n3");
    let p = plan(
        "Incidents | join kind=inner (Entities) on IncidentId | summarize dcount(IncidentId)",
        &at(None, None, None),
    )
    .expect("plan");
    let rows = s.hunt(&p, Duration::from_secs(10)).await.expect("hunt");
    assert_eq!(show(&rows), "dcount_IncidentId:long\n2");
    // the row limit: the first rows in the result order, and `truncated`
    let p = plan("ApiEvents | project Path", &at(None, None, Some(2))).expect("plan");
    let rows = s.hunt(&p, Duration::from_secs(10)).await.expect("hunt");
    assert_eq!(
        show(&rows),
        "Path:string\n/admin/../etc/passwd\n/api/v1/login\n(truncated)"
    );
    let p = plan(
        "ApiEvents | project Path | take 2",
        &at(None, None, Some(2)),
    )
    .expect("plan");
    let rows = s.hunt(&p, Duration::from_secs(10)).await.expect("hunt");
    assert!(!rows.truncated, "exactly the limit is not truncated");
    // the timeout: a join that multiplies rows is stopped
    let heavy =
        "ApiEvents | join kind=inner (ApiEvents) on Host | join kind=inner (ApiEvents) on Host \
                 | join kind=inner (ApiEvents) on Host | join kind=inner (ApiEvents) on Host \
                 | join kind=inner (ApiEvents) on Host | summarize count()";
    let p = plan(heavy, &at(None, None, None)).expect("plan");
    let err = s
        .hunt(&p, Duration::from_millis(1))
        .await
        .expect_err("timed out");
    assert!(matches!(err, StoreError::Timeout(_)), "{err:?}");
    assert!(err.to_string().contains("1 ms"), "{err}");
    // the store is usable afterwards (the bound does not stay on the pooled connection)
    for _ in 0..6 {
        assert_eq!(count(at(None, None, None)).await, "Count:long\n11");
    }
}

/// Queries and their results over [`seed_hunt`]'s data, at [`HUNT_NOW`].
pub const HUNT_CASES: &[(&str, &str)] = &[
    ("ApiEvents | count", r#"
Count:long
11
"#),
    ("ApiEvents | where Status == 401 | count", r#"
Count:long
2
"#),
    ("ApiEvents | where Status != 200 | project Path, Status", r#"
Path:string | Status:long
/admin/../etc/passwd | 400
/api/v1/login | 401
/api/v1/login | 401
/api/v1/orders/7 | 403
/api/v1/search | 500
/api/v1/users/3 | 404
"#),
    ("ApiEvents | where Status >= 400 and Status < 500 | project Status", r#"
Status:long
400
401
401
403
404
"#),
    ("ApiEvents | where Status > 401 or Method == \"DELETE\" | project Method, Status", r#"
Method:string | Status:long
DELETE | 403
GET | 404
GET | 500
"#),
    ("ApiEvents | where not(Status == 200) | count", r#"
Count:long
6
"#),
    ("ApiEvents | where Path has \"orders\" | project Path", r#"
Path:string
/api/v1/orders
/api/v1/orders/7
/api/v1/orders/7
"#),
    ("ApiEvents | where Path has \"order\" | count", r#"
Count:long
0
"#),
    ("ApiEvents | where Path contains \"ORDER\" | count", r#"
Count:long
3
"#),
    ("ApiEvents | where Path !contains \"api\" | project Path", r#"
Path:string
/admin/../etc/passwd
"#),
    ("ApiEvents | where Path startswith \"/API/V1/USERS\" | count", r#"
Count:long
3
"#),
    ("ApiEvents | where Path endswith \"/7\" | project Method, Path", r#"
Method:string | Path:string
DELETE | /api/v1/orders/7
GET | /api/v1/orders/7
"#),
    ("ApiEvents | where UserAgent matches regex \"^(curl|sqlmap)/[0-9]\" | summarize count() by UserAgent", r#"
UserAgent:string | count_:long
curl/8.5 | 6
sqlmap/1.7 | 2
"#),
    ("ApiEvents | where ClientIp in (\"192.0.2.10\", \"2001:db8::7\") | count", r#"
Count:long
5
"#),
    ("ApiEvents | where ClientIp !in (\"192.0.2.10\") | count", r#"
Count:long
8
"#),
    ("ApiEvents | where LatencyUs between (2000 .. 6000) | project LatencyUs", r#"
LatencyUs:long
2000
3000
4000
5000
6000
"#),
    ("ApiEvents | where LatencyUs !between (2000 .. 6000) | count", r#"
Count:long
5
"#),
    ("ApiEvents | where Timestamp > ago(2h) | project Path", r#"
Path:string
/admin/../etc/passwd
/api/v1/orders/7
/api/v1/orders/7
/api/v1/search
"#),
    ("ApiEvents | where Timestamp >= datetime(2023-11-14T21:13:20Z) | count", r#"
Count:long
5
"#),
    ("ApiEvents | where Timestamp < now() - 2h | count", r#"
Count:long
6
"#),
    ("ApiEvents | where isnull(Principal) | project ClientIp, Path", r#"
ClientIp:string | Path:string
2001:db8::7 | /admin/../etc/passwd
2001:db8::7 | /api/v1/search
203.0.113.9 | /api/v1/login
203.0.113.9 | /api/v1/login
"#),
    ("ApiEvents | where isnotempty(Principal) | summarize dcount(Principal)", r#"
dcount_Principal:long
2
"#),
    ("ApiEvents | project Method, Path | take 3", r#"
Method:string | Path:string
DELETE | /api/v1/orders/7
GET | /admin/../etc/passwd
GET | /api/v1/orders
"#),
    ("ApiEvents | take 2 | project Path", r#"
Path:string
/admin/../etc/passwd
/api/v1/search
"#),
    ("ApiEvents | sort by LatencyUs desc | project LatencyUs | take 3", r#"
LatencyUs:long
30000
20000
10000
"#),
    ("ApiEvents | sort by LatencyUs asc | take 2 | project LatencyUs", r#"
LatencyUs:long
null
700
"#),
    ("ApiEvents | top 2 by ResponseBytes | project Path, ResponseBytes", r#"
Path:string | ResponseBytes:long
/api/v1/orders/7 | 3000
/api/v1/orders | 2000
"#),
    ("ApiEvents | sort by Method asc, Timestamp desc | project Method, Path | take 4", r#"
Method:string | Path:string
DELETE | /api/v1/orders/7
GET | /admin/../etc/passwd
GET | /api/v1/search
GET | /api/v1/orders/7
"#),
    ("ApiEvents | summarize count() by ClientIp", r#"
ClientIp:string | count_:long
192.0.2.10 | 3
2001:db8::7 | 2
203.0.113.9 | 6
"#),
    ("ApiEvents | summarize n = count(), bytes = sum(ResponseBytes) by ClientIp | sort by n desc", r#"
ClientIp:string | n:long | bytes:long
203.0.113.9 | 6 | 3250
192.0.2.10 | 3 | 5000
2001:db8::7 | 2 | 10
"#),
    ("ApiEvents | summarize avg(LatencyUs)", r#"
avg_LatencyUs:real
8170.0
"#),
    ("ApiEvents | summarize min(LatencyUs), max(LatencyUs), min(Path), max(Path)", r#"
min_LatencyUs:long | max_LatencyUs:long | min_Path:string | max_Path:string
700 | 30000 | /admin/../etc/passwd | /api/v1/users/3
"#),
    ("ApiEvents | summarize percentile(LatencyUs, 50)", r#"
percentile_LatencyUs_50:long
4000
"#),
    ("ApiEvents | summarize p90 = percentile(LatencyUs, 90), p0 = percentile(LatencyUs, 0), p100 = percentile(LatencyUs, 100)", r#"
p90:long | p0:long | p100:long
20000 | 700 | 30000
"#),
    ("ApiEvents | summarize p = percentile(LatencyUs, 50) by ClientIp", r#"
ClientIp:string | p:long
192.0.2.10 | 20000
2001:db8::7 | 700
203.0.113.9 | 3000
"#),
    ("ApiEvents | summarize make_set(Method) by ClientIp", r#"
ClientIp:string | make_set_Method:dynamic
192.0.2.10 | ["DELETE","GET"]
2001:db8::7 | ["GET"]
203.0.113.9 | ["GET","POST"]
"#),
    ("ApiEvents | summarize count() by bin(Timestamp, 1h)", r#"
Timestamp:datetime | count_:long
2023-11-14T22:00:00.000Z | 2
2023-11-14T21:00:00.000Z | 3
2023-11-14T20:00:00.000Z | 6
"#),
    ("ApiEvents | summarize c = countif(Status >= 400) by Method", r#"
Method:string | c:long
DELETE | 1
GET | 3
POST | 2
"#),
    ("ApiEvents | extend Slow = LatencyUs > 5000 | where Slow | count", r#"
Count:long
4
"#),
    ("ApiEvents | extend Kb = ResponseBytes / 1000 | summarize sum(Kb)", r#"
sum_Kb:long
7
"#),
    ("ApiEvents | extend Ms = LatencyUs / 1000.0 | where Ms > 15 | project Ms", r#"
Ms:real
20.0
30.0
"#),
    ("ApiEvents | extend Age = now() - Timestamp | top 1 by Age | project Age", r#"
Age:timespan
03:00:00
"#),
    ("ApiEvents | project Hour = bin(Timestamp, 1h) | distinct Hour", r#"
Hour:datetime
2023-11-14T20:00:00.000Z
2023-11-14T21:00:00.000Z
2023-11-14T22:00:00.000Z
"#),
    ("ApiEvents | distinct ClientIp, Method", r#"
ClientIp:string | Method:string
192.0.2.10 | DELETE
192.0.2.10 | GET
2001:db8::7 | GET
203.0.113.9 | GET
203.0.113.9 | POST
"#),
    ("ApiEvents | where Method == \"DELETE\" | project-away Query, UserAgent, Host, SourceFormat, Kind, EventId, RequestBytes, ApiKeyId, Service", r#"
Timestamp:datetime | ClientIp:string | Method:string | Path:string | Status:long | ResponseBytes:long | LatencyUs:long | Principal:string
2023-11-14T21:43:20.000Z | 192.0.2.10 | DELETE | /api/v1/orders/7 | 403 | 0 | 30000 | bob
"#),
    ("ApiEvents | where Status == 200 | summarize Paths = dcount(Path) by Principal", r#"
Principal:string | Paths:long
alice | 3
bob | 2
"#),
    ("let threshold = 2; ApiEvents | summarize n = count() by ClientIp | where n > threshold | project ClientIp", r#"
ClientIp:string
192.0.2.10
203.0.113.9
"#),
    ("let since = ago(90m); ApiEvents | where Timestamp >= since | count", r#"
Count:long
3
"#),
    ("let bad = \"SQLMAP\"; ApiEvents | where UserAgent has bad | count", r#"
Count:long
2
"#),
    ("ApiEvents | where tolower(Method) == \"get\" | count", r#"
Count:long
7
"#),
    ("ApiEvents | extend L = strlen(Path) | top 1 by L | project Path, L", r#"
Path:string | L:long
/admin/../etc/passwd | 20
"#),
    ("ApiEvents | extend Tier = iff(Status >= 400, \"error\", \"ok\") | summarize count() by Tier", r#"
Tier:string | count_:long
error | 6
ok | 5
"#),
    ("ApiEvents | where Method =~ \"post\" | count", r#"
Count:long
3
"#),
    ("ApiEvents | where Query has \"OR\" | project ClientIp", r#"
ClientIp:string
2001:db8::7
"#),
    ("ApiEvents | where Query has \"1=1\" | count", r#"
Count:long
1
"#),
    ("Alerts | project Detector, Severity, Title", r#"
Detector:string | Severity:string | Title:string
bola | Medium | bola fired
content_inspection | Critical | content_inspection fired
credential_stuffing | High | credential_stuffing fired
"#),
    ("Alerts | summarize count() by Severity", r#"
Severity:string | count_:long
Critical | 1
High | 1
Medium | 1
"#),
    ("Alerts | where Severity in (\"High\", \"Critical\") | project Detector, Timestamp", r#"
Detector:string | Timestamp:datetime
content_inspection | 2023-11-14T22:03:20.000Z
credential_stuffing | 2023-11-14T20:13:20.000Z
"#),
    ("Incidents | project Title, Severity, Priority, AlertCount, Status", r#"
Title:string | Severity:string | Priority:long | AlertCount:long | Status:string
Credential stuffing from 203.0.113.9 | High | 80 | 1 | Active
SQL injection from 2001:db8::7 | Critical | 95 | 1 | Active
"#),
    ("Incidents | where Priority > 90 | project Title, FirstActivity", r#"
Title:string | FirstActivity:datetime
SQL injection from 2001:db8::7 | 2023-11-14T21:03:20.000Z
"#),
    ("Entities | summarize count() by Kind", r#"
Kind:string | count_:long
endpoint | 1
ip | 2
user | 1
"#),
    ("Entities | where Kind == \"ip\" | join kind=inner (Incidents | project IncidentId, Title) on IncidentId | project Value, Title", r#"
Value:string | Title:string
2001:db8::7 | SQL injection from 2001:db8::7
203.0.113.9 | Credential stuffing from 203.0.113.9
"#),
    ("Alerts | join kind=inner (Incidents | project IncidentId, Priority) on IncidentId | project Detector, Priority", r#"
Detector:string | Priority:long
bola | 80
content_inspection | 95
credential_stuffing | 80
"#),
    ("Entities | where Kind == \"ip\" | project ClientIp = Value | join kind=inner (ApiEvents | summarize n = count() by ClientIp) on ClientIp | project ClientIp, n", r#"
ClientIp:string | n:long
2001:db8::7 | 2
203.0.113.9 | 6
"#),
    ("Alerts | project IncidentId, Severity | join kind=inner (Incidents | project IncidentId, Severity) on IncidentId | project Severity, Severity1", r#"
Severity:string | Severity1:string
Critical | Critical
High | High
Medium | High
"#),
    ("Actions | project Kind, Target, Status, RequestedBy", r#"
Kind:string | Target:string | Status:string | RequestedBy:string
block_ip | 203.0.113.9 | active | token:alice
disable_principal | alice | pending_approval | user:carol
"#),
    ("Actions | where Status == \"active\" | project Target, ExpiresAt", r#"
Target:string | ExpiresAt:datetime
203.0.113.9 | 2023-11-15T22:13:20.000Z
"#),
    ("AuditLog | summarize count() by Action", r#"
Action:string | count_:long
action.create | 2
incident.comment | 1
incident.update | 1
"#),
    ("AuditLog | where Actor startswith \"user:\" | project Actor, Action, ObjectId", r#"
Actor:string | Action:string | ObjectId:string
user:carol | action.create | 2
user:carol | incident.update | A
user:dave | incident.comment | B
"#),
    ("ApiEvents | summarize First = min(Timestamp), Last = max(Timestamp)", r#"
First:datetime | Last:datetime
2023-11-14T20:13:20.000Z | 2023-11-14T22:43:20.000Z
"#),
    ("ApiEvents | summarize Total = sum(LatencyUs) by Method | sort by Total asc", r#"
Method:string | Total:long
POST | 6000
DELETE | 30000
GET | 45700
"#),
    ("ApiEvents | where Status in (401, 403, 404) | summarize make_set(Status)", r#"
make_set_Status:dynamic
[401,403,404]
"#),
    ("ApiEvents | where ClientIp == \"203.0.113.9\" | summarize First = min(Timestamp), Last = max(Timestamp) | extend Span = Last - First | project Span", r#"
Span:timespan
00:30:02
"#),
    ("ApiEvents | where Path matches regex \"/users/[0-9]+$\" | project Path", r#"
Path:string
/api/v1/users/1
/api/v1/users/2
/api/v1/users/3
"#),
    ("ApiEvents | summarize n = count() by Status | top 1 by n", r#"
Status:long | n:long
200 | 5
"#),
    ("ApiEvents | where Status == 999", r#"
Timestamp:datetime | EventId:long | ClientIp:string | Method:string | Host:string | Path:string | Query:string | Status:long | RequestBytes:long | ResponseBytes:long | LatencyUs:long | UserAgent:string | Principal:string | ApiKeyId:string | Service:string | Kind:string | SourceFormat:string
"#),
    ("ApiEvents | where Status == 999 | summarize count(), sum(LatencyUs)", r#"
count_:long | sum_LatencyUs:long
0 | null
"#),
    ("ApiEvents | where Timestamp between (ago(2h) .. ago(90m)) | count", r#"
Count:long
3
"#),
    ("ApiEvents | extend D = Timestamp + 1d | top 1 by D | project D", r#"
D:datetime
2023-11-15T22:43:20.000Z
"#),
    ("ApiEvents | summarize count() by bin(LatencyUs, 10000)", r#"
LatencyUs:long | count_:long
null | 1
0 | 7
10000 | 1
20000 | 1
30000 | 1
"#),
    ("ApiEvents | where Host == \"api.example.com\" | take 100 | count", r#"
Count:long
11
"#),
    ("ApiEvents | order by Timestamp asc | take 1 | project Path", r#"
Path:string
/api/v1/login
"#),
    ("ApiEvents | where Path < \"/api/v1/p\" | summarize make_set(Path)", r#"
make_set_Path:dynamic
["/admin/../etc/passwd","/api/v1/login","/api/v1/orders","/api/v1/orders/7"]
"#),
    ("ApiEvents | extend Flag = Status == 200 | summarize count() by Flag", r#"
Flag:bool | count_:long
false | 6
true | 5
"#),
    ("ApiEvents | extend Bucket = LatencyUs % 3000 | where Bucket == 0 | project LatencyUs", r#"
LatencyUs:long
3000
6000
30000
"#),
    ("ApiEvents | summarize Avg = avg(ResponseBytes) by Principal", r#"
Principal:string | Avg:real
null | 70.0
alice | 762.5
bob | 1666.6666666666667
"#),
    ("ApiEvents | where toupper(Principal) == \"BOB\" | summarize max(Timestamp)", r#"
max_Timestamp:datetime
2023-11-14T21:43:20.000Z
"#),
];
