//! `veilbox import shipments FILE.csv`: streams a CSV file of shipments into the CRM.
//!
//! A reader thread parses and checks records (the CPU-heavy part: tracking formats, phone
//! and date parsing) and hands batches through a bounded channel to the writer, which
//! upserts each batch in one transaction. Memory stays bounded whatever the file's size.
//! Rejected rows are reported as (row, column, reason) on stderr or in `--report`; valid
//! rows are imported regardless. The format is in `docs/shipments-import.md`.

pub mod bench;
pub mod rows;

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use veilbox_store::crm::import::{ImportOutcome, PreparedShipments, ShipmentRow};
use veilbox_store::Store;

use crate::config::Config;
use rows::{parse_row, Header, Rejection};

/// Rows per transaction: large enough that a commit's WAL writes (every index page the
/// batch touched) are shared by many rows, small enough that a batch's memory stays small
/// and the write lock is held for about a second, which webhook ingest waits out.
pub const BATCH_ROWS: usize = 10_000;

/// Batches parsed ahead of the writer.
const QUEUE: usize = 4;

/// `veilbox import shipments`.
#[derive(Debug, clap::Args)]
pub struct ImportShipmentsArgs {
    /// The CSV file (header row required; see docs/shipments-import.md).
    pub file: PathBuf,
    /// Write rejected rows to this CSV file (row,column,reason) instead of stderr.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Check the file without writing anything.
    #[arg(long)]
    pub dry_run: bool,
}

/// What an import did (counts, and every rejection).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Data rows read.
    pub rows: u64,
    /// New shipments.
    pub created: u64,
    /// Shipments changed.
    pub updated: u64,
    /// Of those, shipments whose status changed (a timeline event each).
    pub status_changes: u64,
    /// Rows that changed nothing (already imported).
    pub unchanged: u64,
    /// Rows not imported.
    pub rejected: u64,
}

impl ImportSummary {
    /// Counts the store's outcomes; returns the store-level rejections for `lines`.
    pub fn count(&mut self, outcomes: &[ImportOutcome], lines: &[u64]) -> Vec<Rejection> {
        let mut rejections = Vec::new();
        for (outcome, line) in outcomes.iter().zip(lines) {
            match outcome {
                ImportOutcome::Created => self.created += 1,
                ImportOutcome::Updated { status_changed } => {
                    self.updated += 1;
                    self.status_changes += u64::from(*status_changed);
                }
                ImportOutcome::Unchanged => self.unchanged += 1,
                ImportOutcome::Rejected { column, reason } => {
                    self.rejected += 1;
                    rejections.push(Rejection::new(*line, column, *reason));
                }
            }
        }
        rejections
    }
}

/// One parsed batch: valid rows with their line numbers, and the rows rejected on reading.
struct Batch {
    rows: Vec<ShipmentRow>,
    lines: Vec<u64>,
    rejections: Vec<Rejection>,
    rejected_rows: u64,
    /// Bytes of the file read so far (for the progress bar).
    position: u64,
    /// The rows with their blind indexes, computed on the reader thread (when importing).
    prepared: Option<PreparedShipments>,
}

impl Batch {
    /// Valid rows.
    fn valid_rows(&self) -> u64 {
        self.prepared
            .as_ref()
            .map_or(self.rows.len(), |p| p.rows().len()) as u64
    }

    /// Computes the blind indexes for `store` (the CPU work that needs no database).
    fn prepare(mut self, store: Option<&Store>) -> anyhow::Result<Batch> {
        if let Some(store) = store {
            let rows = std::mem::take(&mut self.rows);
            self.prepared = Some(store.prepare_shipments(rows)?);
        }
        Ok(self)
    }
}

/// Runs `veilbox import shipments`.
pub async fn run(config: &Config, args: ImportShipmentsArgs) -> anyhow::Result<()> {
    let store = if args.dry_run {
        None
    } else {
        Some(crate::keyring::unlock(config, crate::open_store(config).await?).await?)
    };
    let mut sink: Box<dyn Write + Send> = match &args.report {
        Some(path) => Box::new(std::io::BufWriter::new(
            File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::stderr()),
    };
    writeln!(sink, "row,column,reason")?;
    let progress = progress_bar(&args.file)?;
    let started = std::time::Instant::now();
    let result = import_file(store.as_ref(), &args.file, &mut sink, &progress).await;
    progress.finish_and_clear();
    sink.flush()?;
    if let Some(store) = &store {
        if let Ok(summary) = &result {
            let counts = format!(
                "rows={} created={} updated={} unchanged={} rejected={}",
                summary.rows, summary.created, summary.updated, summary.unchanged, summary.rejected
            );
            store
                .audit(&veilbox_store::audit::AuditEntry {
                    actor: "cli",
                    action: "shipments.imported",
                    target: None,
                    reason: Some(&counts),
                    address: None,
                    user_agent: None,
                })
                .await?;
        }
        store.close().await;
    }
    let summary = result?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}{} rows in {seconds:.1} s: {} created, {} updated ({} status changes), {} unchanged, {} rejected{}",
        if args.dry_run { "dry run: " } else { "" },
        summary.rows,
        summary.created,
        summary.updated,
        summary.status_changes,
        summary.unchanged,
        summary.rejected,
        match (&args.report, summary.rejected) {
            (_, 0) => String::new(),
            (Some(path), _) => format!(" (see {})", path.display()),
            (None, _) => " (listed above)".to_owned(),
        }
    );
    Ok(())
}

/// A byte-position progress bar on stderr, drawn only when stderr is a terminal.
fn progress_bar(file: &Path) -> anyhow::Result<ProgressBar> {
    let size = std::fs::metadata(file)
        .with_context(|| format!("reading {}", file.display()))?
        .len();
    let bar = ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:40} {percent:>3}% {binary_bytes}/{binary_total_bytes} {msg} ({eta} left)",
    ) {
        bar.set_style(style);
    }
    Ok(bar)
}

/// Streams `file` into `store` (or only checks it, without a store), writing rejections to
/// `sink` as CSV lines. Fails only on I/O and database errors, and on a header that does not
/// fit the format (before anything is written).
pub async fn import_file(
    store: Option<&Store>,
    file: &Path,
    sink: &mut (dyn Write + Send),
    progress: &ProgressBar,
) -> anyhow::Result<ImportSummary> {
    let reader = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut importer = match store {
        Some(store) => Some(
            store
                .shipment_importer()
                .await
                .context("opening the import's connection")?,
        ),
        None => None,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<anyhow::Result<Batch>>(QUEUE);
    let preparer = store.cloned();
    let parser =
        std::thread::spawn(move || read_batches(BufReader::new(reader), &tx, preparer.as_ref()));
    let mut summary = ImportSummary::default();
    let mut outcome = Ok(());
    while let Some(batch) = rx.recv().await {
        let batch = match batch {
            Ok(batch) => batch,
            Err(error) => {
                outcome = Err(error);
                break;
            }
        };
        summary.rows += batch.valid_rows() + batch.rejected_rows;
        summary.rejected += batch.rejected_rows;
        write_rejections(sink, progress, &batch.rejections)?;
        match &mut importer {
            Some(importer) => {
                let Some(prepared) = batch.prepared else {
                    outcome = Err(anyhow::anyhow!("a batch was not prepared"));
                    break;
                };
                let outcomes = match importer.import(prepared).await {
                    Ok(outcomes) => outcomes,
                    Err(error) => {
                        outcome = Err(anyhow::Error::new(error).context("writing shipments"));
                        break;
                    }
                };
                let rejections = summary.count(&outcomes, &batch.lines);
                write_rejections(sink, progress, &rejections)?;
            }
            None => summary.unchanged += batch.valid_rows(),
        }
        progress.set_position(batch.position);
        progress.set_message(format!("{} rows", summary.rows));
    }
    // Dropping the receiver ends the parser at its next send.
    drop(rx);
    let _ = parser.join();
    if let Some(importer) = importer {
        let closed = importer.finish().await;
        if outcome.is_ok() {
            closed.context("closing the import's connection")?;
        }
    }
    outcome.map(|()| summary)
}

fn write_rejections(
    sink: &mut (dyn Write + Send),
    progress: &ProgressBar,
    rejections: &[Rejection],
) -> anyhow::Result<()> {
    if rejections.is_empty() {
        return Ok(());
    }
    let mut out = csv::Writer::from_writer(Vec::new());
    for r in rejections {
        out.serialize(r)?;
    }
    // `serialize` wrote a header first: drop it, the sink has one.
    let text = String::from_utf8(out.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
    let body = text.split_once('\n').map_or("", |(_, rest)| rest);
    progress.suspend(|| sink.write_all(body.as_bytes()))?;
    Ok(())
}

/// The reader thread: parses `input` into batches and sends them; stops when the writer
/// goes away.
fn read_batches(
    input: impl Read,
    tx: &tokio::sync::mpsc::Sender<anyhow::Result<Batch>>,
    store: Option<&Store>,
) {
    let result = (|| -> anyhow::Result<()> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(input);
        let header = reader
            .byte_headers()
            .context("reading the header row")?
            .clone();
        let names: Vec<String> = header
            .iter()
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .collect();
        let header = Header::parse(names.iter().map(String::as_str)).map_err(|problems| {
            let list: Vec<String> = problems
                .iter()
                .map(|p| format!("{}: {}", p.column, p.reason))
                .collect();
            anyhow::anyhow!(
                "the header row does not fit the format; nothing was imported: {}",
                list.join("; ")
            )
        })?;
        let mut batch = new_batch();
        let mut record = csv::ByteRecord::new();
        loop {
            let line = reader.position().line();
            match reader.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    let line = record.position().map_or(line, |p| p.line());
                    add_record(&header, &record, line, &mut batch);
                }
                Err(error) => match error.kind() {
                    csv::ErrorKind::UnequalLengths { pos, .. } => {
                        let line = pos.as_ref().map_or(line, |p| p.line());
                        batch.rejections.push(Rejection::new(
                            line,
                            "*",
                            "malformed CSV: the record does not have as many fields as the header",
                        ));
                        batch.rejected_rows += 1;
                    }
                    _ => return Err(anyhow::Error::new(error).context("reading the CSV file")),
                },
            }
            if batch.rows.len() + batch.rejected_rows as usize >= BATCH_ROWS {
                batch.position = reader.position().byte();
                let full = std::mem::replace(&mut batch, new_batch()).prepare(store)?;
                if tx.blocking_send(Ok(full)).is_err() {
                    return Ok(());
                }
            }
        }
        batch.position = reader.position().byte();
        let _ = tx.blocking_send(Ok(batch.prepare(store)?));
        Ok(())
    })();
    if let Err(error) = result {
        let _ = tx.blocking_send(Err(error));
    }
}

fn new_batch() -> Batch {
    Batch {
        rows: Vec::with_capacity(BATCH_ROWS),
        lines: Vec::with_capacity(BATCH_ROWS),
        rejections: Vec::new(),
        rejected_rows: 0,
        position: 0,
        prepared: None,
    }
}

/// Checks one record into `batch`.
fn add_record(header: &Header, record: &csv::ByteRecord, line: u64, batch: &mut Batch) {
    let mut fields: Vec<Option<&str>> = Vec::with_capacity(record.len());
    for bytes in record.iter() {
        match std::str::from_utf8(bytes) {
            Ok(text) => fields.push(Some(text)),
            Err(_) => {
                batch
                    .rejections
                    .push(Rejection::new(line, "*", "malformed CSV: not UTF-8 text"));
                batch.rejected_rows += 1;
                return;
            }
        }
    }
    let field = |name: &str| {
        header
            .position(name)
            .and_then(|i| fields.get(i).copied().flatten())
    };
    match parse_row(line, field) {
        Ok(row) => {
            batch.rows.push(row);
            batch.lines.push(line);
        }
        Err(problems) => {
            batch.rejections.extend(problems);
            batch.rejected_rows += 1;
        }
    }
}

/// Rows parsed in memory: valid rows, their row numbers, rejections, and how many rows
/// were rejected.
pub type ParsedRows = (Vec<ShipmentRow>, Vec<u64>, Vec<Rejection>, u64);

/// Parses a whole CSV text (the API's `text/csv` body): valid rows with their lines, and
/// rejections. A header that does not fit the format is an error.
pub fn parse_csv_text(body: &[u8]) -> Result<ParsedRows, Vec<Rejection>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(body);
    let names: Vec<String> = match reader.byte_headers() {
        Ok(h) => h
            .iter()
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .collect(),
        Err(_) => return Err(vec![Rejection::new(1, "*", "malformed CSV header")]),
    };
    let header = Header::parse(names.iter().map(String::as_str))?;
    let mut batch = new_batch();
    let mut record = csv::ByteRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(line, |p| p.line());
                add_record(&header, &record, line, &mut batch);
            }
            Err(_) => {
                batch
                    .rejections
                    .push(Rejection::new(line, "*", "malformed CSV record"));
                batch.rejected_rows += 1;
                if reader.is_done() {
                    break;
                }
            }
        }
    }
    Ok((
        batch.rows,
        batch.lines,
        batch.rejections,
        batch.rejected_rows,
    ))
}
