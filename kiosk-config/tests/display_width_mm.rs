//! `[display] width_mm`: the panel's physical width, from which the screens size their buttons.

use std::path::Path;

#[test]
fn default_is_a_seven_inch_panel_and_sites_may_give_whole_millimetres() {
    let c = kiosk_config::load_str(None).unwrap();
    assert_eq!(c.display.width_mm, 154.0);
    let site = "[display]\nwidth = 1280\nheight = 800\nwidth_mm = 217\n";
    let c = kiosk_config::load_str(Some((Path::new("site.toml"), site))).unwrap();
    assert_eq!(c.display.width_mm, 217.0);
}

#[test]
fn an_implausible_width_is_refused_with_its_key() {
    for bad in ["0", "10.5", "5000"] {
        let text = format!("[display]\nwidth_mm = {bad}\n");
        let err = kiosk_config::load_str(Some((Path::new("site.toml"), &text))).unwrap_err().to_string();
        assert!(err.contains("site.toml:2") && err.contains("display.width_mm"), "{err}");
    }
}
