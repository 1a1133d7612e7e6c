//! What a test does when the service it needs (a PostgreSQL server) is not configured: skip
//! with one line on a developer's machine, fail under CI (`CI` set), so a CI run can never pass
//! a suite it did not run.

/// Whether the environment variable `CI` (as its value) marks a CI run: set, non-empty and
/// not `0` or `false`.
pub fn is_ci(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        let v = v.trim();
        !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false")
    })
}

/// The verdict for a test whose service is missing: `Ok(line)` to print and skip, `Err(msg)`
/// to fail with, under CI.
pub fn missing_verdict(case: &str, missing: &str, ci: Option<&str>) -> Result<String, String> {
    if is_ci(ci) {
        Err(format!(
            "{case}: {missing} and CI is set: a CI run must provide the service, not skip the test"
        ))
    } else {
        Ok(format!("skipped {case}: {missing}"))
    }
}

/// Skip (print one line and return) or, under CI, panic: call it where a test finds its
/// service not configured, then return from the test.
pub fn skip_or_fail(case: &str, missing: &str) {
    let ci = std::env::var("CI").ok();
    match missing_verdict(case, missing, ci.as_deref()) {
        Ok(line) => println!("{line}"),
        Err(msg) => panic!("{msg}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_service_fails_only_under_ci() {
        let check = |ci: Option<&str>, fails: bool| {
            let v = missing_verdict("case", "RAMPART_TEST_POSTGRES_URL not set", ci);
            assert_eq!(v.is_err(), fails, "CI={ci:?}: {v:?}");
        };
        check(None, false);
        check(Some(""), false);
        check(Some("0"), false);
        check(Some("false"), false);
        check(Some("FALSE"), false);
        check(Some("1"), true);
        check(Some("true"), true);
        check(Some("yes"), true);
    }
}
