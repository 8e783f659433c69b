//! Builds the kiosk from its configuration, in one place: the settings each layer takes
//! (`settings`: face pipeline, quality gates, challenge, limits, flow timings, the social
//! rules, the screens' context), what of it is not for a street kiosk (`production`: each
//! simulated device, the test CSCA) and every device (`devices`: one `open_*` per device, with
//! the [`Simulation`] hook that diag uses to make a simulated device faulty).
//!
//! The simulated devices are built only with the feature `demo`; in a production build the
//! same configuration keys still parse, and opening one is [`OpenError::SimulatorNotBuilt`].
//!
//! `kiosk run`, `kiosk demo`, `kiosk card read`, `kiosk face …` and every diag check come
//! here, so a configuration means the same kiosk to all of them.
//!
//! **Architecture invariant:** the only code that turns configuration into devices and domain
//! settings; it uses `hal`, `kiosk-config` and the domain layers, never `app` or `diag`
//! (which both use it).

mod devices;
mod error;
mod production;
mod settings;
mod simulation;

pub use devices::{
    open_camera, open_card_reader, open_devices, open_display, open_input, open_input_sized, open_printer,
    open_reader_at, open_speaker, AnyDisplay, Devices, OpenedReader,
};
#[cfg(feature = "demo")]
pub use devices::{open_printer_with_log, open_simulated_reader, open_speaker_with_log, scripted_input, PrinterWithLog};
pub use error::{OpenError, SettingsError};
pub use production::{check_production, is_test_csca, not_for_production, NotForProduction, NotProductionError, TEST_CSCA_SHA256};
pub use settings::{
    challenge_rules, face_pipeline, flow_settings, limits_of, pipeline_settings, quality_thresholds, social_rules,
    ui_context,
};
pub use simulation::{SimulatedFault, Simulation};
