//! Keyed look-up hashes of an enrolment: the document (issuing state + number), the holder
//! (name + birth date) and the birth date alone (the 1:N face search's bucket). HMAC-SHA256
//! under a key derived from the KEK, so the database holds no personal data in clear and whoever
//! has only the database cannot test a guessed name or birth date against it.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// One keyed hash (32 bytes).
pub type LookupDigest = [u8; 32];

/// The look-up key, `HKDF-SHA256(KEK, info = "kiosk enrolment lookup v1")`. Zeroized on drop.
#[derive(Clone)]
pub struct LookupKey(pub(crate) Zeroizing<[u8; 32]>);

impl std::fmt::Debug for LookupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LookupKey(..)")
    }
}

/// What an enrolment is found by later; stored with an issued account.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EnrolmentKeys {
    pub document: LookupDigest,
    pub holder: LookupDigest,
    pub birth: LookupDigest,
}

impl std::fmt::Debug for EnrolmentKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnrolmentKeys(..)")
    }
}

/// How an earlier enrolment of the same person was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateKind {
    /// The same document (issuing state and number).
    Document,
    /// Another document of the same holder (name and birth date).
    Holder,
    /// A face among the enrolments of the same birth date.
    Face,
}

impl DuplicateKind {
    /// The recorded code (`face_checks.duplicate_kind`, the session log).
    pub fn code(self) -> &'static str {
        match self {
            Self::Document => "exact_document",
            Self::Holder => "exact_holder",
            Self::Face => "face",
        }
    }
}

/// MRZ text as compared: upper case, the filler `<` as a space, runs of spaces as one, trimmed;
/// the same name printed by two documents' MRZs compares equal.
fn canonical(field: &str) -> String {
    field
        .chars()
        .map(|c| if c == '<' { ' ' } else { c.to_ascii_uppercase() })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

impl LookupKey {
    fn digest(&self, label: &str, fields: &[&str]) -> LookupDigest {
        // HMAC zero-pads a key shorter than the hash's 64-byte block: padding it here gives the
        // same MAC through the infallible constructor.
        let mut block = Zeroizing::new([0u8; 64]);
        block[..32].copy_from_slice(&self.0[..]);
        let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new(&(*block).into());
        mac.update(label.as_bytes());
        for field in fields {
            let field = canonical(field);
            // Length-prefixed: ("AB", "C") and ("A", "BC") differ.
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    /// The keys of a document and its holder, from the chip's DG1 (MRZ) fields.
    pub fn enrolment(
        &self,
        issuing_state: &str,
        document_number: &str,
        surname: &str,
        given_names: &str,
        birth_date: &str,
    ) -> EnrolmentKeys {
        EnrolmentKeys {
            document: self.digest("document", &[issuing_state, document_number]),
            holder: self.digest("holder", &[surname, given_names, birth_date]),
            birth: self.birth(birth_date),
        }
    }

    /// The 1:N search bucket of a birth date (MRZ `YYMMDD`).
    pub fn birth(&self, birth_date: &str) -> LookupDigest {
        self.digest("birth", &[birth_date])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> LookupKey {
        LookupKey(Zeroizing::new([byte; 32]))
    }

    #[test]
    fn the_same_holder_on_two_documents_shares_the_holder_key_only() {
        let k = key(1);
        let first = k.enrolment("UTO", "L898902C3", "ERIKSSON", "ANNA<MARIA", "740812");
        let second = k.enrolment("UTO", "X12345678", "eriksson", "ANNA MARIA", "740812");
        assert_eq!(first.holder, second.holder, "MRZ filler and case do not matter");
        assert_ne!(first.document, second.document);
        assert_eq!(first.birth, second.birth);
        let sibling = k.enrolment("UTO", "Y1", "ERIKSSON", "ANNA MARIA", "760101");
        assert_ne!(first.holder, sibling.holder);
        assert_ne!(first.birth, sibling.birth);
    }

    #[test]
    fn another_kek_gives_other_keys_and_fields_do_not_run_into_each_other() {
        let a = key(1).enrolment("UTO", "L898902C3", "ERIKSSON", "ANNA", "740812");
        let b = key(2).enrolment("UTO", "L898902C3", "ERIKSSON", "ANNA", "740812");
        assert_ne!(a.document, b.document);
        assert_ne!(a.holder, b.holder);
        let k = key(1);
        assert_ne!(k.digest("document", &["UT", "OL8"]), k.digest("document", &["UTO", "L8"]));
        assert_ne!(k.digest("document", &["UTO", "1"]), k.digest("holder", &["UTO", "1"]));
        // The padded key is HMAC-SHA256 with the 32-byte key itself.
        let mut mac = Hmac::<Sha256>::new_from_slice(&[1u8; 32]).unwrap();
        mac.update(b"birth");
        mac.update(&6u64.to_be_bytes());
        mac.update(b"740812");
        assert_eq!(k.birth("740812"), <[u8; 32]>::from(mac.finalize().into_bytes()));
    }
}
