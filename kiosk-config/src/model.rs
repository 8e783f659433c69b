//! The typed configuration. Field docs live in `default.toml`, next to the values.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    pub kiosk: KioskSection,
    pub display: DisplaySection,
    pub input: InputSection,
    pub camera: CameraSection,
    pub card_reader: CardReaderSection,
    pub speaker: SpeakerSection,
    pub printer: PrinterSection,
    pub models: ModelsSection,
    pub face: FaceSection,
    pub account: AccountSection,
    pub consent: ConsentSection,
    pub store: StoreSection,
    pub sync: SyncSection,
    pub health: HealthSection,
    pub diag: DiagSection,
    pub social_payments: SocialPaymentsSection,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct KioskSection {
    pub id: String,
    pub data_dir: PathBuf,
    pub walk_away_timeout_s: u32,
    pub device_step_timeout_s: u32,
    pub goodbye_s: u32,
    /// A demo kiosk: simulated devices and the test CSCA are allowed (never on a street kiosk).
    pub demo: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DisplayDriver {
    Memory,
    Framebuffer,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DisplaySection {
    pub driver: DisplayDriver,
    pub width: u32,
    pub height: u32,
    /// Physical width of the visible picture in millimetres: buttons are sized from it.
    pub width_mm: f32,
    pub framebuffer: String,
    /// The tty switched to graphics mode while the framebuffer is drawn; empty: none.
    pub console: PathBuf,
}

impl DisplaySection {
    /// The console to switch to graphics mode, `None` when it is left alone.
    pub fn console_tty(&self) -> Option<&std::path::Path> {
        (!self.console.as_os_str().is_empty()).then_some(self.console.as_path())
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum InputDriver {
    Scripted,
    Evdev,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct InputSection {
    pub driver: InputDriver,
    pub device: PathBuf,
    /// The keypad's own event node; empty: keys come from `device`.
    pub keypad: PathBuf,
    pub grab: bool,
    pub x_min: i32,
    pub x_max: i32,
    pub y_min: i32,
    pub y_max: i32,
    pub swap_xy: bool,
    pub invert_x: bool,
    pub invert_y: bool,
    /// Clockwise degrees: 0, 90, 180 or 270.
    pub rotate: u16,
}

impl InputSection {
    /// The keypad's node, `None` when keys come from the touch device.
    pub fn keypad_device(&self) -> Option<&std::path::Path> {
        (!self.keypad.as_os_str().is_empty()).then_some(self.keypad.as_path())
    }

    /// The calibrated x range, `None` (equal min and max) for the device's own.
    pub fn x_calibration(&self) -> Option<(i32, i32)> {
        (self.x_min != self.x_max).then_some((self.x_min, self.x_max))
    }

    /// The calibrated y range, `None` for the device's own.
    pub fn y_calibration(&self) -> Option<(i32, i32)> {
        (self.y_min != self.y_max).then_some((self.y_min, self.y_max))
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CameraDriver {
    Replay,
    V4l2,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CameraSection {
    pub driver: CameraDriver,
    /// The V4L2 device's path; empty: `/dev/video<index>`.
    pub device: String,
    pub index: i32,
    pub width: u32,
    pub height: u32,
    pub pixel_format: CameraPixelFormat,
    /// 0: the device's own rate.
    pub fps: u32,
    pub exposure_mode: ControlMode,
    pub exposure: u32,
    pub focus_mode: ControlMode,
    pub focus: u32,
    pub burst_frames: u32,
}

impl CameraSection {
    /// The device as configured: its path, or `/dev/video<index>` when no path is given.
    pub fn device_path(&self) -> String {
        if self.device.trim().is_empty() {
            format!("/dev/video{}", self.index)
        } else {
            self.device.clone()
        }
    }
}

/// The pixel format asked of the camera.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum CameraPixelFormat {
    /// Whatever the device has.
    #[serde(rename = "device")]
    Device,
    #[serde(rename = "MJPG")]
    Mjpg,
    #[serde(rename = "YUYV")]
    Yuyv,
}

/// How a camera control (exposure, focus) is set.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ControlMode {
    /// Left as the device has it.
    Device,
    Auto,
    /// At the configured value.
    Manual,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CardReaderDriver {
    Simulator,
    Serial,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CardReaderSection {
    pub driver: CardReaderDriver,
    pub port: String,
    pub baud: u32,
    /// Folder of trusted CSCA certificates (DER or PEM) for passports' passive authentication.
    pub csca_dir: PathBuf,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum SpeakerDriver {
    #[serde(rename = "simulator")]
    Simulator,
    #[serde(rename = "espeak-ng")]
    EspeakNg,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SpeakerSection {
    pub driver: SpeakerDriver,
    /// espeak-ng voice names (`espeak-ng --voices`).
    pub voice_ru: String,
    pub voice_en: String,
    pub rate_wpm: u32,
    pub volume: u32,
    /// Folder for one WAV file per utterance instead of the sound card; empty: the sound card.
    pub wav_dir: PathBuf,
}

impl SpeakerSection {
    /// The WAV folder, `None` when speech goes to the sound card.
    pub fn wav_output(&self) -> Option<&std::path::Path> {
        (!self.wav_dir.as_os_str().is_empty()).then_some(self.wav_dir.as_path())
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PrinterDriver {
    None,
    Simulator,
    Escpos,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PrinterSection {
    pub driver: PrinterDriver,
    /// Serial port (`/dev/ttyS1`, `/dev/ttyUSB0`) or printer device file (`/dev/usb/lp0`).
    pub device: String,
    pub baud: u32,
    /// Characters per line in the normal font: 32 on 58 mm paper, 48 on 80 mm.
    pub columns: u16,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ModelsSection {
    pub dir: PathBuf,
    pub intra_threads: u32,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FaceSection {
    pub detection_score_threshold: f32,
    pub nms_iou_threshold: f32,
    pub match_threshold: f32,
    pub duplicate_threshold: f32,
    /// Enrolments the duplicate threshold was chosen for (its stated FPIR holds up to this many).
    pub gallery_size: u32,
    pub liveness_threshold: f32,
    pub max_attempts: u32,
    pub challenge: ChallengeSection,
    pub quality: QualitySection,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ChallengeSection {
    pub turn_deg: f32,
    pub frontal_deg: f32,
    pub time_limit_s: f32,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct QualitySection {
    pub min_inter_eye_px: f32,
    pub max_face_width_ratio: f32,
    pub max_yaw_deg: f32,
    pub max_pitch_deg: f32,
    pub max_roll_deg: f32,
    pub min_sharpness: f32,
    pub min_brightness: f32,
    pub max_brightness: f32,
    pub min_uniformity: f32,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AccountSection {
    pub per_transaction_limit_rub: u64,
    pub daily_limit_rub: u64,
    pub monthly_limit_rub: u64,
    pub balance_limit_rub: u64,
    pub allowed_operations: Vec<String>,
    pub activation_ttl_minutes: u32,
    pub min_age: u8,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ConsentSection {
    pub version: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct StoreSection {
    pub data_key_lifetime_days: u32,
    pub retention_days: u32,
    pub kek: KekSource,
    pub kek_credential: PathBuf,
    pub kek_seal: KekSeal,
}

/// Where the key-encryption key comes from.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum KekSource {
    /// A systemd credential (`LoadCredentialEncrypted=`), sealed by `systemd-creds`.
    Credential,
    /// `<data_dir>/keys/kek.key` (the demo and tests only).
    File,
}

/// What `systemd-creds encrypt --with-key=` seals the credential to at provisioning.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum KekSeal {
    /// The TPM 2.0 and the host key when the kiosk has a TPM, else the host key.
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "tpm2")]
    Tpm2,
    #[serde(rename = "host+tpm2")]
    HostTpm2,
    #[serde(rename = "host")]
    Host,
}

impl KekSeal {
    /// The `--with-key=` value.
    pub fn as_str(self) -> &'static str {
        match self {
            KekSeal::Auto => "auto",
            KekSeal::Tpm2 => "tpm2",
            KekSeal::HostTpm2 => "host+tpm2",
            KekSeal::Host => "host",
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SyncSection {
    pub core_url: String,
    pub ca_cert: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub connect_timeout_s: u32,
    pub request_timeout_s: u32,
    pub backoff_initial_ms: u32,
    pub backoff_max_s: u32,
    pub poll_interval_s: u32,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HealthSection {
    /// `host:port` of the health and metrics endpoint; must be a loopback address.
    pub listen: String,
    pub stop_grace_s: u32,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DiagSection {
    pub camera_fps: u32,
    pub retain_bin_warn: u32,
    pub disk_free_warn_mb: u64,
    pub disk_free_fail_mb: u64,
    pub sync_backlog_warn: u64,
    pub sync_lag_warn_s: u64,
    pub sync_lag_fail_s: u64,
    pub cert_expiry_warn_days: u32,
}

/// The offer, after the account is issued, to have state social payments credited to it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SocialPaymentsSection {
    pub enabled: bool,
    /// Version of the built-in rules (`social-payments.toml`); recorded with each choice.
    pub rules_version: String,
}

/// The longest a data key may seal new records, in days (three years).
pub const MAX_DATA_KEY_LIFETIME_DAYS: u32 = 1095;

/// The cap on any single demo-account transaction, in roubles; no configuration raises it.
pub const HARD_PER_TRANSACTION_LIMIT_RUB: u64 = 50_000;

/// Operation names `account.allowed_operations` may list.
pub const OPERATIONS: &[&str] =
    &["top_up", "incoming_transfer", "payment", "outgoing_transfer", "cash_withdrawal"];
