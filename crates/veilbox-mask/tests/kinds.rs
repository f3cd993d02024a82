//! Per-kind tables: each positive must be found with its kind over the expected text;
//! each hard negative (amounts, dates, times, weights, tracking numbers, order ids,
//! helpline numbers, IFSC and sort codes) must not be masked.

use veilbox_mask::{mask, Hints, Kind, Policy, Scanner, ScannerConfig};

fn scanner() -> Scanner {
    match Scanner::new(ScannerConfig::default()) {
        Ok(s) => s,
        Err(e) => panic!("default scanner: {e}"),
    }
}

/// (message, kind, the found text)
const POSITIVES: &[(&str, Kind, &str)] = &[
    // PHONE
    ("call me on +91 98765 43210 pls", Kind::Phone, "+91 98765 43210"),
    ("my no is 9876543210", Kind::Phone, "9876543210"),
    ("ring 07911 123456 after 5", Kind::Phone, "07911 123456"),
    ("text me at (212) 555-0187", Kind::Phone, "(212) 555-0187"),
    ("pls have the driver call 646.244.3222, side gate is open", Kind::Phone, "646.244.3222"),
    ("pode ligar no (11) 98765-4321", Kind::Phone, "(11) 98765-4321"),
    ("No HP 0812 3456 7890 atas nama Budi", Kind::Phone, "0812 3456 7890"),
    ("Bitte rufen Sie +49 151 23456789 an", Kind::Phone, "+49 151 23456789"),
    ("mon numéro 06 12 34 56 78", Kind::Phone, "06 12 34 56 78"),
    ("my number is nine eight seven six five four three two one zero", Kind::Phone, "nine eight seven six five four three two one zero"),
    ("call ९८७६५४३२१०", Kind::Phone, "९८७६५४३२१०"),
    ("call ９８７６５４３２１０ now", Kind::Phone, "９８７６５４３２１０"),
    ("my no 98765🙏43210", Kind::Phone, "98765🙏43210"),
    ("whatsapp 9 8 7 6 5 4 3 2 1 0", Kind::Phone, "9 8 7 6 5 4 3 2 1 0"),
    // EMAIL
    ("mail me at rahul.sharma@gmail.com.", Kind::Email, "rahul.sharma@gmail.com"),
    ("email is rahul [at] gmail [dot] com", Kind::Email, "rahul [at] gmail [dot] com"),
    ("write to john dot smith at gmail dot com", Kind::Email, "john dot smith at gmail dot com"),
    // CARD, CVV, CARD_EXPIRY
    ("card 4111 1111 1111 1111 exp 09/27 cvv 123", Kind::Card, "4111 1111 1111 1111"),
    ("card 4111 1111 1111 1111 exp 09/27 cvv 123", Kind::CardExpiry, "09/27"),
    ("card 4111 1111 1111 1111 exp 09/27 cvv 123", Kind::Cvv, "123"),
    ("amex 3782-822463-10005", Kind::Card, "3782-822463-10005"),
    ("5555555555554444\n12/26\n737", Kind::Cvv, "737"),
    // IBAN, BANK_ACCOUNT, UPI
    ("IBAN DE89 3704 0044 0532 0130 00 please", Kind::Iban, "DE89 3704 0044 0532 0130 00"),
    ("refund to GB82WEST12345698765432", Kind::Iban, "GB82WEST12345698765432"),
    ("Bank a/c no 123456789012, IFSC HDFC0001234", Kind::BankAccount, "123456789012"),
    ("refund ke rekening BCA 1234567890 a.n. Budi", Kind::BankAccount, "1234567890"),
    ("refund mere UPI pe bhej do: rahul@okaxis", Kind::Upi, "rahul@okaxis"),
    // national ids
    ("my aadhar no is 2341 2341 2346", Kind::Aadhaar, "2341 2341 2346"),
    ("PAN card no. ABCPE1234F", Kind::Pan, "ABCPE1234F"),
    ("SSN 123-45-6789 for the bond", Kind::Ssn, "123-45-6789"),
    ("NI no AB 12 34 56 C", Kind::UkNino, "AB 12 34 56 C"),
    ("meu CPF é 529.982.247-25", Kind::Cpf, "529.982.247-25"),
    // OTP, PASSWORD
    ("OTP for delivery is 482913", Kind::Otp, "482913"),
    ("kode OTP 4821 kak", Kind::Otp, "4821"),
    ("delivery code 7731 bata diya", Kind::Otp, "7731"),
    ("my login password is Tiger@2021, can you check", Kind::Password, "Tiger@2021"),
    ("senha: mango123", Kind::Password, "mango123"),
    // ADDRESS, POSTCODE
    ("Please deliver to Flat 1203B, Green Valley Apartments, MG Road, Koramangala, Bengaluru 560034. Ring", Kind::Address, "Flat 1203B, Green Valley Apartments, MG Road, Koramangala, Bengaluru"),
    ("Please deliver to Flat 1203B, Green Valley Apartments, MG Road, Koramangala, Bengaluru 560034. Ring", Kind::Postcode, "560034"),
    ("Ship to 1234 Oak Ridge Dr, Apt 5, Austin, TX 78701", Kind::Address, "1234 Oak Ridge Dr, Apt 5, Austin, TX"),
    ("Ship to 1234 Oak Ridge Dr, Apt 5, Austin, TX 78701", Kind::Postcode, "78701"),
    ("endereço: Rua das Flores, 708, Apto 12, Pinheiros, São Paulo - SP, CEP 05422-010", Kind::Address, "Rua das Flores, 708, Apto 12, Pinheiros, São Paulo - SP"),
    ("Kirim ke Jl. Sudirman No. 12, RT 03/RW 05, Menteng, Jakarta Pusat, kode pos 10310", Kind::Address, "Jl. Sudirman No. 12, RT 03/RW 05, Menteng, Jakarta Pusat"),
    ("Lieferadresse: Hauptstraße 12, Berlin, 10115", Kind::Address, "Hauptstraße 12, Berlin"),
    ("My postcode is SW1A 1AA, the app won't accept it", Kind::Postcode, "SW1A 1AA"),
    ("Pincode 560034 serviceable hai kya?", Kind::Postcode, "560034"),
    // GPS
    ("I'm sharing my location: 12.9716, 77.5946", Kind::Gps, "12.9716, 77.5946"),
    ("driver at 51.5072° N, 0.1276° W now", Kind::Gps, "51.5072° N, 0.1276° W"),
    ("https://maps.google.com/?q=-23.5505,-46.6333 this spot", Kind::Gps, "-23.5505,-46.6333"),
    // PERSON
    ("Hi, this is Priya Nair. My parcel", Kind::Person, "Priya Nair"),
    ("Sir mera naam Karthik Rao hai", Kind::Person, "Karthik Rao"),
    ("Hey, Jessica Davis here, you can text me", Kind::Person, "Jessica Davis"),
    ("pls give parcel to my brother rahul, his no", Kind::Person, "rahul"),
    ("paket atas nama Budi Santoso ya", Kind::Person, "Budi Santoso"),
    // DOB, IP, SECRET
    ("My DOB is 17/02/1982", Kind::Dob, "17/02/1982"),
    ("born 5 Jan 1990 in Pune", Kind::Dob, "5 Jan 1990"),
    ("whitelist our server IP 103.21.244.7 please", Kind::Ip, "103.21.244.7"),
    ("blocked from 2405:201:abcd:ef01::1a", Kind::Ip, "2405:201:abcd:ef01::1a"),
    ("Our API key is sk_live_4eC39HqLyjWDarjtT1zdp7dc, rotate", Kind::Secret, "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", Kind::Secret, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    ("key AKIAIOSFODNN7EXAMPLE leaked", Kind::Secret, "AKIAIOSFODNN7EXAMPLE"),
    // hand-written shapes
    ("My aadhaar card number is 5123 4567 8903", Kind::Aadhaar, "5123 4567 8903"),
    ("Address: B-204, Shanti Apartments, Andheri East, Mumbai 400069", Kind::Postcode, "400069"),
    ("Av. Brigadeiro Faria Lima, 3477 - Itaim Bibi, São Paulo - SP, 04538-133", Kind::Address, "Av. Brigadeiro Faria Lima, 3477 - Itaim Bibi, São Paulo - SP"),
    ("my address is 45 Rue de la Paix, 75002 Paris", Kind::Address, "Paris"),
    ("Meine Adresse: Bahnhofstr. 5, 10115 Berlin, Tel. 030 1234567", Kind::Address, "Bahnhofstr. 5"),
    ("Hola, mi nombre es Carlos Gómez y mi teléfono es +34 612 345 678", Kind::Person, "Carlos Gómez"),
    ("Rekening BNI 0123456789 a/n Siti Aminah", Kind::Person, "Siti Aminah"),
    ("Senha do app: Maria@2024 não funciona", Kind::Password, "Maria@2024"),
    // national ids with a format or check of their own
    ("NIK saya 3273015708900002 kak", Kind::Nik, "3273015708900002"),
    ("DNI 12345678Z para la aduana", Kind::NationalId, "12345678Z"),
    ("NIE X1234567L a nombre de Andrei", Kind::NationalId, "X1234567L"),
    ("CNPJ 11.222.333/0001-81 pra nota", Kind::NationalId, "11.222.333/0001-81"),
    ("numéro de sécu 185057800608427 merci", Kind::NationalId, "185057800608427"),
    ("voter id XJK4728193 chalega", Kind::NationalId, "XJK4728193"),
    ("my passport AK0482917 for customs", Kind::NationalId, "AK0482917"),
    // failing closed: a number nothing classifies is hidden
    ("the code on the box says 4471 90233", Kind::Number, "90233"),
    ("pls check 8842 1137 6650", Kind::Number, "8842 1137 6650"),
    ("the box shows 00.00.00 now", Kind::Number, "00.00.00"),
    // shapes the first engine showed whole
    ("tarjeta 4517  7347  2192  5503 caducidad 12/27", Kind::Card, "4517  7347  2192  5503"),
    ("card 4111  1111  1111  1111", Kind::Card, "4111  1111  1111  1111"),
    ("refund to DE89-3704-0044-0532-0130-00 please", Kind::Iban, "DE89-3704-0044-0532-0130-00"),
    ("gültig bis 10/27, Prüfnummer 448", Kind::Cvv, "448"),
    ("validade 03/28 cód 517 pode cobrar", Kind::Cvv, "517"),
    ("call +44 20 7946 0321 ext. 42 thats reception", Kind::Phone, "+44 20 7946 0321 ext. 42"),
    ("call me at (212) 555-0147 x203", Kind::Phone, "(212) 555-0147 x203"),
    ("llamad al 0034 655 219 804 que estoy fuera", Kind::Phone, "0034 655 219 804"),
    ("call O7911 l23456 pls", Kind::Phone, "O7911 l23456"),
    ("meu número é nove oito sete seis cinco quatro três dois um zero", Kind::Phone, "nove oito sete seis cinco quatro três dois um zero"),
    ("my no 9\u{fe0f}\u{20e3}8\u{fe0f}\u{20e3}7\u{fe0f}\u{20e3}6\u{fe0f}\u{20e3}5\u{fe0f}\u{20e3}4\u{fe0f}\u{20e3}3\u{fe0f}\u{20e3}2\u{fe0f}\u{20e3}1\u{fe0f}\u{20e3}0\u{fe0f}\u{20e3}", Kind::Phone, "9\u{fe0f}\u{20e3}8\u{fe0f}\u{20e3}7\u{fe0f}\u{20e3}6\u{fe0f}\u{20e3}5\u{fe0f}\u{20e3}4\u{fe0f}\u{20e3}3\u{fe0f}\u{20e3}2\u{fe0f}\u{20e3}1\u{fe0f}\u{20e3}0\u{fe0f}\u{20e3}"),
    ("number yangu ni 0733\n219 884", Kind::Phone, "0733\n219 884"),
    ("message my brother at https://wa.me/447700966456 pls", Kind::Phone, "447700966456"),
    ("wa.me/5511987654321?text=oi", Kind::Phone, "5511987654321"),
    // names after a role word, a form line, in a file name; Indic script after a cue
    ("Our rider Ibrahim Musa will call you", Kind::Person, "Ibrahim Musa"),
    ("Klingel: Yılmaz", Kind::Person, "Yılmaz"),
    ("o entregador Rogério disse que não tinha ninguém", Kind::Person, "Rogério"),
    ("kurirnya namanya bunga, td ada yg telp", Kind::Person, "bunga"),
    ("ini kak fotonya KTP_Siti_Rahma.pdf udah saya kirim", Kind::Person, "Siti_Rahma"),
    ("naam मोहम्मद आरिफ़\nmobile", Kind::Person, "मोहम्मद आरिफ़"),
    ("liegt seit 3 Tagen im Paketzentrum. Gruß, J. Hoffmann", Kind::Person, "J. Hoffmann"),
    ("Obrigada pela ajuda!\nAtenciosamente,\nMariana Costa", Kind::Person, "Mariana Costa"),
    // addresses: a city after the postcode, "bis", a landmark inside
    ("Zustellung an Hauptstr. 7a, 80331 München für morgen", Kind::Address, "München"),
    ("adresse: 12 bis rue Victor Hugo, 69002 Lyon", Kind::Address, "12 bis rue Victor Hugo"),
    ("landmark: Plot 27, Sector 14, near Shiv Mandir, Gurugram", Kind::Address, "Plot 27, Sector 14, near Shiv Mandir, Gurugram"),
    // kept references
    ("Your shipment 1Z999AA10123456784 is out", Kind::Tracking, "1Z999AA10123456784"),
    ("J&T JP1234567890 belum sampai", Kind::Tracking, "JP1234567890"),
    ("DHL 3537622362 imefika?", Kind::Tracking, "3537622362"),
    ("UPS 1Z Y83 R06 03 9795 0383 wo ist mein Paket", Kind::Tracking, "1Z Y83 R06 03 9795 0383"),
    ("Amazon TBA123456789012 not delivered", Kind::Tracking, "TBA123456789012"),
    ("Parcel EE123456785IN not delivered", Kind::Tracking, "EE123456785IN"),
    ("order 402-8836152-2275551 still stuck", Kind::Order, "402-8836152-2275551"),
    ("USPS 9400 1000 0000 0000 0000 00 arrived", Kind::Tracking, "9400 1000 0000 0000 0000 00"),
];

/// Messages in which nothing may be masked.
const NEGATIVES: &[&str] = &[
    "COD amount is Rs 1,299, please keep change ready",
    "the extra charge of £12.50 is not correct",
    "Refund of R$ 149,90 initiated",
    "Rp 150.000 sudah dibayar",
    "Package weighs 2.5 kg, another one 450 g",
    "deliver between 10 AM and 2 PM, or after 5:30 pm",
    "Your parcel will arrive on 26-08-2025",
    "Can I reschedule to 12/08?",
    "Tracking 620398583670, please check",
    "Where is my parcel? Tracking JD014600006281960001",
    "Received 2 of 3 boxes, EE123456785IN missing",
    "order OD123456789012345678 never arrived",
    "Ticket #2391185 raised, order ORD-2024-500485",
    "call our helpline 1800 123 4567 for help",
    "customer care 1800-419-0000",
    "IFSC HDFC0001234 and sort code 20-45-77",
    "routing 021000021 is the bank's",
    "ok thanks 👍",
    "Reply 1 to track, 2 to reschedule, 3 to talk to an agent",
    "It's been 5 days, still stuck at Bhiwandi hub",
    "Please do not share your OTP with anyone on chat",
    "We will never ask for your card number or CVV",
    "version 1.2.3 of the app",
    "Reference number 4455 6677 8899 for your complaint",
    "parcel no. 39920381100233 still not delivered, plz check",
    "AWB 123-45678903 stuck in customs since 3 days",
    "We tried delivering at 14:35, no one answered. Next attempt 21/11.",
    "Delivery slot 2 PM - 4 PM on 15/08/2025, order value ₹1,499",
    "within 2-3 working days",
    // units, amounts and dates glued to their words; a bank branch code
    "battery 2500mAh, paid Rp50000 on 12Jan2025",
    "pls send Rs.500 cash, invoice dated 12-Jan-2025",
    "total 1.299.000 sudah ditransfer",
    "weight 4500.5 g",
    "J&T JP1234567890 belum sampai",
    "IFSC SBIN0001234 for the refund",
    "DHL 3537622362 imefika?",
];

#[test]
fn positives_are_found() {
    let s = scanner();
    let mut failures = Vec::new();
    for &(text, kind, want) in POSITIVES {
        let found = s.scan(text, &Hints::new());
        let ok = found
            .iter()
            .any(|f| f.kind == kind && &text[f.start..f.end] == want);
        if !ok {
            let got: Vec<_> = found
                .iter()
                .map(|f| (f.kind, &text[f.start..f.end]))
                .collect();
            failures.push(format!("{text:?}: want {kind} {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn hard_negatives_are_not_masked() {
    let s = scanner();
    let mut failures = Vec::new();
    for &text in NEGATIVES {
        let found = s.scan(text, &Hints::new());
        let masked = mask(text, &found, &Policy::full());
        if masked != text {
            failures.push(format!("{text:?} -> {masked:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn tracking_and_orders_are_kept_next_to_masked_values() {
    let s = scanner();
    let text = "Parcel EE123456785IN for order 402-8836152-2275551, call 9876543210";
    let found = s.scan(text, &Hints::new());
    assert_eq!(
        mask(text, &found, &Policy::full()),
        "Parcel EE123456785IN for order 402-8836152-2275551, call [PHONE]"
    );
}

#[test]
fn hints_are_found_lightly_varied() {
    let s = scanner();
    let mut hints = Hints::new();
    hints
        .add(Kind::Person, "Kavya Iyer")
        .add(Kind::Phone, "+91 98450 12345")
        .add(Kind::Address, "12 Park Street, Kolkata");
    let text = "kavya iyer says the number is 098450-12345 and she lives at 12 park street kolkata";
    let found = s.scan(text, &hints);
    let kinds: Vec<Kind> = found.iter().map(|f| f.kind).collect();
    assert!(kinds.contains(&Kind::Person), "{found:?}");
    assert!(kinds.contains(&Kind::Phone), "{found:?}");
    assert!(kinds.contains(&Kind::Address), "{found:?}");
    let masked = mask(text, &found, &Policy::full());
    assert!(
        !masked.contains("12345") && !masked.to_lowercase().contains("kavya"),
        "{masked}"
    );
}

#[test]
fn configured_tracking_formats_are_kept() {
    let config = ScannerConfig {
        tracking_formats: vec!["XB[0-9]{10}".into()],
        ..ScannerConfig::default()
    };
    let s = Scanner::new(config).unwrap();
    let found = s.scan("where is XB1234567890", &Hints::new());
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind, Kind::Tracking);
    assert!(Scanner::new(ScannerConfig {
        tracking_formats: vec!["(".into()],
        ..ScannerConfig::default()
    })
    .is_err());
}

#[test]
fn non_ascii_words_next_to_addresses_do_not_panic() {
    // found by the fuzzer: a UK-postcode check sliced "Liège" inside a character
    let s = scanner();
    let text = "address h\u{b} fhetor  eft ourlatt singel 0 Fee11, 100 MYt R Liège";
    let _ = s.scan(text, &Hints::new());
    let _ = s.scan(
        "Hauptstraße 5, Liège, Zürich 8001, São Paulo - SP",
        &Hints::new(),
    );
}

#[test]
fn char_offsets_count_code_points() {
    let s = scanner();
    let text = "😀 call ९८७६५४३२१०";
    let found = s.scan(text, &Hints::new());
    let spans = veilbox_mask::char_spans(text, &found);
    assert_eq!(spans, vec![(7, 17)]);
}
