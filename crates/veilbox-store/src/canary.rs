//! Canary scanning, for the tests that prove customer data is not at rest in clear: the
//! spellings a planted value could take in a file, a dump or a log, a search for them, and
//! everything a store holds at rest to search in.

use sqlx::Row;

use crate::{Backend, Store, StoreError};

/// The spellings `value` could take at rest: UTF-8, JSON-escaped (`\u00eb` for `ë`), and
/// the lowercase hex of its bytes (how PostgreSQL prints `bytea`, how SQLite quotes blobs).
pub fn spellings(value: &str) -> Vec<Vec<u8>> {
    let escaped: String = value
        .chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                format!("\\u{:04x}", u32::from(c))
            }
        })
        .collect();
    let hex: String = value.bytes().map(|b| format!("{b:02x}")).collect();
    vec![
        value.as_bytes().to_vec(),
        escaped.into_bytes(),
        hex.into_bytes(),
    ]
}

/// Every spelling of every value of `values` found in `haystack` (empty: none found).
pub fn hits(haystack: &[u8], values: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for value in values {
        for needle in spellings(value) {
            if !needle.is_empty()
                && haystack
                    .windows(needle.len())
                    .any(|w| w == needle.as_slice())
            {
                found.push(String::from_utf8_lossy(&needle).into_owned());
            }
        }
    }
    found
}

/// Every row of every table of `store` as text (blobs and `bytea` as hex), and on SQLite
/// the database file, its WAL and shared memory byte for byte: what a stolen database or
/// backup would hold.
pub async fn everything_at_rest(store: &Store) -> Result<Vec<u8>, StoreError> {
    let sqlite = store.backend() == Backend::Sqlite;
    let tables_sql = if sqlite {
        "SELECT name FROM sqlite_master WHERE type = 'table'"
    } else {
        "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables \
         WHERE table_schema = current_schema()"
    };
    let mut all = Vec::new();
    for table in sqlx::query(tables_sql).fetch_all(store.pool()).await? {
        let table: String = table.try_get("name")?;
        let sql = if sqlite {
            // quote() renders every column, blobs as X'hex'.
            let columns: Vec<String> =
                sqlx::query(&format!("SELECT name FROM pragma_table_info('{table}')"))
                    .fetch_all(store.pool())
                    .await?
                    .iter()
                    .map(|r| {
                        r.try_get::<String, _>("name")
                            .map(|c| format!("quote(\"{c}\")"))
                    })
                    .collect::<Result<_, _>>()?;
            format!(
                "SELECT {} AS row FROM \"{table}\"",
                columns.join(" || ',' || ")
            )
        } else {
            format!("SELECT CAST(t AS TEXT) AS row FROM \"{table}\" t")
        };
        for row in sqlx::query(&sql).fetch_all(store.pool()).await? {
            let text: Option<String> = row.try_get("row")?;
            all.extend_from_slice(text.unwrap_or_default().as_bytes());
            all.push(b'\n');
        }
    }
    if let Some(wal) = store.sqlite_wal_path() {
        let wal = wal.into_os_string();
        let file = wal.to_string_lossy().trim_end_matches("-wal").to_owned();
        for suffix in ["", "-wal", "-shm"] {
            if let Ok(bytes) = std::fs::read(format!("{file}{suffix}")) {
                all.extend_from_slice(&bytes);
            }
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_spelling_is_found_and_nothing_else() {
        let dump = br#"{"name":"Zo\u00eb"} 5a6fc3ab ZoX"#;
        assert_eq!(super::hits(dump, &["Zoë"]).len(), 2, "escaped and hex");
        assert!(super::hits(b"Zoe", &["Zoë"]).is_empty());
        assert_eq!(
            super::hits("Zoë".as_bytes(), &["Zoë"]),
            vec!["Zoë".to_owned()]
        );
    }
}
