//! Steady state: once its buffers have grown, a visit allocates nothing (counted by a
//! global allocator wrapper, per thread), except the one small bracket stack `serde_json`
//! allocates when it validates a nested JSON body: once per request, never per value.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use rampart_inspect::{Flow, InspectConfig, Inspector};
use rampart_model::ApiEvent;

mod support;

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: defers to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> usize {
    ALLOCS.with(Cell::get)
}

fn body(ct: &'static str, body: &'static str) -> ApiEvent<'static> {
    ApiEvent {
        method: "POST".into(),
        path: "/api/v1/items/%27x".into(),
        query: "q=%3Cscript%3E&page=2&b=PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==".into(),
        user_agent: "Mozilla/5.0 (X11; Linux x86_64)".into(),
        request_headers: vec![
            ("content-type".into(), ct.into()),
            ("cookie".into(), "sid=abc; pref=%3Cb%3E".into()),
        ],
        request_body: Some(body.into()),
        ..Default::default()
    }
}

#[test]
fn a_visit_in_steady_state_does_not_allocate() {
    let mut events = vec![
        body("application/json", r#"{"a":{"b":["x\u0027--",{"c":"<img>"}]},"query":"{ q }"}"#),
        body("application/x-www-form-urlencoded", "a=1+2&b=%27%2527&c=&#x3c;"),
        body(
            "multipart/form-data; boundary=b",
            "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.php\"\r\n\r\n<?php ?>\r\n--b--\r\n",
        ),
        body("text/xml", "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///\">]><r a=\"1'\"><b>&e;</b></r>"),
        body("text/plain", "hello world /*!50000select*/"),
        body("application/json", "{\"broken\": "),
    ];
    events.extend(support::hostile().into_iter().map(|(_, ev)| ev));
    let mut inspector = Inspector::new(InspectConfig::default());
    let mut total = 0usize;
    let mut visit = |inspector: &mut Inspector, ev: &ApiEvent<'_>| {
        inspector.visit(ev, &mut |v| {
            total += v.folded.len() + v.base64.map_or(0, str::len);
            Flow::Continue
        });
    };
    for ev in &events {
        visit(&mut inspector, ev);
    }
    for ev in &events {
        let before = allocs();
        visit(&mut inspector, ev);
        let json = ev
            .request_header("content-type")
            .is_some_and(|ct| ct.contains("json"));
        let allowed = usize::from(json);
        let body = ev.request_body.as_deref().unwrap_or("");
        assert!(
            allocs() - before <= allowed,
            "{} allocations visiting {:?}",
            allocs() - before,
            &body[..body.len().min(40)]
        );
    }
    assert!(total > 0);
}
