//! BER-TLV parsing (ISO 7816-4 / ICAO 9303 LDS): multi-byte tags, definite long-form lengths.

/// Nesting followed by [`find`]; LDS files nest four levels, this leaves room and bounds recursion.
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlvError {
    #[error("TLV data ends inside an element (needs {needed} more bytes)")]
    Truncated { needed: usize },
    #[error("TLV tag longer than 3 bytes")]
    TagTooLong,
    #[error("TLV length form {0:#04x} is not allowed (indefinite or over 4 bytes)")]
    BadLengthForm(u8),
    #[error("TLV nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// One element; `tag` is its bytes big-endian (e.g. `0x5F1F`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u32,
    pub value: &'a [u8],
}

// Values can be personal data.
impl std::fmt::Debug for Tlv<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tlv {{ tag: {:X}, len: {} }}", self.tag, self.value.len())
    }
}

impl<'a> Tlv<'a> {
    /// Constructed tags (bit 6 of the first byte) hold further TLVs.
    pub fn is_constructed(&self) -> bool {
        first_tag_byte(self.tag) & 0x20 != 0
    }

    pub fn children(&self) -> Result<Vec<Tlv<'a>>, TlvError> {
        parse_all(self.value)
    }
}

fn first_tag_byte(tag: u32) -> u8 {
    let bytes = tag.to_be_bytes();
    bytes.into_iter().find(|&b| b != 0).unwrap_or(0)
}

fn truncated(needed: usize) -> TlvError {
    TlvError::Truncated { needed }
}

/// Reads a tag; returns it and the bytes after it.
pub fn parse_tag(input: &[u8]) -> Result<(u32, &[u8]), TlvError> {
    let (&first, mut rest) = input.split_first().ok_or(truncated(1))?;
    let mut tag = u32::from(first);
    if first & 0x1F == 0x1F {
        let mut count = 1;
        loop {
            let (&b, r) = rest.split_first().ok_or(truncated(1))?;
            rest = r;
            count += 1;
            if count > 3 {
                return Err(TlvError::TagTooLong);
            }
            tag = (tag << 8) | u32::from(b);
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    Ok((tag, rest))
}

/// Reads a definite length; returns it and the bytes after it.
fn parse_length(input: &[u8]) -> Result<(usize, &[u8]), TlvError> {
    let (&first, rest) = input.split_first().ok_or(truncated(1))?;
    if first < 0x80 {
        return Ok((usize::from(first), rest));
    }
    let n = usize::from(first & 0x7F);
    if n == 0 || n > 4 {
        return Err(TlvError::BadLengthForm(first));
    }
    let bytes = rest.get(..n).ok_or(truncated(n.saturating_sub(rest.len())))?;
    let len = bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    Ok((len, rest.get(n..).unwrap_or_default()))
}

/// Tag and length of the element at the start of `input`: `(tag, header_len, value_len)`.
/// Needs only the header bytes, so the size of a file can be learnt from its first bytes.
pub fn parse_header(input: &[u8]) -> Result<(u32, usize, usize), TlvError> {
    let (tag, after_tag) = parse_tag(input)?;
    let (len, after_len) = parse_length(after_tag)?;
    Ok((tag, input.len() - after_len.len(), len))
}

/// Parses one element; returns it and what follows it.
pub fn parse_one(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), TlvError> {
    let (tag, header_len, len) = parse_header(input)?;
    let body = input.get(header_len..).unwrap_or_default();
    let value = body.get(..len).ok_or(truncated(len.saturating_sub(body.len())))?;
    Ok((Tlv { tag, value }, body.get(len..).unwrap_or_default()))
}

/// Parses a sequence of elements filling `input` exactly.
pub fn parse_all(mut input: &[u8]) -> Result<Vec<Tlv<'_>>, TlvError> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let (tlv, rest) = parse_one(input)?;
        out.push(tlv);
        input = rest;
    }
    Ok(out)
}

/// Depth-first search for the first element with `tag`, looking inside constructed elements.
pub fn find(input: &[u8], tag: u32) -> Result<Option<Tlv<'_>>, TlvError> {
    find_at(input, tag, 0)
}

fn find_at(input: &[u8], tag: u32, depth: usize) -> Result<Option<Tlv<'_>>, TlvError> {
    if depth > MAX_DEPTH {
        return Err(TlvError::TooDeep);
    }
    for tlv in parse_all(input)? {
        if tlv.tag == tag {
            return Ok(Some(tlv));
        }
        if tlv.is_constructed() {
            if let Some(found) = find_at(tlv.value, tag, depth + 1)? {
                return Ok(Some(found));
            }
        }
    }
    Ok(None)
}


/// BER-TLV encoding of one data object (tag bytes as given, definite length up to 0xFFFF).
pub fn encode(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 5);
    for b in tag.to_be_bytes().into_iter().skip_while(|&b| b == 0) {
        out.push(b);
    }
    match value.len() {
        n if n < 0x80 => out.push(n as u8),
        n if n <= 0xFF => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn multi_byte_tag_and_long_lengths() {
        let mut data = vec![0x5F, 0x1F, 0x81, 0x80];
        data.extend([b'A'; 0x80]);
        let (tlv, rest) = parse_one(&data).unwrap();
        assert_eq!((tlv.tag, tlv.value.len(), rest.len()), (0x5F1F, 0x80, 0));

        let mut data = vec![0x75, 0x82, 0x01, 0x00];
        data.extend([0; 0x100]);
        assert_eq!(parse_header(&data).unwrap(), (0x75, 4, 0x100));
        assert_eq!(parse_header(&[0x7F, 0x61, 0x83, 0x01, 0x00, 0x00]).unwrap(), (0x7F61, 6, 0x10000));
    }

    #[test]
    fn nested_search() {
        // 75 { 7F61 { 02 01 01, 7F60 { 5F2E 02 AA BB } } }
        let data = [0x75, 0x0D, 0x7F, 0x61, 0x0A, 0x02, 0x01, 0x01, 0x7F, 0x60, 0x04, 0x5F, 0x2E, 0x01, 0xAA];
        let found = find(&data, 0x5F2E).unwrap().unwrap();
        assert_eq!(found.value, [0xAA]);
        assert_eq!(find(&data, 0x5F1F).unwrap(), None);
    }

    #[test]
    fn errors() {
        assert_eq!(parse_one(&[0x61, 0x05, 1, 2]), Err(TlvError::Truncated { needed: 3 }));
        assert_eq!(parse_one(&[0x61, 0x80]), Err(TlvError::BadLengthForm(0x80)));
        assert_eq!(parse_one(&[0x61, 0x85, 0, 0, 0, 0, 1]), Err(TlvError::BadLengthForm(0x85)));
        assert_eq!(parse_one(&[0x5F, 0x9F, 0x9F, 0x01, 0x00]), Err(TlvError::TagTooLong));
        assert_eq!(parse_one(&[0x61, 0x82, 0x01]), Err(TlvError::Truncated { needed: 1 }));
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut data = vec![0x01, 0x00];
        for _ in 0..40 {
            let mut outer = vec![0x30, 0x82];
            outer.extend((data.len() as u16).to_be_bytes());
            outer.extend(data);
            data = outer;
        }
        assert_eq!(find(&data, 0x99), Err(TlvError::TooDeep));
    }

    fn encode(tag: &[u8], value: &[u8]) -> Vec<u8> {
        let mut out = tag.to_vec();
        match value.len() {
            n if n < 0x80 => out.push(n as u8),
            n if n <= 0xFF => out.extend([0x81, n as u8]),
            n => {
                out.push(0x82);
                out.extend((n as u16).to_be_bytes());
            }
        }
        out.extend_from_slice(value);
        out
    }

    proptest! {
        #[test]
        fn never_panics(data in prop::collection::vec(any::<u8>(), 0..600), tag in any::<u32>()) {
            let _ = parse_all(&data);
            let _ = find(&data, tag);
            let _ = parse_header(&data);
        }

        #[test]
        fn roundtrip(value in prop::collection::vec(any::<u8>(), 0..1000), two_byte in any::<bool>()) {
            let tag: &[u8] = if two_byte { &[0x5F, 0x2E] } else { &[0x04] };
            let data = encode(tag, &value);
            let (tlv, rest) = parse_one(&data).unwrap();
            prop_assert_eq!(tlv.value, value.as_slice());
            prop_assert_eq!(tlv.tag, if two_byte { 0x5F2E } else { 0x04 });
            prop_assert!(rest.is_empty());
        }
    }
}
