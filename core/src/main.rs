//! `kiosk-core`: the bank's gateway for the kiosk fleet. See docs/CORE.md.
#![forbid(unsafe_code)]
// No unwrap/expect outside tests (DEVELOPERS.md): a device, file, network or person's data must
// never panic the kiosk. An invariant that cannot fail keeps its `expect` with an `allow` saying why.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use clap::{Parser, Subcommand};
use kiosk_core::kiosks::{self, Registered};
use kiosk_core::server::{self, Settings};
use kiosk_core::CoreError;
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "kiosk-core", version, about = "The bank's core gateway for the kiosk fleet")]
struct Cli {
    /// PostgreSQL connection string (libpq key=value or postgresql:// URL).
    #[arg(long, env = "KIOSK_CORE_DATABASE_URL", global = true, default_value = "host=/var/run/postgresql dbname=kiosk_core")]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Creates or upgrades the schema (versioned migrations; safe to run from several hosts at once).
    Migrate,
    /// Serves the kiosk and bank API (mutual TLS) and the ops page.
    Serve(ServeArgs),
    /// The register of kiosks and their signing keys.
    #[command(subcommand)]
    Kiosks(KiosksCommand),
}

#[derive(clap::Args)]
struct ServeArgs {
    #[arg(long, default_value = "0.0.0.0:8443")]
    listen: SocketAddr,
    /// Plain-HTTP listener for the fleet page, /metrics and /healthz (operators' network only).
    #[arg(long)]
    ops_listen: Option<SocketAddr>,
    /// Server certificate chain (PEM).
    #[arg(long)]
    tls_cert: PathBuf,
    /// Server private key (PEM, mode 0600).
    #[arg(long)]
    tls_key: PathBuf,
    /// CA of the kiosks' (and bank back ends') client certificates.
    #[arg(long)]
    client_ca: PathBuf,
    /// Key-encryption key: 32 bytes, raw or hex, mode 0600, owned by root.
    #[arg(long, default_value = "/etc/kiosk-core/kek.key")]
    kek: PathBuf,
    /// How long idempotency keys are kept (at least 30 days).
    #[arg(long, default_value_t = 90)]
    key_retention_days: u32,
    /// Same person at or above this cosine score, compared among the same birth date (the
    /// kiosks' face.duplicate_threshold; the arithmetic is in docs/CORE.md).
    #[arg(long, default_value_t = 0.55)]
    duplicate_threshold: f32,
    /// Path the API is served under (the path of the kiosks' sync.core_url).
    #[arg(long, default_value = "")]
    base_path: String,
    #[arg(long, default_value_t = 16)]
    pool_size: usize,
}

#[derive(Subcommand)]
enum KiosksCommand {
    /// Registers a kiosk from what `kiosk provision` printed, or its provisioned.toml.
    Register {
        /// File with the output (`-`: standard input).
        #[arg(long, default_value = "-")]
        from: PathBuf,
        /// Replace the key of a kiosk registered before (a re-provisioned kiosk).
        #[arg(long)]
        replace: bool,
    },
    /// Lists the registered kiosks.
    List,
}

fn read_input(path: &PathBuf) -> Result<String, CoreError> {
    let mut text = String::new();
    let result = if path.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    result.map_err(|source| CoreError::Io { what: "cannot read", path: path.clone(), source })?;
    Ok(text)
}

async fn run(cli: Cli) -> Result<(), CoreError> {
    match cli.command {
        Command::Migrate => {
            let pool = kiosk_core::db::pool(&cli.database_url, 1)?;
            let mut client = pool.get().await?;
            let applied = kiosk_core::migrations::migrate(&mut client).await?;
            if applied.is_empty() {
                println!("kiosk-core migrate: schema already at version {}", kiosk_core::migrations::latest());
            } else {
                println!("kiosk-core migrate: applied {applied:?}; schema at version {}", kiosk_core::migrations::latest());
            }
            Ok(())
        }
        Command::Serve(a) => {
            let settings = Settings {
                database_url: cli.database_url,
                pool_size: a.pool_size,
                listen: a.listen,
                ops_listen: a.ops_listen,
                tls_cert: a.tls_cert,
                tls_key: a.tls_key,
                client_ca: a.client_ca,
                kek: a.kek,
                key_retention_days: a.key_retention_days,
                duplicate_threshold: a.duplicate_threshold,
                base_path: a.base_path,
                messages_path: String::new(),
                heads_path: String::new(),
                activations_path: String::new(),
                authorisations_path: String::new(),
            }
            .finish()?;
            server::serve(settings).await
        }
        Command::Kiosks(KiosksCommand::Register { from, replace }) => {
            let registration = kiosks::parse(&read_input(&from)?)?;
            let pool = kiosk_core::db::pool(&cli.database_url, 1)?;
            let client = pool.get().await?;
            kiosk_core::migrations::check(&client).await?;
            let what = match kiosks::register(&client, &registration, replace).await? {
                Registered::New => "registered",
                Registered::Unchanged => "already registered with this key; nothing changed",
                Registered::Replaced => "key replaced; the old key no longer verifies",
            };
            println!("kiosk {} (site {}, {}): {what}", registration.kiosk_id, registration.site, registration.fingerprint);
            Ok(())
        }
        Command::Kiosks(KiosksCommand::List) => {
            let pool = kiosk_core::db::pool(&cli.database_url, 1)?;
            let client = pool.get().await?;
            for (id, site, print) in kiosks::list(&client).await? {
                println!("{id}\t{site}\t{print}");
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("KIOSK_CORE_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .json()
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kiosk-core: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kiosk-core: {e}");
            ExitCode::from(2)
        }
    }
}
