//! Gathering the facts a verdict needs: the conversation's customer (their CRM values as
//! scanner hints, so an echo is recognised as theirs) and, for each phone, e-mail,
//! tracking number and address in the draft, which customers own its blind index.

use veilbox_mask::{Finding, Hints, Kind, Why};
use veilbox_store::crm::search::SearchBy;
use veilbox_store::crm::CustomerCard;
use veilbox_store::reads::ConversationSummary;
use veilbox_store::StoreError;
use veilbox_vault::IndexedField;

use super::candidates::{address_candidates, company_links, is_company_host};
use super::rules::{judge, Owner};
use super::{placeholders, Flag, Level, Verdict};
use crate::AppState;

/// Checks `body`, a draft reply in `conversation`, as written (placeholders unfilled).
pub async fn check(
    state: &AppState,
    conversation: &ConversationSummary,
    body: &str,
) -> Result<Verdict, StoreError> {
    Ok(inspect(state, conversation, body).await?.0)
}

/// [`check`], and the customer's card it read (for filling placeholders).
pub(crate) async fn inspect(
    state: &AppState,
    conversation: &ConversationSummary,
    body: &str,
) -> Result<(Verdict, Option<CustomerCard>), StoreError> {
    let me = conversation.customer.id.as_str();
    // Addresses stored before they were indexed get their indexes now, so that an echo of
    // them is recognised as this customer's own.
    state.store.index_customer_addresses(me).await?;
    let card = state.store.customer_card(me).await?;
    let hints = hints_of(card.as_ref(), conversation);
    let findings = state.scanner.scan(body, &hints);
    let mut company: Vec<(usize, usize)> = placeholders::find(body)
        .iter()
        .map(|p| (p.start, p.end))
        .collect();
    company.extend(company_links(body, &state.config.masking.company_domains));
    let found_addresses: Vec<(usize, usize)> = findings
        .iter()
        .filter(|f| f.kind == Kind::Address)
        .map(|f| (f.start, f.end))
        .collect();
    let addresses = owned_addresses(state, body, &found_addresses, me).await?;

    let mut flags = Vec::with_capacity(findings.len());
    for f in &findings {
        let owner = if company.iter().any(|&span| inside((f.start, f.end), span)) {
            Owner::Company
        } else {
            owner_of(state, body, f, me, &addresses).await?
        };
        let (level, reason) = judge(f.kind, owner);
        flags.push(flag(body, f.kind, (f.start, f.end), level, reason));
    }
    // Card numbers typed digit by digit, which the scanner reads as loose digits (or
    // hides as a number it cannot classify: the card is the more sensitive reading).
    for span in super::evasion::spaced_cards(body) {
        let read_as_card = findings.iter().any(|f| {
            overlaps((f.start, f.end), span) && f.kind.sensitivity() >= Kind::Card.sensitivity()
        });
        if !read_as_card {
            let (level, reason) = judge(Kind::Card, Owner::Nobody);
            flags.push(flag(body, Kind::Card, span, level, reason));
        }
    }
    // Another customer's (or this customer's) address the scanner did not see as one.
    for (owner, spans) in [
        (Owner::OtherCustomer, &addresses.other),
        (Owner::ThisCustomer, &addresses.own),
    ] {
        for &span in spans {
            let seen = findings
                .iter()
                .any(|f| matches!(f.kind, Kind::Address) && overlaps((f.start, f.end), span));
            let company_part = company.iter().any(|&c| overlaps(c, span));
            if !seen && !company_part {
                let (level, reason) = judge(Kind::Address, owner);
                flags.push(flag(body, Kind::Address, span, level, reason));
            }
        }
    }
    Ok((Verdict::of(flags), card))
}

/// Address spans of the draft whose blind index belongs to someone: another customer's
/// (and not this one's), and this customer's. Overlapping spans are merged.
#[derive(Debug, Default)]
struct OwnedAddresses {
    other: Vec<(usize, usize)>,
    own: Vec<(usize, usize)>,
}

async fn owned_addresses(
    state: &AppState,
    body: &str,
    found: &[(usize, usize)],
    me: &str,
) -> Result<OwnedAddresses, StoreError> {
    let keyring = state.store.keyring()?;
    let mut indexed: Vec<((usize, usize), String)> = Vec::new();
    for span in address_candidates(body, found) {
        let text = veilbox_mask::folded(&body[span.0..span.1]);
        if let Some(index) = keyring.blind(IndexedField::Address, &text) {
            indexed.push((span, index));
        }
    }
    let indexes: Vec<String> = indexed.iter().map(|(_, i)| i.clone()).collect();
    let owners = state.store.address_owners(&indexes).await?;
    let mut out = OwnedAddresses::default();
    for (span, index) in indexed {
        match owners.get(&index) {
            Some(owners) if owners.contains(me) => out.own.push(span),
            Some(owners) if !owners.is_empty() => out.other.push(span),
            _ => {}
        }
    }
    out.other = merge(out.other);
    out.own = merge(out.own);
    Ok(out)
}

/// Whose the value of finding `f` is.
async fn owner_of(
    state: &AppState,
    body: &str,
    f: &Finding,
    me: &str,
    addresses: &OwnedAddresses,
) -> Result<Owner, StoreError> {
    let value = veilbox_mask::folded(f.value(body));
    let hinted = f.why == Why::Hint;
    let span = (f.start, f.end);
    let search = match f.kind {
        Kind::Phone => {
            if is_company_phone(&value, &state.config.masking.company_phones) {
                return Ok(Owner::Company);
            }
            let digits: String = value
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '+')
                .collect();
            Some((SearchBy::Phone, digits))
        }
        Kind::Email => {
            let domain = value.rsplit('@').next().unwrap_or("");
            if is_company_host(domain, &state.config.masking.company_domains) {
                return Ok(Owner::Company);
            }
            Some((SearchBy::Email, value.trim().to_owned()))
        }
        Kind::Tracking => Some((SearchBy::Tracking, value.trim().to_owned())),
        Kind::Address | Kind::Postcode | Kind::Gps => {
            if addresses.other.iter().any(|&a| overlaps(a, span)) {
                return Ok(Owner::OtherCustomer);
            }
            if hinted || addresses.own.iter().any(|&a| overlaps(a, span)) {
                return Ok(Owner::ThisCustomer);
            }
            None
        }
        _ => None,
    };
    let mut owners: Vec<String> = match &search {
        Some((by, value)) => state
            .store
            .find_customers(*by, value)
            .await?
            .unwrap_or_default(),
        None => Vec::new(),
    };
    if let Some((SearchBy::Phone, value)) = &search {
        owners.extend(state.store.recipient_phone_owners(value).await?);
    }
    Ok(if hinted || owners.iter().any(|o| o == me) {
        Owner::ThisCustomer
    } else if !owners.is_empty() {
        Owner::OtherCustomer
    } else {
        Owner::Nobody
    })
}

/// One of the company's configured numbers, written internationally or nationally.
fn is_company_phone(value: &str, company: &[String]) -> bool {
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 7 {
        return false;
    }
    let e164 = veilbox_vault::normalize::phone(value);
    company.iter().any(|c| {
        let ours = veilbox_vault::normalize::phone(c);
        if ours.is_some() && ours == e164 {
            return true;
        }
        // A national spelling: "0800 123 4567" for +44 800 123 4567.
        let national = digits.trim_start_matches('0');
        national.len() >= 7 && ours.is_some_and(|o| o.ends_with(national))
    })
}

/// The conversation's customer's CRM values as hints: names, phones, e-mails, addresses
/// and their shipments' recipients and addresses.
/// This customer's values as hints, so that echoes are recognised as their own: the same
/// hints the masking step uses, or the conversation's own profile when there is no card.
fn hints_of(card: Option<&CustomerCard>, conversation: &ConversationSummary) -> Hints {
    if let Some(card) = card {
        return crate::exposure::hints_of(card);
    }
    let mut hints = Hints::new();
    if let Some(name) = &conversation.customer.profile_name {
        hints.add(Kind::Person, name.as_str());
    }
    if let Some(wa) = &conversation.customer.wa_id {
        hints.add(Kind::Phone, format!("+{wa}"));
    }
    hints
}

fn flag(
    body: &str,
    kind: Kind,
    (s, e): (usize, usize),
    level: Level,
    reason: &'static str,
) -> Flag {
    Flag {
        kind: kind.as_str(),
        start: chars(body, s),
        end: chars(body, e),
        level,
        reason,
    }
}

/// The character offset of byte offset `byte` (clamped to a boundary before it).
fn chars(text: &str, byte: usize) -> usize {
    let mut byte = byte.min(text.len());
    while !text.is_char_boundary(byte) {
        byte -= 1;
    }
    text[..byte].chars().count()
}

fn inside(inner: (usize, usize), outer: (usize, usize)) -> bool {
    outer.0 <= inner.0 && inner.1 <= outer.1
}

fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Overlapping spans as one.
fn merge(mut spans: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    spans.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for span in spans {
        match out.last_mut() {
            Some(last) if span.0 < last.1 => last.1 = last.1.max(span.1),
            _ => out.push(span),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn company_numbers_match_in_either_spelling() {
        let ours = vec!["+44 800 123 4567".to_owned()];
        assert!(is_company_phone("+448001234567", &ours));
        assert!(is_company_phone("0800 123 4567", &ours));
        assert!(!is_company_phone("+44 7700 900461", &ours));
    }

    #[test]
    fn spans_merge_and_count_characters() {
        assert_eq!(merge(vec![(5, 9), (0, 3), (2, 4)]), [(0, 4), (5, 9)]);
        assert_eq!(chars("né 12", 4), 3);
    }
}
