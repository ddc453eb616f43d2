//! Fuzzes the Cloud Logging query parser through its public entry point,
//! `Query::parse`. Checks: no panic, no stack overflow on deep nesting, and
//! an error always names a column inside the input (plus one for "at end").
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice::logging_query::Query;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    match Query::parse(src) {
        Ok(q) => assert_eq!(q.source(), src),
        Err(e) => {
            let chars = src.chars().count();
            assert!(
                e.column >= 1 && e.column <= chars + 1,
                "column {} outside 1..={}",
                e.column,
                chars + 1
            );
        }
    }
});
