//! The database (integrity, schema version, size), free disk, and the audit chain. The
//! database is opened read-only: diag never migrates or writes it.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::blocked;
use crate::diag::{timed, CheckResult, Context};
use crate::store::{self, SCHEMA_VERSION};

const MIB: u64 = 1024 * 1024;
const RESTORE: &str = "stop the service, restore kiosk.db from the last backup, then run `kiosk audit verify`";

pub(crate) fn db_path(cx: &Context<'_>) -> PathBuf {
    cx.data_dir.join("kiosk.db")
}

/// Opens the database read-only; a message saying what to do when it cannot.
pub(crate) fn open_read_only(path: &Path) -> Result<Connection, String> {
    if !path.is_file() {
        return Err(format!("no database at {}", path.display()));
    }
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| format!("{}: {e}", path.display()))
}

const MISSING: &str = "a new kiosk: run `kiosk provision --site SITE`; otherwise check `kiosk.data_dir` or restore the database from backup";

pub(super) fn run(cx: &Context<'_>, out: &mut Vec<CheckResult>) {
    let path = db_path(cx);
    let conn = open_read_only(&path);
    out.push(timed(|| match &conn {
        Ok(conn) => integrity(conn),
        Err(message) => CheckResult::fail("store.integrity", message.clone(), MISSING),
    }));
    out.push(timed(|| match &conn {
        Ok(_) => size(&path),
        Err(_) => blocked("store.size", "store.integrity", MISSING),
    }));
    out.push(timed(|| disk_free(&cx.data_dir, cx)));
}

fn integrity(conn: &Connection) -> CheckResult {
    const ID: &str = "store.integrity";
    let version: i64 = match conn.pragma_query_value(None, "user_version", |r| r.get(0)) {
        Ok(v) => v,
        Err(e) => return CheckResult::fail(ID, e.to_string(), RESTORE),
    };
    let findings: Result<Vec<String>, _> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect());
    match findings {
        Ok(lines) if lines == ["ok"] => {
            let value = format!("integrity_check ok, schema version {version}");
            if version > SCHEMA_VERSION {
                CheckResult::fail(ID, format!("{value}, newer than this software ({SCHEMA_VERSION})"), "the software was rolled back below the database: run scripts/update with the newer release again")
            } else if version < SCHEMA_VERSION {
                CheckResult::warn(ID, format!("{value}; migrates to {SCHEMA_VERSION} at the next start"), "start the service (`systemctl start kiosk`) to apply the migration")
            } else {
                CheckResult::ok(ID, value)
            }
        }
        Ok(lines) => CheckResult::fail(ID, format!("corrupt: {}", lines.join("; ")), RESTORE),
        Err(e) => CheckResult::fail(ID, e.to_string(), RESTORE),
    }
}

fn size(db: &Path) -> CheckResult {
    let len = |suffix: &str| std::fs::metadata(format!("{}{suffix}", db.display())).map(|m| m.len()).unwrap_or(0);
    let (main, wal) = (len(""), len("-wal"));
    CheckResult::ok("store.size", format!("{} KiB database + {} KiB write-ahead log", main / 1024, wal / 1024))
        .with("database_bytes", main as f64)
        .with("wal_bytes", wal as f64)
}

fn disk_free(dir: &Path, cx: &Context<'_>) -> CheckResult {
    const ID: &str = "store.disk_free";
    // The data folder may not exist yet on a new kiosk: measure the nearest existing parent.
    let probe = dir.ancestors().find(|p| p.exists()).unwrap_or(Path::new("/"));
    let stat = match nix::sys::statvfs::statvfs(probe) {
        Ok(stat) => stat,
        Err(e) => return CheckResult::fail(ID, format!("{}: {e}", probe.display()), "check the data folder's file system is mounted"),
    };
    // fsblkcnt_t and c_ulong are u32 on 32-bit ARM: the conversion is not useless there.
    #[allow(clippy::useless_conversion)]
    let (free, total) = (
        u64::from(stat.blocks_available()).saturating_mul(u64::from(stat.fragment_size())),
        u64::from(stat.blocks()).saturating_mul(u64::from(stat.fragment_size())),
    );
    let d = &cx.config.diag;
    let value = format!("{} MiB free of {} MiB on {}", free / MIB, total / MIB, probe.display());
    let result = if free < d.disk_free_fail_mb * MIB {
        CheckResult::fail(ID, value, "the disk is almost full: remove old logs (`journalctl --vacuum-size=100M`) and check nothing else fills it")
    } else if free < d.disk_free_warn_mb * MIB {
        CheckResult::warn(ID, value, "the disk is filling: remove old logs and look for what grows")
    } else {
        CheckResult::ok(ID, value)
    };
    result.with("free_bytes", free as f64).with("total_bytes", total as f64)
}

pub(super) fn run_audit(cx: &Context<'_>, out: &mut Vec<CheckResult>) {
    out.push(timed(|| {
        const ID: &str = "audit.chain";
        let conn = match open_read_only(&db_path(cx)) {
            Ok(conn) => conn,
            Err(message) => return CheckResult::fail(ID, message, MISSING),
        };
        let key = match crate::keys::kek::load(cx.config, &cx.data_dir) {
            Ok(secret) => store::KeyStore::from_secret(&secret, "kek").audit_key(),
            Err(e) => return CheckResult::fail(ID, format!("the keyed chain cannot be checked without the key-encryption key: {e}"), "see keys.kek"),
        };
        match store::verify_chain(&conn, &key) {
            Ok(report) => {
                let anchored = match &report.last_anchor {
                    Some(a) => format!("last head anchored at the core: seq {}", a.seq),
                    None => "no head anchored at the core yet".to_owned(),
                };
                CheckResult::ok(ID, format!("intact, {} rows; {anchored}", report.rows))
                    .with("rows", report.rows as f64)
                    .with("anchored_seq", report.last_anchor.as_ref().map_or(0.0, |a| a.seq as f64))
            }
            Err(e) => CheckResult::fail(ID, e.to_string(), "the audit log was altered: do not use the kiosk; keep the database as evidence and call security"),
        }
    }));
}
