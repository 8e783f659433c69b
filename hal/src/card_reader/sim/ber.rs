//! Minimal BER-TLV encoder for building the simulated chip's files.

/// Appends the BER length of `len`: short form below 128, else 81/82/83 long form.
pub fn push_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else if len <= 0xFF {
        out.extend_from_slice(&[0x81, len as u8]);
    } else if len <= 0xFFFF {
        out.push(0x82);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        // Files built here stay far below 16 MiB; the top byte is dropped beyond that.
        let b = (len as u32).to_be_bytes();
        out.extend_from_slice(&[0x83, b[1], b[2], b[3]]);
    }
}

/// `tag` (already encoded, 1–2 bytes) + length + value.
pub fn tlv(tag: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tag.len() + 4 + value.len());
    out.extend_from_slice(tag);
    push_length(&mut out, value.len());
    out.extend_from_slice(value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_forms() {
        let enc = |n| {
            let mut v = Vec::new();
            push_length(&mut v, n);
            v
        };
        assert_eq!(enc(0x7F), [0x7F]);
        assert_eq!(enc(0x80), [0x81, 0x80]);
        assert_eq!(enc(0xFF), [0x81, 0xFF]);
        assert_eq!(enc(0x100), [0x82, 0x01, 0x00]);
        assert_eq!(enc(0x12345), [0x83, 0x01, 0x23, 0x45]);
    }
}
