//! The Cyrillic ↔ MRZ letter table of the Russian internal passport.
//!
//! Source: MVD order No. 773 of 16.11.2020 (administrative regulation for issuing and replacing
//! the passport of a citizen of the Russian Federation), appendix 24, "Правила и способ
//! формирования машиночитаемой записи" (the same table as the FMS order it replaced,
//! docs.cntd.ru/document/902288198). Unlike the foreign passport's ICAO transliteration
//! (Ж → ZH, Ю → IU), every Russian letter is exactly one MRZ character ("модернизированный
//! клер"): Ё → 2, Й → Q, Ч → 3, Ш → 4, Ь → 9, Э → 6, Ю → 7, Я → 8, … — so the table is a
//! bijection and the MRZ decodes back to Cyrillic without loss (an MRZ "IVANOVI3" is ИВАНОВИЧ).
//! The digits 0, 1 and 5 stand for no letter.

/// (Cyrillic capital, MRZ character), in alphabetical order.
pub const TABLE: [(char, char); 33] = [
    ('А', 'A'),
    ('Б', 'B'),
    ('В', 'V'),
    ('Г', 'G'),
    ('Д', 'D'),
    ('Е', 'E'),
    ('Ё', '2'),
    ('Ж', 'J'),
    ('З', 'Z'),
    ('И', 'I'),
    ('Й', 'Q'),
    ('К', 'K'),
    ('Л', 'L'),
    ('М', 'M'),
    ('Н', 'N'),
    ('О', 'O'),
    ('П', 'P'),
    ('Р', 'R'),
    ('С', 'S'),
    ('Т', 'T'),
    ('У', 'U'),
    ('Ф', 'F'),
    ('Х', 'H'),
    ('Ц', 'C'),
    ('Ч', '3'),
    ('Ш', '4'),
    ('Щ', 'W'),
    ('Ъ', 'X'),
    ('Ы', 'Y'),
    ('Ь', '9'),
    ('Э', '6'),
    ('Ю', '7'),
    ('Я', '8'),
];

/// The MRZ character of one Cyrillic letter (either case); `None` for anything else.
pub fn letter_to_mrz(c: char) -> Option<char> {
    let upper = c.to_uppercase().next()?;
    TABLE.iter().find(|(cyr, _)| *cyr == upper).map(|&(_, m)| m)
}

/// The Cyrillic capital an MRZ character stands for; `None` for '<', 0, 1, 5 and the rest.
pub fn mrz_to_letter(c: char) -> Option<char> {
    TABLE.iter().find(|(_, m)| *m == c).map(|&(cyr, _)| cyr)
}

/// A name component as the visual zone prints it (Cyrillic; hyphens and spaces between parts)
/// → its MRZ characters, parts joined by one filler. `None` when a character is neither a
/// Russian letter nor a separator (the page was misread, or the name is not Russian-spelt).
pub fn name_to_mrz(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    for part in name.split(['-', ' ', '‐', '–']).filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push('<');
        }
        for c in part.chars() {
            out.push(letter_to_mrz(c)?);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// MRZ characters of one name word → Cyrillic capitals; `None` when a character stands for no
/// letter.
pub fn word_to_cyrillic(word: &str) -> Option<String> {
    word.chars().map(mrz_to_letter).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_table_is_a_bijection_over_the_whole_alphabet() {
        let alphabet: Vec<char> = "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ".chars().collect();
        assert_eq!(alphabet.len(), 33);
        let mut seen = std::collections::HashSet::new();
        for c in alphabet {
            let m = letter_to_mrz(c).unwrap();
            assert!(m.is_ascii_uppercase() || m.is_ascii_digit(), "{c} → {m}");
            assert!(seen.insert(m), "{m} used twice");
            assert_eq!(mrz_to_letter(m), Some(c));
        }
        for unused in ['0', '1', '5', '<'] {
            assert_eq!(mrz_to_letter(unused), None);
        }
    }

    #[test]
    fn letters_the_regulation_names() {
        // The examples public descriptions of the regulation give: Ё is 2, Й is Q, and a
        // patronymic in -ВИЧ ends in VI3.
        assert_eq!(name_to_mrz("Ёлкин").as_deref(), Some("2LKIN"));
        assert_eq!(name_to_mrz("Алексей").as_deref(), Some("ALEKSEQ"));
        assert_eq!(name_to_mrz("Иванович").as_deref(), Some("IVANOVI3"));
        assert_eq!(name_to_mrz("Щукина-Эль Юлия").as_deref(), Some("WUKINA<6L9<7LI8"));
        assert_eq!(name_to_mrz("Smith"), None);
        assert_eq!(name_to_mrz(" - "), None);
    }

    proptest! {
        #[test]
        fn a_word_round_trips(word in "[А-ЯЁ]{1,20}") {
            let mrz = name_to_mrz(&word).unwrap();
            prop_assert_eq!(mrz.chars().count(), word.chars().count());
            prop_assert_eq!(word_to_cyrillic(&mrz), Some(word));
        }
    }
}
