//! Reading the document: waiting for it on the reader, the chip read with passive
//! authentication, the face in its DG2 photo, and the document rules' facts (expiry, age).

use std::sync::Arc;
use std::time::Instant;

use kiosk_hal::Display;
use time::OffsetDateTime;

use super::{off_thread, AppError, Session, BUSY_COUNTS_AS_ALIVE};
use crate::{
    flow::Event,
    identity, store,
    vision::{decode_image, FaceOutcome},
};

impl<D: Display + 'static> Session<'_, D> {
    pub(super) async fn read_document(&mut self) -> Result<Event, AppError> {
        let started = Instant::now();
        let csca_dir = self.services.config.card_reader.csca_dir.clone();
        // Active Authentication signs a challenge bound to this session and to the audit chain
        // as it stands: the chip's answer, kept with the face decision, cannot be replayed.
        let (seq, head) = self.services.store.audit_head()?;
        let binding = aa_binding(self.id, seq, &head);
        let session_binding = binding.clone();
        // Keyed in on a reader without an MRZ window (all three fields valid), else scanned.
        let keyed = self.data.keyed.mrz_information().map(zeroize::Zeroizing::new);
        let keyed_in = keyed.is_some();
        let read = self
            .on_devices(move |d| {
                let options = identity::ReadOptions {
                    can: None,
                    session_binding: session_binding.as_bytes(),
                    keyed_mrz: keyed.as_deref().map(String::as_str),
                };
                identity::read_trusted_passport_with(d.reader.as_mut(), &csca_dir, &options)
            })
            .await?;
        record_country(&self.services.config.kiosk.data_dir, &read);
        let passport = match read {
            Ok(passport) => passport,
            // Not there yet: the flow looks again at its next tick (no step, nothing recorded).
            Err(error) if not_placed_yet(&error) || (keyed_in && matches!(error, identity::IdentityError::NoChip)) => {
                tracing::debug!(session = %self.id, %error, "no document on the reader yet");
                return Ok(Event::NoDocument);
            }
            // An ordinary card reader: the person keys the MRZ in (never logged).
            Err(identity::IdentityError::NoMrzWindow) if !keyed_in => {
                self.log("document", "the reader has no MRZ window: the MRZ is keyed in", started);
                return Ok(Event::NoMrzWindow);
            }
            // Right check digits, wrong data (a typo that kept them, or another document's):
            // the person checks what they typed.
            Err(identity::IdentityError::AccessDenied) if keyed_in => {
                self.log("document", "the chip refused the access key from the keyed-in MRZ", started);
                return Ok(Event::KeyedMrzRefused);
            }
            Err(error) => {
                let device_fault = is_device_fault(&error);
                self.log("document", format!("not read: {error}"), started);
                return Ok(if device_fault {
                    self.report.device_fault = Some("card_reader");
                    Event::DeviceFault
                } else {
                    // A document failing passive authentication is not trusted, not merely unreadable.
                    let trusted_but_unreadable = !matches!(error, identity::IdentityError::NotTrusted(_));
                    Event::DocumentFailed { trusted_but_unreadable }
                });
            }
        };
        self.log(
            "document",
            format!(
                "chip read over the serial line: DG1 + DG2 ({} bytes on the chip, face photo {} bytes, {:?})",
                passport.bytes_read,
                passport.face_image.bytes.len(),
                passport.face_image.format
            ),
            started,
        );
        let started = Instant::now();
        let photo = match decode_image(&passport.face_image.bytes, "DG2 face photo") {
            Ok(photo) => photo,
            Err(error) => {
                let error = AppError::from(error);
                if error.kind().takes_out_of_service() {
                    return Err(error);
                }
                // A trusted chip whose photo does not decode is the document's fault, not the kiosk's.
                self.log("document face", format!("the DG2 photo does not decode: {error}"), started);
                return Ok(Event::DocumentFailed { trusted_but_unreadable: true });
            }
        };
        let pipeline = Arc::clone(&self.services.pipeline);
        let (_, analysed) = off_thread(photo, self.busy(BUSY_COUNTS_AS_ALIVE), move |photo| {
            pipeline
                .lock()
                .map_err(|_| AppError::internal("face pipeline", "poisoned lock"))?
                .analyse(photo)
                .map_err(AppError::from)
        })
        .await?;
        self.data.face_checks.chip_proof = passport.active_authentication_evidence.as_ref().map(|e| store::ChipProof {
            binding: binding.clone(),
            nonce: hex::encode(e.nonce),
            challenge: hex::encode(e.challenge),
            signature: hex::encode(&e.signature),
            verdict: passport.active_authentication.name(),
        });
        self.data.passport = Some(passport);
        match analysed? {
            FaceOutcome::Face(face) => {
                self.log(
                    "document face",
                    format!("face found in the DG2 photo (score {:.2})", face.detection.score),
                    started,
                );
                self.data.document_face = Some(face.embedding);
                Ok(document_read(&self.data.passport, OffsetDateTime::now_utc()))
            }
            _ => {
                self.log("document face", "no usable face in the DG2 photo", started);
                Ok(Event::DocumentFailed { trusted_but_unreadable: true })
            }
        }
    }
}

/// What the Active Authentication challenge of session `session` is bound to: the session
/// and the audit chain's head (seq and hash) when its document was read.
pub(super) fn aa_binding(session: uuid::Uuid, seq: i64, head: &str) -> String {
    format!("kiosk-session:{session}:audit:{seq}:{head}")
}

/// Records the country of the document's signer, trusted or not, for `kiosk diag`'s check
/// that the trust store has a CSCA for every country seen.
fn record_country(data_dir: &std::path::Path, read: &Result<identity::PassportRead, identity::IdentityError>) {
    use identity::trust::countries_seen;
    let signer_issuer = match read {
        Ok(passport) => match &passport.authentication {
            identity::PassiveAuthentication::Passed { csca, .. } => Some(csca.clone()),
            identity::PassiveAuthentication::Failed(_) => None,
        },
        Err(identity::IdentityError::NotTrusted(identity::PaFailure::UnknownIssuer { issuer })) => Some(issuer.clone()),
        Err(_) => None,
    };
    if let Some(country) = signer_issuer.as_deref().and_then(countries_seen::country_in_name) {
        countries_seen::record(data_dir, &country);
    }
}

/// What the document rules need from DG1, on the visit's (Moscow) date: whether the document
/// has expired and the holder's whole years (the flow refuses on them).
pub(super) fn document_read(passport: &Option<identity::PassportRead>, now: OffsetDateTime) -> Event {
    let today = now.to_offset(crate::account::MOSCOW_OFFSET).date();
    let Some(passport) = passport else { return Event::DocumentRead { expired: true, age_years: None } };
    Event::DocumentRead {
        expired: identity::mrz::expired_on(&passport.mrz.expiry_date, today),
        age_years: crate::benefits::age_on(&passport.mrz.birth_date, today).and_then(|a| u16::try_from(a).ok()),
    }
}

/// Nothing to read yet: no MRZ on the window, no chip in the field, or the reader was just
/// plugged back in (the driver has re-initialised it): the person is still placing the passport.
pub(super) fn not_placed_yet(error: &identity::IdentityError) -> bool {
    use kiosk_hal::card_reader::DeviceErrorKind as K;
    match error {
        identity::IdentityError::NoDocument => true,
        identity::IdentityError::Reader(kiosk_hal::CardReaderError::Reconnected) => true,
        identity::IdentityError::Reader(kiosk_hal::CardReaderError::Device { kind, .. }) => {
            matches!(kind, K::NoDocument | K::ContactlessNoCard)
        }
        _ => false,
    }
}

/// A reader that stopped answering, or the kiosk's own trust store broken, puts the kiosk out
/// of service; a document problem (or a reader just reopened) does not. Decided by the error's
/// kind, as `kiosk run` decides for every error.
pub(super) fn is_device_fault(error: &identity::IdentityError) -> bool {
    crate::app::errors::identity_kind(error).takes_out_of_service()
}
