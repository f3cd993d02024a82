//! Cue words: the words next to a value that say what it is ("OTP", "cvv", "a/c no",
//! "meu nome é", "kode pos"). One Aho-Corasick automaton finds all of them in one pass,
//! ASCII case-insensitively, keeping only whole-word hits.

use aho_corasick::automaton::Automaton;
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind};

/// What a cue word announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cue {
    Phone,
    Card,
    Cvv,
    Expiry,
    Account,
    Upi,
    Aadhaar,
    Pan,
    Ssn,
    Nino,
    Cpf,
    Otp,
    /// "PIN": an OTP, or India's postal PIN code when an address comes first.
    Pin,
    Password,
    Postcode,
    /// After a postcode: "is 560034 serviceable?"
    PostcodeAfter,
    Dob,
    Tracking,
    Order,
    /// Public bank identifiers that are not secret: routing number, sort code, IFSC, branch.
    BankPublic,
    /// Helpline and toll-free numbers: a business's own number, not personal data.
    Helpline,
    Amount,
    Iban,
    Secret,
    /// A name follows: "my name is", "receiver:", "deliver to".
    Name,
    /// A name follows, in a salutation: "Hi", "Thanks", "Dear".
    Greeting,
    /// A name comes before: "... here", "... hier".
    NameAfter,
    Ip,
    /// Words that introduce an address ("address:", "deliver to", "alamat").
    Address,
}

/// Cue table. Longer phrases win over their prefixes (leftmost-longest).
const CUES: &[(&str, Cue)] = &[
    // phones
    ("phone", Cue::Phone),
    ("phone no", Cue::Phone),
    ("phone number", Cue::Phone),
    ("ph", Cue::Phone),
    ("ph no", Cue::Phone),
    ("mobile", Cue::Phone),
    ("mobile no", Cue::Phone),
    ("mob", Cue::Phone),
    ("mob no", Cue::Phone),
    ("mobile number", Cue::Phone),
    ("cell", Cue::Phone),
    ("cell phone", Cue::Phone),
    ("call", Cue::Phone),
    ("call me", Cue::Phone),
    ("call me on", Cue::Phone),
    ("call me at", Cue::Phone),
    ("ring", Cue::Phone),
    ("ring me", Cue::Phone),
    ("text me", Cue::Phone),
    ("text me at", Cue::Phone),
    ("sms", Cue::Phone),
    ("whatsapp", Cue::Phone),
    ("whats", Cue::Phone),
    ("tel", Cue::Phone),
    ("tel.", Cue::Phone),
    ("telephone", Cue::Phone),
    ("contact", Cue::Phone),
    ("contact no", Cue::Phone),
    ("contact number", Cue::Phone),
    ("reach me", Cue::Phone),
    ("reach me at", Cue::Phone),
    ("reach me on", Cue::Phone),
    ("number", Cue::Phone),
    ("no", Cue::Phone),
    ("no.", Cue::Phone),
    ("my no", Cue::Phone),
    ("my number", Cue::Phone),
    ("his no", Cue::Phone),
    ("her no", Cue::Phone),
    ("num", Cue::Phone),
    ("nbr", Cue::Phone),
    ("hp", Cue::Phone),
    ("no hp", Cue::Phone),
    ("nomor", Cue::Phone),
    ("nomor hp", Cue::Phone),
    ("nomor wa", Cue::Phone),
    ("telp", Cue::Phone),
    ("hubungi", Cue::Phone),
    ("telefone", Cue::Phone),
    ("celular", Cue::Phone),
    ("ligar", Cue::Phone),
    ("ligar no", Cue::Phone),
    ("ligue", Cue::Phone),
    ("zap", Cue::Phone),
    ("contato", Cue::Phone),
    ("número", Cue::Phone),
    ("numero", Cue::Phone),
    ("numéro", Cue::Phone),
    ("handy", Cue::Phone),
    ("handynummer", Cue::Phone),
    ("telefonnummer", Cue::Phone),
    ("rufen", Cue::Phone),
    ("anrufen", Cue::Phone),
    ("portable", Cue::Phone),
    ("cellulare", Cue::Phone),
    ("móvil", Cue::Phone),
    ("movil", Cue::Phone),
    ("mobiel", Cue::Phone),
    ("landline", Cue::Phone),
    ("alternate", Cue::Phone),
    ("alternate no", Cue::Phone),
    // cards
    ("card", Cue::Card),
    ("card no", Cue::Card),
    ("card number", Cue::Card),
    ("credit card", Cue::Card),
    ("debit card", Cue::Card),
    ("cartão", Cue::Card),
    ("cartao", Cue::Card),
    ("kartu", Cue::Card),
    ("karte", Cue::Card),
    ("carte", Cue::Card),
    ("tarjeta", Cue::Card),
    ("carta", Cue::Card),
    ("visa", Cue::Card),
    ("mastercard", Cue::Card),
    ("amex", Cue::Card),
    ("rupay", Cue::Card),
    ("cc", Cue::Card),
    ("full no", Cue::Card),
    ("card ending", Cue::Card),
    ("cvv", Cue::Cvv),
    ("cvv2", Cue::Cvv),
    ("cvc", Cue::Cvv),
    ("cvc2", Cue::Cvv),
    ("cid", Cue::Cvv),
    ("csc", Cue::Cvv),
    ("security code", Cue::Cvv),
    ("código de segurança", Cue::Cvv),
    ("codigo de seguranca", Cue::Cvv),
    ("card code", Cue::Cvv),
    ("back of the card", Cue::Cvv),
    ("exp", Cue::Expiry),
    ("exp.", Cue::Expiry),
    ("expiry", Cue::Expiry),
    ("expiry date", Cue::Expiry),
    ("expires", Cue::Expiry),
    ("expiration", Cue::Expiry),
    ("exp date", Cue::Expiry),
    ("valid thru", Cue::Expiry),
    ("valid through", Cue::Expiry),
    ("valid till", Cue::Expiry),
    ("valid until", Cue::Expiry),
    ("validade", Cue::Expiry),
    ("vencimento", Cue::Expiry),
    ("masa berlaku", Cue::Expiry),
    ("gültig bis", Cue::Expiry),
    ("ablaufdatum", Cue::Expiry),
    ("mm/yy", Cue::Expiry),
    // bank
    ("account", Cue::Account),
    ("account no", Cue::Account),
    ("account number", Cue::Account),
    ("acct", Cue::Account),
    ("acct no", Cue::Account),
    ("acc", Cue::Account),
    ("acc no", Cue::Account),
    ("a/c", Cue::Account),
    ("a/c no", Cue::Account),
    ("ac no", Cue::Account),
    ("bank account", Cue::Account),
    ("checking", Cue::Account),
    ("checking account", Cue::Account),
    ("savings", Cue::Account),
    ("savings account", Cue::Account),
    ("conta", Cue::Account),
    ("conta corrente", Cue::Account),
    ("rekening", Cue::Account),
    ("no rek", Cue::Account),
    ("no rekening", Cue::Account),
    ("norek", Cue::Account),
    ("kontonummer", Cue::Account),
    ("konto", Cue::Account),
    ("compte", Cue::Account),
    ("cuenta", Cue::Account),
    ("rekeningnummer", Cue::Account),
    ("khata", Cue::Account),
    ("routing", Cue::BankPublic),
    ("routing number", Cue::BankPublic),
    ("routing no", Cue::BankPublic),
    ("aba", Cue::BankPublic),
    ("sort code", Cue::BankPublic),
    ("ifsc", Cue::BankPublic),
    ("ifsc code", Cue::BankPublic),
    ("swift", Cue::BankPublic),
    ("bic", Cue::BankPublic),
    ("ag", Cue::BankPublic),
    ("agência", Cue::BankPublic),
    ("agencia", Cue::BankPublic),
    ("branch", Cue::BankPublic),
    ("branch code", Cue::BankPublic),
    ("blz", Cue::BankPublic),
    ("iban", Cue::Iban),
    ("upi", Cue::Upi),
    ("upi id", Cue::Upi),
    ("vpa", Cue::Upi),
    ("gpay", Cue::Upi),
    ("phonepe", Cue::Upi),
    ("paytm", Cue::Upi),
    ("pix", Cue::Upi),
    ("chave pix", Cue::Upi),
    // national ids
    ("aadhaar", Cue::Aadhaar),
    ("aadhar", Cue::Aadhaar),
    ("adhaar", Cue::Aadhaar),
    ("adhar", Cue::Aadhaar),
    ("aadhaar no", Cue::Aadhaar),
    ("aadhar no", Cue::Aadhaar),
    ("aadhaar number", Cue::Aadhaar),
    ("aadhar card", Cue::Aadhaar),
    ("aadhaar card", Cue::Aadhaar),
    ("uid", Cue::Aadhaar),
    ("uidai", Cue::Aadhaar),
    ("pan", Cue::Pan),
    ("pan card", Cue::Pan),
    ("pan no", Cue::Pan),
    ("pan number", Cue::Pan),
    ("ssn", Cue::Ssn),
    ("social", Cue::Ssn),
    ("social security", Cue::Ssn),
    ("social security number", Cue::Ssn),
    ("ss#", Cue::Ssn),
    ("ni number", Cue::Nino),
    ("ni no", Cue::Nino),
    ("nino", Cue::Nino),
    ("national insurance", Cue::Nino),
    ("national insurance number", Cue::Nino),
    ("ni", Cue::Nino),
    ("cpf", Cue::Cpf),
    ("cpf/cnpj", Cue::Cpf),
    // one-time codes
    ("otp", Cue::Otp),
    ("otp code", Cue::Otp),
    ("one-time password", Cue::Otp),
    ("one time password", Cue::Otp),
    ("one-time code", Cue::Otp),
    ("one time code", Cue::Otp),
    ("code", Cue::Otp),
    ("passcode", Cue::Otp),
    ("verification code", Cue::Otp),
    ("security pin", Cue::Otp),
    ("delivery code", Cue::Otp),
    ("delivery pin", Cue::Otp),
    ("delivery otp", Cue::Otp),
    ("kode", Cue::Otp),
    ("kode otp", Cue::Otp),
    ("kode verifikasi", Cue::Otp),
    ("kode verifikasinya", Cue::Otp),
    ("verifikasi", Cue::Otp),
    ("kodenya", Cue::Otp),
    ("código", Cue::Otp),
    ("codigo", Cue::Otp),
    ("código de verificação", Cue::Otp),
    ("code de vérification", Cue::Otp),
    ("bestätigungscode", Cue::Otp),
    ("codice", Cue::Otp),
    ("mpin", Cue::Otp),
    ("tan", Cue::Otp),
    ("pin", Cue::Pin),
    ("pin is", Cue::Pin),
    ("pin no", Cue::Pin),
    // passwords
    ("password", Cue::Password),
    ("passwd", Cue::Password),
    ("pwd", Cue::Password),
    ("pass", Cue::Password),
    ("pw", Cue::Password),
    ("senha", Cue::Password),
    ("kata sandi", Cue::Password),
    ("sandi", Cue::Password),
    ("passwort", Cue::Password),
    ("kennwort", Cue::Password),
    ("mot de passe", Cue::Password),
    ("contraseña", Cue::Password),
    ("contrasena", Cue::Password),
    ("login password", Cue::Password),
    ("new password", Cue::Password),
    ("wachtwoord", Cue::Password),
    // postcodes
    ("postcode", Cue::Postcode),
    ("post code", Cue::Postcode),
    ("postal code", Cue::Postcode),
    ("zip", Cue::Postcode),
    ("zip code", Cue::Postcode),
    ("zipcode", Cue::Postcode),
    ("pincode", Cue::Postcode),
    ("pin code", Cue::Postcode),
    ("cep", Cue::Postcode),
    ("kode pos", Cue::Postcode),
    ("kodepos", Cue::Postcode),
    ("plz", Cue::Postcode),
    ("postleitzahl", Cue::Postcode),
    ("code postal", Cue::Postcode),
    ("cap", Cue::Postcode),
    ("código postal", Cue::Postcode),
    ("codigo postal", Cue::Postcode),
    ("postcode is", Cue::Postcode),
    ("serviceable", Cue::PostcodeAfter),
    ("deliverable", Cue::PostcodeAfter),
    ("delivery zone", Cue::PostcodeAfter),
    ("delivery area", Cue::PostcodeAfter),
    ("área de entrega", Cue::PostcodeAfter),
    ("your area", Cue::PostcodeAfter),
    // dates of birth
    ("dob", Cue::Dob),
    ("d.o.b", Cue::Dob),
    ("d.o.b.", Cue::Dob),
    ("date of birth", Cue::Dob),
    ("birth date", Cue::Dob),
    ("birthdate", Cue::Dob),
    ("birthday", Cue::Dob),
    ("born", Cue::Dob),
    ("born on", Cue::Dob),
    ("nascimento", Cue::Dob),
    ("data de nascimento", Cue::Dob),
    ("nasc", Cue::Dob),
    ("tanggal lahir", Cue::Dob),
    ("tgl lahir", Cue::Dob),
    ("lahir", Cue::Dob),
    ("geboren", Cue::Dob),
    ("geburtsdatum", Cue::Dob),
    ("date de naissance", Cue::Dob),
    ("né le", Cue::Dob),
    ("née le", Cue::Dob),
    ("fecha de nacimiento", Cue::Dob),
    ("data di nascita", Cue::Dob),
    ("janam tithi", Cue::Dob),
    // kept-visible references
    ("tracking", Cue::Tracking),
    ("tracking no", Cue::Tracking),
    ("tracking number", Cue::Tracking),
    ("tracking id", Cue::Tracking),
    ("track", Cue::Tracking),
    ("awb", Cue::Tracking),
    ("awb no", Cue::Tracking),
    ("waybill", Cue::Tracking),
    ("airway bill", Cue::Tracking),
    ("consignment", Cue::Tracking),
    ("consignment no", Cue::Tracking),
    ("shipment", Cue::Tracking),
    ("parcel", Cue::Tracking),
    ("package", Cue::Tracking),
    ("resi", Cue::Tracking),
    ("no resi", Cue::Tracking),
    ("rastreio", Cue::Tracking),
    ("código de rastreio", Cue::Tracking),
    ("objeto", Cue::Tracking),
    ("sendung", Cue::Tracking),
    ("sendungsnummer", Cue::Tracking),
    ("colis", Cue::Tracking),
    ("docket", Cue::Tracking),
    ("lrn", Cue::Tracking),
    ("boxes", Cue::Tracking),
    ("shipment id", Cue::Tracking),
    ("parcel no", Cue::Tracking),
    ("parcel no.", Cue::Tracking),
    ("parcel number", Cue::Tracking),
    ("package no", Cue::Tracking),
    ("package number", Cue::Tracking),
    ("shipment no", Cue::Tracking),
    ("shipment number", Cue::Tracking),
    ("awb no.", Cue::Tracking),
    ("awb number", Cue::Tracking),
    ("consignment number", Cue::Tracking),
    ("tracking no.", Cue::Tracking),
    ("docket no", Cue::Tracking),
    ("order no.", Cue::Order),
    ("ticket no.", Cue::Order),
    ("ticket number", Cue::Order),
    ("invoice number", Cue::Order),
    ("order", Cue::Order),
    ("order no", Cue::Order),
    ("order id", Cue::Order),
    ("order number", Cue::Order),
    ("order #", Cue::Order),
    ("pedido", Cue::Order),
    ("pesanan", Cue::Order),
    ("bestellung", Cue::Order),
    ("commande", Cue::Order),
    ("invoice", Cue::Order),
    ("invoice no", Cue::Order),
    ("ticket", Cue::Order),
    ("ticket no", Cue::Order),
    ("complaint", Cue::Order),
    ("complaint no", Cue::Order),
    ("ref", Cue::Order),
    ("ref no", Cue::Order),
    ("reference", Cue::Order),
    ("case", Cue::Order),
    ("case id", Cue::Order),
    ("sr no", Cue::Order),
    ("booking", Cue::Order),
    ("booking id", Cue::Order),
    ("reference number", Cue::Order),
    ("reference no", Cue::Order),
    ("ref number", Cue::Order),
    ("complaint number", Cue::Order),
    ("case number", Cue::Order),
    ("booking number", Cue::Order),
    ("booking no", Cue::Order),
    ("request number", Cue::Order),
    ("return number", Cue::Order),
    ("rma", Cue::Order),
    ("número do pedido", Cue::Order),
    ("nomor pesanan", Cue::Order),
    ("nomor resi", Cue::Tracking),
    ("código de rastreamento", Cue::Tracking),
    ("helpline", Cue::Helpline),
    ("customer care", Cue::Helpline),
    ("toll free", Cue::Helpline),
    ("toll-free", Cue::Helpline),
    ("hotline", Cue::Helpline),
    ("call centre", Cue::Helpline),
    ("call center", Cue::Helpline),
    ("support number", Cue::Helpline),
    ("our number", Cue::Helpline),
    ("customer service", Cue::Helpline),
    ("central de atendimento", Cue::Helpline),
    ("sac", Cue::Helpline),
    ("amount", Cue::Amount),
    ("cod", Cue::Amount),
    ("cod amount", Cue::Amount),
    ("paid", Cue::Amount),
    ("price", Cue::Amount),
    ("fee", Cue::Amount),
    ("charge", Cue::Amount),
    ("total", Cue::Amount),
    ("refund of", Cue::Amount),
    ("valor", Cue::Amount),
    ("harga", Cue::Amount),
    ("weight", Cue::Amount),
    ("weighs", Cue::Amount),
    ("qty", Cue::Amount),
    ("quantity", Cue::Amount),
    // secrets
    ("api key", Cue::Secret),
    ("apikey", Cue::Secret),
    ("api_key", Cue::Secret),
    ("api-key", Cue::Secret),
    ("key", Cue::Secret),
    ("secret", Cue::Secret),
    ("secret key", Cue::Secret),
    ("client secret", Cue::Secret),
    ("token", Cue::Secret),
    ("access token", Cue::Secret),
    ("auth token", Cue::Secret),
    ("bearer", Cue::Secret),
    ("access key", Cue::Secret),
    ("private key", Cue::Secret),
    ("webhook secret", Cue::Secret),
    // ip
    ("ip", Cue::Ip),
    ("ip address", Cue::Ip),
    ("server ip", Cue::Ip),
    // names
    ("my name is", Cue::Name),
    ("name is", Cue::Name),
    ("name", Cue::Name),
    ("name:", Cue::Name),
    ("full name", Cue::Name),
    ("this is", Cue::Name),
    ("its", Cue::Name),
    ("it's", Cue::Name),
    ("i'm", Cue::Name),
    ("i am", Cue::Name),
    ("im", Cue::Name),
    ("receiver", Cue::Name),
    ("receiver name", Cue::Name),
    ("recipient", Cue::Name),
    ("consignee", Cue::Name),
    ("deliver to", Cue::Name),
    ("addressed to", Cue::Name),
    // handing a parcel to someone else: "leave it with Ravi Kumar"
    ("leave with", Cue::Name),
    ("leave it with", Cue::Name),
    ("hand it to", Cue::Name),
    ("hand over to", Cue::Name),
    ("give it to", Cue::Name),
    ("deixar com", Cue::Name),
    ("entregar para", Cue::Name),
    ("titip ke", Cue::Name),
    ("attn", Cue::Name),
    ("c/o", Cue::Name),
    ("account holder", Cue::Name),
    ("holder", Cue::Name),
    ("titular", Cue::Name),
    ("a.n.", Cue::Name),
    ("a/n", Cue::Name),
    ("atas nama", Cue::Name),
    ("nama", Cue::Name),
    ("nama saya", Cue::Name),
    ("naam", Cue::Name),
    ("mera naam", Cue::Name),
    ("my naam", Cue::Name),
    ("meu nome é", Cue::Name),
    ("meu nome e", Cue::Name),
    ("me chamo", Cue::Name),
    ("nome", Cue::Name),
    ("je suis", Cue::Name),
    ("je m'appelle", Cue::Name),
    ("c'est", Cue::Name),
    ("ich bin", Cue::Name),
    ("mein name ist", Cue::Name),
    ("kontoinhaber", Cue::Name),
    ("me llamo", Cue::Name),
    ("mi nombre es", Cue::Name),
    ("mi chiamo", Cue::Name),
    ("my wife", Cue::Name),
    ("my husband", Cue::Name),
    ("my brother", Cue::Name),
    ("my sister", Cue::Name),
    ("my son", Cue::Name),
    ("my daughter", Cue::Name),
    ("my mother", Cue::Name),
    ("my father", Cue::Name),
    ("my mom", Cue::Name),
    ("my dad", Cue::Name),
    ("my friend", Cue::Name),
    ("my neighbour", Cue::Name),
    ("my neighbor", Cue::Name),
    ("my colleague", Cue::Name),
    ("my bhai", Cue::Name),
    ("minha esposa", Cue::Name),
    ("meu marido", Cue::Name),
    ("meu irmão", Cue::Name),
    ("minha mãe", Cue::Name),
    ("mr", Cue::Name),
    ("mr.", Cue::Name),
    ("mrs", Cue::Name),
    ("mrs.", Cue::Name),
    ("ms", Cue::Name),
    ("ms.", Cue::Name),
    ("miss", Cue::Name),
    ("shri", Cue::Name),
    ("smt", Cue::Name),
    ("sr.", Cue::Name),
    ("sra.", Cue::Name),
    ("herr", Cue::Name),
    ("frau", Cue::Name),
    ("bapak", Cue::Name),
    ("ibu", Cue::Name),
    ("pak", Cue::Name),
    ("regards", Cue::Name),
    ("best regards", Cue::Name),
    ("kind regards", Cue::Name),
    ("signed", Cue::Name),
    ("sender", Cue::Name),
    ("customer name", Cue::Name),
    ("cliente", Cue::Name),
    ("destinatário", Cue::Name),
    ("destinatario", Cue::Name),
    ("penerima", Cue::Name),
    ("empfänger", Cue::Name),
    ("speak to", Cue::Name),
    ("ask for", Cue::Name),
    ("hi", Cue::Greeting),
    ("hello", Cue::Greeting),
    ("hey", Cue::Greeting),
    ("dear", Cue::Greeting),
    ("thanks", Cue::Greeting),
    ("thank you", Cue::Greeting),
    ("hiya", Cue::Greeting),
    ("halo", Cue::Greeting),
    ("hallo", Cue::Greeting),
    ("bonjour", Cue::Greeting),
    ("oi", Cue::Greeting),
    ("olá", Cue::Greeting),
    ("ola", Cue::Greeting),
    ("namaste", Cue::Greeting),
    ("obrigado", Cue::Greeting),
    ("obrigada", Cue::Greeting),
    ("terima kasih", Cue::Greeting),
    ("danke", Cue::Greeting),
    ("merci", Cue::Greeting),
    ("cheers", Cue::Greeting),
    ("good morning", Cue::Greeting),
    ("good evening", Cue::Greeting),
    ("good afternoon", Cue::Greeting),
    ("here", Cue::NameAfter),
    ("hier", Cue::NameAfter),
    ("aqui", Cue::NameAfter),
    ("speaking", Cue::NameAfter),
    ("di sini", Cue::NameAfter),
    ("disini", Cue::NameAfter),
    // addresses
    ("address", Cue::Address),
    ("address:", Cue::Address),
    ("delivery address", Cue::Address),
    ("endereço", Cue::Address),
    ("endereco", Cue::Address),
    ("alamat", Cue::Address),
    ("lieferadresse", Cue::Address),
    ("adresse", Cue::Address),
    ("dirección", Cue::Address),
    ("indirizzo", Cue::Address),
    ("ship to", Cue::Address),
    ("pata", Cue::Address),
];

/// One cue found in the text.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CueHit {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) cue: Cue,
    pub(crate) word: &'static str,
}

/// The built cue automaton.
pub(crate) struct Cues {
    /// A DFA walked directly (see [`Cues::find`]) rather than through `AhoCorasick`:
    /// the search loop then has no per-match set-up and no dynamic dispatch.
    dfa: DFA,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

impl Cues {
    pub(crate) fn new() -> Result<Cues, aho_corasick::BuildError> {
        let dfa = DFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            // no prefilter: start states are then not special, and the loop in `find`
            // only stops on dead and match states
            .prefilter(false)
            .build(CUES.iter().map(|(w, _)| w))?;
        Ok(Cues { dfa })
    }

    /// Every whole-word cue in `text`, in order.
    ///
    /// The leftmost-longest matches of `AhoCorasick::find_iter`, found the same way: a
    /// search from `at` walks the DFA until its dead state, remembering the last match
    /// state; the next search starts where that match ends. (No cue is empty, so a
    /// search never matches at its start.)
    pub(crate) fn find(&self, text: &str, out: &mut Vec<CueHit>) {
        let b = text.as_bytes();
        let dfa = &self.dfa;
        let Ok(start) = dfa.start_state(Anchored::No) else {
            return;
        };
        let mut at = 0;
        while at < b.len() {
            let mut sid = start;
            let mut found = None;
            let mut p = at;
            while p < b.len() {
                sid = dfa.next_state(Anchored::No, sid, b[p]);
                p += 1;
                if dfa.is_special(sid) {
                    if dfa.is_dead(sid) {
                        break;
                    }
                    if dfa.is_match(sid) {
                        found = Some((p, dfa.match_pattern(sid, 0)));
                    }
                }
            }
            let Some((e, pid)) = found else {
                break;
            };
            at = e;
            let s = e - dfa.pattern_len(pid);
            // whole words only; a cue that ends in punctuation ("a.n.") needs no boundary
            let last = b[e - 1];
            if s > 0 && is_word_byte(b[s - 1]) && is_word_byte(b[s]) {
                continue;
            }
            if e < b.len() && is_word_byte(last) && is_word_byte(b[e]) {
                continue;
            }
            let (word, cue) = CUES[pid.as_usize()];
            out.push(CueHit {
                start: s,
                end: e,
                cue,
                word,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::{AhoCorasick, AhoCorasickKind};

    /// The DFA walk finds exactly what `AhoCorasick::find_iter` finds.
    #[test]
    fn walk_agrees_with_find_iter() {
        assert!(CUES.iter().all(|(w, _)| !w.is_empty()));
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .build(CUES.iter().map(|(w, _)| w))
            .unwrap_or_else(|e| panic!("{e}"));
        let cues = Cues::new().unwrap_or_else(|e| panic!("{e}"));
        let mut texts: Vec<String> = CUES.iter().map(|(w, _)| w.to_string()).collect();
        texts.push(CUES.iter().map(|(w, _)| *w).collect::<Vec<_>>().join(" "));
        texts.push(CUES.iter().map(|(w, _)| *w).collect::<Vec<_>>().join(""));
        texts.push("My OTP is 1234, otpcode cvv:123 a/c no. 55 atas nama Budi, a.n. Sari".into());
        texts.push("Meu nome é João, kode pos 12345, pincode 560034 — my brother's no".into());
        for t in &texts {
            let mut got = Vec::new();
            cues.find(t, &mut got);
            let mut want = Vec::new();
            let b = t.as_bytes();
            for m in ac.find_iter(t.as_str()) {
                let (s, e) = (m.start(), m.end());
                if s > 0 && is_word_byte(b[s - 1]) && is_word_byte(b[s]) {
                    continue;
                }
                if e < b.len() && is_word_byte(b[e - 1]) && is_word_byte(b[e]) {
                    continue;
                }
                want.push((s, e, m.pattern().as_usize()));
            }
            let got: Vec<(usize, usize, &str)> =
                got.iter().map(|h| (h.start, h.end, h.word)).collect();
            let want: Vec<(usize, usize, &str)> =
                want.iter().map(|&(s, e, p)| (s, e, CUES[p].0)).collect();
            assert_eq!(got, want, "{t:?}");
        }
    }
}
