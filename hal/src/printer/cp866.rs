//! Code page 866 (DOS Cyrillic), the printers' Cyrillic page: `ESC t 17` on ESC/POS printers.
//! Bytes below 0x80 are ASCII.

/// The characters of bytes 0x80..=0xFF.
const HIGH: [char; 128] = [
    'А', 'Б', 'В', 'Г', 'Д', 'Е', 'Ж', 'З', 'И', 'Й', 'К', 'Л', 'М', 'Н', 'О', 'П', //
    'Р', 'С', 'Т', 'У', 'Ф', 'Х', 'Ц', 'Ч', 'Ш', 'Щ', 'Ъ', 'Ы', 'Ь', 'Э', 'Ю', 'Я', //
    'а', 'б', 'в', 'г', 'д', 'е', 'ж', 'з', 'и', 'й', 'к', 'л', 'м', 'н', 'о', 'п', //
    '░', '▒', '▓', '│', '┤', '╡', '╢', '╖', '╕', '╣', '║', '╗', '╝', '╜', '╛', '┐', //
    '└', '┴', '┬', '├', '─', '┼', '╞', '╟', '╚', '╔', '╩', '╦', '╠', '═', '╬', '╧', //
    '╨', '╤', '╥', '╙', '╘', '╒', '╓', '╫', '╪', '┘', '┌', '█', '▄', '▌', '▐', '▀', //
    'р', 'с', 'т', 'у', 'ф', 'х', 'ц', 'ч', 'ш', 'щ', 'ъ', 'ы', 'ь', 'э', 'ю', 'я', //
    'Ё', 'ё', 'Є', 'є', 'Ї', 'ї', 'Ў', 'ў', '°', '∙', '·', '√', '№', '¤', '■', '\u{A0}',
];

/// The byte of `c`, `None` when CP866 has no such character. Control characters have bytes
/// too (they are ASCII): callers printing text filter them first.
pub fn encode_char(c: char) -> Option<u8> {
    if c.is_ascii() {
        return u8::try_from(u32::from(c)).ok();
    }
    let index = HIGH.iter().position(|&h| h == c)?;
    u8::try_from(0x80 + index).ok()
}

/// The character of byte `b` (total: every byte has one).
pub fn decode_byte(b: u8) -> char {
    match b.checked_sub(0x80) {
        None => char::from(b),
        Some(i) => HIGH.get(usize::from(i)).copied().unwrap_or('\u{FFFD}'),
    }
}

/// True when `c` can be printed as it is (printable ASCII or a CP866 letter or sign).
pub fn printable(c: char) -> bool {
    !c.is_control() && encode_char(c).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_round_trips() {
        for b in 0..=255u8 {
            assert_eq!(encode_char(decode_byte(b)), Some(b), "byte {b:#04x}");
        }
    }

    #[test]
    fn known_letters() {
        assert_eq!(encode_char('А'), Some(0x80));
        assert_eq!(encode_char('я'), Some(0xEF));
        assert_eq!(encode_char('п'), Some(0xAF));
        assert_eq!(encode_char('р'), Some(0xE0));
        assert_eq!(encode_char('Ё'), Some(0xF0));
        assert_eq!(encode_char('№'), Some(0xFC));
        assert_eq!(encode_char('€'), None);
        assert_eq!(encode_char('₽'), None);
        assert!(!printable('\u{1B}'));
        assert!(printable('Щ'));
    }
}
