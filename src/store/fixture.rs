//! A store in a temporary folder with its own key file, for the store's unit tests.

use super::{KeyStore, Store};
use std::path::PathBuf;

pub(crate) struct Fixture {
    pub dir: tempfile::TempDir,
    pub keys: KeyStore,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let keys = KeyStore::open_or_create(&dir.path().join("kek.key")).unwrap();
        Fixture { dir, keys }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("kiosk.db")
    }

    pub fn open(&self) -> Store {
        Store::open(&self.db(), &self.keys).unwrap()
    }
}
