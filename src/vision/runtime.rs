//! The one onnxruntime environment of the process, loaded from the library in `models/`.

use std::{
    path::Path,
    sync::{Mutex, OnceLock},
};

use ort::{
    environment::{Environment, GlobalThreadPoolOptions},
    session::{builder::GraphOptimizationLevel, Session},
};

use super::VisionError;

static ENVIRONMENT: OnceLock<Environment> = OnceLock::new();
static INIT: Mutex<()> = Mutex::new(());

/// Loads libonnxruntime once; later calls return the same environment.
///
/// All sessions share one global intra-op pool of `threads` threads that do not spin: with
/// per-session pools, the idle pools of the other four models spin on the kiosk's 2 cores
/// while one model runs, which made detect + liveness twice as slow.
pub(crate) fn environment(dylib: &Path, threads: usize) -> Result<&'static Environment, VisionError> {
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let _guard = INIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env);
    }
    // ort panics on a missing library; check first so the person gets a clear error.
    if !dylib.is_file() {
        return Err(VisionError::Runtime { path: dylib.to_path_buf(), reason: "file not found".into() });
    }
    let spin = std::env::var("KIOSK_ORT_SPIN").is_ok_and(|v| v == "1");
    let runtime_err = |reason: String| VisionError::Runtime { path: dylib.to_path_buf(), reason };
    // The library must be loaded before any other ort call (the pool options included).
    let builder = ort::init_from(dylib).map_err(|e| runtime_err(e.to_string()))?;
    let pool = GlobalThreadPoolOptions::default()
        .with_intra_threads(threads)
        .and_then(|p| p.with_inter_threads(1))
        .and_then(|p| p.with_spin_control(spin))
        .map_err(|e| runtime_err(e.to_string()))?;
    let env = builder
        .with_name("kiosk")
        .with_global_thread_pool(pool)
        .build()
        .map_err(|e| runtime_err(e.to_string()))?;
    env.set_log_level(ort::logging::LogLevel::Error);
    Ok(ENVIRONMENT.get_or_init(|| env))
}

/// Which threads run a session.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pool {
    /// The process-wide non-spinning pool (models run every frame).
    Shared,
    /// Its own spinning pool: SFace runs once per burst and is ~30 % faster with spinning.
    Own { threads: usize },
}

/// A CPU session tuned for the kiosk: all graph optimisations, a fixed small thread pool.
pub(crate) fn session(env: &Environment, model: &Path, pool: Pool) -> Result<Session, VisionError> {
    let load_err = |reason: String| VisionError::ModelLoad { model: model.display().to_string(), reason };
    let builder = Session::builder(env)
        .map_err(|e| load_err(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| load_err(e.to_string()))?;
    let mut builder = match pool {
        Pool::Shared => builder,
        Pool::Own { threads } => builder
            .with_independent_thread_pool()
            .map_err(|e| load_err(e.to_string()))?
            .with_intra_threads(threads)
            .map_err(|e| load_err(e.to_string()))?,
    };
    builder
        .commit_from_file(model)
        .map_err(|e| load_err(e.to_string()))
}
