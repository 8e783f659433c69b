//! The printer's side of ESC/POS: a streaming decoder of the host's bytes into what comes out of
//! the printer ([`Printed`]) and the status requests to answer. A parser of bytes from outside:
//! it never panics and bounds its memory. Only the simulator (and fuzzing) decodes.

use crate::printer::cp866;
use crate::printer::escpos::{Align, Printed, PrintedLine, CP866_PAGE, DLE, EOT, ESC, GS, LF};

/// A line longer than this (no LF coming) is cut into pieces by the decoder.
const MAX_LINE_CHARS: usize = 1024;

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
    use crate::printer::escpos::{encode, layout, status_request, text_lines, MAX_COLUMNS, MIN_COLUMNS};
    use crate::printer::{Receipt, ReceiptLine};
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
