//! The auditor's view of the audit log: filters, paging and a CSV export. The log holds
//! ids, actions and reasons only, so nothing here is customer data.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use time::macros::format_description;
use veilbox_policy::Action;
use veilbox_store::audit::{AuditFilter, AuditRow};

use crate::auth::{Refused, SignedIn};
use crate::layout::{html_response, page};
use crate::AppState;

/// Rows per page.
const PAGE: i64 = 200;
/// The most rows one export holds.
const EXPORT_LIMIT: usize = 100_000;

/// `?actor=&action=&from=YYYY-MM-DD&to=YYYY-MM-DD&before=SEQ`
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    before: Option<i64>,
}

fn day_ms(text: &str) -> Option<i64> {
    let format = format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text.trim(), &format).ok()?;
    let midnight = date.midnight().assume_utc();
    i64::try_from(midnight.unix_timestamp_nanos() / 1_000_000).ok()
}

impl AuditQuery {
    fn filter(&self) -> AuditFilter {
        let nonempty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        AuditFilter {
            actor: nonempty(&self.actor),
            action_prefix: nonempty(&self.action),
            from: self.from.as_deref().and_then(day_ms),
            // "to" is inclusive of the whole day.
            to: self
                .to
                .as_deref()
                .and_then(day_ms)
                .map(|ms| ms + 86_400_000),
            before_seq: self.before,
        }
    }

    fn query_string(&self, before: Option<i64>) -> String {
        let mut parts = Vec::new();
        for (key, value) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                parts.push(format!("{key}={}", urlencode(v)));
            }
        }
        if let Some(before) = before {
            parts.push(format!("before={before}"));
        }
        parts.join("&")
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET /audit`
pub async fn audit_page(
    State(state): State<AppState>,
    user: SignedIn,
    Query(query): Query<AuditQuery>,
) -> Result<Response, Refused> {
    user.require(&state, Action::ViewAuditLog)?;
    let rows = state.store.audit_rows(&query.filter(), PAGE).await?;
    let older = (rows.len() == PAGE as usize)
        .then(|| rows.last().map(|r| r.seq))
        .flatten();
    let content = html! {
        main.audit {
            h1 { "Audit log" }
            form.filters method="get" action="/audit" {
                label { "Actor id" input type="text" name="actor" value=(query.actor.clone().unwrap_or_default()); }
                label { "Action starts with" input type="text" name="action" value=(query.action.clone().unwrap_or_default()); }
                label { "From" input type="date" name="from" value=(query.from.clone().unwrap_or_default()); }
                label { "To" input type="date" name="to" value=(query.to.clone().unwrap_or_default()); }
                button type="submit" { "Filter" }
                a href={ "/audit.csv?" (query.query_string(None)) } { "Export CSV" }
            }
            table.audit-log {
                thead { tr { th { "#" } th { "Time (UTC)" } th { "Actor" } th { "Action" } th { "Target" } th { "Reason" } th { "Address" } } }
                tbody {
                    @for r in &rows {
                        tr {
                            td { (r.seq) }
                            td { (crate::api::rfc3339(r.at)) }
                            td { (r.actor) }
                            td { (r.action) }
                            td { (r.target.as_deref().unwrap_or("")) }
                            td { (r.reason.as_deref().unwrap_or("")) }
                            td { (r.address.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
            @if let Some(seq) = older {
                a href={ "/audit?" (query.query_string(Some(seq))) } { "Older" }
            }
        }
    };
    Ok(html_response(page(
        &state,
        "Veilbox · Audit log",
        "",
        Some(&user),
        content,
    )))
}

/// A CSV cell: quoted, and defused against spreadsheet formulas.
fn cell(text: &str) -> String {
    let defused = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    format!("\"{}\"", defused.replace('"', "\"\""))
}

fn csv_line(r: &AuditRow) -> String {
    let fields = [
        r.seq.to_string(),
        crate::api::rfc3339(r.at),
        r.actor.clone(),
        r.action.clone(),
        r.target.clone().unwrap_or_default(),
        r.reason.clone().unwrap_or_default(),
        r.address.clone().unwrap_or_default(),
        r.user_agent.clone().unwrap_or_default(),
        r.hash.clone(),
    ];
    let cells: Vec<String> = fields.iter().map(|f| cell(f)).collect();
    format!("{}\r\n", cells.join(","))
}

/// `GET /audit.csv`: the filtered rows, newest first. The export itself is audited.
pub async fn audit_csv(
    State(state): State<AppState>,
    user: SignedIn,
    Query(query): Query<AuditQuery>,
) -> Result<Response, Refused> {
    user.require(&state, Action::ViewAuditLog)?;
    let mut filter = query.filter();
    let mut body = String::from("seq,time,actor,action,target,reason,address,user_agent,hash\r\n");
    let mut count = 0;
    loop {
        let rows = state.store.audit_rows(&filter, 1000).await?;
        for r in &rows {
            body.push_str(&csv_line(r));
        }
        count += rows.len();
        match rows.last() {
            Some(last) if rows.len() == 1000 && count < EXPORT_LIMIT => {
                filter.before_seq = Some(last.seq)
            }
            _ => break,
        }
    }
    let reason = format!("{count} rows");
    state
        .store
        .audit(&user.actor.audit("audit.exported", None, Some(&reason)))
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"veilbox-audit.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell("plain"), "\"plain\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(1)"), "\"'=HYPERLINK(1)\"");
        assert_eq!(cell("-1+1"), "\"'-1+1\"");
    }

    #[test]
    fn dates_filter_whole_days() {
        assert_eq!(day_ms("1970-01-02"), Some(86_400_000));
        assert_eq!(day_ms("not a date"), None);
        let query = AuditQuery {
            to: Some("1970-01-01".into()),
            ..AuditQuery::default()
        };
        assert_eq!(query.filter().to, Some(86_400_000));
    }
}
