//! The verdict for one finding, from its kind and whose it is. Pure.

use veilbox_mask::Kind;

use super::Level;

/// Whose a found value is, as far as Veilbox can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The company's own (configured phones and domains, links to them, placeholders).
    Company,
    /// This conversation's customer (their CRM values, or a blind index they own).
    ThisCustomer,
    /// Another customer (a blind index owned by someone else, and not by this customer).
    OtherCustomer,
    /// Nobody Veilbox knows.
    Nobody,
}

/// The verdict and the reason an agent is shown.
///
/// Payment details (IBAN, bank account, UPI) are blocked like cards: a courier never needs
/// a customer's bank details in a chat, and the company's own account details belong in an
/// approved template, not typed by an agent. Names are allowed: greeting a customer by
/// name is normal, and name detection is too loose to warn on every sign-off.
/// A tracking number or order id nobody owns is allowed: it may be a parcel not imported
/// yet, and a tracking number alone names no one.
pub fn judge(kind: Kind, owner: Owner) -> (Level, &'static str) {
    use Kind::*;
    match kind {
        Card | Cvv | CardExpiry => (Level::Block, "payment card data is never sent in a chat"),
        Iban | BankAccount | Upi => (Level::Block, "payment details are never sent in a chat"),
        Otp => (
            Level::Block,
            "one-time codes are never sent: that is how fraud happens",
        ),
        Password => (Level::Block, "passwords are never sent in a chat"),
        Secret => (Level::Block, "keys and tokens are never sent in a chat"),
        Aadhaar | Pan | Ssn | UkNino | Cpf | NationalId | Nik => {
            (Level::Block, "national id numbers are never sent in a chat")
        }
        Person => (Level::Allow, "names are not checked"),
        _ if owner == Owner::Company => (Level::Allow, "the company's own"),
        _ if owner == Owner::OtherCustomer => (Level::Block, "this belongs to another customer"),
        Tracking | Order => (Level::Allow, "parcel references are kept"),
        _ if owner == Owner::ThisCustomer => (
            Level::Warn,
            "this customer's own details: confirm you mean to send them",
        ),
        _ => (
            Level::Warn,
            "personal data of someone Veilbox does not know: confirm you mean to send it",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_secrets_and_ids_block_whoever_owns_them() {
        for kind in [
            Kind::Card,
            Kind::Cvv,
            Kind::Otp,
            Kind::Iban,
            Kind::Secret,
            Kind::Pan,
            Kind::NationalId,
            Kind::Nik,
        ] {
            for owner in [Owner::Company, Owner::ThisCustomer, Owner::Nobody] {
                assert_eq!(judge(kind, owner).0, Level::Block, "{kind:?}");
            }
        }
    }

    #[test]
    fn contact_details_depend_on_their_owner() {
        let table = [
            (Kind::Phone, Owner::OtherCustomer, Level::Block),
            (Kind::Phone, Owner::ThisCustomer, Level::Warn),
            (Kind::Phone, Owner::Nobody, Level::Warn),
            (Kind::Phone, Owner::Company, Level::Allow),
            (Kind::Address, Owner::OtherCustomer, Level::Block),
            (Kind::Address, Owner::ThisCustomer, Level::Warn),
            (Kind::Email, Owner::Company, Level::Allow),
            (Kind::Tracking, Owner::ThisCustomer, Level::Allow),
            (Kind::Tracking, Owner::Nobody, Level::Allow),
            (Kind::Tracking, Owner::OtherCustomer, Level::Block),
            (Kind::Postcode, Owner::ThisCustomer, Level::Warn),
            (Kind::Person, Owner::Nobody, Level::Allow),
            // a number the masking could not prove safe: the agent confirms it
            (Kind::Number, Owner::Nobody, Level::Warn),
            (Kind::Number, Owner::OtherCustomer, Level::Block),
        ];
        for (kind, owner, level) in table {
            assert_eq!(judge(kind, owner).0, level, "{kind:?} {owner:?}");
        }
    }
}
