//! The masked handle a customer is known by on every page: `Customer 4F2A · •••• 3210`.
//!
//! The code is derived from the customer id (stable, not personal); the number shows at
//! most its last four digits; the profile name is not part of it (it is personal, and is
//! often a phone number).

use maud::{html, Markup};
use sha2::{Digest, Sha256};
use veilbox_store::reads::CustomerSummary;

use super::phone_label;

/// Four hex digits derived from the customer id, so agents can tell customers apart.
pub fn code(customer_id: &str) -> String {
    let digest = Sha256::digest(customer_id.as_bytes());
    format!("{:02X}{:02X}", digest[0], digest[1])
}

/// The handle as text: `Customer 4F2A · •••• 3210`, or `Erased customer`.
pub fn text(customer: &CustomerSummary) -> String {
    // Known by a business-scoped user id only: that id is personal too, so not shown.
    compose(&customer.id, customer.erased, customer.wa_id.as_deref())
}

/// The handle of a CRM card, as text.
pub fn of_card(card: &veilbox_store::crm::CustomerCard) -> String {
    compose(&card.id, card.erased, card.wa_number.as_deref())
}

fn compose(id: &str, erased: bool, number: Option<&str>) -> String {
    if erased {
        return "Erased customer".to_owned();
    }
    let code = code(id);
    match number {
        Some(number) => format!("Customer {code} · {}", phone_label(number)),
        None => format!("Customer {code}"),
    }
}

/// The handle as markup.
pub fn markup(customer: &CustomerSummary) -> Markup {
    if customer.erased {
        // Their data key is destroyed: there is nothing left to show.
        return html! { span.customer-label.erased { span.name { "Erased customer" } } };
    }
    html! {
        span.customer-label {
            span.name { "Customer " (code(&customer.id)) }
            @if let Some(wa_id) = &customer.wa_id {
                " · " span.handle { (phone_label(wa_id)) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handle_hides_the_name_and_all_but_four_digits() {
        let customer = CustomerSummary {
            id: "cus_01".into(),
            wa_id: Some("919876543210".into()),
            user_id: Some("IN.123".into()),
            profile_name: Some("Asha Rao".into()),
            erased: false,
        };
        let handle = text(&customer);
        assert!(handle.starts_with("Customer "), "{handle}");
        assert!(handle.ends_with("•••• 3210"), "{handle}");
        let html = markup(&customer).into_string();
        for secret in ["Asha", "98765", "IN.123"] {
            assert!(!handle.contains(secret) && !html.contains(secret), "{html}");
        }
        assert_eq!(code("cus_01"), code("cus_01"));
        assert_ne!(code("cus_01"), code("cus_02"));
    }
}
