//! Test-only: the host side of `make hil`. Runs one device simulator standalone on a host
//! pseudo-terminal, so that QEMU can wire it to a serial port of the emulated kiosk
//! (`-chardev serial,path=<link>`), until SIGTERM or SIGINT. Not installed on kiosks: the
//! Debian package and the release carry `kiosk` only.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use kiosk_hal::card_reader::sim::{self as reader_sim, SimulatorConfig};
use ed25519_dalek::VerifyingKey;
use kiosk::sync::sim::{CoreSimulator, SimRecord, SimSettings};
use kiosk_hal::printer::sim::{self as printer_sim, PrinterSimConfig};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokio::signal::unix::{signal, SignalKind};

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
        Device::CardReader { link } => {
            let handle = reader_sim::spawn(SimulatorConfig::default()).map_err(|e| e.to_string())?;
            publish(handle.port_path(), &link)?;
            wait_for_stop()?;
            let _ = std::fs::remove_file(&link);
            handle.shutdown();
        }
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
                stop_signal().await?;
                Ok::<_, String>(record_of(&core.record()))
            })?;
            std::fs::write(&record, record_json).map_err(|e| format!("{}: {e}", record.display()))?;
        }
    }
    Ok(())
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
        "log": record.log,
    })
    .to_string()
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
