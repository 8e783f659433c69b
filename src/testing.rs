//! Fixtures shared by the unit tests, the integration tests, the benches and the
//! `kiosk-crash-child` test helper: one demo-account policy, one specimen person (the ICAO 9303
//! specimen passport, with letters added so that no real name is matched), one onboarding.
//! Not part of the API: nothing on a kiosk calls it.
//!
//! Plain values only; nothing here reads a file or the clock.

use crate::account::demo_account::uuid_v7_at;
use crate::account::{DemoAccount, Kopecks, LimitsPolicy, Operation, TokenId};
use crate::store::{IssuedAccount, OnboardingRecord, Outcome, PersonalData};
use time::OffsetDateTime;

pub const SURNAME: &str = "ERIKSSONQX";
pub const GIVEN_NAMES: &str = "ANNA MARIAZ";
pub const DOCUMENT_NUMBER: &str = "L898902C3";
pub const BIRTH_DATE: &str = "1974-08-12";
/// The specimen's MRZ name field and second line, as a passport reader would return them.
pub const MRZ_NAME: &str = "P<UTOERIKSSONQX<<ANNA<MARIAZ";
pub const MRZ_LINE2: &str = "L898902C36UTO7408122F1204159";

/// Every piece of the specimen's personal data as text, in the forms it could take on disk:
/// none may be found in clear in a database, its WAL or a temp file.
pub const PERSONAL_TEXTS: [&str; 9] = [
    SURNAME,
    GIVEN_NAMES,
    "MARIAZ",
    DOCUMENT_NUMBER,
    MRZ_NAME,
    MRZ_LINE2,
    "ERIKSSONQX<<",
    BIRTH_DATE,
    "740812",
];

/// Whether `needle` (not empty) stands anywhere in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The demo account policy of the tests: 15 000 ₽ a transaction, 30 000 ₽ a day, 100 000 ₽ a
/// month, 60 000 ₽ balance, for the given operations.
// Constant limits, in order and under the hard cap: `new` cannot refuse them (the tests' own
// fixture, never a kiosk's data).
#[allow(clippy::expect_used)]
pub fn limits(operations: &[Operation]) -> LimitsPolicy {
    LimitsPolicy::new(
        Kopecks::rub(15_000),
        Kopecks::rub(30_000),
        Kopecks::rub(100_000),
        Kopecks::rub(60_000),
        operations.to_vec(),
    )
    .expect("constant limits in order and below the hard cap")
}

/// [`limits`] for top-ups and payments.
pub fn demo_limits() -> LimitsPolicy {
    limits(&[Operation::TopUp, Operation::Payment])
}

/// The specimen person's data as read from the chip.
pub fn personal_data() -> PersonalData {
    PersonalData {
        surname: SURNAME.into(),
        given_names: GIVEN_NAMES.into(),
        document_number: DOCUMENT_NUMBER.into(),
        nationality: "UTO".into(),
        birth_date: BIRTH_DATE.into(),
        expiry_date: "2012-04-15".into(),
    }
}

/// A 128-value face template; `n` makes the n-th one differ from the others in every value.
pub fn face_template(n: u32) -> Vec<f32> {
    (0..128).map(|i| 0.123_456_7 + i as f32 * 1.618_034 - 77.777 + n as f32).collect()
}

/// The specimen person onboarded, with an account issued at `at` under [`demo_limits`] and
/// face template `n`.
pub fn issued_onboarding(at: OffsetDateTime, n: u32) -> OnboardingRecord {
    OnboardingRecord {
        id: uuid_v7_at(at),
        started_at: at - time::Duration::minutes(2),
        finished_at: at,
        consent_version: "2026-11-v1".into(),
        consent_sha256: [0xab; 32],
        outcome: Outcome::AccountIssued,
        personal: Some(personal_data()),
        account: Some(IssuedAccount {
            account: DemoAccount::issue(demo_limits(), at),
            token_id: TokenId::random(),
        }),
        face_template: Some(face_template(n)),
        face_checks: None,
        enrolment_keys: None,
    }
}

/// The account-issued screen of the ui tests and snapshots (reference D-4821, 15 000 / 50 000 /
/// 200 000 ₽, expiring 14:35) with activation token `token`.
pub fn issued_screen(
    token: &str,
    can_print: bool,
    receipt: Option<crate::flow::ReceiptStatus>,
) -> crate::flow::Screen {
    crate::flow::Screen::AccountIssued {
        account_reference: "D-4821".into(),
        per_transaction_limit_rub: 15_000,
        daily_limit_rub: 50_000,
        monthly_limit_rub: 200_000,
        activation_token: token.into(),
        expires_at: "14:35".into(),
        can_print,
        receipt,
    }
}
