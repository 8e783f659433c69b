use super::encode::name_field;
use super::*;
use crate::identity::mrz::Sex;
use proptest::prelude::*;
use time::macros::date;

// Written by hand from the regulation's layout; check digits computed separately (7-3-1):
// 450235857 → 9, 800719 → 7, "9150625770077<" → 0, composite → 2.
const LINE1: &str = "PNRUSIVANOV<<IVAN<IVANOVI3<<<<<<<<<<<<<<<<<<";
const LINE2: &str = "4502358579RUS8007197M<<<<<<<9150625770077<02";

fn ivanov() -> PageData {
    PageData {
        surname: "Иванов".into(),
        given_name: "Иван".into(),
        patronymic: "Иванович".into(),
        sex: Sex::Male,
        birth_date: date!(1980 - 07 - 19),
        series: "4509".into(),
        number: "235857".into(),
        issue_date: date!(2015 - 06 - 25),
        division_code: "770-077".into(),
    }
}

fn visual_zone(p: &PageData) -> VisualZone {
    VisualZone {
        surname: Some(p.surname.to_uppercase()),
        given_name: Some(p.given_name.to_uppercase()),
        patronymic: Some(p.patronymic.to_uppercase()).filter(|s| !s.is_empty()),
        birth_date: Some(p.birth_date),
        sex: Some(p.sex),
        series: Some(p.series.clone()),
        number: Some(p.number.clone()),
        issue_date: Some(p.issue_date),
        division_code: Some(p.division_code.replace('-', "")),
    }
}

fn with_char(line: &str, at: usize, c: char) -> String {
    let mut chars: Vec<char> = line.chars().collect();
    chars[at] = c;
    chars.into_iter().collect()
}

#[test]
fn the_hand_written_record_parses() {
    let m = InternalMrz::from_lines(&[LINE1, LINE2]).unwrap();
    assert_eq!(
        (m.surname.as_str(), m.given_name.as_str(), m.patronymic.as_str()),
        ("ИВАНОВ", "ИВАН", "ИВАНОВИЧ")
    );
    assert_eq!((m.series.as_str(), m.number.as_str()), ("4509", "235857"));
    assert_eq!(m.birth_date, date!(1980 - 07 - 19));
    assert_eq!(m.issue_date, date!(2015 - 06 - 25));
    assert_eq!(m.division_code, "770077");
    assert_eq!(m.sex, Sex::Male);
    assert!(!m.name_may_be_shortened());
    assert_eq!(format!("{m:?}"), "InternalMrz { <redacted> }");
}

#[test]
fn the_encoder_writes_the_hand_written_record() {
    assert_eq!(encode(&ivanov()).unwrap(), [LINE1.to_owned(), LINE2.to_owned()]);
}

#[test]
fn each_check_digit_is_named() {
    for (at, field) in [
        (9, CheckedField::SeriesAndNumber),
        (19, CheckedField::BirthDate),
        (42, CheckedField::OptionalData),
        (43, CheckedField::Composite),
    ] {
        let wrong = if LINE2.as_bytes()[at] == b'1' { '2' } else { '1' };
        let err = InternalMrz::from_lines(&[LINE1, &with_char(LINE2, at, wrong)]).unwrap_err();
        assert_eq!(err, InternalMrzError::CheckDigit(field), "{field}");
        assert_eq!(err.kind(), InternalMrzErrorKind::CheckDigit);
    }
}

#[test]
fn shape_and_value_errors() {
    use InternalMrzError as E;
    let parse = |a: &str, b: &str| InternalMrz::from_lines(&[a, b]);
    assert_eq!(InternalMrz::from_lines(&[LINE1]), Err(E::LineCount(1)));
    assert_eq!(parse(LINE1, &LINE2[..43]), Err(E::LineLength { line: 2, len: 43 }));
    assert_eq!(parse(&with_char(LINE1, 8, 'o'), LINE2), Err(E::InvalidCharacter { line: 1, position: 9 }));
    assert_eq!(parse(&with_char(LINE1, 1, '<'), LINE2), Err(E::NotInternalPassport));
    assert_eq!(
        parse(&LINE1.replacen("PNRUS", "PNUKR", 1), LINE2).unwrap_err().kind(),
        InternalMrzErrorKind::Invalid
    );
    // The digit 0 stands for no letter.
    assert_eq!(parse(&with_char(LINE1, 6, '0'), LINE2), Err(E::Name));
    // A travel passport's line 2 (expiry date filled in) is not an internal passport's.
    let p = ivanov();
    let [_, good] = encode(&p).unwrap();
    let sex = with_char(&good, 20, 'X');
    assert_eq!(parse(LINE1, &sex), Err(E::Malformed("sex")));
}

/// Re-derives all check digits of a line 2 whose content was changed, so the test reaches the
/// value checks behind them.
fn recheck(line2: &str) -> String {
    use crate::identity::mrz::check_digit;
    let mut b: Vec<u8> = line2.bytes().collect();
    let d = |s: &[u8]| b'0' + check_digit(std::str::from_utf8(s).unwrap()).unwrap();
    b[9] = d(&b[0..9]);
    b[19] = d(&b[13..19]);
    b[42] = d(&b[28..42]);
    let composite = [&b[0..10], &b[13..20], &b[21..43]].concat();
    b[43] = d(&composite);
    String::from_utf8(b).unwrap()
}

#[test]
fn impossible_values_behind_right_check_digits() {
    use InternalMrzError as E;
    let parse = |b: &str| InternalMrz::from_lines(&[LINE1, b]);
    assert_eq!(parse(&recheck(&LINE2.replacen("800719", "801319", 1))), Err(E::InvalidDate("birth date")));
    assert_eq!(parse(&recheck(&LINE2.replacen("150625", "150230", 1))), Err(E::InvalidDate("issue date")));
    assert_eq!(
        parse(&recheck(&LINE2.replacen("M<<<<<<<", "M3012318", 1))),
        Err(E::Malformed("expiry date (always empty)"))
    );
    assert_eq!(parse(&recheck(&LINE2.replacen("RUS", "UTO", 1))), Err(E::Malformed("citizenship")));
    assert_eq!(parse(&recheck(&LINE2.replacen("770077<", "77007<<", 1))), Err(E::Malformed("division code")));
    // And the untouched line re-checks to itself: `recheck` computes what the record holds.
    assert_eq!(recheck(LINE2), LINE2);
}

#[test]
fn birth_century_follows_from_the_issue_date() {
    let mut p = ivanov();
    p.birth_date = date!(2005 - 03 - 01);
    p.issue_date = date!(2019 - 03 - 02);
    let m = InternalMrz::from_lines(&encode(&p).unwrap()).unwrap();
    assert_eq!(m.birth_date, date!(2005 - 03 - 01));
    p.birth_date = date!(1931 - 03 - 01);
    let m = InternalMrz::from_lines(&encode(&p).unwrap()).unwrap();
    assert_eq!(m.birth_date, date!(1931 - 03 - 01));
}

#[test]
fn long_names_are_shortened_by_the_regulation() {
    // Fits: padded.
    assert_eq!(name_field("Ли", "Ян", "").unwrap(), format!("LI<<8N{}", "<".repeat(33)));
    // Surname and name take 37 or fewer: the patronymic is cut at the line's 44th character.
    let s = "Константинопольская"; // 19 letters
    let f = name_field(s, "Александра", "Константиновна").unwrap();
    assert_eq!(f, "KONSTANTINOPOL9SKA8<<ALEKSANDRA<KONSTAN");
    assert_eq!(f.len(), 39);
    // 38 or more: the name is cut at the 42nd character, then '<' and the patronymic's initial.
    let f = name_field("Константинопольская-Петрова", "Александра", "Ивановна").unwrap();
    assert_eq!(f, "KONSTANTINOPOL9SKA8<PETROVA<<ALEKSAND<I");
    // A surname over 34 characters: 34 of it, then the two initials.
    let f = name_field("Константинопольская-Петропавловскаяя", "Александра", "Ивановна").unwrap();
    assert_eq!(f, "KONSTANTINOPOL9SKA8<PETROPAVLOVSKA<<A<I");
    assert_eq!(name_field("Smith", "John", ""), Err(EncodeError::Name("surname")));
}

#[test]
fn a_shortened_name_still_cross_checks() {
    let mut p = ivanov();
    p.surname = "Константинопольская".into();
    p.given_name = "Александра".into();
    p.patronymic = "Константиновна".into();
    p.sex = Sex::Female;
    let lines = encode(&p).unwrap();
    let m = InternalMrz::from_lines(&lines).unwrap();
    assert!(m.name_may_be_shortened());
    assert_eq!(m.patronymic, "КОНСТАН");
    let check = cross_check(&visual_zone(&p), &m);
    assert!(check.passed(), "{check:?}");
    // A different full patronymic with the same first seven letters is not this record.
    let mut vz = visual_zone(&p);
    vz.patronymic = Some("КОНСТАНТИНОВНА".into());
    assert!(cross_check(&vz, &m).passed());
    vz.patronymic = Some("КОНСТАНЦИЯ".into());
    assert!(cross_check(&vz, &m).passed(), "the record holds only КОНСТАН: both agree with it");
    vz.patronymic = Some("КОНСТИН".into());
    assert_eq!(cross_check(&vz, &m).agreement(Field::Patronymic), Agreement::Mismatch);
}

#[test]
fn cross_check_names_what_disagrees() {
    let p = ivanov();
    let m = InternalMrz::from_lines(&encode(&p).unwrap()).unwrap();
    let good = visual_zone(&p);
    assert!(cross_check(&good, &m).passed());

    let mut vz = good.clone();
    vz.surname = Some("ИВАНЕВ".into());
    vz.birth_date = Some(date!(1980 - 07 - 18));
    let c = cross_check(&vz, &m);
    assert!(!c.passed());
    assert_eq!(c.mismatches().collect::<Vec<_>>(), [Field::Surname, Field::BirthDate]);

    // Optional fields not read do not fail the page; required ones do.
    let mut vz = good.clone();
    vz.patronymic = None;
    vz.division_code = None;
    assert!(cross_check(&vz, &m).passed());
    vz.given_name = None;
    assert!(!cross_check(&vz, &m).passed());
    assert_eq!(
        verify_page(&encode(&p).unwrap(), &vz, date!(2020 - 01 - 01)).unwrap_err().kind(),
        ErrorKind::Unreadable
    );
}

#[test]
fn verify_page_orders_the_checks() {
    let p = ivanov();
    let lines = encode(&p).unwrap();
    let today = date!(2020 - 01 - 01);
    let page = verify_page(&lines, &visual_zone(&p), today).unwrap();
    // Issued at 34: due at 45 (2025-07-19), valid 90 days more.
    assert_eq!(page.validity, Validity::Valid { invalid_from: Some(date!(2025 - 10 - 18)) });
    let err = verify_page(&lines, &visual_zone(&p), date!(2026 - 12 - 07)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Expired);
    assert!(err.to_string().contains("turned 45"), "{err}");
    let mut vz = visual_zone(&p);
    vz.number = Some("235858".into());
    let err = verify_page(&lines, &vz, today).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Mismatch);
    assert!(err.to_string().contains("series_and_number"), "{err}");
    let bad = [lines[0].clone(), with_char(&lines[1], 43, '9')];
    assert_eq!(verify_page(&bad, &visual_zone(&p), today).unwrap_err().kind(), ErrorKind::CheckDigit);
}

#[test]
fn replacement_at_20_and_45() {
    use validity::{check, ValidityError as E};
    let birth = date!(2000 - 05 - 10);
    // Issued at 14: due at 20 (2020-05-10), valid through the 90th day after it.
    let issued = date!(2014 - 06 - 01);
    let last_valid = date!(2020 - 05 - 10) + time::Duration::days(90);
    assert_eq!(
        check(birth, issued, last_valid),
        Ok(Validity::Valid { invalid_from: Some(last_valid.next_day().unwrap()) })
    );
    let expired = check(birth, issued, last_valid.next_day().unwrap()).unwrap_err();
    assert_eq!(expired, E::PastReplacementAge { age: 20, invalid_from: date!(2020 - 08 - 09) });
    assert_eq!(expired.kind(), ValidityErrorKind::Expired);
    // Issued on the 20th birthday: due at 45.
    assert_eq!(
        check(birth, date!(2020 - 05 - 10), date!(2045 - 05 - 10)),
        Ok(Validity::Valid { invalid_from: Some(date!(2045 - 08 - 09)) })
    );
    assert!(check(birth, date!(2020 - 05 - 10), date!(2045 - 08 - 09)).is_err());
    // Issued at 45 or later: no end.
    assert_eq!(
        check(date!(1950 - 01 - 01), date!(2012 - 01 - 01), date!(2090 - 01 - 01)),
        Ok(Validity::Valid { invalid_from: None })
    );
    // Dates that cannot be.
    assert_eq!(check(birth, date!(2027 - 01 - 01), date!(2026 - 12 - 07)), Err(E::IssuedInFuture));
    assert_eq!(check(birth, date!(2014 - 05 - 09), date!(2015 - 01 - 01)), Err(E::IssuedBeforeFirstIssueAge));
    assert_eq!(
        check(date!(1960 - 01 - 01), date!(2011 - 06 - 30), date!(2012 - 01 - 01)),
        Err(E::IssuedBeforeMrz)
    );
    assert_eq!(E::IssuedInFuture.kind(), ValidityErrorKind::Inconsistent);
}

#[test]
fn a_29_february_birthday_reaches_its_age_on_28_february() {
    assert_eq!(validity::anniversary(date!(2004 - 02 - 29), 20), date!(2024 - 02 - 29));
    assert_eq!(validity::anniversary(date!(2004 - 02 - 29), 45), date!(2049 - 02 - 28));
}

fn page_data() -> impl Strategy<Value = PageData> {
    let name = "[А-ЯЁ]{1,12}(-[А-ЯЁ]{2,10})?";
    (
        name,
        "[А-ЯЁ]{1,12}",
        "([А-ЯЁ]{2,16})?",
        any::<bool>(),
        0i64..36_000,
        14i64..90,
        "[0-9]{4}",
        "[0-9]{6}",
        "[0-9]{6}",
    )
        .prop_filter_map(
            "issued in the MRZ era",
            |(s, n, p, male, born, age, series, number, division)| {
                let birth_date = date!(1925 - 01 - 01) + time::Duration::days(born);
                let issue_date = validity::anniversary(birth_date, age as u8) + time::Duration::days(age * 3);
                (issue_date >= validity::MRZ_SINCE && issue_date.year() < 2100).then(|| PageData {
                    surname: s,
                    given_name: n,
                    patronymic: p,
                    sex: if male { Sex::Male } else { Sex::Female },
                    birth_date,
                    series,
                    number,
                    issue_date,
                    division_code: division,
                })
            },
        )
}

proptest! {
    #[test]
    fn what_is_encoded_parses_back_and_cross_checks(p in page_data()) {
        let lines = encode(&p).unwrap();
        let m = InternalMrz::from_lines(&lines).unwrap();
        prop_assert_eq!(&m.series, &p.series);
        prop_assert_eq!(&m.number, &p.number);
        prop_assert_eq!(m.birth_date, p.birth_date);
        prop_assert_eq!(m.issue_date, p.issue_date);
        prop_assert_eq!(&m.division_code, &p.division_code);
        prop_assert_eq!(m.sex, p.sex);
        if !m.name_may_be_shortened() {
            prop_assert_eq!(&m.surname, &p.surname);
            prop_assert_eq!(&m.given_name, &p.given_name);
            prop_assert_eq!(&m.patronymic, &p.patronymic);
        }
        let check = cross_check(&visual_zone(&p), &m);
        prop_assert!(check.passed(), "{:?}", check);
    }

    /// One character of line 2 read wrong is never accepted as another record — except the
    /// sex, which no check digit covers (ICAO's composite leaves it out too): the visual zone's
    /// cross-check is what catches M read for F.
    #[test]
    fn one_misread_character_is_never_accepted(p in page_data(), at in 0usize..44, c in "[0-9A-Z<]") {
        let [l1, l2] = encode(&p).unwrap();
        let c = c.chars().next().unwrap();
        prop_assume!(l2.as_bytes()[at] != c as u8);
        prop_assume!(!(at == 20 && matches!(c, 'M' | 'F')));
        let misread = with_char(&l2, at, c);
        prop_assert!(InternalMrz::from_lines(&[&l1, &misread]).is_err(), "accepted {}", misread);
    }

    #[test]
    fn never_panics(a in ".{0,60}", b in "[A-Z0-9<]{44}", c in "PNRUS[A-Z0-9<]{39}") {
        let _ = InternalMrz::from_lines(&[a.as_str(), b.as_str()]);
        let _ = InternalMrz::from_lines(&[c.as_str(), b.as_str()]);
        let _ = InternalMrz::from_lines(&[b.as_str(), a.as_str()]);
    }
}
