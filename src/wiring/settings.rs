//! The configuration's numbers as each layer takes them.

use std::time::Duration;

use kiosk_config::{ChallengeSection, Config, QualitySection, SocialRules};

use super::SettingsError;
use crate::account::{Kopecks, LimitsPolicy, Operation};
use crate::flow::FlowSettings;
use crate::{ui, vision};

/// The face pipeline settings of a configuration.
pub fn pipeline_settings(config: &Config) -> vision::PipelineSettings {
    vision::PipelineSettings {
        detection_score_threshold: config.face.detection_score_threshold,
        nms_iou_threshold: config.face.nms_iou_threshold,
        liveness_threshold: config.face.liveness_threshold,
        quality: quality_thresholds(&config.face.quality),
        intra_threads: config.models.intra_threads as usize,
    }
}

/// The configured models, checked against their manifest and loaded.
pub fn face_pipeline(config: &Config) -> Result<vision::FacePipeline, vision::VisionError> {
    vision::FacePipeline::load(&config.models.dir, pipeline_settings(config))
}

/// The quality gates of a configuration's `[face.quality]`.
pub fn quality_thresholds(q: &QualitySection) -> vision::QualityThresholds {
    vision::QualityThresholds {
        min_inter_eye_px: q.min_inter_eye_px,
        max_face_width_ratio: q.max_face_width_ratio,
        max_yaw_deg: q.max_yaw_deg,
        max_pitch_deg: q.max_pitch_deg,
        max_roll_deg: q.max_roll_deg,
        min_sharpness: q.min_sharpness,
        min_brightness: q.min_brightness,
        max_brightness: q.max_brightness,
        min_uniformity: q.min_uniformity,
    }
}

/// The head-turn challenge of a configuration's `[face.challenge]`.
pub fn challenge_rules(c: &ChallengeSection) -> vision::ChallengeRules {
    vision::ChallengeRules::new(c.turn_deg, c.frontal_deg, Duration::from_secs_f32(c.time_limit_s))
}

/// The built-in configuration (`kiosk-config/default.toml`) is the one source of the vision
/// defaults: tests and benches get the numbers a kiosk without a site file runs with. A kiosk
/// itself reads its configuration (`pipeline_settings`, `challenge_rules`).
// The compiled-in default.toml, not a site's file: kiosk-config's tests load it, so this
// cannot fail on a kiosk that was built.
#[allow(clippy::expect_used)]
fn builtin_face_section() -> kiosk_config::FaceSection {
    kiosk_config::load_str(None).expect("the built-in configuration is valid (tested in kiosk-config)").face
}

impl Default for vision::QualityThresholds {
    fn default() -> Self {
        quality_thresholds(&builtin_face_section().quality)
    }
}

impl Default for vision::ChallengeRules {
    fn default() -> Self {
        challenge_rules(&builtin_face_section().challenge)
    }
}

/// The demo account limits as configured (the 50 000 ₽ hard cap is enforced by `LimitsPolicy`).
pub fn limits_of(config: &Config) -> Result<LimitsPolicy, SettingsError> {
    let a = &config.account;
    let rub = |v: u64| Kopecks(v.saturating_mul(100));
    let operations = a
        .allowed_operations
        .iter()
        .map(|name| Operation::from_name(name).ok_or_else(|| SettingsError::UnknownOperation(name.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(LimitsPolicy::new(
        rub(a.per_transaction_limit_rub),
        rub(a.daily_limit_rub),
        rub(a.monthly_limit_rub),
        rub(a.balance_limit_rub),
        operations,
    )?)
}

/// The flow's settings from the configuration.
pub fn flow_settings(config: &Config, social: Option<&SocialRules>) -> FlowSettings {
    FlowSettings {
        walk_away: Duration::from_secs(u64::from(config.kiosk.walk_away_timeout_s)),
        device: Duration::from_secs(u64::from(config.kiosk.device_step_timeout_s)),
        goodbye: Duration::from_secs(u64::from(config.kiosk.goodbye_s)),
        max_face_attempts: config.face.max_attempts,
        min_age: config.account.min_age,
        social_payments: social.is_some(),
        social_categories: social.map_or(0, |r| r.categories().len().min(16) as u8),
    }
}

/// The social-payments rules in force; `None` when the offer is switched off.
pub fn social_rules(config: &Config) -> Result<Option<SocialRules>, SettingsError> {
    SocialRules::from_config(&config.social_payments).map_err(|e| SettingsError::SocialRules(e.to_string()))
}

/// What the screens are drawn with on this kiosk: system fonts, the built-in messages, the
/// configured panel (its width in millimetres sizes the buttons for fingers).
pub fn ui_context(config: &Config) -> Result<ui::UiContext<'static>, SettingsError> {
    Ok(ui::UiContext::standard(ui::Panel::new(config.display.width_mm))?)
}
