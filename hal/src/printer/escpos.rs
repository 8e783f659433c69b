//! ESC/POS, the host's side and pure: laying a [`Receipt`] out for the paper, encoding it, and
//! the status bytes of `DLE EOT n`. The device's side, decoding the byte stream back, is the
//! simulator's ([`super::sim::decoder`], feature `sim`); [`Printed`] is what both sides share.
//!
//! Commands used: `ESC @` initialise, `ESC t 17` code page PC866, `ESC a n` alignment,
//! `ESC E n` bold, `GS ! n` character size, `LF`, `GS ( k` QR code (model 2, module size,
//! error correction M, store, print), `ESC d n` feed, `GS V 1` partial cut, `DLE EOT n` status.

use super::{cp866, PrinterError, PrinterStatus, Receipt, ReceiptLine};

pub const ESC: u8 = 0x1B;
pub const GS: u8 = 0x1D;
pub const DLE: u8 = 0x10;
pub const EOT: u8 = 0x04;
pub const LF: u8 = 0x0A;
/// `ESC t` page number of PC866 (Cyrillic #2) on Epson-compatible printers.
pub const CP866_PAGE: u8 = 17;
/// Bytes a QR code (model 2, version 40, error correction M, byte mode) can hold.
pub const MAX_QR_BYTES: usize = 2331;
/// Paper widths: 32 columns is 58 mm paper, 42 or 48 is 80 mm, in font A.
pub const MIN_COLUMNS: u16 = 16;
pub const MAX_COLUMNS: u16 = 64;
/// QR module size in dots.
const QR_MODULE_DOTS: u8 = 6;
/// Lines fed before the cut so the last line clears the cutter.
const FEED_BEFORE_CUT: u8 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Align {
    #[default]
    Left,
    Center,
    Right,
}

/// One printed line as it comes out of the printer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintedLine {
    pub text: String,
    pub bold: bool,
    /// Double width and height.
    pub double: bool,
    pub align: Align,
}

/// What comes out of the printer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Printed {
    Line(PrintedLine),
    Qr(String),
    Cut,
}

/// Lays `receipt` out for paper `columns` characters wide (normal size): every line fits,
/// every character is printable in CP866 (control characters become spaces, others `?`).
/// Ends with the cut.
pub fn layout(receipt: &Receipt, columns: u16) -> Result<Vec<Printed>, PrinterError> {
    if !(MIN_COLUMNS..=MAX_COLUMNS).contains(&columns) {
        return Err(PrinterError::Columns { columns });
    }
    let width = usize::from(columns);
    let mut out = Vec::new();
    let line = |text: String, bold: bool, double: bool, align: Align| {
        Printed::Line(PrintedLine { text, bold, double, align })
    };
    for item in &receipt.lines {
        match item {
            ReceiptLine::Title(text) => {
                for piece in wrap(&clean(text), width / 2) {
                    out.push(line(piece, true, true, Align::Center));
                }
            }
            ReceiptLine::Text(text) => {
                for piece in wrap(&clean(text), width) {
                    out.push(line(piece, false, false, Align::Left));
                }
            }
            ReceiptLine::KeyValue { key, value } => {
                let (key, value) = (clean(key).trim().to_owned(), clean(value).trim().to_owned());
                let (k, v) = (key.chars().count(), value.chars().count());
                if k + 1 + v <= width {
                    out.push(line(
                        format!("{key}{}{value}", " ".repeat(width - k - v)),
                        false,
                        false,
                        Align::Left,
                    ));
                } else {
                    for piece in wrap(&key, width) {
                        out.push(line(piece, false, false, Align::Left));
                    }
                    for piece in wrap(&value, width) {
                        let pad = width.saturating_sub(piece.chars().count());
                        out.push(line(format!("{}{piece}", " ".repeat(pad)), false, false, Align::Left));
                    }
                }
            }
            ReceiptLine::Qr(payload) => {
                if payload.len() > MAX_QR_BYTES {
                    return Err(PrinterError::QrTooLong { len: payload.len() });
                }
                out.push(Printed::Qr(payload.clone()));
            }
            ReceiptLine::Separator => out.push(line("-".repeat(width), false, false, Align::Left)),
        }
    }
    out.push(Printed::Cut);
    Ok(out)
}

/// Control characters to spaces, characters CP866 lacks to `?` (a few common ones first
/// to their nearest: quotes, dashes, the rouble sign).
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            c if c.is_control() => out.push(' '),
            '₽' => out.push_str("руб."),
            '«' | '»' | '“' | '”' | '„' => out.push('"'),
            '‘' | '’' => out.push('\''),
            '–' | '—' | '−' => out.push('-'),
            c if cp866::printable(c) => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// Word wrap at `width` characters; words longer than a line are split. Never empty: an
/// empty text is one empty line.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut len = 0;
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if len > 0 {
                lines.push(std::mem::take(&mut current));
                len = 0;
            }
            let rest = word.split_off(width);
            lines.push(word.into_iter().collect());
            word = rest;
        }
        if word.is_empty() {
            continue;
        }
        if len > 0 && len + 1 + word.len() > width {
            lines.push(std::mem::take(&mut current));
            len = 0;
        }
        if len > 0 {
            current.push(' ');
            len += 1;
        }
        len += word.len();
        current.extend(word);
    }
    if len > 0 || lines.is_empty() {
        lines.push(current);
    }
    lines
}

/// The bytes that print `items` (from [`layout`]), starting with `ESC @` and the code page.
/// Characters outside CP866 print as `?`.
pub fn encode(items: &[Printed]) -> Vec<u8> {
    let mut out = vec![ESC, b'@', ESC, b't', CP866_PAGE];
    let (mut align, mut bold, mut double) = (Align::Left, false, false);
    let set_align = |out: &mut Vec<u8>, current: &mut Align, wanted: Align| {
        if *current != wanted {
            out.extend([ESC, b'a', align_byte(wanted)]);
            *current = wanted;
        }
    };
    for item in items {
        match item {
            Printed::Line(line) => {
                set_align(&mut out, &mut align, line.align);
                if bold != line.bold {
                    out.extend([ESC, b'E', u8::from(line.bold)]);
                    bold = line.bold;
                }
                if double != line.double {
                    out.extend([GS, b'!', if line.double { 0x11 } else { 0x00 }]);
                    double = line.double;
                }
                out.extend(line.text.chars().map(|c| match cp866::encode_char(c) {
                    Some(b) if !c.is_control() => b,
                    _ => b'?',
                }));
                out.push(LF);
            }
            Printed::Qr(payload) => {
                set_align(&mut out, &mut align, Align::Center);
                out.extend(qr_commands(payload.as_bytes()));
            }
            Printed::Cut => {
                out.extend([ESC, b'd', FEED_BEFORE_CUT, GS, b'V', 1]);
            }
        }
    }
    out
}

fn align_byte(align: Align) -> u8 {
    match align {
        Align::Left => 0,
        Align::Center => 1,
        Align::Right => 2,
    }
}

/// `GS ( k` function with `cn` = 49 (QR code).
fn qr_function(function: u8, params: &[u8]) -> Vec<u8> {
    let len = params.len() + 2;
    let (low, high) = ((len & 0xFF) as u8, ((len >> 8) & 0xFF) as u8);
    let mut out = vec![GS, b'(', b'k', low, high, 49, function];
    out.extend_from_slice(params);
    out
}

fn qr_commands(payload: &[u8]) -> Vec<u8> {
    let mut out = qr_function(65, &[50, 0]); // model 2
    out.extend(qr_function(67, &[QR_MODULE_DOTS]));
    out.extend(qr_function(69, &[49])); // error correction M
    let mut store = vec![48];
    store.extend_from_slice(payload);
    out.extend(qr_function(80, &store));
    out.extend(qr_function(81, &[48])); // print the stored symbol
    out
}

/// `DLE EOT n`: n = 1 printer, 2 offline cause, 3 error cause, 4 paper sensor.
pub fn status_request(n: u8) -> [u8; 3] {
    [DLE, EOT, n]
}

/// The fixed bits every `DLE EOT` answer has (`0xx1xx10`).
pub fn is_status_byte(b: u8) -> bool {
    b & 0b1001_0011 == 0b0001_0010
}

/// Printer status (n = 1): offline.
pub const STATUS_OFFLINE: u8 = 0x08;
/// Offline cause (n = 2): cover open, stopped for paper end, error.
pub const CAUSE_COVER_OPEN: u8 = 0x04;
pub const CAUSE_PAPER_END: u8 = 0x20;
pub const CAUSE_ERROR: u8 = 0x40;
/// Paper sensor (n = 4): near end, end.
pub const PAPER_NEAR_END: u8 = 0x0C;
pub const PAPER_END: u8 = 0x60;

/// The status from the answers to `DLE EOT 1`, `2` and `4`.
pub fn interpret_status(printer: u8, offline_cause: u8, paper: u8) -> PrinterStatus {
    if offline_cause & CAUSE_COVER_OPEN != 0 {
        PrinterStatus::CoverOpen
    } else if offline_cause & CAUSE_PAPER_END != 0 || paper & PAPER_END != 0 {
        PrinterStatus::PaperOut
    } else if printer & STATUS_OFFLINE != 0 || offline_cause & CAUSE_ERROR != 0 {
        PrinterStatus::Offline
    } else if paper & PAPER_NEAR_END != 0 {
        PrinterStatus::PaperLow
    } else {
        PrinterStatus::Ready
    }
}

/// The text of the lines among `items`, in order (the tests' view of a layout).
#[cfg(test)]
pub(crate) fn text_lines(items: &[Printed]) -> Vec<&str> {
    items
        .iter()
        .filter_map(|p| match p {
            Printed::Line(l) => Some(l.text.as_str()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lays_out_a_receipt_for_32_columns() {
        let receipt = Receipt::new()
            .title("Банк Киоск")
            .separator()
            .key_value("Счёт №", "40817810000000000001")
            .key_value("Лимит на операцию", "50 000 ₽")
            .text("Отсканируйте QR-код в мобильном банке, чтобы активировать счёт.")
            .qr("KA1.abc.def");
        let items = layout(&receipt, 32).unwrap();
        assert_eq!(
            text_lines(&items),
            vec![
                "Банк Киоск",
                "--------------------------------",
                "Счёт №      40817810000000000001",
                "Лимит на операцию    50 000 руб.",
                "Отсканируйте QR-код в мобильном",
                "банке, чтобы активировать счёт.",
            ]
        );
        assert!(matches!(&items[0], Printed::Line(l) if l.bold && l.double && l.align == Align::Center));
        assert_eq!(items[items.len() - 2], Printed::Qr("KA1.abc.def".into()));
        assert_eq!(items.last(), Some(&Printed::Cut));
    }

    #[test]
    fn bytes_are_the_documented_commands() {
        let bytes = encode(&layout(&Receipt::new().text("Да").qr("Q"), 32).unwrap());
        let expected: Vec<u8> = [
            &[ESC, b'@', ESC, b't', 17][..],
            &[0x84, 0xA0, LF],
            &[ESC, b'a', 1],
            &[GS, b'(', b'k', 4, 0, 49, 65, 50, 0],
            &[GS, b'(', b'k', 3, 0, 49, 67, 6],
            &[GS, b'(', b'k', 3, 0, 49, 69, 49],
            &[GS, b'(', b'k', 4, 0, 49, 80, 48, b'Q'],
            &[GS, b'(', b'k', 3, 0, 49, 81, 48],
            &[ESC, b'd', 4, GS, b'V', 1],
        ]
        .concat();
        assert_eq!(bytes, expected);
    }

    #[test]
    fn status_interpretation() {
        let base = 0x12;
        assert!(
            is_status_byte(base)
                && is_status_byte(base | PAPER_END | PAPER_NEAR_END)
                && !is_status_byte(0xFF)
        );
        assert_eq!(interpret_status(base, base, base), PrinterStatus::Ready);
        assert_eq!(interpret_status(base, base, base | PAPER_NEAR_END), PrinterStatus::PaperLow);
        assert_eq!(interpret_status(base | 8, base | CAUSE_PAPER_END, base | 0x6C), PrinterStatus::PaperOut);
        assert_eq!(interpret_status(base | 8, base | CAUSE_COVER_OPEN, base), PrinterStatus::CoverOpen);
        assert_eq!(interpret_status(base | 8, base | CAUSE_ERROR, base), PrinterStatus::Offline);
        assert_eq!(interpret_status(base | 8, base, base), PrinterStatus::Offline);
    }

    #[test]
    fn bad_layouts_are_refused() {
        assert!(matches!(layout(&Receipt::new(), 8), Err(PrinterError::Columns { .. })));
        let big = "x".repeat(MAX_QR_BYTES + 1);
        assert!(matches!(layout(&Receipt::new().qr(big), 32), Err(PrinterError::QrTooLong { .. })));
    }
}
