//! The audit log's hash chain, on SQLite and PostgreSQL: appends link up (also when many
//! tasks, or two nodes, append at once), verification pins tampering to the first row
//! touched, and the filter API lists the right rows newest first.
//!
//! PostgreSQL runs when `VEILBOX_TEST_POSTGRES_URL` is set; each test gets its own scratch
//! database. Without it, the PostgreSQL half prints that it was skipped.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::collections::BTreeSet;
use std::time::Duration;

use veilbox_store::audit::{AuditEntry, AuditFilter, AuditRow, ChainBreak, ChainHead, GENESIS};
use veilbox_store::scratch::ScratchDatabase;
use veilbox_store::Store;

/// A fresh, migrated database of one backend.
struct Db {
    store: Store,
    url: String,
    _keep: Keep,
}

enum Keep {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(Option<ScratchDatabase>),
}

impl Drop for Keep {
    fn drop(&mut self) {
        if let Keep::Postgres(scratch) = self {
            if let Some(scratch) = scratch.take() {
                // Best effort: a leftover scratch database is harmless.
                let _ = std::thread::spawn(move || {
                    tokio::runtime::Runtime::new().map(|rt| rt.block_on(scratch.drop_database()))
                })
                .join();
            }
        }
    }
}

impl Db {
    async fn sqlite() -> Option<Db> {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("audit.db").display());
        Some(Self::open(url, Keep::Sqlite(dir)).await)
    }

    async fn postgres() -> Option<Db> {
        let Ok(server) = std::env::var("VEILBOX_TEST_POSTGRES_URL") else {
            println!("SKIPPED on PostgreSQL: VEILBOX_TEST_POSTGRES_URL is not set");
            eprintln!("SKIPPED on PostgreSQL: VEILBOX_TEST_POSTGRES_URL is not set");
            return None;
        };
        let scratch = ScratchDatabase::create(&server)
            .await
            .expect("create a scratch PostgreSQL database");
        let url = scratch.url.clone();
        Some(Self::open(url, Keep::Postgres(Some(scratch))).await)
    }

    async fn open(url: String, keep: Keep) -> Db {
        let store = Store::connect(&url).await.expect("connect");
        store.migrate().await.expect("migrate");
        Db {
            store,
            url,
            _keep: keep,
        }
    }

    /// Appends `n` rows `actor-<i>` / `test.append` with a reason; returns them in order.
    async fn append(&self, n: usize) -> Vec<AuditRow> {
        let mut rows = Vec::with_capacity(n);
        for i in 0..n {
            let actor = format!("actor-{i}");
            let reason = format!("reason number {i}");
            let row = self
                .store
                .audit(&AuditEntry {
                    actor: &actor,
                    action: "test.append",
                    target: Some("conversation-1"),
                    reason: Some(&reason),
                    address: Some("192.0.2.7"),
                    user_agent: Some("audit-test/1"),
                })
                .await
                .expect("append");
            rows.push(row);
        }
        rows
    }

    async fn verify(&self) -> Result<ChainHead, ChainBreak> {
        self.store
            .verify_audit_chain()
            .await
            .expect("verification runs")
    }

    /// Runs one statement of tampering, as someone with write access to the database would.
    async fn exec(&self, sql: &str, binds: &[Bind<'_>]) {
        let mut query = sqlx::query(sql);
        for bind in binds {
            query = match *bind {
                Bind::Int(v) => query.bind(v),
                Bind::Text(v) => query.bind(v),
            };
        }
        let done = query.execute(self.store.pool()).await.expect("tamper");
        assert_eq!(done.rows_affected(), 1, "{sql} touched exactly one row");
    }

    async fn all_rows(&self) -> Vec<AuditRow> {
        self.store
            .audit_rows(&AuditFilter::default(), 100_000)
            .await
            .expect("list")
    }
}

enum Bind<'a> {
    Int(i64),
    Text(&'a str),
}

/// The same text with the lowest bit of its first byte flipped (`r` becomes `s`).
fn flip_one_byte(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    bytes[0] ^= 1;
    String::from_utf8(bytes).expect("ASCII stays ASCII")
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = super::Db::sqlite().await {
                        super::$name(db).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = super::Db::postgres().await {
                        super::$name(db).await;
                    }
                }
            )*
        }
    };
}

on_both_backends!(
    empty_log_verifies_at_genesis,
    appended_rows_verify_and_the_head_is_the_last_hash,
    concurrent_appends_form_one_gap_free_chain,
    two_pools_appending_at_once_form_one_chain,
    appends_succeed_while_other_writes_commit,
    flipped_byte_in_reason_is_reported_changed_at_that_row,
    flipped_byte_in_actor_is_reported_changed_at_that_row,
    deleted_middle_row_is_reported_missing,
    deleted_first_row_is_reported_missing,
    swapped_adjacent_rows_are_reported_at_the_first,
    swapped_distant_rows_are_reported_at_the_first,
    swapped_first_two_rows_are_reported_at_the_first,
    consistently_rewritten_row_breaks_the_link_of_the_next,
    filters_list_the_right_rows_newest_first,
    paging_backwards_visits_every_row_once,
);

async fn empty_log_verifies_at_genesis(db: Db) {
    assert_eq!(
        db.verify().await,
        Ok(ChainHead {
            rows: 0,
            hash: GENESIS.to_owned()
        })
    );
}

async fn appended_rows_verify_and_the_head_is_the_last_hash(db: Db) {
    const N: usize = 25;
    let rows = db.append(N).await;

    // Each returned row is numbered from 1 and points at the one before it.
    let mut prev = GENESIS.to_owned();
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.seq, i as i64 + 1);
        assert_eq!(
            row.prev_hash, prev,
            "row {} links to its predecessor",
            row.seq
        );
        assert_eq!(row.hash, row.expected_hash(&row.prev_hash));
        assert_eq!(row.hash.len(), 64, "a hex SHA-256");
        prev = row.hash.clone();
    }
    // What was stored is what `audit` returned.
    let mut stored = db.all_rows().await;
    stored.reverse();
    assert_eq!(stored, rows);

    let head = db.verify().await.expect("an untouched chain is intact");
    assert_eq!(head.rows, N as i64);
    assert_eq!(head.hash, rows[N - 1].hash);

    // Appending more moves the head on.
    let more = db.append(1).await;
    let head = db.verify().await.expect("still intact");
    assert_eq!(head.rows, N as i64 + 1);
    assert_eq!(head.hash, more[0].hash);
    assert_eq!(more[0].prev_hash, rows[N - 1].hash);
}

const TASKS: usize = 8;
const PER_TASK: usize = 50;

/// Appends `PER_TASK` rows from each of `TASKS` tasks, task `t` using `stores[t % len]`.
async fn append_concurrently(stores: &[Store]) -> Vec<AuditRow> {
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let store = stores[t % stores.len()].clone();
        tasks.push(tokio::spawn(async move {
            let actor = format!("task-{t}");
            let mut rows = Vec::new();
            for i in 0..PER_TASK {
                let reason = format!("append {i} of task {t}");
                let row = store
                    .audit(&AuditEntry {
                        actor: &actor,
                        action: "test.concurrent",
                        reason: Some(&reason),
                        ..AuditEntry::default()
                    })
                    .await
                    .unwrap_or_else(|e| panic!("task {t} append {i}: {e}"));
                rows.push(row);
            }
            rows
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("task finished"));
    }
    all
}

/// The chain holds every appended row exactly once, numbered 1..=total without gaps, and
/// verifies.
async fn assert_one_chain(db: &Db, appended: &[AuditRow]) {
    let total = (TASKS * PER_TASK) as i64;
    assert_eq!(appended.len() as i64, total);
    let seqs: BTreeSet<i64> = appended.iter().map(|r| r.seq).collect();
    assert_eq!(seqs.len() as i64, total, "no two appends got the same seq");
    assert_eq!(seqs, (1..=total).collect::<BTreeSet<_>>(), "no gaps");

    let stored = db.all_rows().await;
    assert_eq!(stored.len() as i64, total);
    for task in 0..TASKS {
        let actor = format!("task-{task}");
        let mine = stored.iter().filter(|r| r.actor == actor).count();
        assert_eq!(mine, PER_TASK, "every append of {actor} is stored");
    }

    let head = db
        .verify()
        .await
        .expect("concurrent appends form an intact chain");
    assert_eq!(head.rows, total);
    let last = appended
        .iter()
        .max_by_key(|r| r.seq)
        .expect("at least one row");
    assert_eq!(head.hash, last.hash);
}

async fn concurrent_appends_form_one_gap_free_chain(db: Db) {
    let appended = append_concurrently(std::slice::from_ref(&db.store)).await;
    assert_one_chain(&db, &appended).await;
}

/// Two pools on one database, as two app nodes (or a node and `veilbox user add`) have:
/// the in-process lock does not cover the other pool.
async fn two_pools_appending_at_once_form_one_chain(db: Db) {
    let other_node = Store::connect(&db.url).await.expect("second pool");
    let appended = append_concurrently(&[db.store.clone(), other_node.clone()]).await;
    other_node.close().await;
    assert_one_chain(&db, &appended).await;
}

/// Other writers (the webhook ingestor, sign-ins) commit on other connections of the same
/// pool while audit rows are appended: no append may fail for it.
async fn appends_succeed_while_other_writes_commit(db: Db) {
    sqlx::query("CREATE TABLE other_writes (n BIGINT NOT NULL)")
        .execute(db.store.pool())
        .await
        .expect("create table");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for _ in 0..2 {
        let (pool, stop) = (db.store.pool().clone(), std::sync::Arc::clone(&stop));
        writers.push(tokio::spawn(async move {
            let mut n = 0_i64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                sqlx::query("INSERT INTO other_writes (n) VALUES ($1)")
                    .bind(n)
                    .execute(&pool)
                    .await
                    .expect("other write");
                n += 1;
            }
            n
        }));
    }
    let appended = append_concurrently(std::slice::from_ref(&db.store)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut other = 0;
    for writer in writers {
        other += writer.await.expect("writer finished");
    }
    assert!(other > 0, "the other writers did write meanwhile");
    assert_one_chain(&db, &appended).await;
}

async fn flipped_byte_in_reason_is_reported_changed_at_that_row(db: Db) {
    let rows = db.append(10).await;
    let victim = &rows[4];
    let reason = flip_one_byte(victim.reason.as_deref().expect("a reason"));
    db.exec(
        "UPDATE audit_log SET reason = $1 WHERE seq = $2",
        &[Bind::Text(&reason), Bind::Int(victim.seq)],
    )
    .await;

    assert_eq!(
        db.verify().await,
        Err(ChainBreak::Changed {
            seq: 5,
            id: victim.id.clone()
        })
    );
}

async fn flipped_byte_in_actor_is_reported_changed_at_that_row(db: Db) {
    let rows = db.append(10).await;
    // The last row: nothing after it links to it, so only its own hash can tell.
    let victim = &rows[9];
    let actor = flip_one_byte(&victim.actor);
    db.exec(
        "UPDATE audit_log SET actor = $1 WHERE seq = $2",
        &[Bind::Text(&actor), Bind::Int(victim.seq)],
    )
    .await;

    let broken = db.verify().await.expect_err("an edited actor is caught");
    assert_eq!(
        broken,
        ChainBreak::Changed {
            seq: 10,
            id: victim.id.clone()
        }
    );
    assert_eq!(
        broken.to_string(),
        format!(
            "row 10 (id {}) was changed: its hash does not match its contents",
            victim.id
        )
    );
}

async fn deleted_middle_row_is_reported_missing(db: Db) {
    db.append(10).await;
    db.exec("DELETE FROM audit_log WHERE seq = $1", &[Bind::Int(6)])
        .await;

    let broken = db.verify().await.expect_err("a deleted row is caught");
    assert_eq!(
        broken,
        ChainBreak::Missing {
            expected: 6,
            found: 7
        }
    );
    assert!(broken.to_string().contains("row 6 is missing"), "{broken}");
}

async fn deleted_first_row_is_reported_missing(db: Db) {
    db.append(3).await;
    db.exec("DELETE FROM audit_log WHERE seq = $1", &[Bind::Int(1)])
        .await;

    assert_eq!(
        db.verify().await,
        Err(ChainBreak::Missing {
            expected: 1,
            found: 2
        })
    );
}

/// Rows `a` and `b` trade places (their seq values swapped through a temporary one); each
/// keeps its own contents and hash.
async fn swap(db: &Db, a: i64, b: i64) {
    let set_seq = "UPDATE audit_log SET seq = $1 WHERE seq = $2";
    db.exec(set_seq, &[Bind::Int(-1), Bind::Int(a)]).await;
    db.exec(set_seq, &[Bind::Int(a), Bind::Int(b)]).await;
    db.exec(set_seq, &[Bind::Int(b), Bind::Int(-1)]).await;
}

async fn swapped_adjacent_rows_are_reported_at_the_first(db: Db) {
    let rows = db.append(8).await;
    swap(&db, 4, 5).await;

    // Row 5's contents now sit at position 4: that is where the chain breaks, and it is
    // reported as a reordering, not as an edit of the row's contents.
    let broken = db.verify().await.expect_err("a swap is caught");
    assert_eq!(
        broken,
        ChainBreak::Unlinked {
            seq: 4,
            id: rows[4].id.clone(),
            previous: 3
        }
    );
    assert!(broken.to_string().contains("reordered"), "{broken}");
}

async fn swapped_distant_rows_are_reported_at_the_first(db: Db) {
    let rows = db.append(8).await;
    swap(&db, 2, 6).await;

    let broken = db.verify().await.expect_err("a swap is caught");
    assert_eq!(
        broken,
        ChainBreak::Unlinked {
            seq: 2,
            id: rows[5].id.clone(),
            previous: 1
        }
    );
}

async fn swapped_first_two_rows_are_reported_at_the_first(db: Db) {
    let rows = db.append(3).await;
    swap(&db, 1, 2).await;

    assert_eq!(
        db.verify().await,
        Err(ChainBreak::Unlinked {
            seq: 1,
            id: rows[1].id.clone(),
            previous: 0
        })
    );
}

/// The attacker edits row 3 and recomputes its hash so that it is consistent in itself:
/// row 3 then verifies, and the break shows at row 4, which still points at the old hash.
async fn consistently_rewritten_row_breaks_the_link_of_the_next(db: Db) {
    let rows = db.append(6).await;
    let mut forged = rows[2].clone();
    forged.reason = Some("nothing to see here".to_owned());
    forged.hash = forged.expected_hash(&forged.prev_hash);
    assert_ne!(forged.hash, rows[2].hash);
    db.exec(
        "UPDATE audit_log SET reason = $1, hash = $2 WHERE seq = $3",
        &[
            Bind::Text("nothing to see here"),
            Bind::Text(&forged.hash),
            Bind::Int(3),
        ],
    )
    .await;

    let broken = db.verify().await.expect_err("a rewrite is caught");
    assert_eq!(
        broken,
        ChainBreak::Unlinked {
            seq: 4,
            id: rows[3].id.clone(),
            previous: 3
        }
    );
    assert!(broken.to_string().contains("row 4"), "{broken}");
}

/// Twelve rows, a few ms apart so the time filter has edges to cut at.
async fn filter_fixture(db: &Db) -> Vec<AuditRow> {
    let entries = [
        ("ana", "sign_in.success"),
        ("ben", "sign_in.failure"),
        ("ana", "reveal"),
        ("cli", "user.created"),
        ("ana", "sign_in.success"),
        ("ben", "reveal"),
        ("ana", "sign_out"),
        ("system", "sign_in_policy.changed"),
        ("ben", "sign_in.success"),
        ("ana", "reveal"),
        ("cli", "user.disabled"),
        ("ben", "sign_in.failure"),
    ];
    let mut rows = Vec::new();
    for (actor, action) in entries {
        tokio::time::sleep(Duration::from_millis(3)).await;
        rows.push(
            db.store
                .audit(&AuditEntry {
                    actor,
                    action,
                    ..AuditEntry::default()
                })
                .await
                .expect("append"),
        );
    }
    rows
}

async fn list(db: &Db, filter: AuditFilter, limit: i64) -> Vec<i64> {
    db.store
        .audit_rows(&filter, limit)
        .await
        .expect("list")
        .iter()
        .map(|r| r.seq)
        .collect()
}

async fn filters_list_the_right_rows_newest_first(db: Db) {
    let rows = filter_fixture(&db).await;
    let all: Vec<i64> = (1..=12).rev().collect();

    assert_eq!(list(&db, AuditFilter::default(), 100).await, all);
    assert_eq!(
        list(&db, AuditFilter::default(), 4).await,
        vec![12, 11, 10, 9]
    );

    let by_actor = |actor: &str| AuditFilter {
        actor: Some(actor.to_owned()),
        ..AuditFilter::default()
    };
    assert_eq!(list(&db, by_actor("ana"), 100).await, vec![10, 7, 5, 3, 1]);
    assert_eq!(list(&db, by_actor("cli"), 100).await, vec![11, 4]);
    assert_eq!(list(&db, by_actor("an"), 100).await, Vec::<i64>::new());

    let by_prefix = |prefix: &str| AuditFilter {
        action_prefix: Some(prefix.to_owned()),
        ..AuditFilter::default()
    };
    assert_eq!(
        list(&db, by_prefix("sign_in."), 100).await,
        vec![12, 9, 5, 2, 1]
    );
    // A plain prefix, no dot: also `sign_in_policy.changed`, not `sign_out`.
    assert_eq!(
        list(&db, by_prefix("sign_in"), 100).await,
        vec![12, 9, 8, 5, 2, 1]
    );
    assert_eq!(list(&db, by_prefix("user."), 100).await, vec![11, 4]);
    assert_eq!(list(&db, by_prefix("reveal"), 100).await, vec![10, 6, 3]);
    // Prefixes are literal: no LIKE wildcards.
    assert_eq!(list(&db, by_prefix("sign_%"), 100).await, Vec::<i64>::new());
    assert_eq!(list(&db, by_prefix("_ign"), 100).await, Vec::<i64>::new());

    // Time range: `from` is inclusive, `to` exclusive.
    let at = |seq: usize| rows[seq - 1].at;
    assert!(at(4) < at(9), "the fixture's rows are spread out in time");
    let expected_in = |from: i64, to: i64| -> Vec<i64> {
        rows.iter()
            .rev()
            .filter(|r| r.at >= from && r.at < to)
            .map(|r| r.seq)
            .collect()
    };
    let range = AuditFilter {
        from: Some(at(4)),
        to: Some(at(9)),
        ..AuditFilter::default()
    };
    let in_range = list(&db, range, 100).await;
    assert_eq!(in_range, expected_in(at(4), at(9)));
    assert!(
        in_range.contains(&4) && !in_range.contains(&9),
        "{in_range:?}"
    );
    let since = AuditFilter {
        from: Some(at(11)),
        ..AuditFilter::default()
    };
    assert_eq!(list(&db, since, 100).await, expected_in(at(11), i64::MAX));
    let until = AuditFilter {
        to: Some(at(2)),
        ..AuditFilter::default()
    };
    assert_eq!(list(&db, until, 100).await, expected_in(i64::MIN, at(2)));

    // Everything at once: ben's sign-ins before row 12, one per page.
    let combined = AuditFilter {
        actor: Some("ben".to_owned()),
        action_prefix: Some("sign_in".to_owned()),
        from: Some(at(2)),
        to: Some(at(12) + 1),
        before_seq: Some(12),
    };
    assert_eq!(list(&db, combined.clone(), 100).await, vec![9, 2]);
    assert_eq!(list(&db, combined, 1).await, vec![9]);
}

async fn paging_backwards_visits_every_row_once(db: Db) {
    filter_fixture(&db).await;
    let mut seen = Vec::new();
    let mut before_seq = None;
    loop {
        let page = list(
            &db,
            AuditFilter {
                before_seq,
                ..AuditFilter::default()
            },
            5,
        )
        .await;
        let Some(&last) = page.last() else { break };
        assert!(page.len() <= 5);
        seen.extend(page);
        before_seq = Some(last);
    }
    assert_eq!(seen, (1..=12).rev().collect::<Vec<_>>());

    // Paging within a filter: ana's rows, two at a time.
    let ana = |before_seq| AuditFilter {
        actor: Some("ana".to_owned()),
        before_seq,
        ..AuditFilter::default()
    };
    assert_eq!(list(&db, ana(None), 2).await, vec![10, 7]);
    assert_eq!(list(&db, ana(Some(7)), 2).await, vec![5, 3]);
    assert_eq!(list(&db, ana(Some(3)), 2).await, vec![1]);
    assert_eq!(list(&db, ana(Some(1)), 2).await, Vec::<i64>::new());
}

/// Cutting rows off the end of the chain (which a chain alone cannot show) is caught by the
/// head recorded with every append.
async fn rows_cut_off_the_end_are_caught(db: &Db) {
    db.append(6).await;
    assert!(db.verify().await.is_ok());
    sqlx::query("DELETE FROM audit_log WHERE seq >= 5")
        .execute(db.store.pool())
        .await
        .expect("delete the tail");
    let broken = db.verify().await.unwrap_err();
    assert_eq!(broken, ChainBreak::Truncated { last: 4, head: 6 });
    assert!(broken.to_string().contains("deleted"), "{broken}");
}

#[tokio::test]
async fn rows_cut_off_the_end_are_caught_on_both_backends() {
    for db in [Db::sqlite().await, Db::postgres().await]
        .into_iter()
        .flatten()
    {
        rows_cut_off_the_end_are_caught(&db).await;
    }
}
