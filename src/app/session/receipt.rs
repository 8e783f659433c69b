//! The issued account as the person sees it: on the screen (with the activation QR code) and
//! on the optional paper receipt.
//!
//! The receipt never carries the activation token: paper is left in trays and bins, and the
//! token opens the account in the mobile app. It carries the reference to quote to support,
//! the limits, and how to activate.

use kiosk_hal::Receipt;
use time::OffsetDateTime;

use crate::account::MOSCOW_OFFSET;
use crate::flow::{Language, ReceiptStatus, Screen};
use crate::ui::text::money;

/// What the AccountIssued screen and the receipt show; lives until the session ends.
#[derive(Clone)]
pub struct IssuedSummary {
    /// Short, non-secret reference the person can quote to support.
    pub reference: String,
    pub per_transaction_limit_rub: u64,
    pub daily_limit_rub: u64,
    pub monthly_limit_rub: u64,
    pub activation_token: String,
    /// Local time the token expires ("14:35").
    pub expires_at: String,
}

impl std::fmt::Debug for IssuedSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedSummary").field("reference", &self.reference).finish_non_exhaustive()
    }
}

impl IssuedSummary {
    pub fn screen(&self, can_print: bool, receipt: Option<ReceiptStatus>) -> Screen {
        Screen::AccountIssued {
            account_reference: self.reference.clone(),
            per_transaction_limit_rub: self.per_transaction_limit_rub,
            daily_limit_rub: self.daily_limit_rub,
            monthly_limit_rub: self.monthly_limit_rub,
            activation_token: self.activation_token.clone(),
            expires_at: self.expires_at.clone(),
            can_print: can_print && receipt != Some(ReceiptStatus::Printed),
            receipt,
        }
    }

    pub fn receipt(&self, kiosk_id: &str, language: Language, printed_at: OffsetDateTime) -> Receipt {
        let t = |ru: &'static str, en: &'static str| if language == Language::Ru { ru } else { en };
        let local = printed_at.to_offset(MOSCOW_OFFSET);
        let when = format!(
            "{:02}.{:02}.{} {:02}:{:02}",
            local.day(),
            u8::from(local.month()),
            local.year(),
            local.hour(),
            local.minute()
        );
        Receipt::new()
            .title(t("Счёт открыт", "Account opened"))
            .separator()
            .key_value(t("Номер для справок", "Reference"), self.reference.as_str())
            .key_value(t("Дата", "Date"), when)
            .key_value(t("Терминал", "Kiosk"), kiosk_id)
            .separator()
            .text(t("Лимиты демо-счёта:", "Demo account limits:"))
            .key_value(t("за одну операцию", "per payment"), money(self.per_transaction_limit_rub, language))
            .key_value(t("в день", "per day"), money(self.daily_limit_rub, language))
            .key_value(t("в месяц", "per month"), money(self.monthly_limit_rub, language))
            .separator()
            .text(t(
                "Включите счёт в приложении банка: отсканируйте QR-код на экране терминала. Если код истёк, позвоните в банк и назовите номер для справок.",
                "Activate the account in the bank app: scan the QR code on the kiosk screen. If the code has expired, call the bank and quote the reference.",
            ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiosk_hal::printer::ReceiptLine;

    fn summary() -> IssuedSummary {
        IssuedSummary {
            reference: "A1B2C3D4".into(),
            per_transaction_limit_rub: 50_000,
            daily_limit_rub: 100_000,
            monthly_limit_rub: 300_000,
            activation_token: "KA1.secret-token".into(),
            expires_at: "14:35".into(),
        }
    }

    #[test]
    fn the_receipt_has_the_reference_and_limits_but_never_the_token() {
        let receipt = summary().receipt("KIOSK-1", Language::Ru, OffsetDateTime::UNIX_EPOCH);
        let text: String = receipt
            .lines
            .iter()
            .map(|line| match line {
                ReceiptLine::Title(t) | ReceiptLine::Text(t) | ReceiptLine::Qr(t) => t.clone(),
                ReceiptLine::KeyValue { key, value } => format!("{key} {value}"),
                ReceiptLine::Separator => "---".into(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert!(text.contains("A1B2C3D4") && text.contains("KIOSK-1") && text.contains("50\u{a0}000"));
        assert!(!text.contains("secret-token"));
        assert!(!receipt.lines.iter().any(|l| matches!(l, ReceiptLine::Qr(_))));
    }

    #[test]
    fn print_is_offered_until_a_receipt_came_out() {
        let s = summary();
        let can_print = |screen: Screen| matches!(screen, Screen::AccountIssued { can_print: true, .. });
        assert!(can_print(s.screen(true, None)));
        assert!(can_print(s.screen(true, Some(ReceiptStatus::Failed))));
        assert!(!can_print(s.screen(true, Some(ReceiptStatus::Printed))));
        assert!(!can_print(s.screen(false, None)));
    }
}
