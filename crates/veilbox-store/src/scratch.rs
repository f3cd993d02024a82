//! Throw-away PostgreSQL databases for tests and benchmarks: each gets its own, so runs
//! never see each other's rows.

use sqlx::any::AnyPoolOptions;
use sqlx::Executor;

use crate::StoreError;

/// A database created for one test or benchmark run. Call [`ScratchDatabase::drop_database`]
/// when done; a leftover one (after a crash) is harmless and named `veilbox_scratch_*`.
#[derive(Debug)]
pub struct ScratchDatabase {
    server_url: String,
    name: String,
    /// URL of the new database.
    pub url: String,
}

impl ScratchDatabase {
    /// Creates an empty database on the server of `server_url` (any database URL on it).
    pub async fn create(server_url: &str) -> Result<ScratchDatabase, StoreError> {
        sqlx::any::install_default_drivers();
        let name = format!("veilbox_scratch_{}", uuid::Uuid::now_v7().simple());
        let admin = AnyPoolOptions::new()
            .max_connections(1)
            .connect(server_url)
            .await?;
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await?;
        admin.close().await;
        Ok(ScratchDatabase {
            server_url: server_url.to_owned(),
            url: with_database(server_url, &name),
            name,
        })
    }

    /// Drops the database (closing other sessions on it first).
    pub async fn drop_database(self) -> Result<(), StoreError> {
        let admin = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&self.server_url)
            .await?;
        admin
            .execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str())
            .await?;
        admin.close().await;
        Ok(())
    }
}

/// `postgres://u@h:5432/test?x=y` with the database part replaced.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{host_part}/{database}?{query}"),
        None => format!("{host_part}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_only_the_database() {
        assert_eq!(
            super::with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::with_database("postgres://h/test?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
        assert_eq!(super::with_database("postgres://h", "x"), "postgres://h/x");
    }
}
