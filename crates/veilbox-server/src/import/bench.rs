//! `veilbox bench import`: generates a shipments CSV file, imports it into a fresh SQLite
//! database through the same path as `veilbox import shipments`, and prints rows per second
//! (then imports it again, which must change nothing).

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use indicatif::ProgressBar;
use veilbox_store::Store;
use veilbox_vault::{MasterKey, Vault};

/// `veilbox bench import`.
#[derive(Debug, clap::Args)]
pub struct ImportBenchArgs {
    /// Rows in the generated file.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Distinct customers among them (each has about rows/customers shipments).
    #[arg(long, default_value_t = 250_000)]
    pub customers: u64,
    /// Also import the file a second time (every row unchanged).
    #[arg(long)]
    pub again: bool,
}

/// Generates, imports and reports.
pub async fn run(args: ImportBenchArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("temporary directory")?;
    let csv = dir.path().join("shipments.csv");
    let started = std::time::Instant::now();
    generate(&csv, args.rows, args.customers.max(1))?;
    let size = std::fs::metadata(&csv)?.len();
    println!(
        "generated {} rows ({:.0} MiB) for {} customers in {:.1} s",
        args.rows,
        size as f64 / 1_048_576.0,
        args.customers,
        started.elapsed().as_secs_f64()
    );
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = Store::connect(&url).await?;
    store.migrate().await?;
    let store = store.unlock(Vault::new(MasterKey::generate())).await?;
    let passes = if args.again { 2 } else { 1 };
    for pass in 1..=passes {
        let mut sink = std::io::sink();
        let started = std::time::Instant::now();
        let summary =
            super::import_file(Some(&store), &csv, &mut sink, &ProgressBar::hidden()).await?;
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "import pass {pass}: {} rows in {seconds:.1} s = {:.0} rows/s ({} created, {} updated, {} unchanged, {} rejected)",
            summary.rows,
            summary.rows as f64 / seconds,
            summary.created,
            summary.updated,
            summary.unchanged,
            summary.rejected
        );
    }
    let db = std::fs::metadata(dir.path().join("bench.db"))?.len();
    println!("database file: {:.0} MiB", db as f64 / 1_048_576.0);
    store.close().await;
    Ok(())
}

/// Writes `rows` fake shipments for `customers` customers: valid S10 numbers, UK test
/// phone numbers, names, addresses, slots and cash-on-delivery amounts.
pub fn generate(path: &Path, rows: u64, customers: u64) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(
        out,
        "tracking,status,customer_phone,customer_email,customer_name,sender_name,recipient_name,recipient_phone,address,delivery_slot_start,delivery_slot_end,instructions,cod_amount,cod_currency"
    )?;
    const STATUSES: [&str; 4] = ["created", "in_transit", "out_for_delivery", "delivered"];
    for i in 0..rows {
        let c = i % customers;
        // S10: two letters, 8 serial digits, check digit, country.
        let serial = i % 100_000_000;
        let prefix = [
            b'A' + (i / 100_000_000 % 26) as u8,
            b'A' + (i / 2_600_000_000 % 26) as u8,
        ];
        let tracking = format!(
            "{}{}{serial:08}{}GB",
            prefix[0] as char,
            prefix[1] as char,
            s10_check(serial)
        );
        let status = STATUSES[(i % 4) as usize];
        let cod = if i % 3 == 0 {
            format!("{}.{:02}", i % 200, i % 100)
        } else {
            String::new()
        };
        let currency = if cod.is_empty() { "" } else { "GBP" };
        writeln!(
            out,
            "{tracking},{status},+44 7{c:09},customer{c}@example.com,Customer {c},Shop {},Recipient {i},+44 7{:09},\"{} Test Street, Leeds LS1 {}AB\",2025-03-14T09:00:00Z,2025-03-14T11:00:00Z,Leave with neighbour {i},{cod},{currency}",
            i % 500,
            (i * 7) % 1_000_000_000,
            i % 300,
            i % 9
        )?;
    }
    out.flush()?;
    Ok(())
}

/// The UPU S10 check digit of an 8-digit serial.
fn s10_check(serial: u64) -> u64 {
    const WEIGHTS: [u64; 8] = [8, 6, 4, 2, 3, 5, 9, 7];
    let digits = format!("{serial:08}");
    let sum: u64 = digits
        .bytes()
        .zip(WEIGHTS)
        .map(|(d, w)| u64::from(d - b'0') * w)
        .sum();
    match 11 - sum % 11 {
        10 => 0,
        11 => 5,
        d => d,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_tracking_numbers_are_valid() {
        for serial in [12345678u64, 0, 99999999, 4242] {
            let number = format!("RR{serial:08}{}GB", super::s10_check(serial));
            assert!(
                veilbox_store::crm::TrackingNumber::parse(&number).is_ok(),
                "{number}"
            );
        }
        assert_eq!(super::s10_check(12345678), 5);
    }
}
