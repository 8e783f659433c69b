//! What the onboarding flow hands the store at the end of one session.

use crate::account::{DemoAccount, TokenId};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::{Zeroize, ZeroizeOnDrop};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    AccountIssued,
    /// A short reason code such as `"face_mismatch"`; it is stored in clear, so never put
    /// personal data in it.
    Refused(String),
}

/// Personal data read from the document; sealed together as one JSON value. Dates as read
/// from the chip, ISO 8601 (`YYYY-MM-DD`).
#[derive(Clone, PartialEq, Eq, Serialize, Zeroize, ZeroizeOnDrop)]
pub struct PersonalData {
    pub surname: String,
    pub given_names: String,
    pub document_number: String,
    pub nationality: String,
    pub birth_date: String,
    pub expiry_date: String,
}

impl std::fmt::Debug for PersonalData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonalData(<redacted>)")
    }
}

/// The issued account and the id of its activation token (for single use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedAccount {
    pub account: DemoAccount,
    pub token_id: TokenId,
}

/// What the face checks of a session found: scores and verdicts only, no image or template,
/// so it is stored in clear with the onboarding and its audit event. The last attempt's values.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FaceChecks {
    /// Face captures tried.
    pub attempts: u32,
    /// Passive liveness: fused probability of a live face, and the verdict.
    pub passive_live_probability: Option<f32>,
    pub passive_live: Option<bool>,
    /// Active liveness: the side asked (`left` / `right`) and the result (`passed`,
    /// `wrong_direction`, `timed_out`, `discontinuity`).
    pub challenge_direction: Option<&'static str>,
    pub challenge_result: Option<&'static str>,
    /// 1:1 cosine against the document photo, and the best 1:N cosine against earlier enrolments.
    pub match_score: Option<f32>,
    pub duplicate_best_score: Option<f32>,
    /// How an earlier enrolment was found (`exact_document`, `exact_holder`, `face`); `None`
    /// when none was.
    pub duplicate_kind: Option<&'static str>,
    /// The chip's Active Authentication answer to this session's challenge, kept with the face
    /// decision: with DG15's key (sealed with the document) it shows later that this genuine
    /// chip was on the reader in this session.
    pub chip_proof: Option<ChipProof>,
}

/// Active Authentication evidence: the challenge is the first 8 bytes of
/// SHA-256("kiosk-aa-v1" ‖ len(binding) as u64 BE ‖ binding ‖ nonce); `binding` names the
/// session and the audit chain head when the document was read. Hex, no personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChipProof {
    pub binding: String,
    pub nonce: String,
    pub challenge: String,
    pub signature: String,
    /// `passed` (only trusted documents reach the face decision).
    pub verdict: &'static str,
}

/// One finished onboarding. `AccountIssued` needs `account` and `personal`; `Refused` must
/// have neither an account nor a face template.
#[derive(Clone)]
pub struct OnboardingRecord {
    pub id: Uuid,
    pub started_at: OffsetDateTime,
    pub finished_at: OffsetDateTime,
    pub consent_version: String,
    /// SHA-256 of the consent text the person accepted.
    pub consent_sha256: [u8; 32],
    pub outcome: Outcome,
    pub personal: Option<PersonalData>,
    pub account: Option<IssuedAccount>,
    /// Face embedding; sealed as little-endian f32 bytes.
    pub face_template: Option<Vec<f32>>,
    /// The face checks' figures, when the session got as far as the camera or the exact check
    /// found an earlier enrolment.
    pub face_checks: Option<FaceChecks>,
    /// The keyed hashes a later duplicate check finds this enrolment by (issued accounts only).
    pub enrolment_keys: Option<super::EnrolmentKeys>,
}

/// Shows only what is safe to log: no personal data, no template values.
impl std::fmt::Debug for OnboardingRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnboardingRecord")
            .field("id", &self.id)
            .field("outcome", &self.outcome)
            .field("has_personal", &self.personal.is_some())
            .field("account", &self.account.as_ref().map(|a| a.account.id))
            .field("face_template_len", &self.face_template.as_ref().map(Vec::len))
            .finish()
    }
}
