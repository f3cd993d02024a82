//! Building multi-row statements for both backends.
//!
//! Queries use `$1` placeholders on PostgreSQL and `?` on SQLite: SQLite resolves a
//! numbered parameter by a linear search of the statement's names, which makes a
//! 1,000-parameter insert quadratic; positional `?` are bound by index.

use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection};

use crate::StoreError;

/// Values per `IN (...)` list: far below SQLite's 32,766 and PostgreSQL's 65,535 parameters.
const VALUES_PER_STATEMENT: usize = 200;

/// The rows of `sql` (a query ending with `IN`) for every value of `values`, in statements
/// of at most 200 values each.
pub(crate) async fn select_in(
    conn: &mut AnyConnection,
    numbered: bool,
    sql: &str,
    values: &[&str],
) -> Result<Vec<AnyRow>, StoreError> {
    let mut rows = Vec::new();
    for chunk in values.chunks(VALUES_PER_STATEMENT) {
        let statement = format!("{sql} ({})", params(numbered, chunk.len()));
        let mut query = sqlx::query::<Any>(&statement);
        for v in chunk {
            query = query.bind(*v);
        }
        rows.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(rows)
}

/// Whether `conn` wants numbered (`$n`) placeholders: PostgreSQL does, SQLite gets `?`.
pub(crate) fn numbered(conn: &AnyConnection) -> bool {
    conn.backend_name().eq_ignore_ascii_case("postgresql")
}

/// `count` parameters: `$1, $2, ...` or `?, ?, ...`.
pub(crate) fn params(numbered: bool, count: usize) -> String {
    values_with(numbered, 1, &vec!["$"; count])
        .trim_start_matches('(')
        .trim_end_matches(')')
        .to_owned()
}

/// `($1, .., $cols[, extra]), (...)` for `rows` rows.
pub(crate) fn values(numbered: bool, rows: usize, cols: usize, extra: Option<&str>) -> String {
    let mut shape = vec!["$"; cols];
    if let Some(extra) = extra {
        // The extra literal goes before the last column, matching the column lists above.
        shape.insert(cols - 1, extra);
    }
    values_with(numbered, rows, &shape)
}

/// Rows shaped by `shape`: each `$` is the next parameter, anything else a literal.
pub(crate) fn values_with(numbered: bool, rows: usize, shape: &[&str]) -> String {
    let mut next = 1;
    let mut out = String::with_capacity(rows * shape.len() * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for (c, item) in shape.iter().enumerate() {
            if c > 0 {
                out.push_str(", ");
            }
            if *item != "$" {
                out.push_str(item);
            } else if numbered {
                out.push('$');
                out.push_str(&next.to_string());
                next += 1;
            } else {
                out.push('?');
            }
        }
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_parameters_across_rows() {
        assert_eq!(super::values(true, 2, 2, None), "($1, $2), ($3, $4)");
        assert_eq!(super::values(true, 1, 3, Some("1")), "($1, $2, 1, $3)");
        assert_eq!(
            super::values_with(true, 2, &["$", "'x'", "$"]),
            "($1, 'x', $2), ($3, 'x', $4)"
        );
        assert_eq!(super::params(true, 3), "$1, $2, $3");
        assert_eq!(
            super::values(false, 2, 2, Some("0")),
            "(?, 0, ?), (?, 0, ?)"
        );
        assert_eq!(super::params(false, 2), "?, ?");
    }
}
