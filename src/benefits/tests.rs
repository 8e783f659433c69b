use super::*;
use proptest::prelude::*;
use std::path::Path;
use time::macros::date;

fn builtin() -> SocialRules {
    SocialRules::builtin("2026-11-v1").unwrap()
}

fn set(rules: &SocialRules, ids: &[&str]) -> CategorySet {
    ids.iter().fold(CategorySet::EMPTY, |s, id| s.with(rules.category_index(id).unwrap()))
}

fn ids<'a>(kinds: &[&'a Kind]) -> Vec<&'a str> {
    kinds.iter().map(|k| k.id.as_str()).collect()
}

fn check_age(birth: &str, on: Date, expect: Option<u32>) {
    assert_eq!(age_on(birth, on), expect, "born {birth:?}, on {on}");
}

#[test]
fn age_from_the_chip_birth_date() {
    let on = date!(2026 - 11 - 28);
    check_age("1974-08-12", on, Some(52));
    check_age("1974-11-28", on, Some(52)); // birthday today
    check_age("1974-11-29", on, Some(51)); // tomorrow
    check_age("2026-11-28", on, Some(0));
    check_age("740812", on, Some(52)); // MRZ YYMMDD
    check_age("100101", on, Some(16)); // 2010: a holder of 16
    check_age("150101", on, Some(111)); // 2015 would make a holder of 11: 1915
    check_age("250101", on, Some(101));
    // Unknown or impossible: no age.
    for bad in [
        "",
        "1974-13-01",
        "1974-02-30",
        "74<<<<",
        "1974-<<-<<",
        "19740812",
        "1974/08/12",
        "+974-08-12",
        "2027-01-01",
        "1850-01-01",
        "ab1201",
    ] {
        check_age(bad, on, None);
    }
}

#[test]
fn born_on_29_february() {
    check_age("2000-02-29", date!(2025 - 02 - 27), Some(24));
    check_age("2000-02-29", date!(2025 - 02 - 28), Some(25));
    check_age("2000-02-29", date!(2024 - 02 - 28), Some(23));
    check_age("2000-02-29", date!(2024 - 02 - 29), Some(24));
}

#[test]
fn old_age_pension_boundaries_by_sex() {
    let rules = builtin();
    let pension = |age: u32, sex: Option<Sex>| {
        ids(&eligible(&rules, Some(age), sex, CategorySet::EMPTY)).contains(&"old_age_pension")
    };
    assert!(!pension(58, Some(Sex::Female)) && pension(59, Some(Sex::Female)));
    assert!(!pension(63, Some(Sex::Male)) && pension(64, Some(Sex::Male)));
    // No sex on the chip: the higher age, so nobody is told of a pension they cannot have yet.
    assert!(!pension(63, None) && pension(64, None));
    let social = |age: u32, sex: Option<Sex>| {
        ids(&eligible(&rules, Some(age), sex, CategorySet::EMPTY)).contains(&"social_old_age_pension")
    };
    assert!(!social(63, Some(Sex::Female)) && social(64, Some(Sex::Female)));
    assert!(!social(68, Some(Sex::Male)) && social(69, Some(Sex::Male)));
}

#[test]
fn what_each_person_is_offered() {
    let rules = builtin();
    let offer = |age: Option<u32>, sex, cats: &[&str]| ids(&eligible(&rules, age, sex, set(&rules, cats)));
    assert!(offer(Some(30), Some(Sex::Male), &[]).is_empty(), "nothing without age or categories");
    assert_eq!(
        offer(Some(30), Some(Sex::Female), &["children"]),
        ["unified_child_benefit", "child_care_allowance"]
    );
    assert_eq!(offer(Some(30), None, &["large_family"]), ["unified_child_benefit"]);
    assert_eq!(offer(Some(40), None, &["disability"]), ["disability_pension", "disability_monthly_payment"]);
    assert_eq!(offer(Some(40), None, &["caring_for_disabled"]), ["care_allowance"]);
    assert_eq!(offer(Some(20), None, &["survivor"]), ["survivor_pension"]);
    assert_eq!(
        offer(Some(50), Some(Sex::Female), &["pensioner"]),
        ["old_age_pension"],
        "early pensioners say so"
    );
    assert_eq!(
        offer(Some(70), Some(Sex::Male), &["disability", "survivor"]),
        [
            "old_age_pension",
            "social_old_age_pension",
            "disability_pension",
            "disability_monthly_payment",
            "survivor_pension"
        ],
        "in the rules file's order"
    );
    // Unknown birth date: only what the categories alone give.
    assert_eq!(
        offer(None, Some(Sex::Female), &["pensioner", "children"]),
        ["old_age_pension", "unified_child_benefit", "child_care_allowance"]
    );
    assert!(offer(None, Some(Sex::Male), &[]).is_empty());
}

#[test]
fn choice_is_stored_as_stable_ids_and_debug_hides_them() {
    let rules = builtin();
    let selected = set(&rules, &["disability", "children"]);
    let offered = eligible(&rules, Some(35), Some(Sex::Female), selected);
    let account = Uuid::now_v7();
    let choice =
        SocialPaymentsChoice::new(account, &rules, selected, &offered, true, OffsetDateTime::UNIX_EPOCH);
    assert_eq!(choice.categories, ["children", "disability"], "ids in the rules' order");
    assert_eq!(
        choice.kinds_offered,
        ["unified_child_benefit", "child_care_allowance", "disability_pension", "disability_monthly_payment"]
    );
    assert_eq!(choice.rules_version, "2026-11-v1");
    let shown = format!("{choice:?}");
    assert!(shown.contains(&account.to_string()) && !shown.contains("disability"), "{shown}");
}

#[test]
fn sex_from_the_mrz() {
    assert_eq!(Sex::from_mrz(crate::identity::Sex::Female), Some(Sex::Female));
    assert_eq!(Sex::from_mrz(crate::identity::Sex::Male), Some(Sex::Male));
    assert_eq!(Sex::from_mrz(crate::identity::Sex::Unspecified), None);
}

/// Random, valid rules: `n` categories and kinds with random conditions.
fn rules_strategy() -> impl Strategy<Value = SocialRules> {
    let condition = (
        proptest::option::of(0u32..100),
        proptest::option::of(0u32..100),
        proptest::option::of((0u32..100, 0u32..100)),
        proptest::collection::vec(0usize..6, 0..3),
    );
    let kind = proptest::collection::vec(condition, 1..4);
    proptest::collection::vec(kind, 1..8).prop_filter_map("valid rules", |kinds| {
        let mut text = String::from(
            "version = \"p\"\nnotice = { ru = \"н\", en = \"n\" }\n[[payer]]\nid = \"sfr\"\nname = { ru = \"с\", en = \"s\" }\n",
        );
        for c in 0..6 {
            text += &format!("[[category]]\nid = \"c{c}\"\nlabel = {{ ru = \"к\", en = \"c\" }}\n");
        }
        for (k, conditions) in kinds.iter().enumerate() {
            text += &format!("[[kind]]\nid = \"k{k}\"\npayer = \"sfr\"\nname = {{ ru = \"в\", en = \"k\" }}\nnote = {{ ru = \"з\", en = \"n\" }}\nwhen = [\n");
            for (min, max, by_sex, cats) in conditions {
                let mut fields = Vec::new();
                if let Some(v) = min {
                    fields.push(format!("min_age = {v}"));
                }
                if let Some(v) = max {
                    fields.push(format!("max_age = {v}"));
                }
                if let Some((f, m)) = by_sex {
                    fields.push(format!("min_age_female = {f}, min_age_male = {m}"));
                }
                let mut cats = cats.clone();
                cats.sort_unstable();
                cats.dedup();
                if !cats.is_empty() {
                    let list: Vec<String> = cats.iter().map(|c| format!("\"c{c}\"")).collect();
                    fields.push(format!("categories = [{}]", list.join(", ")));
                }
                text += &format!("  {{ {} }},\n", fields.join(", "));
            }
            text += "]\n";
        }
        // Conditions that could never hold or hold for everyone are refused by the parser.
        SocialRules::parse(Path::new("generated.toml"), &text).ok()
    })
}

fn sex_strategy() -> impl Strategy<Value = Option<Sex>> {
    prop_oneof![Just(None), Just(Some(Sex::Female)), Just(Some(Sex::Male))]
}

proptest! {
    #[test]
    fn selecting_more_categories_never_removes_a_kind(
        rules in rules_strategy(),
        age in proptest::option::of(0u32..110),
        sex in sex_strategy(),
        a in 0u64..64,
        b in 0u64..64,
    ) {
        let fewer = CategorySet::from_bits(a);
        let more = fewer.union(CategorySet::from_bits(b));
        let small = ids(&eligible(&rules, age, sex, fewer));
        let large = ids(&eligible(&rules, age, sex, more));
        prop_assert!(small.iter().all(|k| large.contains(k)), "{small:?} not within {large:?}");
    }

    #[test]
    fn result_is_in_rule_file_order_and_explained_by_a_condition(
        rules in rules_strategy(),
        age in proptest::option::of(0u32..110),
        sex in sex_strategy(),
        bits in 0u64..64,
    ) {
        let selected = CategorySet::from_bits(bits);
        let offered = eligible(&rules, age, sex, selected);
        let order: Vec<usize> = offered.iter().map(|k| rules.kinds().iter().position(|r| r.id == k.id).unwrap()).collect();
        prop_assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        for kind in rules.kinds() {
            let expected = kind.when.iter().any(|c| {
                let cats_ok = c.categories.is_empty() || c.categories.intersects(selected);
                let sex_min = match sex {
                    Some(Sex::Female) => c.min_age_female,
                    Some(Sex::Male) => c.min_age_male,
                    None => c.min_age_female.max(c.min_age_male),
                };
                let age_ok = match age {
                    None => !c.has_age_bound(),
                    Some(a) => c.min_age.is_none_or(|m| a >= m) && sex_min.is_none_or(|m| a >= m) && c.max_age.is_none_or(|m| a <= m),
                };
                cats_ok && age_ok
            });
            prop_assert_eq!(offered.iter().any(|k| k.id == kind.id), expected, "kind {}", kind.id);
        }
    }

    #[test]
    fn an_unknown_age_offers_only_what_any_age_would(
        rules in rules_strategy(),
        age in 0u32..110,
        sex in sex_strategy(),
        bits in 0u64..64,
    ) {
        let selected = CategorySet::from_bits(bits);
        let unknown = eligible(&rules, None, sex, selected);
        let known = ids(&eligible(&rules, Some(age), sex, selected));
        for kind in &unknown {
            prop_assert!(kind.when.iter().any(|c| !c.has_age_bound()), "{} offered on age alone", kind.id);
            prop_assert!(known.contains(&kind.id.as_str()));
        }
    }

    #[test]
    fn an_unknown_sex_offers_only_what_both_sexes_would(
        rules in rules_strategy(),
        age in proptest::option::of(0u32..110),
        bits in 0u64..64,
    ) {
        let selected = CategorySet::from_bits(bits);
        let female = ids(&eligible(&rules, age, Some(Sex::Female), selected));
        let male = ids(&eligible(&rules, age, Some(Sex::Male), selected));
        for kind in ids(&eligible(&rules, age, None, selected)) {
            prop_assert!(female.contains(&kind) && male.contains(&kind), "{kind}");
        }
    }

    #[test]
    fn min_age_bound_is_inclusive(min in 1u32..100, extra in 0u32..20) {
        let text = format!(
            "version = \"p\"\nnotice = {{ ru = \"н\", en = \"n\" }}\n[[payer]]\nid = \"sfr\"\nname = {{ ru = \"с\", en = \"s\" }}\n\
             [[kind]]\nid = \"k\"\npayer = \"sfr\"\nname = {{ ru = \"в\", en = \"k\" }}\nnote = {{ ru = \"з\", en = \"n\" }}\n\
             when = [{{ min_age = {min}, max_age = {} }}]\n",
            min + extra
        );
        let rules = SocialRules::parse(Path::new("b.toml"), &text).unwrap();
        let offered = |age| !eligible(&rules, Some(age), None, CategorySet::EMPTY).is_empty();
        prop_assert!(!offered(min - 1));
        prop_assert!(offered(min));
        prop_assert!(offered(min + extra));
        prop_assert!(!offered(min + extra + 1));
    }

    #[test]
    fn age_grows_by_one_each_birthday(
        year in 1900i32..2020,
        ordinal in 1u16..366,
        years in 0i32..100,
        later in 0i64..400,
    ) {
        let birth = Date::from_ordinal_date(year, ordinal).unwrap();
        let iso = format!("{:04}-{:02}-{:02}", birth.year(), birth.month() as u8, birth.day());
        // The same day (or 28 February) `years` later: exactly `years` old.
        let anniversary_year = year + years;
        let day = birth.day().min(birth.month().length(anniversary_year));
        let anniversary = Date::from_calendar_date(anniversary_year, birth.month(), day).unwrap();
        prop_assert_eq!(age_on(&iso, anniversary), Some(years as u32));
        if let Some(before) = anniversary.previous_day() {
            if years > 0 {
                prop_assert_eq!(age_on(&iso, before), Some(years as u32 - 1));
            }
        }
        // Never decreasing with time.
        let on = anniversary + time::Duration::days(later);
        prop_assert!(age_on(&iso, on) >= age_on(&iso, anniversary));
    }
}
