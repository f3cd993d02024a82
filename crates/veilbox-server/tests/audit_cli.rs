//! `veilbox user add` and `veilbox audit verify`, run as the real binary on a SQLite file:
//! adding people prints a one-time link and audits it; verification says "intact" with the
//! row count, and after tampering with a copy of the file (a flipped byte, a deleted row,
//! two swapped rows) exits non-zero naming the row and what was done to it. No output ever
//! carries a stored secret (token digests, password hashes).
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::path::{Path, PathBuf};

use sqlx::Row;
use tempfile::TempDir;
use tokio::process::Command;
use veilbox_core::credentials::secret_token;
use veilbox_store::Store;

/// What one run of the binary did.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn succeeded(&self) -> bool {
        self.code == Some(0)
    }

    /// Asserts a failure reported as exactly one `veilbox: ...` line on stderr, nothing on
    /// stdout; returns that line.
    fn one_line_failure(&self) -> &str {
        assert_eq!(self.code, Some(1), "fails with status 1: {self:?}");
        assert_eq!(self.stdout, "", "nothing on stdout: {self:?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "exactly one line on stderr: {self:?}");
        assert!(lines[0].starts_with("veilbox: "), "{self:?}");
        lines[0]
    }
}

/// A SQLite database file in its own directory (also the working directory of every run,
/// so no stray `veilbox.toml` is picked up), and everything the binary printed.
struct Db {
    dir: TempDir,
    printed: Vec<String>,
}

impl Db {
    fn new() -> Db {
        Db {
            dir: tempfile::tempdir().expect("tempdir"),
            printed: Vec::new(),
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("v.db")
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.file().display())
    }

    /// Runs `veilbox <args>` on this database, with the default logging.
    async fn veilbox(&mut self, args: &[&str]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_veilbox"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("VEILBOX_DATABASE_URL", self.url())
            .current_dir(self.dir.path())
            .output()
            .await
            .expect("run veilbox");
        let run = Run {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
            stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
        };
        self.printed.push(run.stdout.clone());
        self.printed.push(run.stderr.clone());
        run
    }

    async fn user_add(&mut self, email: &str, role: &str, team: Option<&str>) -> Run {
        let mut args = vec!["user", "add", "--email", email, "--role", role];
        if let Some(team) = team {
            args.extend(["--team", team]);
        }
        self.veilbox(&args).await
    }

    /// Opens the file directly (no migrations), as someone with a copy of it would.
    async fn open(&self) -> Store {
        Store::connect(&self.url()).await.expect("open the file")
    }

    /// The audit log as stored: (seq, id, actor, action, hash), in chain order.
    async fn audit_log(&self) -> Vec<(i64, String, String, String, String)> {
        let store = self.open().await;
        let rows = sqlx::query("SELECT seq, id, actor, action, hash FROM audit_log ORDER BY seq")
            .fetch_all(store.pool())
            .await
            .expect("read the audit log")
            .iter()
            .map(|r| {
                (
                    r.get("seq"),
                    r.get("id"),
                    r.get("actor"),
                    r.get("action"),
                    r.get("hash"),
                )
            })
            .collect();
        store.close().await;
        rows
    }

    /// Every secret the database keeps in any form: token and code digests, password
    /// hashes, TOTP secrets.
    async fn stored_secrets(&self) -> Vec<String> {
        let store = self.open().await;
        let mut secrets = Vec::new();
        for sql in [
            "SELECT token_digest FROM password_links",
            "SELECT token_digest FROM api_tokens",
            "SELECT id_digest FROM sessions",
            "SELECT code_digest FROM recovery_codes",
            "SELECT password_hash FROM users WHERE password_hash IS NOT NULL",
            "SELECT totp_secret FROM users WHERE totp_secret IS NOT NULL",
        ] {
            for row in sqlx::query(sql)
                .fetch_all(store.pool())
                .await
                .expect("read secrets")
            {
                secrets.push(row.get::<String, _>(0));
            }
        }
        store.close().await;
        secrets
    }

    /// No output of any run so far contains a stored secret.
    async fn assert_nothing_secret_was_printed(&self) {
        let secrets = self.stored_secrets().await;
        assert!(!secrets.is_empty(), "there are secrets to look for");
        for secret in &secrets {
            for printed in &self.printed {
                assert!(
                    !printed.contains(secret.as_str()),
                    "a stored secret was printed: {printed}"
                );
            }
        }
    }

    /// A copy of the file in a directory of its own.
    fn copy(&self) -> Db {
        let copy = Db::new();
        copy_sqlite(&self.file(), &copy.file());
        copy
    }

    /// Runs one statement on the file; it must touch exactly one row.
    async fn tamper(&self, sql: &str, binds: &[&str]) {
        let store = self.open().await;
        let mut query = sqlx::query(sql);
        for bind in binds {
            query = query.bind(*bind);
        }
        let done = query.execute(store.pool()).await.expect("tamper");
        assert_eq!(done.rows_affected(), 1, "{sql} touched one row");
        store.close().await;
    }
}

/// Copies a SQLite database with its write-ahead log, if one was left behind.
fn copy_sqlite(from: &Path, to: &Path) {
    std::fs::copy(from, to).expect("copy the database");
    let wal = |p: &Path| PathBuf::from(format!("{}-wal", p.display()));
    if wal(from).exists() {
        std::fs::copy(wal(from), wal(to)).expect("copy the WAL");
    }
}

/// The set-password link in `user add`'s output, and the token in it.
fn link_and_token(stdout: &str) -> (&str, &str) {
    let links: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("/set-password/"))
        .collect();
    assert_eq!(links.len(), 1, "one link line: {stdout}");
    let link = links[0].trim();
    let (_, token) = link.split_once("/set-password/").expect("a token");
    (link, token)
}

/// A migrated database with three people, which logs eight audit rows:
/// 1-3 ana (created, joined North, link), 4-6 bo (created, leads North, link),
/// 7-8 cy (created, link).
async fn three_people() -> Db {
    let mut db = Db::new();
    let migrate = db.veilbox(&["migrate"]).await;
    assert!(migrate.succeeded(), "{migrate:?}");
    assert!(migrate.stdout.contains("migrations applied"), "{migrate:?}");
    for (email, role, team) in [
        ("ana@courier.example", "agent", Some("North")),
        ("bo@courier.example", "supervisor", Some("North")),
        ("cy@courier.example", "auditor", None),
    ] {
        let added = db.user_add(email, role, team).await;
        assert!(added.succeeded(), "{added:?}");
    }
    assert_eq!(db.audit_log().await.len(), 8);
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_add_prints_a_one_time_link_and_audits_it() {
    let mut db = Db::new();
    assert!(db.veilbox(&["migrate"]).await.succeeded());

    let added = db
        .user_add("ana@courier.example", "agent", Some("North"))
        .await;
    assert!(added.succeeded(), "{added:?}");
    assert!(
        added.stdout.contains("added ana@courier.example (agent)"),
        "{added:?}"
    );
    let (link, token) = link_and_token(&added.stdout);
    assert!(link.starts_with("http://"), "a full URL: {link}");
    assert!(token.starts_with("vbl_"), "a set-password token: {link}");
    assert!(!added.stderr.contains(token), "the token only on stdout");

    // The link works because its digest is stored, and only its digest.
    let secrets = db.stored_secrets().await;
    assert_eq!(secrets, vec![secret_token::digest(token)]);

    let log = db.audit_log().await;
    let actions: Vec<(&str, &str)> = log
        .iter()
        .map(|(_, _, actor, action, _)| (actor.as_str(), action.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("cli", "user.created"),
            ("cli", "team.member_added"),
            ("cli", "user.password_link_created"),
        ]
    );

    let verified = db.veilbox(&["audit", "verify"]).await;
    assert!(verified.succeeded(), "{verified:?}");
    let head = &log[2].4;
    assert_eq!(
        verified.stdout.trim(),
        format!("audit log intact: 3 rows, head {head}")
    );
    assert!(!verified.stdout.contains(token));
    db.assert_nothing_secret_was_printed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_the_same_email_twice_fails_with_one_clear_line() {
    let mut db = Db::new();
    assert!(db.veilbox(&["migrate"]).await.succeeded());
    let first = db
        .user_add("ana@courier.example", "agent", Some("North"))
        .await;
    assert!(first.succeeded(), "{first:?}");

    let again = db
        .user_add("ana@courier.example", "agent", Some("North"))
        .await;
    let error = again.one_line_failure();
    assert!(error.contains("already exists"), "{error}");
    assert!(!error.contains("/set-password/"), "{error}");

    // Nothing half-done: no second link, no audit row, and the chain still verifies.
    assert_eq!(db.stored_secrets().await.len(), 1);
    assert_eq!(db.audit_log().await.len(), 3);
    let verified = db.veilbox(&["audit", "verify"]).await;
    assert!(verified.succeeded(), "{verified:?}");
    assert!(verified.stdout.contains("intact: 3 rows"), "{verified:?}");
    db.assert_nothing_secret_was_printed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_role_fails_naming_the_valid_roles() {
    let mut db = Db::new();
    assert!(db.veilbox(&["migrate"]).await.succeeded());

    let refused = db
        .user_add("ana@courier.example", "nosuchrole", Some("North"))
        .await;
    let error = refused.one_line_failure();
    assert!(error.contains("nosuchrole"), "{error}");
    for role in ["agent", "supervisor", "admin", "auditor"] {
        assert!(error.contains(role), "names the valid role {role}: {error}");
    }

    // Nobody was added and nothing was audited.
    assert!(db.stored_secrets().await.is_empty());
    assert!(db.audit_log().await.is_empty());
    let verified = db.veilbox(&["audit", "verify"]).await;
    assert!(verified.succeeded(), "{verified:?}");
    assert!(verified.stdout.contains("intact: 0 rows"), "{verified:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reports_an_intact_log_with_its_row_count_and_head() {
    let mut db = three_people().await;
    let log = db.audit_log().await;

    let verified = db.veilbox(&["audit", "verify"]).await;
    assert!(verified.succeeded(), "{verified:?}");
    assert_eq!(verified.stderr, "", "{verified:?}");
    assert_eq!(
        verified.stdout,
        format!("audit log intact: 8 rows, head {}\n", log[7].4)
    );
    // Verifying is read-only.
    assert_eq!(db.audit_log().await, log);
    db.assert_nothing_secret_was_printed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_a_row_with_a_flipped_byte() {
    let mut original = three_people().await;
    let mut copy = original.copy();
    let (_, id, actor, _, _) = original.audit_log().await.remove(4);
    let mut flipped = actor.into_bytes();
    flipped[0] ^= 1;
    let flipped = String::from_utf8(flipped).expect("ASCII");
    copy.tamper("UPDATE audit_log SET actor = $1 WHERE seq = 5", &[&flipped])
        .await;

    let verified = copy.veilbox(&["audit", "verify"]).await;
    let error = verified.one_line_failure();
    assert_eq!(
        error,
        format!(
            "veilbox: audit log broken: row 5 (id {id}) was changed: its hash does not match \
             its contents"
        )
    );

    // The original, untouched, still verifies.
    let intact = original.veilbox(&["audit", "verify"]).await;
    assert!(intact.stdout.contains("intact: 8 rows"), "{intact:?}");
    copy.assert_nothing_secret_was_printed().await;
    original.assert_nothing_secret_was_printed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_a_deleted_row() {
    let mut original = three_people().await;
    let mut copy = original.copy();
    copy.tamper("DELETE FROM audit_log WHERE seq = 5", &[])
        .await;

    let verified = copy.veilbox(&["audit", "verify"]).await;
    let error = verified.one_line_failure();
    assert_eq!(
        error,
        "veilbox: audit log broken: row 5 is missing (the next row is 6): rows were deleted"
    );

    let intact = original.veilbox(&["audit", "verify"]).await;
    assert!(intact.stdout.contains("intact: 8 rows"), "{intact:?}");
    copy.assert_nothing_secret_was_printed().await;
    original.assert_nothing_secret_was_printed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_swapped_rows_as_reordered() {
    let mut original = three_people().await;
    let mut copy = original.copy();
    let moved_up = original.audit_log().await.remove(4).1;
    copy.tamper("UPDATE audit_log SET seq = -1 WHERE seq = 4", &[])
        .await;
    copy.tamper("UPDATE audit_log SET seq = 4 WHERE seq = 5", &[])
        .await;
    copy.tamper("UPDATE audit_log SET seq = 5 WHERE seq = -1", &[])
        .await;

    let verified = copy.veilbox(&["audit", "verify"]).await;
    let error = verified.one_line_failure();
    assert_eq!(
        error,
        format!(
            "veilbox: audit log broken: row 4 (id {moved_up}) does not follow row 3: rows were \
             reordered or replaced"
        )
    );

    let intact = original.veilbox(&["audit", "verify"]).await;
    assert!(intact.stdout.contains("intact: 8 rows"), "{intact:?}");
    copy.assert_nothing_secret_was_printed().await;
    original.assert_nothing_secret_was_printed().await;
}
