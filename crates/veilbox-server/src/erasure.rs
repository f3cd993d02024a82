//! Erasing a customer on request (right to be forgotten): from the CLI or an admin's
//! page. The store destroys the customer's data key and clears their rows; this adds the
//! reason rule and the audit record, which says who, when and why, and never what.

use veilbox_store::erasure::{ErasureRefusal, ErasureReport};
use veilbox_store::Store;

use crate::staff::By;

/// The shortest reason accepted: enough for "GDPR art. 17 request #123".
const MIN_REASON: usize = 8;

/// Why an erasure was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum EraseError {
    /// No reason, or one too short to mean anything later.
    #[error("an erasure needs a reason of at least {MIN_REASON} characters (it goes into the audit log)")]
    Reason,
    /// No such customer.
    #[error("no customer has that id")]
    NoSuchCustomer,
    /// Erased before.
    #[error("that customer was already erased")]
    AlreadyErased,
    /// A record merged into another customer, who holds the data now.
    #[error("that record was merged into customer {0}: erase that customer")]
    MergedInto(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] veilbox_store::StoreError),
}

/// Erases `customer_id` and records it in the audit log.
pub async fn erase_customer(
    store: &Store,
    customer_id: &str,
    reason: &str,
    by: By<'_>,
) -> Result<ErasureReport, EraseError> {
    let reason = reason.trim();
    if reason.chars().count() < MIN_REASON {
        return Err(EraseError::Reason);
    }
    let report = match store.erase_customer(customer_id).await? {
        Ok(report) => report,
        Err(ErasureRefusal::NoSuchCustomer) => return Err(EraseError::NoSuchCustomer),
        Err(ErasureRefusal::AlreadyErased) => return Err(EraseError::AlreadyErased),
        Err(ErasureRefusal::MergedInto(into)) => return Err(EraseError::MergedInto(into)),
    };
    store
        .audit(&by.entry("customer.erased", Some(customer_id), Some(reason)))
        .await?;
    tracing::info!(customer = customer_id, "customer erased");
    Ok(report)
}
