//! The `kiosk` command: one binary, a subcommand per kind of user.
#![forbid(unsafe_code)]
// No unwrap/expect outside tests (DEVELOPERS.md): a device, file, network or person's data must
// never panic the kiosk. An invariant that cannot fail keeps its `expect` with an `allow` saying why.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use kiosk::app;

/// Street-kiosk face onboarding: reads a passport chip, checks the live face against it and
/// issues a limited demo bank account with a one-time activation QR code.
#[derive(Parser)]
#[command(name = "kiosk", version = kiosk::BUILD_VERSION, propagate_version = true)]
struct Cli {
    /// Site configuration overriding kiosk-config/default.toml (any subset of its keys).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = app::LogFormat::Text)]
    log_format: app::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a full onboarding on simulated hardware: a person who is issued an account and an
    /// impostor who is refused. Leaves every screen as PNG and the database in --out.
    Demo {
        /// Output folder (emptied first): screens/, kiosk.db, keys/.
        #[arg(long, value_name = "DIR", default_value = "out/demo")]
        out: PathBuf,
    },
    /// Face tools for technicians.
    Face {
        #[command(subcommand)]
        command: FaceCommand,
    },
    /// Configuration tools for deployment.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Activation token tools.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Card reader tools for technicians.
    Card {
        #[command(subcommand)]
        command: CardCommand,
    },
    /// The CSCA trust folder (`card_reader.csca_dir`): CSCA and link certificates, master
    /// lists, CRLs.
    Trust {
        #[command(subcommand)]
        command: TrustCommand,
    },
    /// Send the outbox to the bank core now, printing progress; then rotate the data key and
    /// purge expired personal data as configured. Exit code 0: everything delivered, 1: rows
    /// remain pending or quarantined, 2: an error.
    Sync {
        /// Folder with kiosk.db and keys/ (default: kiosk.data_dir from the configuration).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// The production service: serves people on the configured devices, with /healthz,
    /// /readyz and /metrics on loopback (`health.listen`) and systemd notify/watchdog.
    Run {
        /// Folder with kiosk.db and keys/ (default: kiosk.data_dir from the configuration).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Generate this kiosk's identity key and data keys (kept when they exist) and print the
    /// public key fingerprint to register with the bank.
    Provision {
        /// The site (branch or street location) code the kiosk is registered under.
        #[arg(long, value_name = "SITE")]
        site: String,
        /// Folder for kiosk.db and keys/ (default: kiosk.data_dir from the configuration).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Release manifests signed with Ed25519 (used by scripts/release, install and update).
    Release {
        #[command(subcommand)]
        command: ReleaseCommand,
    },
    /// Technician checks of every device, model, key, the store and the link to the core.
    /// Exit code 0: all ok, 1: warnings, 2: failures (the JSON schema is docs/diag-schema.json).
    Diag {
        /// Print the report as JSON (schema `kiosk-diag/1`).
        #[arg(long)]
        json: bool,
        /// Run only these checks or groups, comma-separated (e.g. `reader,camera.exposure`).
        #[arg(long, value_name = "CHECK,...", value_delimiter = ',')]
        only: Vec<String>,
        /// Skip the checks that need a technician at the screen (touch test).
        #[arg(long)]
        no_interactive: bool,
        /// Make one simulated device faulty (simulator drivers only; tests and training).
        #[arg(long, value_enum, value_name = "DEVICE")]
        simulate_fault: Option<kiosk::diag::SimulatedFault>,
        /// Folder with kiosk.db and keys/ (default: kiosk.data_dir from the configuration).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ReleaseCommand {
    /// Generate a release signing key (FILE, mode 0600) and its public key (FILE.pub, PEM).
    Keygen {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Write SHA256SUMS and SHA256SUMS.sig for every file of a release folder.
    Sign {
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Check a release folder: the signature, every file's hash, no unlisted file. Exit 0 or 2.
    Verify {
        /// The trusted public key (PEM).
        #[arg(long, value_name = "FILE")]
        public_key: PathBuf,
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum FaceCommand {
    /// Compare two face pictures as the kiosk compares a person with a document photo.
    /// Exit code 0: same person, 1: different people, 2: an error (unreadable image, no face).
    Verify {
        /// The reference picture (e.g. the document photo).
        #[arg(long, value_name = "IMAGE")]
        reference: PathBuf,
        /// The picture to check against it (e.g. a camera frame).
        #[arg(long, value_name = "IMAGE")]
        probe: PathBuf,
        /// Print a JSON report instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Every face of every picture and the cosine of every pair (to measure score
    /// distributions; docs/FACE-MATCHING.md). Exit code 0, or 2 for an unreadable image.
    Scores {
        #[arg(value_name = "IMAGE", required = true)]
        images: Vec<PathBuf>,
        /// Print a JSON report instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Passive liveness of the face in a picture: a live person, or a photo / screen attack.
    /// Exit code 0: live, 1: attack, 2: an error (unreadable image, no face).
    Liveness {
        #[arg(value_name = "IMAGE")]
        image: PathBuf,
        /// Print a JSON report instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a site configuration file against the defaults; errors name the file, line and key.
    Check {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Verify an activation token offline with the kiosk's public key.
    Verify {
        /// The token text (as carried by the QR code).
        #[arg(value_name = "TOKEN")]
        token: String,
        /// The kiosk's Ed25519 public key, 64 hex digits.
        #[arg(long, value_name = "HEX")]
        public_key: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the audit log's keyed hash chain (names the first changed, removed or reordered row)
    /// and that it still holds the last head anchored at the bank core.
    Verify {
        /// The kiosk database (default: kiosk.db in kiosk.data_dir from the configuration).
        #[arg(long, value_name = "PATH")]
        db: Option<PathBuf>,
        /// A key-encryption key file (the demo's `keys/kek.key`); default: the configured
        /// key (`store.kek`), whose derived key checks the keyed chain.
        #[arg(long, value_name = "FILE")]
        kek: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum TrustCommand {
    /// Install a CSCA or link certificate (DER/PEM), a CSCA master list or a CRL (DER/PEM)
    /// into the trust folder, after checking the folder still loads with it (a master list's
    /// signer must chain to an installed CSCA, a CRL must be signed by one).
    Import {
        /// The file to install; its kind is recognised from its content.
        file: PathBuf,
    },
    /// List the trusted CSCAs (and where each came from), master lists and CRLs.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum CardCommand {
    /// Wait for a passport on the reader's window or a bank card (slot or antenna), read it and
    /// print what was found: MRZ fields, chip access, passive authentication verdict and photo
    /// size, or the masked card number. Saves nothing unless --save-photo is given.
    /// Exit code 0: read (and, for a passport, trusted: passive authentication passed and no
    /// clone suspected by Chip or Active Authentication), 1: passport NOT trusted, 2: error.
    Read {
        /// Serial port of a real reader (e.g. /dev/ttyUSB0); default: `card_reader.port`.
        #[arg(long, value_name = "PATH")]
        port: Option<String>,
        /// Read from the simulator holding this card instead of a real reader.
        #[arg(long, value_enum, value_name = "CARD")]
        simulate: Option<app::SimulatedCard>,
        /// Print a JSON report instead of text.
        #[arg(long)]
        json: bool,
        /// Seconds to wait for a document or card.
        #[arg(long, value_name = "SECONDS", default_value_t = 30)]
        wait: u64,
        /// Write the passport's face photo (DG2 image) to this file.
        #[arg(long, value_name = "FILE")]
        save_photo: Option<PathBuf>,
        /// Card access number printed on the document: PACE uses it instead of the MRZ.
        #[arg(long, value_name = "DIGITS")]
        can: Option<String>,
        /// For a reader without an MRZ window: the document number (padded with < to 9), birth
        /// date and expiry (YYMMDD), each followed by its check digit, as printed on the photo
        /// page's bottom line (24 characters).
        #[arg(long, value_name = "MRZ_INFORMATION")]
        mrz: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    app::init_logging(cli.log_format);
    let result = match cli.command {
        #[cfg(feature = "demo")]
        Command::Demo { out } => {
            app::demo::run_blocking(cli.config.as_deref(), &out).map(|_| ExitCode::SUCCESS)
        }
        #[cfg(not(feature = "demo"))]
        Command::Demo { out: _ } => Err(app::AppError::Usage(
            "`kiosk demo` runs on the simulators, which this production build does not hold: use a demo build (`make demo`, or `cargo build --release --features demo`)".into(),
        )),
        Command::Face { command: FaceCommand::Verify { reference, probe, json } } => {
            app::face_verify(cli.config.as_deref(), &reference, &probe, json).map(|same| {
                if same {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            })
        }
        Command::Face { command: FaceCommand::Scores { images, json } } => {
            app::face_scores(cli.config.as_deref(), &images, json).map(|()| ExitCode::SUCCESS)
        }
        Command::Face { command: FaceCommand::Liveness { image, json } } => {
            app::face_liveness(cli.config.as_deref(), &image, json).map(|live| {
                if live {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            })
        }
        Command::Config { command: ConfigCommand::Check { file } } => {
            app::config_check(&file).map(|_| ExitCode::SUCCESS)
        }
        Command::Token { command: TokenCommand::Verify { token, public_key } } => {
            app::token_verify(&token, &public_key).map(|_| ExitCode::SUCCESS)
        }
        Command::Audit { command: AuditCommand::Verify { db, kek } } => {
            app::audit_verify_configured(cli.config.as_deref(), db.as_deref(), kek.as_deref()).map(|_| ExitCode::SUCCESS)
        }
        Command::Trust { command: TrustCommand::Import { file } } => {
            app::trust_cli::import(cli.config.as_deref(), &file).map(|_| ExitCode::SUCCESS)
        }
        Command::Trust { command: TrustCommand::List { json } } => {
            app::trust_cli::list(cli.config.as_deref(), json).map(|()| ExitCode::SUCCESS)
        }
        Command::Run { data_dir } => {
            app::run::run(cli.config.as_deref(), data_dir.as_deref()).map(|()| ExitCode::SUCCESS)
        }
        Command::Provision { site, data_dir } => {
            app::provision::run(cli.config.as_deref(), data_dir.as_deref(), &site).map(|_| ExitCode::SUCCESS)
        }
        Command::Release { command: ReleaseCommand::Keygen { out } } => {
            app::release::keygen(&out).map(|()| ExitCode::SUCCESS)
        }
        Command::Release { command: ReleaseCommand::Sign { key, dir } } => {
            app::release::sign(&key, &dir).map(|()| ExitCode::SUCCESS)
        }
        Command::Release { command: ReleaseCommand::Verify { public_key, dir } } => {
            app::release::verify(&public_key, &dir).map(|_| ExitCode::SUCCESS)
        }
        Command::Diag { json, only, no_interactive, simulate_fault, data_dir } => {
            app::diag_cli::run(cli.config.as_deref(), json, only, !no_interactive, simulate_fault, data_dir)
                .map(ExitCode::from)
        }
        Command::Sync { data_dir } => app::sync(cli.config.as_deref(), data_dir.as_deref())
            .map(|done| if done { ExitCode::SUCCESS } else { ExitCode::from(1) }),
        Command::Card { command: CardCommand::Read { port, simulate, json, wait, save_photo, can, mrz } } => {
            let options = app::CardReadOptions {
                port,
                simulate,
                json,
                wait: std::time::Duration::from_secs(wait),
                save_photo,
                can,
                mrz,
            };
            app::card_read(cli.config.as_deref(), &options)
                .map(|trusted| if trusted { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("kiosk: {error}");
            error.exit_code()
        }
    }
}
