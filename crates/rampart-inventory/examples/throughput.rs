//! Rough throughput of the hot-path functions: `cargo run --release --example throughput`.

use std::hint::black_box;
use std::time::Instant;

use rampart_inventory::endpoints::{Inventory, InventoryConfig};
use rampart_inventory::{sensitive, template, values};
use rampart_model::{ApiEvent, Timestamp};

fn main() {
    let paths = [
        "/api/v1/users",
        "/api/v1/users/12345/orders",
        "/api/v1/orders/3f2504e0-4f89-11d3-9a0c-0305e82c3301",
        "/static/js/app.min.js",
        "/api/v2/accounts/acct_8f3k2x9/statements/2024-01-15",
    ];
    let n = 2_000_000;
    let t = Instant::now();
    let mut borrowed = 0usize;
    for i in 0..n {
        let tpl = template::path_template(black_box(paths[i % paths.len()]));
        borrowed += matches!(tpl, std::borrow::Cow::Borrowed(_)) as usize;
    }
    let el = t.elapsed();
    println!(
        "path_template: {:.0} ns/path ({borrowed} borrowed of {n})",
        el.as_nanos() as f64 / n as f64
    );

    let vals = [
        "42",
        "alice@example.com",
        "true",
        "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
        "hello",
    ];
    let t = Instant::now();
    for i in 0..n {
        black_box(values::classify_value(black_box(vals[i % vals.len()])));
    }
    println!(
        "classify_value: {:.0} ns/value",
        t.elapsed().as_nanos() as f64 / n as f64
    );

    let body: String = (0..400)
        .map(|i| format!(r#"{{"id":{i},"name":"User {i}","email":"user{i}@example.com","order":"4111111111111112"}},"#))
        .collect();
    let reps = 2_000;
    let t = Instant::now();
    for _ in 0..reps {
        black_box(sensitive::scan(black_box(&body)));
    }
    let el = t.elapsed();
    println!(
        "sensitive::scan: {:.0} MB/s on a {} byte JSON body",
        (body.len() * reps) as f64 / el.as_secs_f64() / 1e6,
        body.len()
    );

    let mut inv = Inventory::new(InventoryConfig::default());
    let evs: Vec<ApiEvent<'static>> = (0..1000)
        .map(|i| ApiEvent {
            ts: Timestamp::from_secs(i),
            host: "api.example".into(),
            method: "GET".into(),
            path: format!("/api/v1/users/{i}/orders").into(),
            query: "page=2&sort=desc".into(),
            status: 200,
            authenticated: true,
            ..Default::default()
        })
        .collect();
    let t = Instant::now();
    for i in 0..n {
        inv.observe(&evs[i % evs.len()]);
    }
    println!(
        "Inventory::observe: {:.0} ns/event",
        t.elapsed().as_nanos() as f64 / n as f64
    );
}
