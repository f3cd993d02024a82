//! A fixed workload for instruction counting (`valgrind --tool=callgrind`): scans and masks
//! 64 messages of about 1 KiB each, made by joining consecutive messages of the dev corpus
//! (`kib_dev.txt`, messages separated by the byte 0x1E), a given number of rounds.
//!
//! ```text
//! cargo build --release --example scan_kib -p veilbox-mask
//! valgrind --tool=callgrind target/release/examples/scan_kib 5
//! ```
//!
//! With `bench` as the second argument, the 1 KiB messages of the criterion bench
//! (`benches/scan.rs`) are used instead.
//!
//! Prints a checksum of the findings so a change in output shows up here too.

use std::hint::black_box;

use veilbox_mask::{mask, Hints, Policy, Scanner, ScannerConfig};

const MESSAGES: &str = include_str!("kib_dev.txt");

/// The criterion bench's messages (a copy of `benches/scan.rs`).
const SAMPLES: &[&str] = &[
    "Hi, this is Priya Nair. My parcel EE123456785IN still shows out for delivery, please call me on +91 98765 43210",
    "Please deliver to Flat 1203B, Green Valley Apartments, MG Road, Koramangala, Bengaluru 560034. Ring the bell twice",
    "card number 4111 1111 1111 1111 exp 09/27 cvv 123, please process the redelivery fee",
    "Your shipment 1Z999AA10123456784 is out for delivery and will arrive tomorrow by 6 pm",
    "OTP for delivery is 482913",
    "Please refund Rs 749 to UPI ID deepak@okhdfcbank",
    "Virement sur FR76 3000 6000 0112 3456 7890 189 svp",
    "It's been 5 days, order 402-8836152-2275551 still stuck at Bhiwandi hub",
    "meu CPF é 529.982.247-25 para a declaração da Receita",
    "Halo kak, paket saya belum sampai. No HP 0812 3456 7890 atas nama Budi Santoso",
    "Using token ghp_1234567890abcdefghijklmnopqrstuvwxyzAB getting 401 from the tracking API",
    "I'm sharing my location: 12.9716, 77.5946",
    "SSN 123-45-6789, DOB 04/12/1988",
    "Can you leave it in the safe place at 12 High Street, Camden, London, NW1 8QP?",
    "ok thanks 👍",
    "Package weighs 2.5 kg, the extra charge of £3.99 is not correct",
];

fn kib_messages() -> Vec<String> {
    let mut out = Vec::new();
    for start in 0..SAMPLES.len() {
        let mut m = String::new();
        let mut i = start;
        while m.len() < 1024 {
            if !m.is_empty() {
                m.push(' ');
            }
            m.push_str(SAMPLES[i % SAMPLES.len()]);
            i += 1;
        }
        m.truncate(
            m.char_indices()
                .take_while(|(i, _)| *i < 1024)
                .last()
                .map_or(0, |(i, c)| i + c.len_utf8()),
        );
        out.push(m);
    }
    out
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let scanner = match Scanner::new(ScannerConfig::default()) {
        Ok(s) => s,
        Err(e) => panic!("scanner: {e}"),
    };
    let bench = kib_messages();
    let msgs: Vec<&str> = if std::env::args().nth(2).as_deref() == Some("bench") {
        bench.iter().map(String::as_str).collect()
    } else {
        MESSAGES.split('\u{1e}').collect()
    };
    let bytes: usize = msgs.iter().map(|m| m.len()).sum();
    let hints = Hints::new();
    let policy = Policy::full();
    if std::env::args().nth(3).as_deref() == Some("dump") {
        for (i, m) in msgs.iter().enumerate() {
            for f in scanner.scan(m, &hints) {
                println!("{i} {} {} {}", f.kind, f.start, f.end);
            }
        }
        return;
    }
    let mut sum = 0u64;
    for _ in 0..rounds {
        for m in &msgs {
            let f = scanner.scan(black_box(m), &hints);
            for x in &f {
                sum = sum
                    .wrapping_mul(31)
                    .wrapping_add((x.start * 7 + x.end * 13 + x.kind.index()) as u64);
            }
            black_box(mask(m, &f, &policy));
        }
    }
    println!(
        "{} messages, {} bytes, {} rounds, checksum {sum:x}",
        msgs.len(),
        bytes,
        rounds
    );
}
