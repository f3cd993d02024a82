//! The kinds of data the scanner finds, named as the issue and `score_mask.py` name them.

use std::fmt;
use std::str::FromStr;

/// What a finding is. Every kind but [`Kind::Tracking`] and [`Kind::Order`] is sensitive and
/// masked by default; those two are found so that they are *kept visible* and never mistaken
/// for phones or cards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A phone number (international or national format).
    Phone,
    /// An e-mail address, including `[at]`/`[dot]` and spelled-out forms.
    Email,
    /// A payment card number (Luhn-checked).
    Card,
    /// A card security code (CVV/CVC), found by its cue.
    Cvv,
    /// A card expiry date (`MM/YY`), found near a card or its cue.
    CardExpiry,
    /// An IBAN (ISO 13616 mod-97 and the country's length).
    Iban,
    /// A bank account number, found by its cue.
    BankAccount,
    /// An Indian UPI payment address (`name@bank`).
    Upi,
    /// An Indian Aadhaar number (Verhoeff-checked).
    Aadhaar,
    /// An Indian PAN (permanent account number).
    Pan,
    /// A US social security number (invalid ranges excluded).
    Ssn,
    /// A UK national insurance number.
    UkNino,
    /// A Brazilian CPF (two mod-11 check digits).
    Cpf,
    /// A one-time code or PIN near its cue word.
    Otp,
    /// A password after its cue word.
    Password,
    /// A street-level postal address.
    Address,
    /// A postcode, ZIP, PIN code or CEP (with context).
    Postcode,
    /// A coordinate pair or a map link.
    Gps,
    /// A person's name (after cues, salutations, signatures, or from the name lexicon).
    Person,
    /// A date of birth.
    Dob,
    /// An IPv4 or IPv6 address.
    Ip,
    /// An API key, token or JWT.
    Secret,
    /// A national identifier with no kind of its own (ids, tax and voter numbers, passports,
    /// driving licences), found by its format or an id cue.
    NationalId,
    /// An Indonesian NIK (16 digits: region, date of birth, serial).
    Nik,
    /// A number or identifier that nothing proves safe: hidden because it could not be
    /// classified (failing closed), revealable like an address.
    Number,
    /// A parcel tracking number or air waybill: kept visible.
    Tracking,
    /// An order id: kept visible.
    Order,
}

impl Kind {
    /// Number of kinds.
    pub const COUNT: usize = 27;

    /// Every kind, in declaration order.
    pub const ALL: [Kind; Kind::COUNT] = [
        Kind::Phone,
        Kind::Email,
        Kind::Card,
        Kind::Cvv,
        Kind::CardExpiry,
        Kind::Iban,
        Kind::BankAccount,
        Kind::Upi,
        Kind::Aadhaar,
        Kind::Pan,
        Kind::Ssn,
        Kind::UkNino,
        Kind::Cpf,
        Kind::Otp,
        Kind::Password,
        Kind::Address,
        Kind::Postcode,
        Kind::Gps,
        Kind::Person,
        Kind::Dob,
        Kind::Ip,
        Kind::Secret,
        Kind::NationalId,
        Kind::Nik,
        Kind::Number,
        Kind::Tracking,
        Kind::Order,
    ];

    /// The upper-case name used in findings and mask tags, e.g. `"CARD_EXPIRY"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Phone => "PHONE",
            Kind::Email => "EMAIL",
            Kind::Card => "CARD",
            Kind::Cvv => "CVV",
            Kind::CardExpiry => "CARD_EXPIRY",
            Kind::Iban => "IBAN",
            Kind::BankAccount => "BANK_ACCOUNT",
            Kind::Upi => "UPI",
            Kind::Aadhaar => "AADHAAR",
            Kind::Pan => "PAN",
            Kind::Ssn => "SSN",
            Kind::UkNino => "UK_NINO",
            Kind::Cpf => "CPF",
            Kind::Otp => "OTP",
            Kind::Password => "PASSWORD",
            Kind::Address => "ADDRESS",
            Kind::Postcode => "POSTCODE",
            Kind::Gps => "GPS",
            Kind::Person => "PERSON",
            Kind::Dob => "DOB",
            Kind::Ip => "IP",
            Kind::Secret => "SECRET",
            Kind::NationalId => "NATIONAL_ID",
            Kind::Nik => "NIK",
            Kind::Number => "NUMBER",
            Kind::Tracking => "TRACKING",
            Kind::Order => "ORDER",
        }
    }

    /// Position of the kind in [`Kind::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// True for the kinds an agent needs to see (tracking numbers and order ids).
    pub const fn is_kept(self) -> bool {
        matches!(self, Kind::Tracking | Kind::Order)
    }

    /// How much harm showing a value of this kind does, from 0 (kept references) up: when
    /// two readings of one value compete, or a field hidden whole holds several kinds, the
    /// more sensitive one decides what it is.
    pub const fn sensitivity(self) -> u8 {
        match self {
            Kind::Tracking | Kind::Order => 0,
            Kind::Number => 1,
            Kind::Person | Kind::Postcode => 2,
            Kind::Phone | Kind::Email | Kind::Address | Kind::Gps | Kind::Ip => 3,
            Kind::Dob | Kind::Upi => 4,
            Kind::Aadhaar
            | Kind::Pan
            | Kind::Ssn
            | Kind::UkNino
            | Kind::Cpf
            | Kind::NationalId
            | Kind::Nik => 5,
            Kind::Iban | Kind::BankAccount => 6,
            Kind::Otp | Kind::Password | Kind::Secret => 7,
            Kind::Card | Kind::Cvv | Kind::CardExpiry => 8,
        }
    }

    /// True for the national id family (scored together).
    pub const fn is_national_id(self) -> bool {
        matches!(
            self,
            Kind::Aadhaar
                | Kind::Pan
                | Kind::Ssn
                | Kind::UkNino
                | Kind::Cpf
                | Kind::NationalId
                | Kind::Nik
        )
    }

    /// True for kinds whose value is essentially a digit string (phones, cards, ids), which
    /// partial masking may show the last four digits of.
    pub const fn is_numeric(self) -> bool {
        matches!(
            self,
            Kind::Phone
                | Kind::Card
                | Kind::Iban
                | Kind::BankAccount
                | Kind::Aadhaar
                | Kind::Ssn
                | Kind::Cpf
        )
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned when a string names no kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKind;

impl fmt::Display for UnknownKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown kind")
    }
}

impl std::error::Error for UnknownKind {}

impl FromStr for Kind {
    type Err = UnknownKind;

    /// Parses a kind name, case-insensitively; a few common aliases are accepted
    /// (`NAME` for PERSON, `ZIP`/`PIN_CODE` for POSTCODE, `MOBILE` for PHONE).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let up = s.trim().to_ascii_uppercase();
        if let Some(k) = Kind::ALL.iter().find(|k| k.as_str() == up) {
            return Ok(*k);
        }
        Ok(match up.as_str() {
            "NAME" | "CUSTOMER" | "CUSTOMER_NAME" => Kind::Person,
            "MOBILE" | "PHONE_NUMBER" | "TEL" => Kind::Phone,
            "EMAIL_ADDRESS" | "MAIL" => Kind::Email,
            "ZIP" | "PIN_CODE" | "PINCODE" | "CEP" | "POSTAL_CODE" => Kind::Postcode,
            "ADDRESSES" | "LOCATION" => Kind::Address,
            "ACCOUNT" | "ACCOUNT_NUMBER" => Kind::BankAccount,
            "ID" | "NATIONAL_NUMBER" | "PASSPORT" | "DRIVING_LICENCE" | "DRIVING_LICENSE" => {
                Kind::NationalId
            }
            _ => return Err(UnknownKind),
        })
    }
}
