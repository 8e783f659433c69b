//! The social-payments offer: the screen for the ticked categories and the record of the
//! person's answer, from the rules in kiosk-config and what the chip said (age, sex).

use kiosk_config::{CategorySet, ConsentLanguage, SocialRules};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::benefits::{self, Sex, SocialPaymentsChoice};
use crate::flow::{CategoryBits, Choice, Language, Screen, SocialStep};

/// What the offer needs to know of the person, kept after the personal data is wiped: the age
/// in whole years and the sex (never the birth date or the name).
#[derive(Debug, Clone, Copy)]
pub struct OfferContext {
    pub account_id: Uuid,
    pub age: Option<u32>,
    pub sex: Option<Sex>,
}

fn selected(bits: CategoryBits) -> CategorySet {
    CategorySet::from_bits(u64::from(bits))
}

fn label_language(language: Language) -> ConsentLanguage {
    match language {
        Language::Ru => ConsentLanguage::Ru,
        Language::En => ConsentLanguage::En,
    }
}

/// The offer screen: every category with its tick, and the kinds of support that may apply.
pub fn offer_screen(
    rules: &SocialRules,
    person: &OfferContext,
    step: SocialStep,
    bits: CategoryBits,
    language: Language,
) -> Screen {
    let set = selected(bits);
    let lang = label_language(language);
    let categories = rules
        .categories()
        .iter()
        .enumerate()
        .map(|(i, c)| Choice { label: c.label.text(lang).to_owned(), selected: set.contains(i) })
        .collect();
    let kinds = benefits::eligible(rules, person.age, person.sex, set)
        .into_iter()
        .map(|kind| kind.name.text(lang).to_owned())
        .collect();
    Screen::SocialPayments { step, categories, kinds }
}

/// The person's explicit answer, in the rules' ids.
pub fn choice(
    rules: &SocialRules,
    person: &OfferContext,
    bits: CategoryBits,
    credit_to_account: bool,
    now: OffsetDateTime,
) -> SocialPaymentsChoice {
    let set = selected(bits);
    let offered = benefits::eligible(rules, person.age, person.sex, set);
    SocialPaymentsChoice::new(person.account_id, rules, set, &offered, credit_to_account, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> SocialRules {
        let config = kiosk_config::load_str(None).unwrap();
        SocialRules::from_config(&config.social_payments).unwrap().unwrap()
    }

    #[test]
    fn ticking_a_category_can_only_add_kinds_and_the_choice_names_them() {
        let rules = rules();
        let person = OfferContext { account_id: Uuid::now_v7(), age: Some(35), sex: Some(Sex::Female) };
        let Screen::SocialPayments { categories, kinds: none_ticked, .. } = offer_screen(&rules, &person, SocialStep::Categories, 0, Language::Ru)
        else {
            panic!("not the offer screen")
        };
        assert_eq!(categories.len(), rules.categories().len());
        assert!(categories.iter().all(|c| !c.selected && !c.label.is_empty()));
        let all: CategoryBits = (1 << rules.categories().len()) - 1;
        let Screen::SocialPayments { categories, kinds: all_ticked, .. } = offer_screen(&rules, &person, SocialStep::Answer, all, Language::En)
        else {
            panic!("not the offer screen")
        };
        assert!(categories.iter().all(|c| c.selected));
        assert!(all_ticked.len() > none_ticked.len(), "{none_ticked:?} vs {all_ticked:?}");
        let answer = choice(&rules, &person, all, true, OffsetDateTime::now_utc());
        assert_eq!(answer.categories.len(), rules.categories().len());
        assert_eq!(answer.kinds_offered.len(), all_ticked.len());
        assert!(answer.credit_to_account);
    }
}
