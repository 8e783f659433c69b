//! SFace face embeddings (128 floats, L2-normalised).

use opencv::{core::Mat, prelude::*};
use ort::{
    session::{Session, SessionInputValue},
    value::{DynValue, Tensor},
};
use zeroize::Zeroize;

use super::{
    tensor::{to_nchw, ChannelOrder},
    VisionError, ALIGNED_SIZE,
};

pub const EMBEDDING_LEN: usize = 128;
const MODEL: &str = "SFace";
const INPUT: &str = "data";

/// A face template. Biometric data: zeroed when dropped, never logged.
#[derive(Clone, PartialEq)]
pub struct Embedding(Vec<f32>);

impl Embedding {
    /// Wraps a stored template, normalising it; `None` unless it has [`EMBEDDING_LEN`] finite values.
    pub fn from_values(mut values: Vec<f32>) -> Option<Self> {
        if values.len() != EMBEDDING_LEN || values.iter().any(|v| !v.is_finite()) {
            values.zeroize();
            return None;
        }
        let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm < 1e-6 {
            return None;
        }
        values.iter_mut().for_each(|v| *v /= norm);
        Some(Self(values))
    }

    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }
}

impl Drop for Embedding {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for Embedding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Embedding([{} values, redacted])", self.0.len())
    }
}

pub struct FaceRecogniser {
    session: Session,
    /// The int8 SFace export declares its dequantised weights as graph inputs that the graph
    /// never reads; onnxruntime still requires them, so zeros are built once and fed by reference.
    unused_inputs: Vec<(String, DynValue)>,
}

impl FaceRecogniser {
    pub(crate) fn new(session: Session) -> Result<Self, VisionError> {
        let mut unused_inputs = Vec::new();
        for input in session.inputs() {
            if input.name() == INPUT {
                continue;
            }
            let shape: Vec<usize> = input
                .dtype()
                .tensor_shape()
                .map(|s| s.iter().map(|d| (*d).max(1) as usize).collect())
                .unwrap_or_default();
            let count = shape.iter().product::<usize>();
            let zeros = Tensor::from_array((shape, vec![0.0f32; count]))
                .map_err(|e| VisionError::ModelLoad { model: MODEL.into(), reason: e.to_string() })?;
            unused_inputs.push((input.name().to_string(), zeros.into_dyn()));
        }
        Ok(Self { session, unused_inputs })
    }

    /// The embedding of a 112×112 aligned BGR face.
    pub fn embed(&mut self, aligned: &Mat) -> Result<Embedding, VisionError> {
        if aligned.cols() != ALIGNED_SIZE || aligned.rows() != ALIGNED_SIZE || aligned.channels() != 3 {
            return Err(VisionError::Inference {
                model: MODEL.into(),
                reason: "input is not a 112×112 BGR crop".into(),
            });
        }
        // SFace was trained on RGB: swap the channels OpenCV delivers as BGR.
        let input = to_nchw(aligned, ChannelOrder::Rgb)?;
        let infer_err = |reason: String| VisionError::Inference { model: MODEL.into(), reason };
        let data = Tensor::from_array(input).map_err(|e| infer_err(e.to_string()))?;
        let mut feeds: Vec<(std::borrow::Cow<'_, str>, SessionInputValue<'_>)> =
            Vec::with_capacity(self.unused_inputs.len() + 1);
        feeds.push((INPUT.into(), data.into()));
        for (name, value) in &self.unused_inputs {
            feeds.push((name.as_str().into(), value.into()));
        }
        let outputs = self.session.run(feeds).map_err(|e| infer_err(e.to_string()))?;
        let (_, values) = outputs[0].try_extract_tensor::<f32>().map_err(|e| infer_err(e.to_string()))?;
        Embedding::from_values(values.to_vec()).ok_or_else(|| VisionError::OutputShape {
            model: MODEL.into(),
            reason: format!("expected {EMBEDDING_LEN} finite values, got {}", values.len()),
        })
    }
}
