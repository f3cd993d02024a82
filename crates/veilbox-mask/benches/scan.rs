//! Throughput and latency of `Scanner::scan` + `mask`.
//!
//! Messages are made by the corpus generator's formats (courier chat with phones, cards,
//! addresses, tracking numbers); "1 KiB" messages are several joined into about 1024 bytes.
//! Besides criterion's timings, the bench prints p50/p99 latency per typical message and
//! MB/s per core for 1 KiB messages, measured directly.

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use veilbox_mask::{mask, Hints, Policy, Scanner, ScannerConfig};

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

fn report(scanner: &Scanner) {
    let policy = Policy::full();
    let hints = Hints::new();
    // p50/p99 per typical message
    let mut lat = Vec::new();
    for _ in 0..2000 {
        for m in SAMPLES {
            let t0 = Instant::now();
            let f = scanner.scan(m, &hints);
            black_box(mask(m, &f, &policy));
            lat.push(t0.elapsed().as_nanos() as u64);
        }
    }
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
    eprintln!(
        "typical messages: p50 {:.2} µs, p99 {:.2} µs, max {:.2} µs",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    // MB/s per core on 1 KiB messages
    let msgs = kib_messages();
    let bytes: usize = msgs.iter().map(String::len).sum();
    let rounds = 400;
    let t0 = Instant::now();
    for _ in 0..rounds {
        for m in &msgs {
            let f = scanner.scan(m, &hints);
            black_box(mask(m, &f, &policy));
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "1 KiB messages: {:.1} MB/s per core (scan+mask), {:.0} messages/s",
        (bytes * rounds) as f64 / 1e6 / secs,
        (msgs.len() * rounds) as f64 / secs
    );
}

fn bench(c: &mut Criterion) {
    let scanner = match Scanner::new(ScannerConfig::default()) {
        Ok(s) => s,
        Err(e) => panic!("scanner: {e}"),
    };
    report(&scanner);
    let hints = Hints::new();
    let policy = Policy::full();
    let mut g = c.benchmark_group("scan+mask");
    let typical: usize = SAMPLES.iter().map(|s| s.len()).sum();
    g.throughput(Throughput::Bytes(typical as u64));
    g.bench_function("typical messages (16)", |b| {
        b.iter(|| {
            for m in SAMPLES {
                let f = scanner.scan(black_box(m), &hints);
                black_box(mask(m, &f, &policy));
            }
        })
    });
    let msgs = kib_messages();
    let bytes: usize = msgs.iter().map(String::len).sum();
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("1 KiB messages (16)", |b| {
        b.iter(|| {
            for m in &msgs {
                let f = scanner.scan(black_box(m), &hints);
                black_box(mask(m, &f, &policy));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
