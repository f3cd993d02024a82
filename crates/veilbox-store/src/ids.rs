//! Row ids: UUIDv7, made by Veilbox. Time-ordered (good index locality) and, unlike an
//! autoincrement, they do not tell a customer how many conversations we have.

/// A fresh id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
