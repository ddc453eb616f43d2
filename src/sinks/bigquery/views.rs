//! Views that read each entry once: one row per `insertId`.
//!
//! Rows can repeat in a table. insertAll de-duplicates by `insertId` only
//! on a best-effort basis (about a minute), and sluice delivers at least
//! once: a crash between BigQuery accepting a request and the source
//! saving its checkpoint sends those rows again (at most the requests in
//! flight, `concurrency` x `batch_max_rows`, per sink). Every repeat keeps
//! its original's `insertId`, so a view that keeps the first-received row
//! of each `insertId` reads every entry exactly once.
//!
//! The view of table `T` is `dedup_T`; for sharded tables (`T_YYYYMMDD`)
//! one view `dedup_T` reads every shard. A prefix, not a suffix: a
//! wildcard query over `T_*` must not match the view, since BigQuery
//! refuses wildcard queries that match a view.

use super::config::Partitioning;

/// Names of the views sluice manages start with this.
pub(crate) const PREFIX: &str = "dedup_";

/// The view over `base` (the table, or the name its shards share).
pub(crate) fn view_name(base: &str) -> String {
    format!("{PREFIX}{base}")
}

/// The view's query, in GoogleSQL.
pub(crate) fn view_query(
    project: &str,
    dataset: &str,
    base: &str,
    partitioning: Partitioning,
) -> String {
    // `timestamp` in the window's partition changes nothing (a repeat
    // carries its original's timestamp) but lets a query on the view that
    // filters on `timestamp` have the filter applied below the window, so
    // BigQuery can prune day partitions instead of reading the table.
    let keep_first = "QUALIFY ROW_NUMBER() OVER \
        (PARTITION BY insertId, timestamp ORDER BY receiveTimestamp) = 1";
    match partitioning {
        Partitioning::Day => {
            format!("SELECT * FROM `{project}.{dataset}.{base}` WHERE TRUE {keep_first}")
        }
        // Only the day shards: another log's table may share the prefix
        // (`stdout_errors` next to `stdout`).
        Partitioning::Sharded => format!(
            "SELECT * FROM `{project}.{dataset}.{base}_*` \
             WHERE REGEXP_CONTAINS(_TABLE_SUFFIX, r'^[0-9]{{8}}$') {keep_first}"
        ),
    }
}

/// `CREATE OR REPLACE VIEW` for `base`, as `sluice bigquery-views` prints it.
pub(crate) fn view_ddl(
    project: &str,
    dataset: &str,
    base: &str,
    partitioning: Partitioning,
) -> String {
    format!(
        "CREATE OR REPLACE VIEW `{project}.{dataset}.{}` AS\n{};",
        view_name(base),
        view_query(project, dataset, base, partitioning)
    )
}

/// The base of a table the sink writes: the table itself, or for a shard
/// (`T_YYYYMMDD`) the name before the day. `None` for sluice's own views
/// and, with sharding, for tables that are not shards.
pub(crate) fn base_of(table: &str, partitioning: Partitioning) -> Option<&str> {
    if table.starts_with(PREFIX) {
        return None;
    }
    match partitioning {
        Partitioning::Day => Some(table),
        Partitioning::Sharded => {
            let (base, day) = table.rsplit_once('_')?;
            (day.len() == 8 && day.bytes().all(|b| b.is_ascii_digit()) && !base.is_empty())
                .then_some(base)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_are_named_so_no_wildcard_over_the_tables_matches_them() {
        assert_eq!(view_name("stdout"), "dedup_stdout");
        assert!(!view_name("stdout").starts_with("stdout_"));
        assert_eq!(base_of("stdout", Partitioning::Day), Some("stdout"));
        assert_eq!(
            base_of("stdout_20251130", Partitioning::Sharded),
            Some("stdout")
        );
        assert_eq!(base_of("a_b_20251130", Partitioning::Sharded), Some("a_b"));
        assert_eq!(base_of("stdout_errors", Partitioning::Sharded), None);
        assert_eq!(base_of("_20251130", Partitioning::Sharded), None);
        assert_eq!(base_of("dedup_stdout", Partitioning::Day), None);
    }

    #[test]
    fn the_query_keeps_the_first_received_row_of_each_insert_id() {
        let q = view_query("p", "d", "stdout", Partitioning::Day);
        assert_eq!(
            q,
            "SELECT * FROM `p.d.stdout` WHERE TRUE QUALIFY ROW_NUMBER() OVER \
             (PARTITION BY insertId, timestamp ORDER BY receiveTimestamp) = 1"
        );
        let q = view_query("p", "d", "stdout", Partitioning::Sharded);
        assert!(q.starts_with("SELECT * FROM `p.d.stdout_*` WHERE REGEXP_CONTAINS(_TABLE_SUFFIX, r'^[0-9]{8}$') QUALIFY"), "{q}");
        assert!(view_ddl("p", "d", "stdout", Partitioning::Day)
            .starts_with("CREATE OR REPLACE VIEW `p.d.dedup_stdout` AS\nSELECT"));
    }
}
