//! Screen snapshots: every screen in every mode, compared pixel for pixel with the PNGs in
//! tests/snapshots/ui. On a difference the new picture is written next to the old one as
//! `*.png.new`; `UPDATE_SNAPSHOTS=1` accepts the new pictures. Also: finger-sized buttons on
//! real panels, consent pages, the camera preview.

use std::path::{Path, PathBuf};

use embedded_graphics::{pixelcolor::Rgb888, prelude::*, primitives::Rectangle};
use kiosk::ui::{
    face_preview_area, render, render_with, ButtonId, Choice, Guidance, Language, Layout, Panel, Preview,
    ReceiptStatus, Refusal, Screen, SocialStep, UiContext, UiError, UiOptions, MIN_BUTTON_MM,
};
use kiosk::ui::{KeyedField, MrzField, MrzNotice};
use kiosk_config::ConsentLanguage;
use kiosk_hal::display::{DisplayError, MemoryDisplay};
use kiosk_hal::Display;

const TOKEN: &str = "KIOSK-ACT-7F3A9C21-5D2E-4B8F-A1C0-93E4D7B2F6A8";

/// The two panels the kiosk ships with: 7" 800x480 and 10.1" 1280x800.
const SMALL: (Size, f32) = (Size::new(800, 480), 154.0);
const BIG: (Size, f32) = (Size::new(1280, 800), 217.0);

fn consent_text(language: Language) -> String {
    let l = match language {
        Language::Ru => ConsentLanguage::Ru,
        Language::En => ConsentLanguage::En,
    };
    kiosk_config::consent_text("2026-11-v1", l).unwrap().to_owned()
}

/// A synthetic camera picture (never a real face): a gradient wall, a shirt, a head-shaped
/// oval with two eyes.
fn synthetic_preview() -> Preview {
    let (w, h) = (640u32, 480u32);
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32, y as f32);
            let head = ((fx - 320.0) / 105.0).powi(2) + ((fy - 220.0) / 140.0).powi(2) <= 1.0;
            let eye = |cx: f32| ((fx - cx) / 14.0).powi(2) + ((fy - 195.0) / 9.0).powi(2) <= 1.0;
            let shirt = fy > 370.0 && (fx - 320.0).abs() < 60.0 + (fy - 370.0) * 2.0;
            let px = if eye(282.0) || eye(358.0) {
                [40, 30, 30]
            } else if head {
                [222, 178, 150]
            } else if shirt {
                [40, 90, 160]
            } else {
                [(90 + x / 8) as u8, (110 + y / 8) as u8, 120]
            };
            rgb.extend_from_slice(&px);
        }
    }
    Preview { width: w, height: h, rgb }
}

fn issued(can_print: bool, receipt: Option<ReceiptStatus>) -> Screen {
    kiosk::testing::issued_screen(TOKEN, can_print, receipt)
}

fn social(language: Language, step: SocialStep, with_kinds: bool) -> Screen {
    let labels: [(&str, &str); 6] = [
        ("Есть дети до 17 лет или жду ребёнка", "Children under 17, or expecting a child"),
        ("Многодетная семья", "Large family (3 or more children)"),
        ("Есть инвалидность", "I have a disability"),
        ("Ухаживаю за ребёнком-инвалидом", "I care for a disabled child"),
        ("Уже получаю пенсию", "I already receive a pension"),
        ("Потеря кормильца", "Loss of the family breadwinner"),
    ];
    let pick = |(ru, en): (&str, &str)| if language == Language::Ru { ru.to_owned() } else { en.to_owned() };
    let categories = labels
        .iter()
        .enumerate()
        .map(|(i, l)| Choice { label: pick(*l), selected: with_kinds && (i == 0 || i == 4) })
        .collect();
    let kinds = if with_kinds {
        vec![
            pick(("Страховая пенсия по старости", "Old-age insurance pension")),
            pick(("Единое пособие на детей", "Unified child benefit")),
            pick(("Пособие по уходу за ребёнком до 1,5 лет", "Childcare allowance up to 1.5 years")),
        ]
    } else {
        Vec::new()
    };
    Screen::SocialPayments { step, categories, kinds }
}

fn screens(size: Size, language: Language) -> Vec<(&'static str, Screen)> {
    let preview = face_preview_area(size, &UiOptions::default());
    let c = preview.center();
    let consent = |page, can_accept| Screen::Consent {
        version: "2026-11-v1".into(),
        text: consent_text(language),
        page,
        can_accept,
    };
    vec![
        ("welcome", Screen::Welcome),
        ("consent", consent(0, false)),
        // Past the end: clamped to the last page.
        ("consent_last", consent(u16::MAX, true)),
        ("place_document", Screen::PlaceDocument),
        ("reading_document", Screen::ReadingDocument),
        (
            "face_capture",
            Screen::FaceCapture {
                guidance: Some(Guidance::ComeCloser),
                face_box: Some(Rectangle::new(c - Point::new(60, 80), Size::new(120, 150)).into()),
                preview: Some(synthetic_preview()),
            },
        ),
        (
            "face_turn",
            Screen::FaceCapture { guidance: Some(Guidance::TurnLeft), face_box: None, preview: None },
        ),
        ("verifying", Screen::Verifying),
        ("account_issued", issued(true, None)),
        ("account_issued_no_printer", issued(false, None)),
        ("account_issued_print_failed", issued(false, Some(ReceiptStatus::Failed))),
        ("account_issued_printed", issued(true, Some(ReceiptStatus::Printed))),
        ("social_categories", social(language, SocialStep::Categories, true)),
        ("social_answer", social(language, SocialStep::Answer, true)),
        ("social_answer_no_kinds", social(language, SocialStep::Answer, false)),
        ("goodbye", Screen::Goodbye { receipt_printed: true, social_payments_requested: true }),
        ("goodbye_plain", Screen::Goodbye { receipt_printed: false, social_payments_requested: false }),
        ("refused", Screen::Refused { reason: Refusal::FaceMismatch }),
        ("refused_document_expired", Screen::Refused { reason: Refusal::DocumentExpired }),
        ("refused_underage", Screen::Refused { reason: Refusal::Underage { min_age: 18 } }),
        ("out_of_service", Screen::OutOfService),
        ("mrz_entry", keyed(MrzField::BirthDate, None, Some(MrzNotice::CheckField), ["L898902C36", "7413", ""])),
        ("mrz_entry_letters", keyed(MrzField::DocumentNumber, Some(0), None, ["L898", "", ""])),
        (
            "mrz_entry_chip_refused",
            keyed(MrzField::DocumentNumber, None, Some(MrzNotice::ChipRefused { attempts_left: 2 }), ["L898902C36", "7408122", "1204159"]),
        ),
    ]
}

/// The keyed-in MRZ entry with `typed` in its three fields, each judged as the flow would.
fn keyed(active: MrzField, letters: Option<u8>, notice: Option<MrzNotice>, typed: [&str; 3]) -> Screen {
    let mut entry = kiosk::flow::MrzEntry::new();
    let fields = MrzField::ALL.map(|field| {
        for c in typed[field.index()].bytes() {
            entry.apply(field, kiosk::flow::MrzEdit::Type(c));
        }
        KeyedField { text: entry.text(field), state: entry.state(field) }
    });
    Screen::MrzEntry { fields, active, letters, notice }
}

fn variants() -> [(&'static str, UiOptions); 5] {
    let ru = UiOptions::default();
    [
        ("ru", ru),
        ("en", UiOptions { language: Language::En, ..ru }),
        ("ru-large", UiOptions { large_text: true, ..ru }),
        ("ru-contrast", UiOptions { high_contrast: true, ..ru }),
        (
            "en-large-contrast",
            UiOptions { language: Language::En, large_text: true, high_contrast: true, spoken: true },
        ),
    ]
}

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/ui")
}

fn decode_png(path: &Path) -> Option<(u32, u32, Vec<u8>)> {
    let file = std::fs::File::open(path).ok()?;
    let mut reader = png::Decoder::new(std::io::BufReader::new(file)).read_info().ok()?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).ok()?;
    if info.color_type != png::ColorType::Rgb || info.bit_depth != png::BitDepth::Eight {
        return None;
    }
    buf.truncate(info.buffer_size());
    Some((info.width, info.height, buf))
}

fn draw(panel: (Size, f32), screen: &Screen, options: &UiOptions) -> (MemoryDisplay, Layout) {
    let (size, mm) = panel;
    let mut display = MemoryDisplay::new(size.width, size.height);
    let ctx = UiContext::standard(Panel::new(mm)).unwrap();
    let layout = render_with(&mut display, screen, options, &ctx).unwrap();
    (display, layout)
}

/// Renders and compares; returns a description of the mismatch, if any.
fn check(name: &str, panel: (Size, f32), screen: &Screen, options: &UiOptions) -> Option<String> {
    let (display, _) = draw(panel, screen, options);
    let path = snapshot_dir().join(format!("{name}.png"));
    let png = display.to_png().unwrap();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(snapshot_dir()).unwrap();
        std::fs::write(&path, png).unwrap();
        return None;
    }
    let size = panel.0;
    let same = decode_png(&path)
        .is_some_and(|(w, h, px)| (w, h) == (size.width, size.height) && px == display.rgb_bytes());
    if same {
        return None;
    }
    let new = path.with_extension("png.new");
    std::fs::write(&new, png).unwrap();
    Some(format!("{name}: differs from {} (new picture: {})", path.display(), new.display()))
}

#[test]
fn screens_match_snapshots() {
    let mut failures = Vec::new();
    for (variant, options) in variants() {
        for (id, screen) in screens(SMALL.0, options.language) {
            failures.extend(check(&format!("{id}-{variant}-800x480"), SMALL, &screen, &options));
        }
    }
    // The big panel has room to spare; its layouts differ in proportion, not in kind.
    let wanted = [
        "welcome",
        "consent",
        "face_capture",
        "account_issued",
        "social_categories",
        "social_answer",
        "social_answer_no_kinds",
        "goodbye",
        "refused",
        "mrz_entry",
        "mrz_entry_letters",
    ];
    for (variant, options) in [("ru", UiOptions::default()), ("en-large-contrast", variants()[4].1)] {
        for (id, screen) in screens(BIG.0, options.language).into_iter().filter(|(id, _)| wanted.contains(id))
        {
            failures.extend(check(&format!("{id}-{variant}-1280x800"), BIG, &screen, &options));
        }
    }
    assert!(failures.is_empty(), "{} snapshot(s) changed; look at the .png.new files and rerun with UPDATE_SNAPSHOTS=1 if they are right:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn qr_code_on_the_account_screen_decodes_to_the_token() {
    for panel in [SMALL, BIG] {
        for (_, options) in variants() {
            for screen in [issued(true, None), issued(false, Some(ReceiptStatus::Failed))] {
                let (display, _) = draw(panel, &screen, &options);
                let size = panel.0;
                let mut img = rqrr::PreparedImage::prepare_from_greyscale(
                    size.width as usize,
                    size.height as usize,
                    |x, y| {
                        let p = display.pixel(x as u32, y as u32).unwrap();
                        ((u32::from(p.r()) + u32::from(p.g()) + u32::from(p.b())) / 3) as u8
                    },
                );
                let grids = img.detect_grids();
                assert_eq!(grids.len(), 1, "one QR code on screen ({size:?}, {options:?})");
                let (_, content) = grids[0].decode().unwrap();
                assert_eq!(content, TOKEN);
            }
        }
    }
}

/// A display that counts everything drawn outside the screen.
struct Fenced {
    inner: MemoryDisplay,
    outside: usize,
}

impl DrawTarget for Fenced {
    type Color = Rgb888;
    type Error = DisplayError;

    fn draw_iter<I: IntoIterator<Item = Pixel<Rgb888>>>(&mut self, pixels: I) -> Result<(), DisplayError> {
        let bounds = self.inner.bounding_box();
        let mut inside = Vec::new();
        for p in pixels {
            if bounds.contains(p.0) {
                inside.push(p);
            } else {
                self.outside += 1;
            }
        }
        self.inner.draw_iter(inside)
    }
}

impl OriginDimensions for Fenced {
    fn size(&self) -> Size {
        self.inner.size()
    }
}

impl Display for Fenced {
    fn present(&mut self, screen_id: &str) -> Result<(), DisplayError> {
        self.inner.present(screen_id)
    }
}

#[test]
fn every_button_is_at_least_15_mm_and_nothing_is_drawn_off_screen() {
    for (size, mm) in [SMALL, BIG] {
        let px_per_mm = size.width as f32 / mm;
        let screen_box = Rectangle::new(Point::zero(), size);
        let ctx = UiContext::standard(Panel::new(mm)).unwrap();
        for (variant, options) in variants() {
            for (id, screen) in screens(size, options.language) {
                let mut display = Fenced { inner: MemoryDisplay::new(size.width, size.height), outside: 0 };
                let layout = render_with(&mut display, &screen, &options, &ctx).unwrap();
                assert_eq!(display.outside, 0, "{id} {variant} {size:?} draws off screen");
                for (i, (button, r)) in layout.buttons.iter().enumerate() {
                    let (w_mm, h_mm) = (r.size.width as f32 / px_per_mm, r.size.height as f32 / px_per_mm);
                    assert!(
                        w_mm >= MIN_BUTTON_MM && h_mm >= MIN_BUTTON_MM,
                        "{button:?} on {id} {variant} {size:?}@{mm}mm is {w_mm:.1}x{h_mm:.1} mm"
                    );
                    assert_eq!(
                        screen_box.intersection(r),
                        *r,
                        "{button:?} on {id} {variant} leaves the screen"
                    );
                    for (other, o) in &layout.buttons[i + 1..] {
                        assert!(
                            r.intersection(o).size == Size::zero(),
                            "{button:?} overlaps {other:?} on {id} {variant}"
                        );
                        assert_ne!(button, other, "{button:?} twice on {id}");
                    }
                    assert_eq!(layout.hit(r.center().x, r.center().y), Some(*button));
                }
            }
        }
    }
}

#[test]
fn the_default_render_assumes_a_seven_inch_panel() {
    let mut d = MemoryDisplay::new(800, 480);
    let layout = render(&mut d, &Screen::Welcome, &UiOptions::default()).unwrap();
    for (_, r) in &layout.buttons {
        assert!(r.size.height >= 78 && r.size.width >= 78, "{r:?}");
    }
}

fn ids(screen: &Screen, options: &UiOptions) -> Vec<ButtonId> {
    draw(SMALL, screen, options).1.buttons.into_iter().map(|(id, _)| id).collect()
}

#[test]
fn screens_offer_the_expected_buttons() {
    let o = UiOptions::default();
    let all = screens(SMALL.0, Language::Ru);
    let get = |name: &str| all.iter().find(|(id, _)| *id == name).unwrap().1.clone();
    use ButtonId::*;
    assert_eq!(ids(&get("welcome"), &o), [LanguageRu, LanguageEn, Speech, LargeText, HighContrast, Start]);
    // First page, not read to the end: only "next page" and "decline"; "accept" is greyed.
    assert_eq!(ids(&get("consent"), &o), [ScrollDown, Decline]);
    assert_eq!(ids(&get("consent_last"), &o), [ScrollUp, Decline, Accept]);
    assert_eq!(ids(&get("account_issued"), &o), [PrintReceipt, Next]);
    assert_eq!(ids(&get("account_issued_no_printer"), &o), [Next]);
    assert_eq!(ids(&get("account_issued_print_failed"), &o), [Next]);
    assert_eq!(ids(&get("account_issued_printed"), &o), [Next]);
    assert_eq!(
        ids(&get("social_categories"), &o),
        [Category(0), Category(1), Category(2), Category(3), Category(4), Category(5), NoThanks, Next]
    );
    assert_eq!(ids(&get("social_answer"), &o), [Back, NoThanks, CreditPayments]);
    assert_eq!(ids(&get("social_answer_no_kinds"), &o), [Back, NoThanks, CreditPayments]);
    assert_eq!(ids(&get("goodbye"), &o), [Finish]);
    assert_eq!(ids(&get("refused"), &o), [Finish]);
    assert_eq!(ids(&get("place_document"), &o), [Cancel]);
    assert_eq!(ids(&get("face_capture"), &o), [Cancel]);
    assert!(ids(&get("verifying"), &o).is_empty());
    assert!(ids(&get("reading_document"), &o).is_empty());
    assert!(ids(&get("out_of_service"), &o).is_empty());
}

#[test]
fn consent_is_paginated_to_the_text_box_and_the_page_is_clamped() {
    for (variant, options) in variants() {
        let consent = |page, can_accept| Screen::Consent {
            version: "2026-11-v1".into(),
            text: consent_text(options.language),
            page,
            can_accept,
        };
        let (first, layout) = draw(SMALL, &consent(0, false), &options);
        let pages = layout.pages;
        assert!(pages >= 2, "{variant}: the consent fits one page? {pages}");
        let (last, last_layout) = draw(SMALL, &consent(pages - 1, false), &options);
        let (beyond, beyond_layout) = draw(SMALL, &consent(pages + 3, false), &options);
        assert_eq!(last.rgb_bytes(), beyond.rgb_bytes(), "{variant}: a page past the end shows the last");
        assert_eq!(last_layout, beyond_layout);
        assert_ne!(first.rgb_bytes(), last.rgb_bytes());
        assert!(last_layout.buttons.iter().any(|(b, _)| *b == ButtonId::ScrollUp));
        assert!(!last_layout.buttons.iter().any(|(b, _)| *b == ButtonId::ScrollDown));
        // Accepting becoming possible does not move the text between pages.
        assert_eq!(draw(SMALL, &consent(0, true), &options).1.pages, pages);
    }
    let normal = draw(SMALL, &screens(SMALL.0, Language::Ru)[1].1, &UiOptions::default()).1.pages;
    let large = draw(
        SMALL,
        &screens(SMALL.0, Language::Ru)[1].1,
        &UiOptions { large_text: true, ..UiOptions::default() },
    )
    .1
    .pages;
    let big = draw(BIG, &screens(BIG.0, Language::Ru)[1].1, &UiOptions::default()).1.pages;
    assert!(large > normal, "large text needs more pages ({large} vs {normal})");
    assert!(big <= normal);
    let empty = Screen::Consent { version: "v".into(), text: String::new(), page: 0, can_accept: true };
    assert_eq!(draw(SMALL, &empty, &UiOptions::default()).1.pages, 1);
    for (id, screen) in screens(SMALL.0, Language::Ru) {
        if !id.starts_with("consent") {
            assert_eq!(draw(SMALL, &screen, &UiOptions::default()).1.pages, 0, "{id}");
        }
    }
}

#[test]
fn the_camera_picture_fills_the_preview_keeping_its_shape() {
    let options = UiOptions::default();
    let area = face_preview_area(SMALL.0, &options);
    let with = Screen::FaceCapture { guidance: None, face_box: None, preview: Some(synthetic_preview()) };
    let (d, _) = draw(SMALL, &with, &options);
    // The shirt's blue under the oval, centred horizontally near the bottom of the picture.
    let c = area.center();
    // Letter-boxed: the 4:3 picture as wide as the area, centred.
    let k = (area.size.width as f32 / 640.0).min(area.size.height as f32 / 480.0);
    let bottom = c.y + (240.0 * k) as i32 - 6;
    let p = d.pixel(c.x as u32, bottom as u32).unwrap();
    assert_eq!((p.r(), p.g(), p.b()), (40, 90, 160), "shirt at the bottom centre");
    // Skin in the middle of the head.
    let head = d.pixel(c.x as u32, (c.y + (20.0 * k) as i32) as u32).unwrap();
    assert_eq!((head.r(), head.g(), head.b()), (222, 178, 150));
    // A picture whose bytes do not match its size is skipped, not a panic.
    let broken = Preview { width: 640, height: 480, rgb: vec![0; 10] };
    let screen = Screen::FaceCapture { guidance: None, face_box: None, preview: Some(broken) };
    let (d, _) = draw(SMALL, &screen, &options);
    let p = d.pixel(c.x as u32, bottom as u32).unwrap();
    assert_ne!((p.r(), p.g(), p.b()), (40, 90, 160));
}

#[test]
fn too_many_categories_is_a_clear_error() {
    let categories = (0..40).map(|i| Choice { label: format!("Категория {i}"), selected: false }).collect();
    let screen = Screen::SocialPayments { step: SocialStep::Categories, categories, kinds: vec![] };
    let mut d = MemoryDisplay::new(800, 480);
    let ctx = UiContext::standard(Panel::new(154.0)).unwrap();
    let err = render_with(&mut d, &screen, &UiOptions::default(), &ctx).unwrap_err();
    assert!(matches!(err, UiError::TooManyChoices { count: 40, .. }), "{err}");
    assert!(err.to_string().contains("fewer categories"));
}

#[test]
fn tiny_display_is_a_clear_error() {
    let mut d = MemoryDisplay::new(100, 50);
    let err = render(&mut d, &Screen::Welcome, &UiOptions::default()).unwrap_err().to_string();
    assert!(err.contains("100x50"), "{err}");
}

#[test]
fn accept_is_greyed_until_the_end_and_toggles_show_their_state() {
    use kiosk::ui::Theme;
    let o = UiOptions::default();
    let consent = |can_accept| Screen::Consent {
        version: "2026-11-v1".into(),
        text: consent_text(Language::Ru),
        page: 0,
        can_accept,
    };
    let (_, open) = draw(SMALL, &consent(true), &o);
    let accept = open.buttons.iter().find(|(b, _)| *b == ButtonId::Accept).unwrap().1;
    let inside = accept.top_left + Point::new(12, accept.size.height as i32 / 2);
    let (greyed, layout) = draw(SMALL, &consent(false), &o);
    assert!(layout.hit(inside.x, inside.y).is_none(), "a touch on the greyed accept does nothing");
    let p = greyed.pixel(inside.x as u32, inside.y as u32).unwrap();
    assert_eq!(p, Theme::normal().disabled_bg);
    let (ready, _) = draw(SMALL, &consent(true), &o);
    assert_eq!(ready.pixel(inside.x as u32, inside.y as u32).unwrap(), Theme::normal().primary_bg);

    // The read-aloud toggle: its check box fills when on.
    let (off, layout) = draw(SMALL, &Screen::Welcome, &o);
    let (on, _) = draw(SMALL, &Screen::Welcome, &UiOptions { spoken: true, ..o });
    let speech = layout.buttons.iter().find(|(b, _)| *b == ButtonId::Speech).unwrap().1;
    let differs = (speech.top_left.x..speech.top_left.x + speech.size.width as i32)
        .flat_map(|x| (speech.top_left.y..speech.top_left.y + speech.size.height as i32).map(move |y| (x, y)))
        .filter(|&(x, y)| off.pixel(x as u32, y as u32) != on.pixel(x as u32, y as u32))
        .count();
    assert!(differs > 100, "the check box shows the state ({differs} pixels differ)");
    let outside = off.rgb_bytes().len() - differs * 3;
    assert!(outside > 0);
}

#[test]
fn the_smallest_supported_display_still_draws_every_screen() {
    let size = Size::new(480, 320);
    // A 5" panel: about 108 mm wide.
    let ctx = UiContext::standard(Panel::new(108.0)).unwrap();
    let px_per_mm = 480.0 / 108.0;
    for (variant, options) in variants() {
        for (id, screen) in screens(size, options.language) {
            let mut display = Fenced { inner: MemoryDisplay::new(size.width, size.height), outside: 0 };
            let layout = render_with(&mut display, &screen, &options, &ctx)
                .unwrap_or_else(|e| panic!("{id} {variant} at 480x320: {e}"));
            assert_eq!(display.outside, 0, "{id} {variant} draws off screen");
            for (button, r) in &layout.buttons {
                assert!(
                    r.size.width as f32 / px_per_mm >= MIN_BUTTON_MM
                        && r.size.height as f32 / px_per_mm >= MIN_BUTTON_MM,
                    "{button:?} on {id} {variant}: {r:?}"
                );
            }
        }
    }
}
