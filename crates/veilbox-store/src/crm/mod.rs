//! The encrypted CRM: customer cards, contacts, addresses, notes, labels, merges, search by
//! blind index, and shipments with their status timeline.
//!
//! Everything personal is sealed with the owning customer's data key and bound to its
//! table, column and row (see the `0007_crm` migration for what stays clear and why).
//! Phones, e-mails and tracking numbers are found by their blind index only: there is no
//! partial-match search over encrypted fields.
//!
//! * [`address_index`]: blind indexes of addresses, for leak checks on replies;
//! * [`card`]: reading a customer's card and shipments, and the facts authorization needs;
//! * [`edit`]: display name, labels, contacts, addresses and notes;
//! * [`merge`]: one person with two numbers becomes one customer;
//! * [`search`]: exact lookup by phone, e-mail or tracking number;
//! * [`import`]: idempotent shipment upserts by tracking number;
//! * [`tracking`]: the [`TrackingNumber`] newtype.

pub mod address_index;
pub mod card;
pub mod edit;
pub mod import;
pub mod merge;
pub mod search;
pub mod tracking;

use serde::Serialize;

pub use tracking::{TrackingError, TrackingNumber};

/// Labels a customer may carry at most.
pub const MAX_LABELS: usize = 10;

/// A customer's card: their opened details, contacts, addresses, notes and shipments.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CustomerCard {
    /// Customer id.
    pub id: String,
    /// The name the company knows them by.
    pub display_name: Option<String>,
    /// Their WhatsApp profile name.
    pub profile_name: Option<String>,
    /// Their WhatsApp number (digits with the country code).
    pub wa_number: Option<String>,
    /// The company's labels.
    pub labels: Vec<String>,
    /// Other phones and e-mails.
    pub contacts: Vec<Contact>,
    /// Addresses.
    pub addresses: Vec<Address>,
    /// Staff notes, oldest first.
    pub notes: Vec<Note>,
    /// Shipments, newest first, each with its timeline.
    pub shipments: Vec<Shipment>,
    /// The customer this one was merged into (their card has the data now).
    pub merged_into: Option<String>,
    /// Erased: nothing personal is left.
    pub erased: bool,
    /// Since when they asked WhatsApp to stop marketing messages, Unix ms (`None`: they
    /// did not, or resumed since).
    pub marketing_opt_out_at: Option<i64>,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
}

/// A phone or e-mail of a customer.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Contact {
    /// Contact id.
    pub id: String,
    /// `phone` or `email`.
    pub kind: ContactKind,
    /// The normalised value (E.164 phone, lowercased e-mail).
    pub value: String,
    /// Added, Unix ms.
    pub created_at: i64,
}

/// What kind of contact.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContactKind {
    /// A phone number, indexed in E.164.
    Phone,
    /// An e-mail address, indexed lowercased.
    Email,
}

impl ContactKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactKind::Phone => "phone",
            ContactKind::Email => "email",
        }
    }

    fn parse(text: &str) -> Option<ContactKind> {
        match text {
            "phone" => Some(ContactKind::Phone),
            "email" => Some(ContactKind::Email),
            _ => None,
        }
    }

    /// The blind-indexed field.
    pub fn field(self) -> veilbox_vault::IndexedField {
        match self {
            ContactKind::Phone => veilbox_vault::IndexedField::Phone,
            ContactKind::Email => veilbox_vault::IndexedField::Email,
        }
    }

    /// The one spelling of `value`, or `None` when it is not a full phone number / address.
    pub fn normalize(self, value: &str) -> Option<String> {
        match self {
            ContactKind::Phone => veilbox_vault::normalize::phone(value),
            ContactKind::Email => veilbox_vault::normalize::email(value),
        }
    }
}

/// An address of a customer.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Address {
    /// Address id.
    pub id: String,
    /// The company's short label (`home`, `work`).
    pub label: Option<String>,
    /// The address text.
    pub value: String,
    /// Added, Unix ms.
    pub created_at: i64,
}

/// A staff note on a customer.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Note {
    /// Note id.
    pub id: String,
    /// Who wrote it (a user id, `token:<id>`, ...).
    pub author: String,
    /// The text.
    pub body: String,
    /// Written, Unix ms.
    pub created_at: i64,
}

/// A shipment, opened.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Shipment {
    /// Shipment id.
    pub id: String,
    /// Whose shipment.
    pub customer_id: String,
    /// The normalised tracking number.
    pub tracking: String,
    /// The format it was recognised as.
    pub format: String,
    /// The current status.
    pub status: String,
    /// Sender's name.
    pub sender_name: Option<String>,
    /// Recipient's name.
    pub recipient_name: Option<String>,
    /// Recipient's phone.
    pub recipient_phone: Option<String>,
    /// Delivery address.
    pub address: Option<String>,
    /// Delivery instructions.
    pub instructions: Option<String>,
    /// Delivery slot start, Unix ms.
    pub slot_start: Option<i64>,
    /// Delivery slot end, Unix ms.
    pub slot_end: Option<i64>,
    /// Expected delivery, Unix ms.
    pub eta: Option<i64>,
    /// Cash on delivery, in minor units of [`Shipment::cod_currency`].
    pub cod_amount_minor: Option<i64>,
    /// ISO 4217 currency of the cash-on-delivery amount.
    pub cod_currency: Option<String>,
    /// First imported, Unix ms.
    pub created_at: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
    /// When the status became final, Unix ms.
    pub closed_at: Option<i64>,
    /// Every status it went through, oldest first.
    pub timeline: Vec<ShipmentEvent>,
}

/// One step of a shipment's status timeline.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ShipmentEvent {
    /// The status reached.
    pub status: String,
    /// When, Unix ms.
    pub at: i64,
}

/// Where a shipment stands. The company's statuses map onto these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    /// Announced; not yet with the courier.
    Created,
    /// Collected from the sender.
    PickedUp,
    /// Moving between depots.
    InTransit,
    /// At the delivery depot.
    AtDepot,
    /// On the van today.
    OutForDelivery,
    /// Nobody home / refused; another attempt will follow.
    DeliveryAttempted,
    /// Held (customs, address problem, on request).
    Held,
    /// Delivered. Final.
    Delivered,
    /// Returned to the sender. Final.
    Returned,
    /// Cancelled. Final.
    Cancelled,
}

impl ShipmentStatus {
    /// Every status.
    pub const ALL: [ShipmentStatus; 10] = [
        ShipmentStatus::Created,
        ShipmentStatus::PickedUp,
        ShipmentStatus::InTransit,
        ShipmentStatus::AtDepot,
        ShipmentStatus::OutForDelivery,
        ShipmentStatus::DeliveryAttempted,
        ShipmentStatus::Held,
        ShipmentStatus::Delivered,
        ShipmentStatus::Returned,
        ShipmentStatus::Cancelled,
    ];

    /// The stored (and documented) name.
    pub fn as_str(self) -> &'static str {
        match self {
            ShipmentStatus::Created => "created",
            ShipmentStatus::PickedUp => "picked_up",
            ShipmentStatus::InTransit => "in_transit",
            ShipmentStatus::AtDepot => "at_depot",
            ShipmentStatus::OutForDelivery => "out_for_delivery",
            ShipmentStatus::DeliveryAttempted => "delivery_attempted",
            ShipmentStatus::Held => "held",
            ShipmentStatus::Delivered => "delivered",
            ShipmentStatus::Returned => "returned",
            ShipmentStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a status name; case, spaces and dashes are forgiven (`Out for delivery`).
    pub fn parse(text: &str) -> Option<ShipmentStatus> {
        let wanted: String = text
            .trim()
            .chars()
            .map(|c| match c {
                ' ' | '-' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        ShipmentStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == wanted)
    }

    /// No further status is expected.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ShipmentStatus::Delivered | ShipmentStatus::Returned | ShipmentStatus::Cancelled
        )
    }
}

/// Why a CRM change was refused. Messages name ids, never personal values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrmRefusal {
    /// No customer has that id.
    #[error("no such customer")]
    NoSuchCustomer,
    /// The customer was erased.
    #[error("the customer was erased")]
    Erased,
    /// The customer was merged into another; change that one.
    #[error("the customer was merged into {0}")]
    Merged(String),
    /// The phone or e-mail belongs to another customer.
    #[error("that contact belongs to customer {0}")]
    ContactTaken(String),
    /// The phone or e-mail belongs to another customer the caller may not see (so their
    /// id is not named).
    #[error("that contact belongs to another customer")]
    ContactTakenElsewhere,
    /// Not a full phone number (with country code) or e-mail address.
    #[error("not a full {0}")]
    NotNormalised(&'static str),
    /// A field is out of bounds.
    #[error("{0}")]
    Invalid(&'static str),
    /// A customer cannot be merged into themselves.
    #[error("a customer cannot be merged into themselves")]
    SameCustomer,
    /// No such contact on this customer.
    #[error("no such contact")]
    NoSuchContact,
}

/// Checks and tidies labels: lowercase `[a-z0-9-]{1,24}`, at most [`MAX_LABELS`],
/// duplicates dropped, order kept.
pub fn validate_labels(labels: &[String]) -> Result<Vec<String>, CrmRefusal> {
    let mut out: Vec<String> = Vec::new();
    for label in labels {
        let label = label.trim().to_ascii_lowercase();
        let ok = (1..=24).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(CrmRefusal::Invalid(
                "labels are 1 to 24 characters of a-z, 0-9 and '-'",
            ));
        }
        if !out.contains(&label) {
            out.push(label);
        }
    }
    if out.len() > MAX_LABELS {
        return Err(CrmRefusal::Invalid("at most 10 labels"));
    }
    Ok(out)
}

/// The table of shipments; also the associated-data table name of their sealed fields.
pub(crate) const SHIPMENTS: &str = "shipments";

/// The rows a customer's address blind indexes were computed from (their addresses and
/// their shipments), as a subquery on `$1`, the customer id: `address_indexes` is reached
/// through them rather than through an index of its own by customer.
pub(crate) const ADDRESS_SOURCES_OF: &str = "SELECT id FROM shipments WHERE customer_id = $1 \
     UNION ALL SELECT id FROM customer_addresses WHERE customer_id = $1";

/// A transaction that holds the write lock from its start: on SQLite `BEGIN IMMEDIATE`
/// (a deferred one that reads first fails with SQLITE_BUSY when it upgrades after another
/// writer committed); on PostgreSQL one CRM writer at a time (an advisory lock released at
/// commit), so two imports never race to create the same customer or shipment.
/// [`write_tx`] on a connection of its own (not from the pool).
pub(crate) async fn write_tx_on(
    conn: &mut sqlx::AnyConnection,
    backend: crate::Backend,
) -> Result<sqlx::Transaction<'_, sqlx::Any>, crate::StoreError> {
    use sqlx::Connection as _;
    match backend {
        crate::Backend::Sqlite => Ok(conn.begin_with("BEGIN IMMEDIATE").await?),
        crate::Backend::Postgres => {
            let mut tx = conn.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock(7612202)")
                .execute(&mut *tx)
                .await?;
            Ok(tx)
        }
    }
}

pub(crate) async fn write_tx(
    store: &crate::Store,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, crate::StoreError> {
    match store.backend() {
        crate::Backend::Sqlite => Ok(store.pool().begin_with("BEGIN IMMEDIATE").await?),
        crate::Backend::Postgres => {
            let mut tx = store.pool().begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock(7612202)")
                .execute(&mut *tx)
                .await?;
            Ok(tx)
        }
    }
}

/// The customer that owns the blind index `index` of a phone or e-mail: by WhatsApp number
/// (phones) or by contact, following a merge to the surviving customer. Erased customers
/// own nothing (their index was replaced by a tombstone and their contacts deleted).
pub(crate) async fn owner_of(
    conn: &mut sqlx::AnyConnection,
    kind: ContactKind,
    index: &str,
) -> Result<Option<String>, crate::StoreError> {
    use sqlx::Row;
    if kind == ContactKind::Phone {
        let row = sqlx::query(
            "SELECT COALESCE(merged_into, id) AS owner FROM customers WHERE wa_id = $1 AND erased_at IS NULL",
        )
        .bind(index)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(row) = row {
            return Ok(Some(row.try_get("owner")?));
        }
    }
    let row = sqlx::query(
        "SELECT customer_id FROM customer_contacts WHERE kind = $1 AND blind_index = $2",
    )
    .bind(kind.as_str())
    .bind(index)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| r.try_get("customer_id"))
        .transpose()
        .map_err(Into::into)
}

/// Refuses unless `customer_id` exists and is neither erased nor merged.
pub(crate) async fn check_live(
    conn: &mut sqlx::AnyConnection,
    customer_id: &str,
) -> Result<Result<(), CrmRefusal>, crate::StoreError> {
    use sqlx::Row;
    let row = sqlx::query("SELECT erased_at, merged_into FROM customers WHERE id = $1")
        .bind(customer_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(Err(CrmRefusal::NoSuchCustomer));
    };
    if row.try_get::<Option<i64>, _>("erased_at")?.is_some() {
        return Ok(Err(CrmRefusal::Erased));
    }
    if let Some(into) = row.try_get::<Option<String>, _>("merged_into")? {
        return Ok(Err(CrmRefusal::Merged(into)));
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_statuses_parse() {
        assert_eq!(
            validate_labels(&["VIP".into(), "fragile".into(), "vip".into()]),
            Ok(vec!["vip".to_owned(), "fragile".to_owned()])
        );
        assert!(validate_labels(&["no spaces".into()]).is_err());
        assert!(validate_labels(&["".into()]).is_err());
        assert!(validate_labels(&["x".repeat(25)]).is_err());
        let many: Vec<String> = (0..11).map(|i| format!("l{i}")).collect();
        assert!(validate_labels(&many).is_err());
        assert_eq!(
            ShipmentStatus::parse("Out for delivery"),
            Some(ShipmentStatus::OutForDelivery)
        );
        assert_eq!(ShipmentStatus::parse("lost"), None);
    }
}
