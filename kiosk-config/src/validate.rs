//! Range and consistency checks on a typed configuration.

use crate::{consent, Config, HARD_PER_TRANSACTION_LIMIT_RUB, MAX_DATA_KEY_LIFETIME_DAYS, OPERATIONS};

pub(crate) struct Issue {
    pub key: String,
    pub kind: IssueKind,
}

impl Issue {
    fn invalid(key: &str, why: impl Into<String>) -> Issue {
        Issue { key: key.into(), kind: IssueKind::Invalid(why.into()) }
    }
}

pub(crate) enum IssueKind {
    OutOfRange { value: String, expected: String },
    Invalid(String),
}

fn range<T: PartialOrd + std::fmt::Display>(key: &str, value: T, min: T, max: T) -> Result<(), Issue> {
    if value < min || value > max {
        return Err(Issue {
            key: key.into(),
            kind: IssueKind::OutOfRange { value: value.to_string(), expected: format!("{min} to {max}") },
        });
    }
    Ok(())
}

fn at_least(key: &str, value: u64, min: u64, min_key: &str) -> Result<(), Issue> {
    if value < min {
        return Err(Issue {
            key: key.into(),
            kind: IssueKind::OutOfRange {
                value: value.to_string(),
                expected: format!("at least `{min_key}` ({min})"),
            },
        });
    }
    Ok(())
}

fn invalid(key: &str, message: impl Into<String>) -> Issue {
    Issue { key: key.into(), kind: IssueKind::Invalid(message.into()) }
}

/// A device node: an absolute path under /dev.
fn device_path(key: &str, path: &std::path::Path, expected: &str) -> Result<(), Issue> {
    let ok = path.is_absolute()
        && path.starts_with("/dev")
        && !path.components().any(|c| c == std::path::Component::ParentDir);
    if ok {
        Ok(())
    } else {
        Err(invalid(key, format!("`{}` is not a device path; expected {expected}", path.display())))
    }
}

fn camera(c: &crate::CameraSection) -> Result<(), Issue> {
    if !c.device.trim().is_empty() {
        device_path(
            "camera.device",
            std::path::Path::new(&c.device),
            "the camera's stable path under /dev/v4l/by-id/ (ls -l /dev/v4l/by-id), a /dev/videoN, or \"\" for /dev/video<index>",
        )?;
    }
    if c.fps != 0 {
        range("camera.fps", c.fps, 1, 240)?;
    }
    if c.exposure_mode == crate::ControlMode::Manual {
        range("camera.exposure", c.exposure, 1, 1_000_000)?;
    }
    if c.focus_mode == crate::ControlMode::Manual {
        range("camera.focus", c.focus, 0, 100_000)?;
    }
    Ok(())
}

fn input(i: &crate::InputSection) -> Result<(), Issue> {
    if let Some(keypad) = i.keypad_device() {
        device_path("input.keypad", keypad, "the keypad's event node such as /dev/input/by-id/usb-…-event-kbd, or \"\" when keys come from `input.device`")?;
        if keypad == i.device {
            return Err(invalid("input.keypad", "is the same node as `input.device`; leave it \"\" when one device gives touches and keys"));
        }
    }
    for (axis, min, max) in [("x", i.x_min, i.x_max), ("y", i.y_min, i.y_max)] {
        if min > max {
            return Err(invalid(
                &format!("input.{axis}_max"),
                format!("{axis}_max ({max}) is below {axis}_min ({min}); give the raw value at the screen's {} edge as {axis}_max (swap_xy/invert_{axis} turn the panel), or 0 and 0 for the device's range", if axis == "x" { "right" } else { "bottom" }),
            ));
        }
    }
    if !matches!(i.rotate, 0 | 90 | 180 | 270) {
        return Err(Issue {
            key: "input.rotate".into(),
            kind: IssueKind::OutOfRange { value: i.rotate.to_string(), expected: "0, 90, 180 or 270 (clockwise degrees)".into() },
        });
    }
    Ok(())
}

pub(crate) fn validate(c: &Config) -> Result<(), Issue> {
    if c.kiosk.id.trim().is_empty() || c.kiosk.id.len() > 64 {
        return Err(Issue::invalid("kiosk.id", "expected 1 to 64 characters"));
    }
    range("kiosk.walk_away_timeout_s", c.kiosk.walk_away_timeout_s, 10, 600)?;
    range("kiosk.device_step_timeout_s", c.kiosk.device_step_timeout_s, 10, 600)?;
    range("kiosk.goodbye_s", c.kiosk.goodbye_s, 3, 120)?;
    range("display.width", c.display.width, 320, 4096)?;
    range("display.height", c.display.height, 240, 4096)?;
    range("display.width_mm", c.display.width_mm, 50.0, 2000.0)?;
    range("camera.width", c.camera.width, 160, 4096)?;
    range("camera.height", c.camera.height, 120, 4096)?;
    range("camera.index", c.camera.index, 0, 63)?;
    range("camera.burst_frames", c.camera.burst_frames, 1, 30)?;
    camera(&c.camera)?;
    input(&c.input)?;
    if c.display.driver == crate::DisplayDriver::Framebuffer {
        if let Some(tty) = c.display.console_tty() {
            device_path("display.console", tty, "the console's tty such as /dev/tty0, or \"\" to leave the console alone")?;
        }
    }
    range("card_reader.baud", c.card_reader.baud, 1200, 921_600)?;
    if c.card_reader.csca_dir.as_os_str().is_empty() {
        return Err(Issue::invalid("card_reader.csca_dir", "expected the folder of trusted CSCA certificates"));
    }
    let sp = &c.speaker;
    for (key, voice) in [("speaker.voice_ru", &sp.voice_ru), ("speaker.voice_en", &sp.voice_en)] {
        let valid = !voice.is_empty()
            && voice.len() <= 64
            && voice.chars().all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '+' | '/'));
        if !valid {
            return Err(Issue::invalid(key, "expected an espeak-ng voice name such as \"ru\" or \"en-us\" (`espeak-ng --voices`)"));
        }
    }
    range("speaker.rate_wpm", sp.rate_wpm, 80, 450)?;
    range("speaker.volume", sp.volume, 0, 200)?;
    let pr = &c.printer;
    range("printer.baud", pr.baud, 1200, 921_600)?;
    range("printer.columns", pr.columns, 16, 64)?;
    if pr.driver == crate::PrinterDriver::Escpos && pr.device.trim().is_empty() {
        return Err(Issue::invalid("printer.device", "expected the printer's serial port or device file, e.g. /dev/usb/lp0"));
    }
    range("models.intra_threads", c.models.intra_threads, 1, 16)?;
    range("face.detection_score_threshold", c.face.detection_score_threshold, 0.05, 0.99)?;
    range("face.nms_iou_threshold", c.face.nms_iou_threshold, 0.05, 0.95)?;
    range("face.match_threshold", c.face.match_threshold, 0.2, 0.95)?;
    range("face.duplicate_threshold", c.face.duplicate_threshold, 0.2, 0.95)?;
    range("face.gallery_size", c.face.gallery_size, 1, 10_000_000)?;
    range("face.liveness_threshold", c.face.liveness_threshold, 0.3, 0.99)?;
    range("face.max_attempts", c.face.max_attempts, 1, 10)?;
    let ch = &c.face.challenge;
    range("face.challenge.turn_deg", ch.turn_deg, 10.0, 45.0)?;
    range("face.challenge.frontal_deg", ch.frontal_deg, 3.0, ch.turn_deg - 3.0)?;
    range("face.challenge.time_limit_s", ch.time_limit_s, 2.0, 30.0)?;
    let q = &c.face.quality;
    range("face.quality.min_inter_eye_px", q.min_inter_eye_px, 10.0, 500.0)?;
    range("face.quality.max_face_width_ratio", q.max_face_width_ratio, 0.2, 1.0)?;
    range("face.quality.max_yaw_deg", q.max_yaw_deg, 5.0, 60.0)?;
    range("face.quality.max_pitch_deg", q.max_pitch_deg, 5.0, 60.0)?;
    range("face.quality.max_roll_deg", q.max_roll_deg, 5.0, 60.0)?;
    range("face.quality.min_sharpness", q.min_sharpness, 0.0, 10_000.0)?;
    range("face.quality.min_brightness", q.min_brightness, 0.0, 254.0)?;
    range("face.quality.max_brightness", q.max_brightness, q.min_brightness, 255.0)?;
    range("face.quality.min_uniformity", q.min_uniformity, 0.0, 1.0)?;
    let a = &c.account;
    range(
        "account.per_transaction_limit_rub",
        a.per_transaction_limit_rub,
        1,
        HARD_PER_TRANSACTION_LIMIT_RUB,
    )?;
    at_least(
        "account.daily_limit_rub",
        a.daily_limit_rub,
        a.per_transaction_limit_rub,
        "account.per_transaction_limit_rub",
    )?;
    at_least("account.monthly_limit_rub", a.monthly_limit_rub, a.daily_limit_rub, "account.daily_limit_rub")?;
    range("account.balance_limit_rub", a.balance_limit_rub, 1, 10_000_000)?;
    range("account.activation_ttl_minutes", a.activation_ttl_minutes, 1, 7 * 24 * 60)?;
    if let Some(unknown) = a.allowed_operations.iter().find(|op| !OPERATIONS.contains(&op.as_str())) {
        return Err(Issue::invalid("account.allowed_operations", format!(
                "unknown operation `{unknown}`; expected some of: {}",
                OPERATIONS.join(", ")
            )));
    }
    range("store.data_key_lifetime_days", c.store.data_key_lifetime_days, 1, MAX_DATA_KEY_LIFETIME_DAYS)?;
    range("store.retention_days", c.store.retention_days, 1, 3650)?;
    range("account.min_age", c.account.min_age, 14, 99)?;
    let s = &c.sync;
    if !s.core_url.starts_with("https://") || s.core_url.len() <= "https://".len() {
        return Err(Issue::invalid("sync.core_url", "expected an https:// URL; the core is never reached in clear"));
    }
    range("sync.connect_timeout_s", s.connect_timeout_s, 1, 120)?;
    range("sync.request_timeout_s", s.request_timeout_s, 1, 600)?;
    range("sync.backoff_initial_ms", s.backoff_initial_ms, 1, 60_000)?;
    range("sync.backoff_max_s", s.backoff_max_s, 1, 86_400)?;
    range("sync.poll_interval_s", s.poll_interval_s, 1, 3600)?;
    let listen_loopback = c.health.listen.parse::<std::net::SocketAddr>().map(|a| a.ip().is_loopback());
    if listen_loopback != Ok(true) {
        return Err(Issue::invalid("health.listen", "expected a loopback address and port such as 127.0.0.1:9187; the endpoint is never exposed beyond the kiosk"));
    }
    range("health.stop_grace_s", c.health.stop_grace_s, 1, 300)?;
    let d = &c.diag;
    range("diag.camera_fps", d.camera_fps, 1, 120)?;
    range("diag.retain_bin_warn", d.retain_bin_warn, 1, 10_000)?;
    range("diag.disk_free_warn_mb", d.disk_free_warn_mb, 1, 1_000_000)?;
    range("diag.disk_free_fail_mb", d.disk_free_fail_mb, 1, d.disk_free_warn_mb)?;
    range("diag.sync_backlog_warn", d.sync_backlog_warn, 1, 1_000_000)?;
    range("diag.sync_lag_warn_s", d.sync_lag_warn_s, 60, 30 * 86_400)?;
    range("diag.sync_lag_fail_s", d.sync_lag_fail_s, d.sync_lag_warn_s, 90 * 86_400)?;
    range("diag.cert_expiry_warn_days", d.cert_expiry_warn_days, 1, 365)?;
    if consent::consent_text(&c.consent.version, consent::ConsentLanguage::Ru).is_none() {
        let known: Vec<&str> = consent::known_versions().collect();
        return Err(Issue::invalid("consent.version", format!(
                "no consent text of that version; this build has: {}",
                known.join(", ")
            )));
    }
    if let Err(error) = crate::SocialRules::from_config(&c.social_payments) {
        return Err(Issue::invalid("social_payments.rules_version", error.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod speaker_printer_tests {
    use std::path::Path;

    use crate::{load_str, ConfigError, PrinterDriver, SpeakerDriver};

    fn site(text: &str) -> Result<crate::Config, ConfigError> {
        load_str(Some((Path::new("site.toml"), text)))
    }

    #[test]
    fn defaults_are_the_simulators_with_speech_to_the_sound_card() {
        let c = site("").unwrap();
        assert_eq!(c.speaker.driver, SpeakerDriver::Simulator);
        assert_eq!(c.speaker.wav_output(), None);
        assert_eq!(c.printer.driver, PrinterDriver::Simulator);
        assert_eq!(c.printer.columns, 48);
    }

    #[test]
    fn site_values_are_read_and_checked() {
        let c = site("[speaker]\ndriver = \"espeak-ng\"\nwav_dir = \"out/speech\"\n[printer]\ndriver = \"none\"\n").unwrap();
        assert_eq!(c.speaker.driver, SpeakerDriver::EspeakNg);
        assert_eq!(c.speaker.wav_output(), Some(Path::new("out/speech")));
        assert_eq!(c.printer.driver, PrinterDriver::None);
        for (text, key) in [
            ("[speaker]\nrate_wpm = 1000\n", "speaker.rate_wpm"),
            ("[speaker]\nvolume = 300\n", "speaker.volume"),
            ("[speaker]\nvoice_ru = \"ru; rm -rf /\"\n", "speaker.voice_ru"),
            ("[speaker]\ndriver = \"festival\"\n", "speaker.driver"),
            ("[printer]\ncolumns = 100\n", "printer.columns"),
            ("[printer]\nbaud = 0\n", "printer.baud"),
            ("[printer]\ndriver = \"escpos\"\ndevice = \"\"\n", "printer.device"),
            ("[printer]\ndriver = \"laser\"\n", "printer.driver"),
        ] {
            let err = site(text).unwrap_err();
            assert_eq!(err.key(), Some(key), "{text}: {err}");
            assert!(err.to_string().contains("site.toml"), "{err}");
        }
    }
}

#[cfg(test)]
mod device_settings_tests {
    use std::path::Path;

    use crate::{load_str, CameraPixelFormat, Config, ConfigError, ControlMode};

    fn site(text: &str) -> Result<Config, ConfigError> {
        load_str(Some((Path::new("site.toml"), text)))
    }

    #[test]
    fn defaults_keep_the_devices_as_they_are() {
        let c = site("").unwrap();
        assert_eq!(c.camera.device_path(), "/dev/video0");
        assert_eq!(c.camera.pixel_format, CameraPixelFormat::Device);
        assert_eq!((c.camera.fps, c.camera.exposure_mode, c.camera.focus_mode), (0, ControlMode::Device, ControlMode::Device));
        assert_eq!((c.input.keypad_device(), c.input.x_calibration(), c.input.y_calibration()), (None, None, None));
        assert!(c.input.grab && !c.input.swap_xy && !c.input.invert_x && !c.input.invert_y);
        assert_eq!(c.input.rotate, 0);
        // The console is left alone unless a site names it (graphics mode blanked bochs-drm).
        assert_eq!(c.display.console_tty(), None);
        let named = site("[display]\ndriver = \"framebuffer\"\nconsole = \"/dev/tty0\"\n").unwrap();
        assert_eq!(named.display.console_tty(), Some(Path::new("/dev/tty0")));
        // The index of older site files still names the device.
        assert_eq!(site("[camera]\nindex = 2\n").unwrap().camera.device_path(), "/dev/video2");
    }

    #[test]
    fn device_settings_are_read() {
        let c = site(concat!(
            "[camera]\ndevice = \"/dev/v4l/by-id/usb-046d_C920-video-index0\"\npixel_format = \"MJPG\"\nfps = 30\n",
            "exposure_mode = \"manual\"\nexposure = 156\nfocus_mode = \"auto\"\n",
            "[input]\nkeypad = \"/dev/input/event3\"\nx_min = 120\nx_max = 3980\nswap_xy = true\nrotate = 270\n",
            "[display]\nconsole = \"\"\n",
        ))
        .unwrap();
        assert_eq!(c.camera.device_path(), "/dev/v4l/by-id/usb-046d_C920-video-index0");
        assert_eq!((c.camera.pixel_format, c.camera.fps, c.camera.exposure), (CameraPixelFormat::Mjpg, 30, 156));
        assert_eq!((c.camera.exposure_mode, c.camera.focus_mode), (ControlMode::Manual, ControlMode::Auto));
        assert_eq!(c.input.keypad_device(), Some(Path::new("/dev/input/event3")));
        assert_eq!((c.input.x_calibration(), c.input.y_calibration()), (Some((120, 3980)), None));
        assert!(c.input.swap_xy);
        assert_eq!(c.input.rotate, 270);
        assert_eq!(c.display.console_tty(), None);
    }

    #[test]
    fn bad_device_settings_name_the_key_and_the_fix() {
        for (text, key, says) in [
            ("[camera]\ndevice = \"video0\"\n", "camera.device", "/dev/v4l/by-id"),
            ("[camera]\ndevice = \"/dev/../etc/passwd\"\n", "camera.device", "not a device path"),
            ("[camera]\npixel_format = \"H264\"\n", "camera.pixel_format", "MJPG"),
            ("[camera]\nfps = 1000\n", "camera.fps", "1 to 240"),
            ("[camera]\nexposure_mode = \"manual\"\n", "camera.exposure", "1 to"),
            ("[camera]\nfocus_mode = \"fixed\"\n", "camera.focus_mode", "manual"),
            ("[input]\nkeypad = \"/dev/input/event0\"\n", "input.keypad", "same node"),
            ("[input]\nkeypad = \"kbd\"\n", "input.keypad", "event node"),
            ("[input]\ny_min = 4000\ny_max = 100\n", "input.y_max", "invert_y"),
            ("[input]\nrotate = 45\n", "input.rotate", "270"),
            ("[display]\ndriver = \"framebuffer\"\nconsole = \"tty0\"\n", "display.console", "/dev/tty0"),
        ] {
            let err = site(text).unwrap_err();
            assert_eq!(err.key(), Some(key), "{text}: {err}");
            assert!(err.to_string().contains(says), "{text}: {err}");
        }
        // The values of a mode that does not use them are not checked.
        assert!(site("[camera]\nexposure = 0\nfocus = 0\n").is_ok());
    }
}

#[cfg(test)]
mod flow_tests {
    use std::path::Path;

    use crate::load_str;

    #[test]
    fn flow_timings_and_attempts_are_read_and_bounded() {
        let c = load_str(Some((Path::new("site.toml"), "[kiosk]\ngoodbye_s = 8\n[face]\nmax_attempts = 2\n"))).unwrap();
        assert_eq!((c.kiosk.goodbye_s, c.face.max_attempts, c.kiosk.device_step_timeout_s), (8, 2, 60));
        for (text, key) in [
            ("[face]\nmax_attempts = 0\n", "face.max_attempts"),
            ("[kiosk]\ngoodbye_s = 1\n", "kiosk.goodbye_s"),
            ("[kiosk]\ndevice_step_timeout_s = 5000\n", "kiosk.device_step_timeout_s"),
        ] {
            let err = load_str(Some((Path::new("site.toml"), text))).unwrap_err();
            assert_eq!(err.key(), Some(key), "{text}: {err}");
        }
    }
}
