//! Test-only: the host side of `make hil`. Runs one device simulator standalone on a host
//! pseudo-terminal, so that QEMU can wire it to a serial port of the emulated kiosk
//! (`-chardev serial,path=<link>`), until SIGTERM or SIGINT. Not installed on kiosks: the
//! Debian package and the release carry `kiosk` only.
#![forbid(unsafe_code)]
// Its input is the guest's screen and the simulators' sockets: the same rule as the kiosk's.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod person;

use clap::{Parser, Subcommand};
use kiosk_hal::card_reader::sim::{self as reader_sim, SimulatorConfig, TestPki, VirtualPassport};
use ed25519_dalek::VerifyingKey;
use kiosk::sync::sim::{CoreSimulator, SimRecord, SimSettings};
use kiosk_hal::printer::sim::{self as printer_sim, PrinterSimConfig};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokio::signal::unix::{signal, SignalKind};

/// The simulated passport's holder: issued by the run's test state (UTO, as the ICAO specimen),
/// valid until 2034, an adult, so that a production kiosk onboards them.
fn holder_mrz() -> Vec<String> {
    kiosk::app::demo::compose_td3("PETROV", "IVAN", "7100012345", "UTO", "850314", 'M', "340101").to_vec()
}

#[derive(Parser)]
#[command(name = "kiosk-hil-sim")]
struct Args {
    #[command(subcommand)]
    device: Device,
}

#[derive(Subcommand)]
enum Device {
    /// The card reader (empty: no document on the window, no card in the slot).
    CardReader {
        /// Symbolic link made to the pty slave (QEMU opens it as the guest's serial line).
        #[arg(long, value_name = "PATH")]
        link: PathBuf,
        /// The run's CSCA and Document Signer derive from this label (make hil passes a random
        /// one per run): the guest trusts that CSCA only, never the test CSCA.
        #[arg(long, value_name = "LABEL")]
        pki_label: Option<String>,
        /// Writes the CSCA certificate (DER) of --pki-label here, for the guest's trust folder.
        #[arg(long, value_name = "FILE", requires = "pki_label")]
        csca_out: Option<PathBuf>,
        /// A passport on the window, its chip's DG2 holding this JPEG, signed by --pki-label's
        /// Document Signer (a valid passport of an adult: `holder_mrz`).
        #[arg(long, value_name = "JPEG", requires = "pki_label")]
        passport_photo: Option<PathBuf>,
    },
    /// The bank core (HTTPS, client certificate required) on 127.0.0.1; its port goes to
    /// --port-file, what it received to --record (JSON) at exit.
    Core {
        #[arg(long, value_name = "PEM")]
        server_cert: PathBuf,
        #[arg(long, value_name = "PEM")]
        server_key: PathBuf,
        /// CA of the kiosks' client certificates.
        #[arg(long, value_name = "PEM")]
        client_ca: PathBuf,
        /// The kiosk's registered Ed25519 public key, hex (printed by `kiosk provision`).
        #[arg(long, value_name = "HEX")]
        kiosk_key: String,
        #[arg(long, value_name = "FILE")]
        port_file: PathBuf,
        #[arg(long, value_name = "FILE")]
        record: PathBuf,
    },
    /// The person at the kiosk: reads the guest's screen over --qmp, presses what it offers
    /// (start, read the consent to its end and accept, print the receipt, no thanks, finish),
    /// turns the head when asked and shows the face in --faces to the camera over --camera;
    /// what happened goes to --report (JSON) when the session ends.
    Person {
        #[arg(long, value_name = "SOCKET")]
        qmp: PathBuf,
        #[arg(long, value_name = "SOCKET")]
        camera: PathBuf,
        #[arg(long, value_name = "DIR", default_value = "models")]
        models: PathBuf,
        /// Photos of the person (still frames; the head turns are made from the first).
        #[arg(long, value_name = "IMAGE", required = true, num_args = 1..)]
        faces: Vec<PathBuf>,
        #[arg(long, value_name = "FILE")]
        report: PathBuf,
        #[arg(long)]
        print_receipt: bool,
        /// Turns the spoken prompts on at the welcome screen (the kiosk's "read aloud" button).
        #[arg(long)]
        read_aloud: bool,
        #[arg(long, default_value_t = 900)]
        timeout_s: u64,
        /// Keeps each new screen the person sees here (PNG, numbered, seconds into the session).
        #[arg(long, value_name = "DIR")]
        seen: Option<PathBuf>,
    },
    /// What the person makes of a screenshot (PNG): distances to the buttons they look for
    /// and the head turn they read (for working on the rig without a VM).
    PersonExplain {
        png: PathBuf,
        #[arg(long)]
        print_receipt: bool,
    },
    /// The ESC/POS receipt printer; what it printed goes to --transcript at exit.
    Printer {
        #[arg(long, value_name = "PATH")]
        link: PathBuf,
        #[arg(long, value_name = "FILE")]
        transcript: PathBuf,
        /// Characters per line of the transcript.
        #[arg(long, default_value_t = 48)]
        columns: u16,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    match serve(args.device) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("kiosk-hil-sim: {message}");
            ExitCode::from(2)
        }
    }
}

fn serve(device: Device) -> Result<(), String> {
    match device {
        Device::CardReader { link, pki_label, csca_out, passport_photo } => {
            let mut config = SimulatorConfig::default();
            if let Some(label) = pki_label {
                let pki = TestPki::generate(&label).map_err(|e| format!("PKI of --pki-label: {e}"))?;
                if let Some(out) = csca_out {
                    std::fs::write(&out, pki.csca_der()).map_err(|e| format!("{}: {e}", out.display()))?;
                }
                if let Some(photo) = passport_photo {
                    let jpeg = passport_jpeg(&photo)?;
                    config.document = Some(VirtualPassport::new(holder_mrz(), jpeg).signed_by(&pki));
                }
            }
            let handle = reader_sim::spawn(config).map_err(|e| e.to_string())?;
            publish(handle.port_path(), &link)?;
            wait_for_stop()?;
            let _ = std::fs::remove_file(&link);
            handle.shutdown();
        }
        Device::Person { qmp, camera, models, faces, report, print_receipt, read_aloud, timeout_s, seen } => {
            person::run(person::PersonArgs {
                qmp,
                camera,
                models,
                faces,
                report,
                print_receipt,
                read_aloud,
                timeout: std::time::Duration::from_secs(timeout_s),
                seen,
            })?;
        }
        Device::PersonExplain { png, print_receipt } => person::explain(&png, print_receipt, false)?,
        Device::Printer { link, transcript, columns } => {
            let handle = printer_sim::spawn(PrinterSimConfig::default()).map_err(|e| e.to_string())?;
            publish(handle.port_path(), &link)?;
            wait_for_stop()?;
            let _ = std::fs::remove_file(&link);
            std::fs::write(&transcript, handle.log().transcript(columns))
                .map_err(|e| format!("{}: {e}", transcript.display()))?;
        }
        Device::Core { server_cert, server_key, client_ca, kiosk_key, port_file, record } => {
            let kiosk_key = parse_key(&kiosk_key)?;
            let settings = SimSettings { server_cert, server_key, client_ca, kiosk_key, base_path: String::new() };
            let runtime = runtime()?;
            let record_json = runtime.block_on(async {
                let core = CoreSimulator::start(settings).await.map_err(|e| e.to_string())?;
                let port = core.url().rsplit(':').next().unwrap_or_default().to_owned();
                std::fs::write(&port_file, &port).map_err(|e| format!("{}: {e}", port_file.display()))?;
                println!("ready core on 127.0.0.1:{port}");
                // The record is kept current (every 2 s, replaced whole) so the run can ask the
                // core what it holds while the kiosk is still syncing.
                let stop = stop_signal();
                tokio::pin!(stop);
                loop {
                    tokio::select! {
                        stopped = &mut stop => { stopped?; break }
                        _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => write_record(&record, &record_of(&core.record()))?,
                    }
                }
                Ok::<_, String>(record_of(&core.record()))
            })?;
            write_record(&record, &record_json)?;
        }
    }
    Ok(())
}

/// The photo as a passport's DG2 holds it: at most 300x400 pixels, JPEG quality 85 (some 20 KB:
/// a chip read of a few seconds at 115 200 baud, not the minute a camera JPEG would take).
fn passport_jpeg(photo: &Path) -> Result<Vec<u8>, String> {
    use opencv::{core::{Size, Vector}, imgcodecs, imgproc, prelude::*};
    let what = |e: opencv::Error| format!("{}: {e}", photo.display());
    let image = imgcodecs::imread(photo, imgcodecs::IMREAD_COLOR).map_err(what)?;
    if image.empty() {
        return Err(format!("{}: not an image OpenCV can read", photo.display()));
    }
    let scale = (300.0 / f64::from(image.cols())).min(400.0 / f64::from(image.rows())).min(1.0);
    let size = Size::new((f64::from(image.cols()) * scale) as i32, (f64::from(image.rows()) * scale) as i32);
    let mut small = Mat::default();
    imgproc::resize(&image, &mut small, size, 0.0, 0.0, imgproc::INTER_AREA).map_err(what)?;
    let mut jpeg = Vector::<u8>::new();
    let params = Vector::<i32>::from_slice(&[imgcodecs::IMWRITE_JPEG_QUALITY, 85]);
    imgcodecs::imencode(".jpg", &small, &mut jpeg, &params).map_err(what)?;
    Ok(jpeg.to_vec())
}

fn parse_key(hex_key: &str) -> Result<VerifyingKey, String> {
    let bytes = hex::decode(hex_key.trim()).map_err(|e| format!("--kiosk-key: {e}"))?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| "--kiosk-key: not 32 bytes".to_owned())?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("--kiosk-key: {e}"))
}

/// The core's record as JSON: requests, faults, bad signatures, accounts and how often each
/// arrived (exactly once: 1).
fn record_of(record: &SimRecord) -> String {
    serde_json::json!({
        "requests": record.requests,
        "bad_signatures": record.bad_signatures,
        "messages": record.messages.len(),
        "accounts": record.accounts,
        "heartbeats": record.heartbeats,
        "audit_heads": record.anchors.len(),
        "log": record.log,
    })
    .to_string()
}

/// Replaces the record file whole (written beside it, then renamed): a reader never sees half.
fn write_record(record: &Path, json: &str) -> Result<(), String> {
    let partial = record.with_extension("json.partial");
    std::fs::write(&partial, json).map_err(|e| format!("{}: {e}", partial.display()))?;
    std::fs::rename(&partial, record).map_err(|e| format!("{}: {e}", record.display()))
}

/// Links `link` to the pty slave (replacing a stale link) and says so on stdout.
fn publish(slave: &str, link: &Path) -> Result<(), String> {
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(slave, link).map_err(|e| format!("{}: {e}", link.display()))?;
    println!("ready {} -> {slave}", link.display());
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("tokio runtime: {e}"))
}

/// Blocks until SIGTERM or SIGINT.
fn wait_for_stop() -> Result<(), String> {
    runtime()?.block_on(stop_signal())
}

async fn stop_signal() -> Result<(), String> {
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("signal handler: {e}"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("signal handler: {e}"))?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
