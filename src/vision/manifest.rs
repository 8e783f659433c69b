//! `models/MANIFEST.toml`: which file each model is, and the sha256 it must have.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::VisionError;

#[derive(Debug, Clone, Deserialize)]
pub struct ManifestEntry {
    pub id: String,
    pub role: String,
    pub path: PathBuf,
    pub sha256: String,
    pub license: String,
    pub source: toml::Table,
}

#[derive(Debug, Deserialize)]
struct ManifestFile {
    manifest_version: u32,
    file: Vec<ManifestEntry>,
}

/// The parsed manifest and the folder its paths are relative to.
#[derive(Debug, Clone)]
pub struct ModelManifest {
    dir: PathBuf,
    entries: Vec<ManifestEntry>,
}

impl ModelManifest {
    /// Reads `<dir>/MANIFEST.toml`.
    pub fn load(dir: &Path) -> Result<Self, VisionError> {
        let path = dir.join("MANIFEST.toml");
        let bad = |reason: String| VisionError::Manifest { path: path.clone(), reason };
        let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
        let parsed: ManifestFile = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if parsed.manifest_version != 1 {
            return Err(bad(format!(
                "manifest_version {} is not supported (expected 1)",
                parsed.manifest_version
            )));
        }
        Ok(Self { dir: dir.to_path_buf(), entries: parsed.file })
    }

    pub fn entries(&self) -> &[ManifestEntry] {
        &self.entries
    }

    pub fn entry(&self, id: &str) -> Result<&ManifestEntry, VisionError> {
        self.entries.iter().find(|e| e.id == id).ok_or_else(|| VisionError::Manifest {
            path: self.dir.join("MANIFEST.toml"),
            reason: format!("no entry with id `{id}`"),
        })
    }

    pub fn path_of(&self, entry: &ManifestEntry) -> PathBuf {
        self.dir.join(&entry.path)
    }

    /// The file of `id`, after checking it exists and has the manifest's sha256.
    pub fn verified_path(&self, id: &str) -> Result<PathBuf, VisionError> {
        let entry = self.entry(id)?;
        let path = self.path_of(entry);
        verify_file(entry, &path)?;
        Ok(path)
    }
}

fn source_hint(entry: &ManifestEntry) -> String {
    match (entry.source.get("package"), entry.source.get("version")) {
        (Some(p), Some(v)) => {
            format!("PyPI package {}=={}", p.as_str().unwrap_or("?"), v.as_str().unwrap_or("?"))
        }
        _ => "the repository (git checkout)".into(),
    }
}

/// Checks one file against its manifest entry.
pub fn verify_file(entry: &ManifestEntry, path: &Path) -> Result<(), VisionError> {
    let bytes = std::fs::read(path).map_err(|_| VisionError::ModelMissing {
        id: entry.id.clone(),
        path: path.to_path_buf(),
        source_hint: source_hint(entry),
    })?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if !actual.eq_ignore_ascii_case(&entry.sha256) {
        return Err(VisionError::ModelHashMismatch {
            path: path.to_path_buf(),
            expected: entry.sha256.clone(),
            actual,
        });
    }
    Ok(())
}
