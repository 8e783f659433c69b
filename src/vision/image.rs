//! Decoding pictures into BGR `Mat`s (camera frames already are).

use std::path::Path;

use opencv::{core::Vector, imgcodecs, prelude::*};

use super::VisionError;

/// Decodes JPEG / JPEG 2000 / PNG bytes (e.g. a passport's DG2 face) in memory.
pub fn decode_image(bytes: &[u8], what: &str) -> Result<Mat, VisionError> {
    let buffer = Vector::<u8>::from_slice(bytes);
    let image = imgcodecs::imdecode(&buffer, imgcodecs::IMREAD_COLOR)?;
    if image.empty() {
        return Err(VisionError::Undecodable { what: what.to_string() });
    }
    Ok(image)
}

/// Reads and decodes an image file (tools and tests; the kiosk itself never reads faces from disk).
pub fn read_image(path: &Path) -> Result<Mat, VisionError> {
    let bytes = std::fs::read(path)
        .map_err(|e| VisionError::ImageRead { path: path.to_path_buf(), reason: e.to_string() })?;
    decode_image(&bytes, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Bytes from a device or a chip never panic the decoder, whatever they are.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048), jpeg_header in any::<bool>()) {
            let mut input = if jpeg_header { vec![0xFF, 0xD8, 0xFF, 0xE0] } else { Vec::new() };
            input.extend(bytes);
            let _ = decode_image(&input, "fuzz");
        }
    }
}
