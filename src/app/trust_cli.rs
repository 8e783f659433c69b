//! `kiosk trust import FILE` and `kiosk trust list`: the CSCA trust folder
//! (`card_reader.csca_dir`) for technicians. A file is imported only when the folder with it
//! still loads (a master list whose signer chains to an installed CSCA, a CRL its CSCA signed),
//! so a bad file never breaks passport reading.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::{json, Value};

use super::AppError;
use crate::identity::trust::{countries_seen, Origin, TrustFileKind};
use crate::identity::{IdentityError, TrustStore};

/// Largest file accepted (a full master list is about 1 MB).
const MAX_IMPORT: u64 = 16 << 20;

fn time_text(t: SystemTime) -> String {
    let odt = time::OffsetDateTime::from(t);
    odt.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| format!("{odt}"))
}

/// Copies `file` into the trust folder under a name with the extension its content calls for,
/// after checking the folder loads with it. Returns the installed path.
pub fn import(config_file: Option<&Path>, file: &Path) -> Result<PathBuf, AppError> {
    let config = kiosk_config::load(config_file)?;
    let dir = &config.card_reader.csca_dir;
    let size = std::fs::metadata(file).map_err(|e| AppError::file(file, e))?.len();
    if size > MAX_IMPORT {
        return Err(AppError::Usage(format!("{} is {size} bytes, more than a trust file holds (16 MiB)", file.display())));
    }
    let bytes = std::fs::read(file).map_err(|e| AppError::file(file, e))?;
    let kind = TrustFileKind::detect(&bytes).ok_or_else(|| {
        AppError::Usage(format!(
            "{} is neither an X.509 certificate, a CRL nor a CSCA master list (DER or PEM): nothing imported",
            file.display()
        ))
    })?;
    let stem = file.file_stem().and_then(|s| s.to_str()).filter(|s| !s.is_empty()).unwrap_or("imported");
    let target = dir.join(format!("{stem}.{}", kind.extension()));
    if let Ok(existing) = std::fs::read(&target) {
        if existing == bytes {
            println!("{} is already installed as {}", file.display(), target.display());
            return Ok(target);
        }
        return Err(AppError::Usage(format!(
            "{} already exists with other content: remove it or rename {} first",
            target.display(),
            file.display()
        )));
    }
    // Trial load: the folder as it is plus the new file, in a scratch copy.
    let scratch = std::env::temp_dir().join(format!("kiosk-trust-import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let trial = (|| -> Result<TrustStore, AppError> {
        std::fs::create_dir_all(&scratch).map_err(|e| AppError::file(&scratch, e))?;
        for entry in std::fs::read_dir(dir).map_err(|e| AppError::file(dir, e))?.flatten() {
            if entry.path().is_file() {
                std::fs::copy(entry.path(), scratch.join(entry.file_name()))
                    .map_err(|e| AppError::file(&entry.path(), e))?;
            }
        }
        let name = target.file_name().unwrap_or_default();
        std::fs::write(scratch.join(name), &bytes).map_err(|e| AppError::file(&scratch, e))?;
        TrustStore::load_dir(&scratch).map_err(|e| AppError::Identity(IdentityError::TrustStore(e)))
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    let store = trial?;
    let tmp = dir.join(format!(".{stem}.import"));
    std::fs::write(&tmp, &bytes)
        .and_then(|()| std::fs::rename(&tmp, &target))
        .map_err(|e| AppError::file(&target, e))?;
    let what = match kind {
        TrustFileKind::Certificate => "certificate",
        TrustFileKind::MasterList => "master list",
        TrustFileKind::Crl => "CRL",
    };
    println!(
        "imported {what} {} as {}: the trust store now holds {} CSCAs ({}), {} CRLs",
        file.display(),
        target.display(),
        store.len(),
        store.countries().into_iter().collect::<Vec<_>>().join(" "),
        store.crls().len()
    );
    Ok(target)
}

/// Prints the trust store: CSCAs and links with their origin and validity, master lists, CRLs.
pub fn list(config_file: Option<&Path>, as_json: bool) -> Result<(), AppError> {
    let config = kiosk_config::load(config_file)?;
    let dir = &config.card_reader.csca_dir;
    let store = TrustStore::load_dir(dir).map_err(|e| AppError::Identity(IdentityError::TrustStore(e)))?;
    let now = SystemTime::now();
    let cscas: Vec<Value> = store
        .anchors()
        .iter()
        .map(|a| {
            let tbs = &a.certificate.tbs_certificate;
            let (origin, source) = match &a.origin {
                Origin::File(p) => ("file", p),
                Origin::LinkFile(p) => ("link", p),
                Origin::MasterList(p) => ("master_list", p),
            };
            json!({
                "subject": tbs.subject.to_string(),
                "issuer": tbs.issuer.to_string(),
                "serial": hex::encode(tbs.serial_number.as_bytes()),
                "country": crate::identity::trust_files::country_of(&tbs.subject),
                "not_before": time_text(tbs.validity.not_before.to_system_time()),
                "not_after": time_text(tbs.validity.not_after.to_system_time()),
                "valid_now": tbs.validity.not_before.to_system_time() <= now && now <= tbs.validity.not_after.to_system_time(),
                "origin": origin,
                "source": source.display().to_string(),
            })
        })
        .collect();
    let crls: Vec<Value> = store
        .crls()
        .iter()
        .map(|c| {
            json!({
                "issuer": c.issuer(),
                "this_update": time_text(c.list.tbs_cert_list.this_update.to_system_time()),
                "next_update": c.next_update().map(time_text),
                "stale": c.is_stale(now),
                "revoked": c.revoked(),
                "source": c.path.display().to_string(),
            })
        })
        .collect();
    let lists: Vec<Value> = store
        .master_lists()
        .iter()
        .map(|m| json!({ "signer": m.signer, "listed": m.listed, "accepted": m.accepted, "source": m.path.display().to_string() }))
        .collect();
    let seen: Vec<String> = countries_seen::load(&config.kiosk.data_dir).into_iter().collect();
    if as_json {
        let report = json!({ "dir": dir.display().to_string(), "cscas": cscas, "master_lists": lists, "crls": crls, "countries_seen": seen });
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
        return Ok(());
    }
    println!("trust store {}: {} CSCAs, {} master lists, {} CRLs", dir.display(), cscas.len(), lists.len(), crls.len());
    for c in &cscas {
        println!(
            "  CSCA {} [{}{}] valid {} .. {}{} ({} {})",
            c["subject"].as_str().unwrap_or_default(),
            c["origin"].as_str().unwrap_or_default(),
            if c["issuer"] == c["subject"] { "" } else { ", link" },
            c["not_before"].as_str().unwrap_or_default(),
            c["not_after"].as_str().unwrap_or_default(),
            if c["valid_now"] == true { "" } else { " EXPIRED or not yet valid" },
            c["origin"].as_str().unwrap_or_default(),
            c["source"].as_str().unwrap_or_default(),
        );
    }
    for m in &lists {
        println!(
            "  master list {}: {} of {} certificates taken, signed by {}",
            m["source"].as_str().unwrap_or_default(),
            m["accepted"],
            m["listed"],
            m["signer"].as_str().unwrap_or_default()
        );
    }
    for c in &crls {
        println!(
            "  CRL {} from {}: {} revoked, next update {}{}",
            c["source"].as_str().unwrap_or_default(),
            c["issuer"].as_str().unwrap_or_default(),
            c["revoked"],
            c["next_update"].as_str().unwrap_or("none"),
            if c["stale"] == true { " (PAST: install a fresh CRL)" } else { "" }
        );
    }
    Ok(())
}
