//! A throwaway PostgreSQL cluster for a test: Debian's server binaries, `initdb` in a temp
//! folder, a Unix socket only (no TCP port to collide on). As root the server runs as the
//! `postgres` user (PostgreSQL refuses to run as root). A missing server is a failure with a
//! message, never a skip.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct PgCluster {
    bin: PathBuf,
    pub dir: tempfile::TempDir,
    run_as: Option<String>,
    pub db_name: String,
}

fn find_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).filter(|b| b.join("initdb").exists()).collect())
        .unwrap_or_default();
    found.sort_by_key(|p| p.to_string_lossy().split('/').nth(4).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0));
    found.pop().unwrap_or_else(|| {
        panic!("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: run scripts/setup (installs Debian's `postgresql`) and retry")
    })
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

impl PgCluster {
    /// initdb, start, create database `kiosk_core`.
    pub fn start() -> PgCluster {
        let bin = find_bin();
        let dir = tempfile::Builder::new().prefix("kcpg").tempdir_in("/tmp").expect("temp dir for PostgreSQL");
        let run_as = is_root().then(|| "postgres".to_owned());
        if let Some(user) = &run_as {
            let status = Command::new("chown").arg(user).arg(dir.path()).status().expect("chown");
            assert!(status.success(), "cannot chown the cluster folder to `{user}` (does the user exist? Debian's postgresql package creates it)");
        }
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let cluster = PgCluster { bin, dir, run_as, db_name: "kiosk_core".into() };
        cluster.run(
            "initdb",
            &["-D", &cluster.data(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"],
        );
        cluster.pg_start();
        cluster.psql("postgres", "CREATE DATABASE kiosk_core");
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// A started cluster at the newest schema, and what `kiosk-core migrate` printed.
    pub fn migrated() -> (PgCluster, String) {
        let pg = PgCluster::start();
        let out = super::cli(&pg.url(), &["migrate"]);
        (pg, out)
    }

    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, tool: &str, args: &[&str]) -> String {
        let exe = self.bin.join(tool);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.arg("-u").arg(user).arg("--").arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let out = cmd.args(args).current_dir(self.dir.path()).output().unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn pg_start(&self) {
        let sock = self.dir.path().display().to_string();
        let log = self.dir.path().join("server.log").display().to_string();
        let options = format!("-k {sock} -c listen_addresses='' -c fsync=off -c max_connections=300 -c shared_buffers=64MB");
        self.run("pg_ctl", &["-D", &self.data(), "-l", &log, "-w", "-t", "60", "-o", &options, "start"]);
    }

    /// Stops abruptly (as a crash would) and starts again.
    pub fn restart(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
        self.pg_start();
    }

    /// The connection string for kiosk-core.
    pub fn url(&self) -> String {
        format!("host={} user=postgres dbname={}", self.dir.path().display(), self.db_name)
    }

    /// Runs SQL with psql and returns its unaligned output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let host = self.dir.path().display().to_string();
        self.run("psql", &["-h", &host, "-U", "postgres", "-d", db, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]).trim().to_owned()
    }

    /// `SELECT` of one number.
    pub fn count(&self, sql: &str) -> i64 {
        let out = self.psql(&self.db_name, sql);
        out.parse().unwrap_or_else(|_| panic!("`{sql}` gave `{out}`, not a number"))
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let exe = self.bin.join("pg_ctl");
        let data = self.data();
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.arg("-u").arg(user).arg("--").arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let _ = cmd.args(["-D", &data, "-m", "immediate", "stop"]).output();
    }
}
