//! The account: issued with its signed activation token, the onboarding recorded in one
//! transaction (and the template pushed to the gallery), the receipt printed, and the answer to
//! the social-payments offer recorded.

use std::time::{Duration, Instant};

use kiosk_hal::Display;
use time::OffsetDateTime;

use super::{offer, receipt, refusal_code, Session, AppError, WALKED_AWAY};
use crate::{
    account::{issue_token, Claims, DemoAccount, TokenId},
    flow::{self, Event, Outcome},
    identity::PassportRead,
    store::{self, IssuedAccount, OnboardingRecord, PersonalData},
};

impl<D: Display + 'static> Session<'_, D> {
    pub(super) fn issue_account(&mut self) -> Result<Event, AppError> {
        let started = Instant::now();
        let now = OffsetDateTime::now_utc();
        let account = DemoAccount::issue(self.services.limits.clone(), now);
        let ttl = Duration::from_secs(u64::from(self.services.config.account.activation_ttl_minutes) * 60);
        let ttl = time::Duration::try_from(ttl).map_err(|e| AppError::internal("activation ttl", e))?;
        let claims = Claims::for_account(&account, &self.services.config.kiosk.id, now, ttl);
        let token = issue_token(self.services.identity.signing_key(), &claims);
        let token_id: TokenId = claims.token_id;
        let limits = &self.services.limits;
        let expires = claims.expires_at.to_offset(crate::account::MOSCOW_OFFSET);
        let summary = receipt::IssuedSummary {
            reference: account.id.simple().to_string()[24..].to_uppercase(),
            per_transaction_limit_rub: limits.per_transaction_limit().0 / 100,
            daily_limit_rub: limits.daily_limit().0 / 100,
            monthly_limit_rub: limits.monthly_limit().0 / 100,
            activation_token: token.clone(),
            expires_at: format!("{:02}:{:02}", expires.hour(), expires.minute()),
        };
        self.log(
            "account",
            format!(
                "demo account {} issued: ≤ {} per transaction, ≤ {} a day, ≤ {} a month; activation token {} chars, Ed25519-signed",
                account.id,
                limits.per_transaction_limit(),
                limits.daily_limit(),
                limits.monthly_limit(),
                token.len()
            ),
            started,
        );
        self.report.account_id = Some(account.id);
        self.report.activation_token = Some(token);
        self.data.issued = Some(IssuedAccount { account, token_id });
        self.issued = Some(summary);
        Ok(Event::AccountIssued)
    }

    pub(super) async fn record(&mut self, outcome: Outcome) -> Result<(), AppError> {
        let started = Instant::now();
        let consent = &self.services.consent;
        let enrolment_keys = self.enrolment_keys();
        let data = std::mem::take(&mut self.data);
        let issued = matches!(outcome, Outcome::AccountIssued);
        let now = OffsetDateTime::now_utc();
        if let (true, Some(passport), Some(account)) = (issued, data.passport.as_ref(), data.issued.as_ref()) {
            let today = now.to_offset(crate::account::MOSCOW_OFFSET).date();
            self.offer = Some(offer::OfferContext {
                account_id: account.account.id,
                age: crate::benefits::age_on(&passport.mrz.birth_date, today),
                sex: crate::benefits::Sex::from_mrz(passport.mrz.sex),
            });
        }
        let record = OnboardingRecord {
            id: self.id,
            started_at: self.started_at,
            finished_at: now,
            consent_version: consent.version.clone(),
            consent_sha256: consent.in_language(self.options.language).sha256,
            outcome: match outcome {
                Outcome::AccountIssued => store::Outcome::AccountIssued,
                Outcome::Refused(reason) => store::Outcome::Refused(refusal_code(reason).into()),
                Outcome::WalkedAway => store::Outcome::Refused(WALKED_AWAY.into()),
            },
            personal: if issued { data.passport.as_ref().map(personal_data) } else { None },
            account: if issued { data.issued.clone() } else { None },
            face_template: if issued { data.live_face.as_ref().map(|e| e.as_slice().to_vec()) } else { None },
            // Also a refusal by the exact check, before the camera: its kind is what it found.
            face_checks: (data.face_checks.attempts > 0 || data.face_checks.duplicate_kind.is_some())
                .then(|| data.face_checks.clone()),
            enrolment_keys: if issued { enrolment_keys } else { None },
        };
        self.services.store.record_onboarding(&record)?;
        if let (true, Some(template)) = (issued, data.live_face.as_ref()) {
            self.services.gallery.push(enrolment_keys.as_ref().map(|k| &k.birth), template);
        }
        self.report.outcome = Some(outcome);
        self.log(
            "record",
            match outcome {
                Outcome::AccountIssued => "onboarding stored in one transaction: sealed personal data and template, account, outbox, audit".to_string(),
                Outcome::Refused(reason) => format!("refusal stored ({}), no account, no personal data kept", refusal_code(reason)),
                Outcome::WalkedAway => format!("the person walked away: {WALKED_AWAY} stored, session wiped"),
            },
            started,
        );
        Ok(())
    }

    pub(super) async fn print_receipt(&mut self) -> Result<Event, AppError> {
        let started = Instant::now();
        let summary = self.issued.as_ref().ok_or_else(|| AppError::internal("session", "no account to print"))?;
        let receipt = summary.receipt(&self.services.config.kiosk.id, self.options.language, OffsetDateTime::now_utc());
        let printed = self
            .on_devices(move |d| match d.printer.as_mut() {
                Some(printer) => printer.print(&receipt).map_err(|e| e.to_string()),
                None => Err("no printer configured".to_string()),
            })
            .await?;
        let ok = printed.is_ok();
        // The printer is not needed to serve: its fault is told to the person and to diag.
        self.log("receipt", printed.map_or_else(|e| format!("NOT printed: {e}"), |()| "printed".into()), started);
        Ok(Event::ReceiptPrinted { ok })
    }

    pub(super) fn record_social_choice(&mut self, credit_to_account: bool, categories: flow::CategoryBits) -> Result<(), AppError> {
        let started = Instant::now();
        let (Some(rules), Some(person)) = (self.services.social.as_ref(), self.offer.as_ref()) else {
            return Err(AppError::internal("session", "social-payments answer without rules or account"));
        };
        let choice = offer::choice(rules, person, categories, credit_to_account, OffsetDateTime::now_utc());
        let kinds = choice.kinds_offered.len();
        self.services.store.record_social_payments_choice(&choice)?;
        self.log(
            "social payments",
            if credit_to_account {
                format!("the person asked to have payments credited ({kinds} kind(s) listed): stored sealed, queued for the core")
            } else {
                "the person declined: stored, nothing requested".to_string()
            },
            started,
        );
        Ok(())
    }
}

fn personal_data(passport: &PassportRead) -> PersonalData {
    let mrz = &passport.mrz;
    PersonalData {
        surname: mrz.surname.clone(),
        given_names: mrz.given_names.clone(),
        document_number: mrz.document_number.clone(),
        nationality: mrz.nationality.clone(),
        birth_date: mrz.birth_date.to_string(),
        expiry_date: mrz.expiry_date.to_string(),
    }
}
