//! Cost of `Inspector::visit`: a typical access-log event, a 2 KB JSON body, a 2 KB form body
//! and the hostile requests of the tests. Median of 5 runs, ns/request and MB/s of request
//! bytes (path, query, headers, body as given).

use std::hint::black_box;
use std::time::Instant;

use rampart_inspect::{Flow, InspectConfig, Inspector};
use rampart_model::ApiEvent;

#[path = "../tests/support/mod.rs"]
mod support;

fn typical() -> ApiEvent<'static> {
    ApiEvent {
        method: "GET".into(),
        path: "/api/v1/users/12345/orders".into(),
        query: "page=2&sort=created_at&q=blue%20shoes".into(),
        user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36".into(),
        referer: "https://shop.example.com/search?q=blue+shoes".into(),
        ..Default::default()
    }
}

fn with_body(ct: &'static str, body: String) -> ApiEvent<'static> {
    ApiEvent {
        method: "POST".into(),
        path: "/api/v1/orders".into(),
        request_headers: vec![("content-type".into(), ct.into())],
        request_body: Some(body.into()),
        ..typical()
    }
}

fn json_2k() -> ApiEvent<'static> {
    let mut items = Vec::new();
    let mut i = 0;
    while items.iter().map(|s: &String| s.len() + 1).sum::<usize>() < 1_900 {
        items.push(format!(
            r#"{{"sku":"SKU-{i:05}","name":"Blue running shoe size {i}","qty":{i},"note":"gift wrap, please"}}"#
        ));
        i += 1;
    }
    with_body(
        "application/json",
        format!(
            r#"{{"customer":{{"id":"c-981","email":"a@example.com"}},"items":[{}]}}"#,
            items.join(",")
        ),
    )
}

fn form_2k() -> ApiEvent<'static> {
    let mut pairs = Vec::new();
    let mut i = 0;
    while pairs.iter().map(|s: &String| s.len() + 1).sum::<usize>() < 2_000 {
        pairs.push(format!("field{i}=some+value+number+{i}%21&id{i}={i}"));
        i += 1;
    }
    with_body("application/x-www-form-urlencoded", pairs.join("&"))
}

fn size(ev: &ApiEvent<'_>) -> usize {
    ev.path.len()
        + ev.query.len()
        + ev.user_agent.len()
        + ev.referer.len()
        + ev.request_headers
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>()
        + ev.request_body.as_ref().map_or(0, |b| b.len())
}

fn bench(name: &str, ev: &ApiEvent<'_>) {
    let mut inspector = Inspector::new(InspectConfig::default());
    let mut sink = 0usize;
    let mut visit = |inspector: &mut Inspector| {
        let stats = inspector.visit(black_box(ev), &mut |v| {
            sink = sink.wrapping_add(v.folded.len());
            Flow::Continue
        });
        black_box(stats);
    };
    // calibrate: enough iterations for ~100 ms a run
    let start = Instant::now();
    let mut calib = 0u32;
    while start.elapsed().as_millis() < 20 {
        visit(&mut inspector);
        calib += 1;
    }
    let iters = (calib * 5).max(1);
    let mut runs: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                visit(&mut inspector);
            }
            t.elapsed().as_nanos() as f64 / f64::from(iters)
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    let ns = runs[2];
    let bytes = size(ev);
    let mbs = bytes as f64 / ns * 1e9 / 1e6;
    println!("{name:<22} {bytes:>9} B {ns:>12.0} ns/request {mbs:>9.1} MB/s");
    black_box(sink);
}

/// `cargo bench -p rampart-inspect --bench inspect -- json` runs only the cases whose name
/// contains `json`.
fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut cases = vec![
        ("typical_access_log", typical()),
        ("json_2k", json_2k()),
        ("form_2k", form_2k()),
    ];
    cases.extend(support::hostile());
    for (name, ev) in &cases {
        if filter.as_deref().is_none_or(|f| name.contains(f)) {
            bench(name, ev);
        }
    }
}
