//! What encryption at rest costs per value, in nanoseconds per operation.
//!
//! ```text
//! cargo run --release -p veilbox-vault --example throughput
//! ```
//!
//! A plain timing loop (median of several rounds), not a statistical benchmark: good
//! enough to say what sealing a chat message adds to a request.

use std::hint::black_box;
use std::time::Instant;

use veilbox_vault::{BlindIndex, DataKey, Field, IndexedField, MasterKey, Vault};

const ROUNDS: usize = 7;

/// Median nanoseconds per call of `op` over `ROUNDS` rounds of `iterations` calls.
fn ns_per_op(iterations: u32, mut op: impl FnMut()) -> f64 {
    for _ in 0..iterations / 10 {
        op();
    }
    let mut rounds: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                op();
            }
            start.elapsed().as_nanos() as f64 / f64::from(iterations)
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[ROUNDS / 2]
}

fn main() {
    let key = DataKey::generate();
    let field = Field::new("messages", "body", "m_01HZX3K9Q4");
    // A typical customer message, 200 bytes.
    let message = "Hi, my parcel EE123456785IN still says out for delivery since Monday. \
                   I'm at 14 Mill Lane, Leeds LS1 4AB till 6pm, pls call +44 7700 900461 \
                   or leave it with the neighbour at no. 16. Thanks";
    // Padded (by repeating) to exactly 200 bytes.
    let message: Vec<u8> = message.bytes().cycle().take(200).collect();
    let message = message.as_slice();
    let sealed = key.seal(1, field, message);

    let seal = ns_per_op(50_000, || {
        black_box(key.seal(1, black_box(field), black_box(message)));
    });
    let open = ns_per_op(50_000, || {
        black_box(key.open(black_box(field), black_box(&sealed)).ok());
    });
    let both = ns_per_op(50_000, || {
        let sealed = key.seal(1, black_box(field), black_box(message));
        black_box(key.open(field, &sealed).ok());
    });

    let vault = Vault::new(MasterKey::generate());
    let wrapped = vault.wrap(&key, "customer:c_7Qx2");
    let unwrap = ns_per_op(50_000, || {
        black_box(vault.unwrap(black_box(&wrapped), "customer:c_7Qx2").ok());
    });

    let index = BlindIndex::new(&DataKey::generate());
    let blind = ns_per_op(50_000, || {
        black_box(index.index(IndexedField::Phone, black_box("+44 7700 900461")));
    });

    println!("veilbox-vault throughput (median of {ROUNDS} rounds, this machine)");
    println!(
        "  sealed size of a 200-byte message: {} chars",
        sealed.len()
    );
    println!("  seal, 200 bytes:          {seal:>8.0} ns/op");
    println!("  open, 200 bytes:          {open:>8.0} ns/op");
    println!("  seal + open, 200 bytes:   {both:>8.0} ns/op");
    println!("  unwrap a data key:        {unwrap:>8.0} ns/op");
    println!("  blind index of a phone:   {blind:>8.0} ns/op");
}
