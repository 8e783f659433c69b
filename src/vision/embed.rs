//! SFace face embeddings (128 floats, L2-normalised).

use std::path::Path;

use opencv::{core::Mat, prelude::*};
use ort::{session::Session, value::Tensor};
use zeroize::Zeroize;

use super::{
    manifest::ModelManifest,
    runtime::{self, Pool},
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

    /// A deterministic pseudo-random template (xorshift from `seed`), for tests and benchmarks
    /// that need many distinct faces.
    pub fn synthetic(seed: u64) -> Self {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let values: Vec<f32> = (0..EMBEDDING_LEN)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 2001) as f32 / 1000.0 - 1.0
            })
            .collect();
        let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-6);
        Self(values.into_iter().map(|v| v / norm).collect())
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

/// SFace with its weights folded to float32 (see models/MANIFEST.toml): one input, `data`.
pub struct FaceRecogniser {
    session: Session,
}

impl FaceRecogniser {
    /// SFace from manifest entry `id` of `models_dir` on its own pool of `threads` threads:
    /// `sface` is what the pipeline runs; `sface_fp32` (PRelu as published) is the reference the
    /// rewritten model is checked against (tests/face_models.rs).
    pub fn load(models_dir: &Path, id: &str, threads: usize) -> Result<Self, VisionError> {
        let manifest = ModelManifest::load(models_dir)?;
        let env = runtime::environment(&manifest.verified_path("onnxruntime")?, threads.max(1))?;
        Self::new(runtime::session(env, &manifest.verified_path(id)?, Pool::Own { threads: threads.max(1) })?)
    }

    pub(crate) fn new(session: Session) -> Result<Self, VisionError> {
        let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        if inputs != [INPUT] {
            return Err(VisionError::ModelLoad {
                model: MODEL.into(),
                reason: format!("expected the single input `{INPUT}`, found {inputs:?}: use the folded model from `make setup`"),
            });
        }
        Ok(Self { session })
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
        let outputs = self.session.run(ort::inputs![INPUT => data]).map_err(|e| infer_err(e.to_string()))?;
        let (_, values) = outputs[0].try_extract_tensor::<f32>().map_err(|e| infer_err(e.to_string()))?;
        Embedding::from_values(values.to_vec()).ok_or_else(|| VisionError::OutputShape {
            model: MODEL.into(),
            reason: format!("expected {EMBEDDING_LEN} finite values, got {}", values.len()),
        })
    }
}
