//! ESC/POS, the pure part: laying a [`Receipt`] out for the paper, encoding it, decoding a byte
//! stream back (the simulator's side, and a parser of bytes from outside: it never panics and
//! bounds its memory), and the status bytes of `DLE EOT n`.
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
/// A line longer than this (no LF coming) is cut into pieces by the decoder.
const MAX_LINE_CHARS: usize = 1024;

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

/// A problem in the byte stream; decoding goes on after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("unknown command {0:02X?}")]
    UnknownCommand(Vec<u8>),
    #[error("command {command:02X?} with a bad parameter {value:#04x}")]
    BadParameter { command: Vec<u8>, value: u8 },
    #[error("QR print without stored data")]
    QrWithoutData,
    #[error("control byte {0:#04x} outside a command")]
    StrayControl(u8),
}

/// What the decoder found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Printed(Printed),
    /// `DLE EOT n`, to be answered at once.
    StatusRequest(u8),
}

/// Streaming decoder of the host's bytes: push bytes as they come, take events.
#[derive(Debug, Default)]
pub struct Decoder {
    pending: Vec<u8>,
    line: String,
    code_page: u8,
    bold: bool,
    double: bool,
    align: Align,
    qr_data: Option<Vec<u8>>,
    queue: std::collections::VecDeque<Result<Event, DecodeError>>,
}

/// How much of `pending` one step used.
enum Step {
    /// Need more bytes.
    Incomplete,
    Used(usize),
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    /// The next event, `None` when the bytes so far hold no more.
    pub fn next_event(&mut self) -> Option<Result<Event, DecodeError>> {
        while self.queue.is_empty() {
            match self.step() {
                Step::Incomplete => return None,
                Step::Used(n) => {
                    self.pending.drain(..n.min(self.pending.len()));
                }
            }
        }
        self.queue.pop_front()
    }

    fn emit(&mut self, event: Event) {
        self.queue.push_back(Ok(event));
    }

    fn error(&mut self, error: DecodeError) {
        self.queue.push_back(Err(error));
    }

    fn flush_line(&mut self, always: bool) {
        if always || !self.line.is_empty() {
            let text = std::mem::take(&mut self.line);
            let line = PrintedLine { text, bold: self.bold, double: self.double, align: self.align };
            self.emit(Event::Printed(Printed::Line(line)));
        }
    }

    fn reset(&mut self) {
        self.line.clear();
        self.code_page = 0;
        self.bold = false;
        self.double = false;
        self.align = Align::Left;
        self.qr_data = None;
    }

    fn step(&mut self) -> Step {
        let p = &self.pending;
        let Some(&first) = p.first() else {
            return Step::Incomplete;
        };
        let at = |i: usize| p.get(i).copied();
        match first {
            LF => {
                self.flush_line(true);
                Step::Used(1)
            }
            b'\r' => Step::Used(1),
            DLE => match (at(1), at(2)) {
                (None, _) | (Some(EOT), None) => Step::Incomplete,
                (Some(EOT), Some(n @ 1..=4)) => {
                    self.emit(Event::StatusRequest(n));
                    Step::Used(3)
                }
                (Some(EOT), Some(n)) => {
                    self.error(DecodeError::BadParameter { command: vec![DLE, EOT], value: n });
                    Step::Used(3)
                }
                (Some(other), _) => {
                    self.error(DecodeError::UnknownCommand(vec![DLE, other]));
                    Step::Used(2)
                }
            },
            ESC => self.esc(),
            GS => self.gs(),
            c if c < 0x20 || c == 0x7F => {
                self.error(DecodeError::StrayControl(c));
                Step::Used(1)
            }
            c => {
                let ch = if c < 0x80 {
                    char::from(c)
                } else if self.code_page == CP866_PAGE {
                    cp866::decode_byte(c)
                } else {
                    // Another code page: not what this kiosk sends; shown as unknown.
                    '\u{FFFD}'
                };
                self.line.push(ch);
                if self.line.chars().count() >= MAX_LINE_CHARS {
                    self.flush_line(true);
                }
                Step::Used(1)
            }
        }
    }

    fn esc(&mut self) -> Step {
        let (Some(&command), param) = (self.pending.get(1), self.pending.get(2).copied()) else {
            return Step::Incomplete;
        };
        match command {
            b'@' => {
                self.reset();
                return Step::Used(2);
            }
            b'2' => return Step::Used(2),
            b'E' | b'a' | b't' | b'd' | b'J' | b'!' | b'-' | b'M' | b'3' => {}
            other => {
                self.error(DecodeError::UnknownCommand(vec![ESC, other]));
                return Step::Used(2);
            }
        }
        let Some(n) = param else {
            return Step::Incomplete;
        };
        match command {
            b'E' => self.bold = n & 1 == 1,
            b'!' => {
                self.bold = n & 0x08 != 0;
                self.double = n & 0x30 != 0;
            }
            b'a' => match n {
                0 | b'0' => self.align = Align::Left,
                1 | b'1' => self.align = Align::Center,
                2 | b'2' => self.align = Align::Right,
                _ => self.error(DecodeError::BadParameter { command: vec![ESC, b'a'], value: n }),
            },
            b't' => self.code_page = n,
            // Feeds print what is buffered; the blank paper after it carries nothing.
            b'd' | b'J' => self.flush_line(false),
            _ => {} // underline, font, line spacing: no content
        }
        Step::Used(3)
    }

    fn gs(&mut self) -> Step {
        let p = &self.pending;
        let Some(&command) = p.get(1) else {
            return Step::Incomplete;
        };
        match command {
            b'!' | b'B' => {
                let Some(&n) = p.get(2) else { return Step::Incomplete };
                if command == b'!' {
                    self.double = n & 0x77 != 0;
                }
                Step::Used(3)
            }
            b'L' | b'W' => {
                if p.len() < 4 {
                    return Step::Incomplete;
                }
                Step::Used(4)
            }
            b'V' => {
                let Some(&m) = p.get(2) else { return Step::Incomplete };
                let used = match m {
                    0 | 1 | 48 | 49 => 3,
                    65 | 66 | 97 | 98 | 103 | 104 => {
                        if p.len() < 4 {
                            return Step::Incomplete;
                        }
                        4
                    }
                    _ => {
                        self.error(DecodeError::BadParameter { command: vec![GS, b'V'], value: m });
                        return Step::Used(3);
                    }
                };
                self.flush_line(false);
                self.emit(Event::Printed(Printed::Cut));
                Step::Used(used)
            }
            b'(' => {
                let Some(&function_class) = p.get(2) else { return Step::Incomplete };
                if function_class != b'k' {
                    self.error(DecodeError::UnknownCommand(vec![GS, b'(', function_class]));
                    return Step::Used(3);
                }
                let (Some(&low), Some(&high)) = (p.get(3), p.get(4)) else { return Step::Incomplete };
                let len = usize::from(low) | usize::from(high) << 8;
                let Some(body) = p.get(5..5 + len) else { return Step::Incomplete };
                let body = body.to_vec();
                self.qr(&body);
                Step::Used(5 + len)
            }
            other => {
                self.error(DecodeError::UnknownCommand(vec![GS, other]));
                Step::Used(2)
            }
        }
    }

    /// The body of `GS ( k`: cn, fn, parameters.
    fn qr(&mut self, body: &[u8]) {
        let (Some(&cn), Some(&function)) = (body.first(), body.get(1)) else {
            self.error(DecodeError::BadParameter { command: vec![GS, b'(', b'k'], value: body.len() as u8 });
            return;
        };
        if cn != 49 {
            // Another symbol (PDF417, MaxiCode…): this kiosk never sends one.
            self.error(DecodeError::UnknownCommand(vec![GS, b'(', b'k', cn]));
            return;
        }
        match function {
            80 => self.qr_data = body.get(3..).map(<[u8]>::to_vec),
            81 => match self.qr_data.clone() {
                Some(data) => {
                    self.flush_line(false);
                    self.emit(Event::Printed(Printed::Qr(String::from_utf8_lossy(&data).into_owned())));
                }
                None => self.error(DecodeError::QrWithoutData),
            },
            _ => {} // model, size, error correction, size query: no content
        }
    }
}

/// Decodes a whole byte stream (tests, fuzzing): the events and the errors met on the way.
pub fn decode_all(bytes: &[u8]) -> (Vec<Event>, Vec<DecodeError>) {
    let mut decoder = Decoder::new();
    decoder.push(bytes);
    let (mut events, mut errors) = (Vec::new(), Vec::new());
    while let Some(event) = decoder.next_event() {
        match event {
            Ok(e) => events.push(e),
            Err(e) => errors.push(e),
        }
    }
    (events, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn printed(bytes: &[u8]) -> Vec<Printed> {
        let (events, errors) = decode_all(bytes);
        assert_eq!(errors, vec![]);
        events
            .into_iter()
            .filter_map(|e| match e {
                Event::Printed(p) => Some(p),
                Event::StatusRequest(_) => None,
            })
            .collect()
    }

    fn text_lines(items: &[Printed]) -> Vec<&str> {
        items
            .iter()
            .filter_map(|p| match p {
                Printed::Line(l) => Some(l.text.as_str()),
                _ => None,
            })
            .collect()
    }

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
    fn control_characters_cannot_inject_commands() {
        // A name with ESC/GS in it must print as text, not cut the paper or change the page.
        let receipt = Receipt::new().text("Ann\u{1B}@\u{1D}V\u{1}a\nb");
        let items = layout(&receipt, 32).unwrap();
        let bytes = encode(&items);
        assert_eq!(printed(&bytes), items);
        assert_eq!(text_lines(&items), vec!["Ann @ V a b"]);
    }

    #[test]
    fn without_the_code_page_cyrillic_is_garbage() {
        let mut bytes = encode(&layout(&Receipt::new().text("Привет"), 32).unwrap());
        bytes.drain(2..5); // drop ESC t 17
        assert_eq!(text_lines(&printed(&bytes)), vec!["\u{FFFD}".repeat(6)]);
    }

    #[test]
    fn status_requests_in_the_stream_and_split_commands() {
        let mut d = Decoder::new();
        let bytes = [
            &status_request(4)[..],
            &[GS, b'(', b'k', 5, 0, 49, 80, 48, b'a', b'b', GS, b'(', b'k', 3, 0, 49, 81, 48],
        ]
        .concat();
        let mut events = Vec::new();
        for b in bytes {
            d.push(&[b]);
            while let Some(e) = d.next_event() {
                events.push(e.unwrap());
            }
        }
        assert_eq!(events, vec![Event::StatusRequest(4), Event::Printed(Printed::Qr("ab".into()))]);
        let (_, errors) = decode_all(&[GS, b'(', b'k', 3, 0, 49, 81, 48, ESC, b'Z', DLE, EOT, 9]);
        assert_eq!(
            errors,
            vec![
                DecodeError::QrWithoutData,
                DecodeError::UnknownCommand(vec![ESC, b'Z']),
                DecodeError::BadParameter { command: vec![DLE, EOT], value: 9 }
            ]
        );
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

    fn receipt_line() -> impl Strategy<Value = ReceiptLine> {
        // Any text: Cyrillic, ASCII, controls, characters CP866 lacks.
        let text = "[ -~А-яЁё№\u{1B}\u{1D}\u{10}\n€₽—«»ä]{0,80}";
        prop_oneof![
            text.prop_map(ReceiptLine::Title),
            text.prop_map(ReceiptLine::Text),
            (text, text).prop_map(|(key, value)| ReceiptLine::KeyValue { key, value }),
            "[ -~Ё-ё]{0,300}".prop_map(ReceiptLine::Qr),
            Just(ReceiptLine::Separator),
        ]
    }

    proptest! {
        #[test]
        fn encode_then_decode_gives_the_layout_back(
            lines in proptest::collection::vec(receipt_line(), 0..12),
            columns in MIN_COLUMNS..=MAX_COLUMNS,
            chunk in 1usize..64,
        ) {
            let items = layout(&Receipt { lines }, columns).unwrap();
            for item in &items {
                if let Printed::Line(l) = item {
                    let limit = if l.double { usize::from(columns) / 2 } else { usize::from(columns) };
                    prop_assert!(l.text.chars().count() <= limit, "{l:?}");
                    prop_assert!(l.text.chars().all(cp866::printable), "{l:?}");
                }
            }
            let bytes = encode(&items);
            let mut decoder = Decoder::new();
            let mut back = Vec::new();
            for piece in bytes.chunks(chunk) {
                decoder.push(piece);
                while let Some(event) = decoder.next_event() {
                    match event {
                        Ok(Event::Printed(p)) => back.push(p),
                        other => prop_assert!(false, "unexpected {other:?}"),
                    }
                }
            }
            prop_assert_eq!(back, items);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048), chunk in 1usize..32) {
            let mut decoder = Decoder::new();
            for piece in bytes.chunks(chunk) {
                decoder.push(piece);
                while decoder.next_event().is_some() {}
            }
            // Whatever is left waits for more bytes of one command: never more than one QR body.
            prop_assert!(decoder.pending.len() <= 5 + 0xFFFF);
        }

        #[test]
        fn commands_keep_their_shape(bytes in proptest::collection::vec(prop_oneof![Just(ESC), Just(GS), Just(DLE), Just(EOT), Just(LF), any::<u8>()], 0..512)) {
            let (events, _) = decode_all(&bytes);
            for event in events {
                if let Event::StatusRequest(n) = event {
                    prop_assert!((1..=4).contains(&n));
                }
            }
        }
    }
}
