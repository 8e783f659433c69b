//! Image → network input: 8-bit interleaved pixels to planar f32 (NCHW, batch 1), unscaled.

use ndarray::Array4;
use opencv::{core::Mat, prelude::*};

use super::VisionError;

/// Channel order the network was trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChannelOrder {
    Bgr,
    Rgb,
}

/// A continuous 8-bit 3-channel `Mat` as a [1, 3, rows, cols] tensor of 0–255 values.
pub(crate) fn to_nchw(image: &Mat, order: ChannelOrder) -> Result<Array4<f32>, VisionError> {
    if image.channels() != 3 || image.empty() {
        return Err(VisionError::Undecodable { what: "network input (not a 3-channel image)".into() });
    }
    let (rows, cols) = (image.rows() as usize, image.cols() as usize);
    let owned;
    let continuous = if image.is_continuous() {
        image
    } else {
        owned = image.try_clone()?;
        &owned
    };
    let bytes = continuous.data_bytes()?;
    let plane = rows * cols;
    let mut data = vec![0.0f32; 3 * plane];
    let (first, third) = match order {
        ChannelOrder::Bgr => (0, 2),
        ChannelOrder::Rgb => (2, 0),
    };
    // One pass over the pixels, writing three planes: far faster than indexing an ndarray.
    let (plane0, rest) = data.split_at_mut(plane);
    let (plane1, plane2) = rest.split_at_mut(plane);
    for (i, px) in bytes.chunks_exact(3).enumerate().take(plane) {
        plane0[i] = f32::from(px[first]);
        plane1[i] = f32::from(px[1]);
        plane2[i] = f32::from(px[third]);
    }
    Array4::from_shape_vec((1, 3, rows, cols), data)
        .map_err(|e| VisionError::Inference { model: "input tensor".into(), reason: e.to_string() })
}
