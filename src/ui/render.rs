//! Draws whole screens. Drawing only: the caller presents, so it decides when the person
//! sees the result.

use embedded_graphics::{
    pixelcolor::Rgb888,
    prelude::*,
    primitives::{PrimitiveStyleBuilder, Rectangle},
};
use kiosk_config::messages::Messages;
use kiosk_hal::{Display, DisplayError};

use super::error::UiError;
use super::fonts::Fonts;
use super::icons;
use super::layout::{columns, rect, split_bottom, split_left, Layout, Metrics, Panel};
use super::qr::draw_qr;
use super::text::{self as tx, embedded_messages, Texts};
use super::textblock::{draw_line, line_height, measure, para, Align, Para, Role, Writer};
use super::theme::Theme;
use super::widgets::{button, button_sized, header, label_size, ButtonKind};
use super::{
    ButtonId, Choice, FieldState, KeyedField, MrzField, MrzNotice, Preview, ReceiptStatus, Refusal, Screen, SocialStep,
    UiOptions,
};

/// Smallest display the layouts are designed for.
const MIN_SIZE: Size = Size::new(480, 320);

/// What the screens are drawn with: fonts, texts and the physical panel.
#[derive(Debug, Clone, Copy)]
pub struct UiContext<'a> {
    pub fonts: &'a Fonts,
    pub messages: &'a Messages,
    pub panel: Panel,
}

impl UiContext<'static> {
    /// System fonts and the built-in messages, on `panel`.
    pub fn standard(panel: Panel) -> Result<Self, UiError> {
        Ok(Self { fonts: Fonts::system()?, messages: embedded_messages()?, panel })
    }
}

/// Draws `screen` on `display` (clearing it first) with the system fonts, the built-in
/// messages and a 7" panel ([`Panel::default`]); does not present.
pub fn render<D: Display>(display: &mut D, screen: &Screen, options: &UiOptions) -> Result<Layout, UiError> {
    render_with(display, screen, options, &UiContext::standard(Panel::default())?)
}

/// [`render`] with explicit fonts.
pub fn render_with_fonts<D: Display>(
    display: &mut D,
    screen: &Screen,
    options: &UiOptions,
    fonts: &Fonts,
) -> Result<Layout, UiError> {
    let ctx = UiContext { fonts, messages: embedded_messages()?, panel: Panel::default() };
    render_with(display, screen, options, &ctx)
}

/// [`render`] with explicit fonts, messages and panel.
pub fn render_with<D: Display>(
    display: &mut D,
    screen: &Screen,
    options: &UiOptions,
    ctx: &UiContext<'_>,
) -> Result<Layout, UiError> {
    let size = display.size();
    if size.width < MIN_SIZE.width || size.height < MIN_SIZE.height {
        return Err(UiError::DisplayTooSmall { width: size.width, height: size.height });
    }
    let metrics = Metrics::new(size, options, ctx.panel);
    let theme = Theme::new(options.high_contrast);
    display.clear(theme.background)?;
    let mut s = Painter {
        target: display,
        w: Writer { fonts: ctx.fonts, theme: &theme, metrics: &metrics },
        tx: Texts::new(ctx.messages, options.language),
        layout: Layout::default(),
    };
    s.screen(screen, options)?;
    Ok(s.layout)
}

/// The area where the camera picture and the face box belong on the FaceCapture screen
/// (the same on every panel: it does not depend on button sizes).
pub fn face_preview_area(size: Size, options: &UiOptions) -> Rectangle {
    let m = Metrics::new(size, options, Panel::default());
    let body = m.body();
    let h = body.size.height as i32;
    let w = (h * 4 / 3).min(m.width * 11 / 20);
    rect(body.top_left.x, body.top_left.y, w, h)
}

/// Where both steps of the social-payments offer are drawn: narrower margins than the other
/// screens, as four rows of 15 mm buttons (three of ticks, the answer) and a line of text must
/// fit under the header of a 7" panel, in large text too, with labels as large as can be.
fn social_area(m: &Metrics) -> Rectangle {
    let edge = m.px(10.0);
    let top = m.header_h + edge;
    rect(edge, top, m.width - 2 * edge, m.height - top - edge)
}

/// The step (0..4) a screen belongs to, for the header indicator.
fn step_of(screen: &Screen) -> Option<usize> {
    match screen {
        Screen::Consent { .. } => Some(0),
        Screen::PlaceDocument | Screen::ReadingDocument | Screen::MrzEntry { .. } => Some(1),
        Screen::FaceCapture { .. } | Screen::Verifying => Some(2),
        Screen::AccountIssued { .. } | Screen::SocialPayments { .. } => Some(3),
        Screen::Welcome | Screen::Goodbye { .. } | Screen::Refused { .. } | Screen::OutOfService => None,
    }
}

struct Painter<'a, D> {
    target: &'a mut D,
    w: Writer<'a>,
    tx: Texts<'a>,
    layout: Layout,
}

impl<'a, D: DrawTarget<Color = Rgb888, Error = DisplayError>> Painter<'a, D> {
    fn m(&self) -> &Metrics {
        self.w.metrics
    }

    fn t(&self, key: &'static str) -> &'a str {
        self.tx.get(key)
    }

    fn button(
        &mut self,
        id: ButtonId,
        area: Rectangle,
        label: &str,
        kind: ButtonKind,
    ) -> Result<(), DisplayError> {
        let r = button(self.target, &self.w, area, label, kind)?;
        self.layout.buttons.push((id, r));
        Ok(())
    }

    /// Buttons that read as one group (a row, a grid): all labels at the same size. `None`:
    /// shown greyed, not in the layout.
    fn group(
        &mut self,
        items: &[(Option<ButtonId>, Rectangle, &str, ButtonKind)],
    ) -> Result<(), DisplayError> {
        let size = items.iter().map(|(_, area, label, kind)| label_size(&self.w, *area, label, *kind)).min();
        let size = size.unwrap_or(self.m().fonts.button);
        for (id, area, label, kind) in items {
            let r = button_sized(self.target, &self.w, *area, label, *kind, size)?;
            if let Some(id) = id {
                self.layout.buttons.push((*id, r));
            }
        }
        Ok(())
    }

    /// A button shown greyed: not in the layout, so a touch on it does nothing.
    fn disabled(&mut self, area: Rectangle, label: &str) -> Result<(), DisplayError> {
        button(self.target, &self.w, area, label, ButtonKind::Disabled).map(|_| ())
    }

    fn block(&mut self, paras: &[Para], area: Rectangle, align: Align) -> Result<i32, DisplayError> {
        self.w.block(self.target, paras, area, align)
    }

    fn screen(&mut self, screen: &Screen, options: &UiOptions) -> Result<(), UiError> {
        let plain = match screen {
            Screen::Welcome | Screen::OutOfService => {
                format!("{} · {}", self.t("common.header"), self.tx.other().get("common.header"))
            }
            _ => self.t("common.header").to_owned(),
        };
        let steps = tx::STEPS.map(|key| self.tx.get(key));
        header(self.target, &self.w, &steps, step_of(screen), &plain)?;
        match screen {
            Screen::Welcome => self.welcome(options)?,
            Screen::Consent { version, text, page, can_accept } => {
                self.consent(version, text, *page, *can_accept)?
            }
            Screen::PlaceDocument => self.document(false)?,
            Screen::ReadingDocument => self.document(true)?,
            Screen::MrzEntry { fields, active, letters, notice } => self.keyed(fields, *active, *letters, *notice)?,
            Screen::FaceCapture { guidance, face_box, preview } => {
                self.face(tx::guidance(*guidance), face_box.map(Into::into), preview.as_ref(), options)?
            }
            Screen::Verifying => self.verifying()?,
            Screen::AccountIssued {
                account_reference,
                per_transaction_limit_rub,
                daily_limit_rub,
                monthly_limit_rub,
                activation_token,
                expires_at,
                can_print,
                receipt,
            } => {
                let limits = [
                    ("issued.per_transaction", *per_transaction_limit_rub),
                    ("issued.daily", *daily_limit_rub),
                    ("issued.monthly", *monthly_limit_rub),
                ];
                self.issued(account_reference, &limits, activation_token, expires_at, *can_print, *receipt)?
            }
            Screen::SocialPayments { step: SocialStep::Categories, categories, .. } => {
                self.social_categories(categories)?
            }
            Screen::SocialPayments { step: SocialStep::Answer, kinds, .. } => self.social_answer(kinds)?,
            Screen::Goodbye { receipt_printed, social_payments_requested } => {
                self.goodbye(*receipt_printed, *social_payments_requested)?
            }
            Screen::Refused { reason } => self.refused(*reason)?,
            Screen::OutOfService => self.out_of_service()?,
        }
        Ok(())
    }

    fn welcome(&mut self, o: &UiOptions) -> Result<(), DisplayError> {
        let m = *self.m();
        // Two rows of three: the choices, and "Start" at the bottom right, where the main
        // action is on every screen.
        let (content, second) = split_bottom(m.body(), m.button_h, m.gap);
        let (content, first) = split_bottom(content, m.button_h, m.gap);
        let paras = [
            para(self.t("welcome.title"), Role::Title),
            para(self.tx.other().get("welcome.title"), Role::Muted),
            para(self.t("welcome.body"), Role::Body),
        ];
        self.block(&paras, content, Align::Center)?;
        let a = columns(first, 3, m.gap);
        let b = columns(second, 3, m.gap);
        let lang_kind = |l| if o.language == l { ButtonKind::Primary } else { ButtonKind::Secondary };
        self.group(&[
            (Some(ButtonId::LanguageRu), a[0], self.t("welcome.language_ru"), lang_kind(super::Language::Ru)),
            (Some(ButtonId::LanguageEn), a[1], self.t("welcome.language_en"), lang_kind(super::Language::En)),
            (Some(ButtonId::Speech), a[2], self.t("welcome.speech"), ButtonKind::Toggle { on: o.spoken }),
            (
                Some(ButtonId::LargeText),
                b[0],
                self.t("welcome.large_text"),
                ButtonKind::Toggle { on: o.large_text },
            ),
            (
                Some(ButtonId::HighContrast),
                b[1],
                self.t("welcome.high_contrast"),
                ButtonKind::Toggle { on: o.high_contrast },
            ),
            (Some(ButtonId::Start), b[2], self.t("welcome.start"), ButtonKind::Primary),
        ])
    }

    fn consent(
        &mut self,
        version: &str,
        text: &str,
        page: u16,
        can_accept: bool,
    ) -> Result<(), DisplayError> {
        let m = *self.m();
        let t = *self.w.theme;
        let (content, buttons) = split_bottom(m.body(), m.button_h, m.gap);
        let (x, y, w) = (content.top_left.x, content.top_left.y, content.size.width as i32);
        let bottom = y + content.size.height as i32;

        // The page column (▲, "page 2 of 5", ▼) on the right from the top; the title and the
        // text on the left; below both, the version and, until the end was reached, the hint.
        // The hint line is always kept, so the pages do not change when accepting becomes possible.
        let hint_h = line_height(m.fonts.body);
        let text_bottom = bottom - hint_h - m.gap / 2;
        let col_w = m.min_button.max(m.px(112.0));
        let (left, col) = split_left(rect(x, y, w, text_bottom - y), w - col_w - m.gap, m.gap);
        // The title only where it leaves room for the text: the step "1. Consent" is in the
        // header and the text starts with its own heading, so large text on a small panel
        // gives the title's lines to the consent.
        let title_h = line_height(m.fonts.title);
        let top = if title_h * 8 <= m.body().size.height as i32 {
            let title = [para(self.t("consent.title"), Role::Title)];
            self.block(&title, rect(x, y, left.size.width as i32, title_h), Align::Left)?;
            y + title_h + m.gap / 2
        } else {
            y
        };
        let frame = rect(x, top, left.size.width as i32, text_bottom - top);
        frame
            .into_styled(
                PrimitiveStyleBuilder::new()
                    .fill_color(t.surface)
                    .stroke_color(t.surface_border)
                    .stroke_width(t.outline_width)
                    .build(),
            )
            .draw(self.target)?;
        let pad = m.px(12.0);
        let inner = rect(
            frame.top_left.x + pad,
            frame.top_left.y + pad / 2,
            frame.size.width as i32 - 2 * pad,
            frame.size.height as i32 - pad,
        );
        // The consent is shown at full size a page at a time, never shrunk: it must stay readable.
        let surface = Theme { background: t.surface, ..t };
        let on_surface = Writer { fonts: self.w.fonts, theme: &surface, metrics: self.w.metrics };
        let pages = on_surface.pages(text, inner);
        let count = pages.len().min(usize::from(u16::MAX));
        // `pages` is never empty (an empty text is one empty page); a page past the end shows the
        // last one.
        let shown = usize::from(page).min(count.saturating_sub(1));
        on_surface.draw_page(self.target, pages.get(shown).map_or(&[][..], Vec::as_slice), inner)?;
        self.layout.pages = count as u16;

        // ▲, "page 2 of 5", ▼.
        let (col_x, col_top, col_h) = (col.top_left.x, col.top_left.y, col.size.height as i32);
        let bh = m.min_button.max(m.px(76.0));
        let up = rect(col_x, col_top, col_w, bh);
        let down = rect(col_x, col_top + col_h - bh, col_w, bh);
        if shown > 0 {
            self.button(ButtonId::ScrollUp, up, "▲", ButtonKind::Secondary)?;
        } else {
            self.disabled(up, "▲")?;
        }
        if shown + 1 < count {
            self.button(ButtonId::ScrollDown, down, "▼", ButtonKind::Secondary)?;
        } else {
            self.disabled(down, "▼")?;
        }
        // "Page" over "2 of 5", the numbers kept on one line.
        let of = self
            .tx
            .fill("consent.page_of", &[("page", &(shown + 1).to_string()), ("pages", &count.to_string())]);
        let between = rect(col_x, col_top + bh + m.gap / 2, col_w, col_h - 2 * bh - m.gap);
        let numbers = para(of.replace(' ', "\u{a0}"), Role::Strong);
        let label = [para(self.t("consent.page"), Role::Small), numbers.clone()];
        // Between the arrows "2 of 5" alone is clear; the word only where it fits unshrunk.
        if self.w.height_of(&label, between.size.width) <= between.size.height as i32 {
            self.block(&label, between, Align::Center)?;
        } else {
            self.block(&[numbers], between, Align::Center)?;
        }

        // The version at the left, the hint at the right above "accept"; when both do not fit
        // at full size the hint wins (the version is shown again on the last page).
        let version_line = self.tx.fill("consent.version", &[("version", version)]);
        let version_w = measure(&self.w.fonts.regular, m.fonts.small, &version_line) as i32;
        let hint = [para(self.t("consent.read_to_end"), Role::Strong)];
        let hint_w = measure(&self.w.fonts.bold, m.fonts.body, &hint[0].text) as i32;
        let show_version = can_accept || version_w + m.gap + hint_w <= w;
        if show_version {
            let version_y = bottom - hint_h + (m.fonts.body as i32 - m.fonts.small as i32);
            draw_line(
                self.target,
                &self.w.fonts.regular,
                m.fonts.small,
                t.muted,
                t.background,
                &version_line,
                Point::new(x, version_y),
            )?;
        }
        if !can_accept {
            let hint_x = if show_version { x + version_w + m.gap } else { x };
            self.block(&hint, rect(hint_x, bottom - hint_h, x + w - hint_x, hint_h), Align::Right)?;
        }
        let cols = columns(buttons, 2, m.gap);
        let accept = if can_accept {
            (Some(ButtonId::Accept), ButtonKind::Primary)
        } else {
            (None, ButtonKind::Disabled)
        };
        self.group(&[
            (Some(ButtonId::Decline), cols[0], self.t("consent.decline"), ButtonKind::Secondary),
            (accept.0, cols[1], self.t("consent.accept"), accept.1),
        ])
    }

    fn document(&mut self, reading: bool) -> Result<(), DisplayError> {
        let m = *self.m();
        let body = m.body();
        let (text_col, picture) = split_left(body, body.size.width as i32 * 11 / 20, m.gap * 2);
        let (text_area, button_row) = if reading {
            (text_col, None)
        } else {
            let (a, b) = split_bottom(text_col, m.button_h, m.gap);
            (a, Some(b))
        };
        let paras = if reading {
            vec![
                para(self.t("document.reading_title"), Role::Title),
                para(self.t("document.reading_hold"), Role::Strong),
                para(self.t("document.reading_body"), Role::Body),
            ]
        } else {
            vec![
                para(self.t("document.place_title"), Role::Title),
                para(self.t("document.place_body"), Role::Body),
            ]
        };
        self.block(&paras, text_area, Align::Left)?;
        icons::passport_on_reader(self.target, self.w.theme, &m, picture, reading)?;
        if let Some(row) = button_row {
            let w = (row.size.width as i32).min(m.px(260.0).max(m.min_button));
            let area = rect(row.top_left.x, row.top_left.y, w, row.size.height as i32);
            self.button(ButtonId::Cancel, area, self.t("common.cancel"), ButtonKind::Secondary)?;
        }
        Ok(())
    }

    /// The keyed-in MRZ: the three fields with their state on the left, the digit keys on the
    /// right (or the letter keys across the whole width, with the active field above them).
    fn keyed(
        &mut self,
        fields: &[KeyedField; 3],
        active: MrzField,
        letters: Option<u8>,
        notice: Option<MrzNotice>,
    ) -> Result<(), DisplayError> {
        let m = *self.m();
        let body = m.body();
        let gap = m.px(8.0);
        let key = m.min_button;
        let rows = 4;
        let pad_h = rows * key + (rows - 1) * gap;
        let (bx, bw) = (body.top_left.x, body.size.width as i32);
        let bottom = body.top_left.y + body.size.height as i32;
        let pad_top = bottom - pad_h;
        let row_y = |r: i32| pad_top + r * (key + gap);
        let back = active.previous().map(|_| ButtonId::Back);
        if let Some(page) = letters.filter(|_| active.takes_letters()) {
            return self.letter_keys(fields, active, page, back);
        }
        // Digits: 1–9 in three columns, then "ABC" and a wide 0; the actions in a fourth column.
        let act_w = m.px(150.0).max(key);
        let pad_w = 3 * key + 3 * gap + act_w;
        let px0 = bx + bw - pad_w;
        let mut items = Vec::new();
        let digit_labels: Vec<String> = (1..=9).map(|d: u8| d.to_string()).collect();
        for (i, label) in digit_labels.iter().enumerate() {
            let (r, c) = ((i as i32) / 3, (i as i32) % 3);
            let area = rect(px0 + c * (key + gap), row_y(r), key, key);
            items.push((Some(ButtonId::Char(b'1' + i as u8)), area, label.as_str(), ButtonKind::Secondary));
        }
        let zero = rect(px0 + key + gap, row_y(3), 2 * key + gap, key);
        items.push((Some(ButtonId::Char(b'0')), zero, "0", ButtonKind::Secondary));
        let abc = rect(px0, row_y(3), key, key);
        let letters_id = active.takes_letters().then_some(ButtonId::Letters);
        let abc_kind = if letters_id.is_some() { ButtonKind::Secondary } else { ButtonKind::Disabled };
        items.push((letters_id, abc, self.t("keyed.letters"), abc_kind));
        self.group(&items)?;
        let ax = px0 + 3 * (key + gap);
        let actions: Vec<Rectangle> = (0..4).map(|r| rect(ax, row_y(r), act_w, key)).collect();
        self.keyed_actions(&actions, back)?;

        // Left of the keys: title (when there is room), the fields, the notice or the hint.
        let left_w = px0 - m.gap - bx;
        let label_h = line_height(m.fonts.small);
        let box_h = line_height(m.fonts.body) + m.px(12.0);
        let field_h = label_h + box_h;
        let fields_h = 3 * field_h + 2 * gap;
        let title_h = line_height(m.fonts.title);
        let room = body.size.height as i32 - fields_h;
        let mut y = body.top_left.y;
        if room >= title_h + m.gap + 2 * label_h {
            self.block(&[para(self.t("keyed.title"), Role::Title)], rect(bx, y, left_w, title_h), Align::Left)?;
            y += title_h + gap;
        }
        for field in MrzField::ALL {
            self.keyed_field(field, &fields[field.index()], field == active, true, rect(bx, y, left_w, field_h))?;
            y += field_h + gap;
        }
        let text = match notice {
            Some(MrzNotice::CheckField) => para(self.t("keyed.check_field"), Role::Strong),
            Some(MrzNotice::ChipRefused { attempts_left }) => {
                para(self.tx.fill("keyed.chip_refused", &[("attempts", &attempts_left.to_string())]), Role::Strong)
            }
            None => para(self.t("keyed.hint"), Role::Small),
        };
        self.block(&[text], rect(bx, y, left_w, bottom - y), Align::Left)?;
        Ok(())
    }

    /// The letter keys across the whole width, as many 15 mm keys as the panel takes, in pages
    /// when 26 do not fit (`page` wraps: the flow counts presses of "more"); the last keys are
    /// "more" (when paged) and back to the digits, the actions below, the active field above.
    fn letter_keys(
        &mut self,
        fields: &[KeyedField; 3],
        active: MrzField,
        page: u8,
        back: Option<ButtonId>,
    ) -> Result<(), DisplayError> {
        let m = *self.m();
        let body = m.body();
        // Nine keys to a row need the narrow gap on a 7-inch 800-pixel panel.
        let (gap, key) = (m.px(4.0), m.min_button);
        let (bx, bw) = (body.top_left.x, body.size.width as i32);
        let bottom = body.top_left.y + body.size.height as i32;
        const LETTERS: usize = 26;
        let box_h = line_height(m.fonts.body) + m.px(12.0);
        let cols = ((bw + gap) / (key + gap)).clamp(3, 9);
        // Rows of letters below a field of `field_h`, the row of actions under them.
        let rows_below = |field_h: i32| ((body.size.height as i32 - field_h + gap) / (key + gap) - 1).clamp(1, 3);
        // The field's label goes when dropping it puts every letter on one page.
        let labelled_h = line_height(m.fonts.small) + box_h;
        let one_page = |rows: i32| (cols * rows) as usize > LETTERS;
        let labelled = one_page(rows_below(labelled_h)) || !one_page(rows_below(box_h));
        let field_h = if labelled { labelled_h } else { box_h };
        let rows = rows_below(field_h);
        let slots = (cols * rows) as usize;
        // One slot goes back to the digits; a second, "more", when the letters need pages.
        let per_page = if slots > LETTERS { LETTERS } else { slots.saturating_sub(2).max(1) };
        let pages = LETTERS.div_ceil(per_page);
        let first = (usize::from(page) % pages) * per_page;
        let shown = first..(first + per_page).min(LETTERS);
        let pad_top = bottom - ((rows + 1) * key + rows * gap);
        let kw = (bw - (cols - 1) * gap) / cols;
        let slot = |i: usize| {
            let (r, c) = ((i as i32) / cols, (i as i32) % cols);
            rect(bx + c * (kw + gap), pad_top + r * (key + gap), kw, key)
        };
        let labels: Vec<String> = shown.clone().map(|i| char::from(b'A' + i as u8).to_string()).collect();
        let mut items: Vec<(Option<ButtonId>, Rectangle, &str, ButtonKind)> = labels
            .iter()
            .zip(shown.clone())
            .enumerate()
            .map(|(n, (label, i))| (Some(ButtonId::Char(b'A' + i as u8)), slot(n), label.as_str(), ButtonKind::Secondary))
            .collect();
        if pages > 1 {
            items.push((Some(ButtonId::Letters), slot(slots - 2), self.t("keyed.more_letters"), ButtonKind::Secondary));
        }
        items.push((Some(ButtonId::Digits), slot(slots - 1), self.t("keyed.digits"), ButtonKind::Primary));
        self.group(&items)?;
        let actions = columns(rect(bx, pad_top + rows * (key + gap), bw, key), 4, gap);
        self.keyed_actions(&actions, back)?;
        let top = rect(bx, body.top_left.y, bw, (pad_top - gap - body.top_left.y).max(field_h));
        self.keyed_field(active, &fields[active.index()], true, labelled, top)
    }

    /// Erase, back (greyed on the first field), cancel and next, in `areas` order.
    fn keyed_actions(&mut self, areas: &[Rectangle], back: Option<ButtonId>) -> Result<(), DisplayError> {
        let [erase, previous, stop, go] = areas else { return Ok(()) };
        let back_kind = if back.is_some() { ButtonKind::Secondary } else { ButtonKind::Disabled };
        self.group(&[
            (Some(ButtonId::Backspace), *erase, self.t("keyed.backspace"), ButtonKind::Secondary),
            (back, *previous, self.t("keyed.back"), back_kind),
            (Some(ButtonId::Cancel), *stop, self.t("common.cancel"), ButtonKind::Secondary),
            (Some(ButtonId::Next), *go, self.t("keyed.next"), ButtonKind::Primary),
        ])
    }

    /// One field: its label (in the error colour when wrong) above a box with
    /// what was typed, the check digit set apart, a cursor in the active field and ✓ / ✗ (no
    /// label when the letter keys need its room).
    fn keyed_field(
        &mut self,
        field: MrzField,
        value: &KeyedField,
        active: bool,
        labelled: bool,
        area: Rectangle,
    ) -> Result<(), DisplayError> {
        let m = *self.m();
        let t = *self.w.theme;
        let (x, y, w, h) = (area.top_left.x, area.top_left.y, area.size.width as i32, area.size.height as i32);
        let label_key = match field {
            MrzField::DocumentNumber => "keyed.number",
            MrzField::BirthDate => "keyed.birth",
            MrzField::ExpiryDate => "keyed.expiry",
        };
        let label_h = if labelled { line_height(m.fonts.small).min(h / 2) } else { 0 };
        // Wrong: the label in the error colour, the ✗ and the border say it; the notice below
        // and the spoken prompt say what to do (a longer label would not fit the line).
        let label = self.t(label_key).to_owned();
        let label_theme = match value.state {
            FieldState::Wrong => Theme { muted: t.error, ..t },
            _ => t,
        };
        let writer = Writer { fonts: self.w.fonts, theme: &label_theme, metrics: self.w.metrics };
        if labelled {
            writer.block(self.target, &[para(label, Role::Muted)], rect(x, y, w, label_h), Align::Left)?;
        }
        let frame = rect(x, y + label_h, w, h - label_h);
        let border = match (value.state, active) {
            (FieldState::Wrong, _) => t.error,
            (_, true) => t.outline,
            _ => t.surface_border,
        };
        let stroke = if active || value.state == FieldState::Wrong { t.outline_width * 2 } else { t.outline_width };
        frame
            .into_styled(
                PrimitiveStyleBuilder::new().fill_color(t.surface).stroke_color(border).stroke_width(stroke).build(),
            )
            .draw(self.target)?;
        // "L898902C3 6", "740812 2": the check digit apart once the field is full.
        let chars: Vec<char> = value.text.chars().collect();
        let split = field.max_len() - 1;
        let mut shown: String = chars.iter().take(split).collect();
        if chars.len() > split {
            shown.push(' ');
            shown.extend(chars.iter().skip(split));
        }
        if active && chars.len() < field.max_len() {
            shown.push('_');
        }
        let size = m.fonts.body;
        let pad = m.px(10.0);
        let text_y = frame.top_left.y + (frame.size.height as i32 - size as i32) / 2;
        draw_line(self.target, &self.w.fonts.bold, size, t.text, t.surface, &shown, Point::new(x + pad, text_y))?;
        let (mark, color) = match value.state {
            FieldState::Valid => ("✓", t.ok),
            FieldState::Wrong => ("✗", t.error),
            _ => ("", t.text),
        };
        if !mark.is_empty() {
            let mark_w = measure(&self.w.fonts.bold, size, mark) as i32;
            draw_line(self.target, &self.w.fonts.bold, size, color, t.surface, mark, Point::new(x + w - pad - mark_w, text_y))?;
        }
        Ok(())
    }

    fn face(
        &mut self,
        guidance: &'static str,
        face_box: Option<Rectangle>,
        preview: Option<&Preview>,
        o: &UiOptions,
    ) -> Result<(), DisplayError> {
        let m = *self.m();
        let area = face_preview_area(Size::new(m.width as u32, m.height as u32), o);
        icons::face_guide(self.target, self.w.theme, &m, area, face_box, preview)?;
        let body = m.body();
        let (_, right) = split_left(body, area.size.width as i32, m.gap * 2);
        let (text_area, row) = split_bottom(right, m.button_h, m.gap);
        let paras = [
            para(self.t("face.title"), Role::Title),
            para(self.t(guidance), Role::Strong),
            para(self.t("face.hint"), Role::Small),
        ];
        self.block(&paras, text_area, Align::Left)?;
        self.button(ButtonId::Cancel, row, self.t("common.cancel"), ButtonKind::Secondary)
    }

    fn verifying(&mut self) -> Result<(), DisplayError> {
        let m = *self.m();
        let body = m.body();
        let ring = (body.size.height as i32 * 2 / 5).min(m.px(160.0));
        let paras =
            [para(self.t("verifying.title"), Role::Title), para(self.t("verifying.body"), Role::Body)];
        // Ring and words as one group in the middle of the screen.
        let text_h =
            self.w.height_of(&paras, body.size.width).min(body.size.height as i32 - ring - m.gap * 2);
        let top = body.center().y - (ring + m.gap * 2 + text_h) / 2;
        icons::waiting_ring(self.target, self.w.theme, Point::new(body.center().x, top + ring / 2), ring)?;
        let text_area = rect(body.top_left.x, top + ring + m.gap * 2, body.size.width as i32, text_h);
        self.block(&paras, text_area, Align::Center)?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn issued(
        &mut self,
        reference: &str,
        limits: &[(&'static str, u64)],
        token: &str,
        expires_at: &str,
        can_print: bool,
        receipt: Option<ReceiptStatus>,
    ) -> Result<(), UiError> {
        let m = *self.m();
        let body = m.body();
        // Right: the QR code, "Next" under it. Left: the words, "Print receipt" under them
        // when a receipt can be printed (else the words have the whole height).
        let print = can_print && receipt != Some(ReceiptStatus::Printed);
        let (bw, bh) = (body.size.width as i32, body.size.height as i32);
        let qr_side = (bh - m.button_h - m.gap).min(bw * 2 / 5);
        let (left, right) = split_left(body, bw - qr_side - m.gap * 2, m.gap * 2);
        let (_, next_area) = split_bottom(right, m.button_h, m.gap);
        let (text_area, print_area) = if print {
            let (t, p) = split_bottom(left, m.button_h, m.gap);
            (t, Some(p))
        } else {
            (left, None)
        };
        let qr_area = rect(right.top_left.x, right.top_left.y, qr_side, (bh - m.button_h - m.gap).max(0));
        draw_qr(self.target, token, qr_area)?;
        let lang = self.tx.lang;
        let mut paras = vec![
            para(self.t("issued.title"), Role::Title),
            para(self.tx.fill("issued.reference", &[("reference", reference)]), Role::Muted),
            para(self.t("issued.limits"), Role::Strong),
        ];
        let lines: Vec<String> = limits
            .iter()
            .map(|(label, amount)| format!("• {} — {}", self.t(label), tx::money(*amount, lang)))
            .collect();
        paras.push(para(lines.join("\n"), Role::Body));
        paras.push(para(self.tx.fill("issued.scan", &[("time", expires_at)]), Role::Body));
        match receipt {
            Some(ReceiptStatus::Printed) => paras.push(para(self.t("issued.printed"), Role::Strong)),
            Some(ReceiptStatus::Failed) => paras.push(para(self.t("issued.print_failed"), Role::Strong)),
            None => {}
        }
        self.block(&paras, text_area, Align::Left)?;
        let mut items = Vec::new();
        if let Some(area) = print_area {
            items.push((Some(ButtonId::PrintReceipt), area, self.t("issued.print"), ButtonKind::Secondary));
        }
        items.push((Some(ButtonId::Next), next_area, self.t("issued.next"), ButtonKind::Primary));
        self.group(&items)?;
        Ok(())
    }

    /// Social payments, first step: what applies to you. The ticks take the whole width, two
    /// columns of finger-sized toggles, as large as the room allows; "no, thanks" and "next"
    /// under them. The title goes first when room is short (the line stays).
    fn social_categories(&mut self, categories: &[Choice]) -> Result<(), UiError> {
        let m = *self.m();
        let n = categories.len();
        let too_many =
            || UiError::TooManyChoices { count: n, width: m.width as u32, height: m.height as u32 };
        if n > usize::from(u8::MAX) + 1 {
            return Err(too_many());
        }
        let area = social_area(&m);
        let gap = m.px(10.0);
        let row_h = m.min_button.max(m.px(76.0));
        let (rest, row) = split_bottom(area, row_h, gap);
        let (x, y, w, h) =
            (rest.top_left.x, rest.top_left.y, rest.size.width as i32, rest.size.height as i32);

        // Two columns, more only when the rows would not fit (the smallest displays).
        let grid_h = |cols: usize| {
            let rows = n.div_ceil(cols) as i32;
            rows * m.min_button + (rows - 1).max(0) * gap
        };
        let mut cols = 2.min(n.max(1));
        while grid_h(cols) > h && cols < n {
            cols += 1;
        }
        let col_w = (w - gap * (cols as i32 - 1)) / cols as i32;
        if n > 0 && (grid_h(cols) > h || col_w < m.min_button) {
            return Err(too_many());
        }
        let title = para(self.t("social.title"), Role::Title);
        let line = para(self.t("social.categories"), Role::Strong);
        let room = h - grid_h(cols) - gap;
        let both = [title, line.clone()];
        let paras: &[Para] =
            if self.w.height_of(&both, w as u32) <= room { &both } else { std::slice::from_ref(&line) };
        let text_h = self.w.height_of(paras, w as u32).min(room.max(0));
        let used = self.block(paras, rect(x, y, w, text_h), Align::Left)?;
        let grid_top = y + used.min(text_h) + gap;
        let rows = n.div_ceil(cols).max(1) as i32;
        let free = y + h - grid_top;
        // Taller than a finger when there is room: long labels then keep a larger size.
        let cell_h = ((free - gap * (rows - 1)) / rows).min(m.button_h * 2).max(m.min_button);
        let mut items = Vec::with_capacity(n + 2);
        for (i, choice) in categories.iter().enumerate() {
            let index = u8::try_from(i).map_err(|_| too_many())?;
            let (r, c) = ((i / cols) as i32, (i % cols) as i32);
            let cell = rect(x + c * (col_w + gap), grid_top + r * (cell_h + gap), col_w, cell_h);
            items.push((
                Some(ButtonId::Category(index)),
                cell,
                choice.label.as_str(),
                ButtonKind::Toggle { on: choice.selected },
            ));
        }
        if !items.is_empty() {
            self.group(&items)?;
        }
        let answer = columns(row, 2, gap);
        self.group(&[
            (Some(ButtonId::NoThanks), answer[0], self.t("social.no_thanks"), ButtonKind::Secondary),
            (Some(ButtonId::Next), answer[1], self.t("social.next"), ButtonKind::Primary),
        ])?;
        Ok(())
    }

    /// Social payments, second step: what you may be entitled to, who decides, and the answer:
    /// "back" to the ticks, "no, thanks", "yes" (the widest, at the right).
    fn social_answer(&mut self, kinds: &[String]) -> Result<(), UiError> {
        let m = *self.m();
        let body = social_area(&m);
        // Room for the long "yes" label on two lines at full size.
        let row_h = m.button_h.max(line_height(m.fonts.button) + m.fonts.button as i32 + m.px(12.0));
        let (content, row) = split_bottom(body, row_h, m.gap);
        let mut paras = Vec::new();
        if kinds.is_empty() {
            paras.push(para(self.t("social.kinds_none"), Role::Strong));
        } else {
            paras.push(para(self.t("social.kinds"), Role::Title));
            let list: Vec<String> = kinds.iter().map(|k| format!("• {k}")).collect();
            paras.push(para(list.join("\n"), Role::Body));
        }
        paras.push(para(self.t("social.note"), Role::Muted));
        self.block(&paras, content, Align::Left)?;
        let w = row.size.width as i32;
        let unit = (w - 2 * m.gap) / 9;
        let (back, rest) = split_left(row, unit * 2, m.gap);
        let (no, yes) = split_left(rest, unit * 3, m.gap);
        self.group(&[
            (Some(ButtonId::Back), back, self.t("social.back"), ButtonKind::Secondary),
            (Some(ButtonId::NoThanks), no, self.t("social.no_thanks"), ButtonKind::Secondary),
            (Some(ButtonId::CreditPayments), yes, self.t("social.credit"), ButtonKind::Primary),
        ])?;
        Ok(())
    }

    /// A badge `size` across at the top of a column left of `content`; the rest is the text's.
    fn badge_beside(&mut self, content: Rectangle, size: i32, mark: icons::Badge) -> Result<Rectangle, DisplayError> {
        let m = *self.m();
        let (column, text_area) = split_left(content, size, m.gap * 2);
        let center = Point::new(column.center().x, column.top_left.y + size / 2);
        icons::badge(self.target, self.w.theme, center, size, mark)?;
        Ok(text_area)
    }

    fn goodbye(&mut self, receipt_printed: bool, social: bool) -> Result<(), DisplayError> {
        let m = *self.m();
        let (content, row) = split_bottom(m.body(), m.button_h, m.gap);
        let text_area = self.badge_beside(content, m.px(80.0), icons::Badge::Check)?;
        let take = if receipt_printed { "goodbye.passport_and_receipt" } else { "goodbye.passport" };
        let mut paras = vec![para(self.t("goodbye.title"), Role::Title), para(self.t(take), Role::Strong)];
        if social {
            paras.push(para(self.t("goodbye.social_requested"), Role::Body));
        }
        self.block(&paras, text_area, Align::Left)?;
        let w = (row.size.width as i32).min(m.px(320.0).max(m.min_button));
        let centred = rect(row.center().x - w / 2, row.top_left.y, w, row.size.height as i32);
        self.button(ButtonId::Finish, centred, self.t("goodbye.finish"), ButtonKind::Primary)
    }

    fn refused(&mut self, reason: Refusal) -> Result<(), DisplayError> {
        let m = *self.m();
        let [title, what, next] = tx::refusal(reason);
        let args = tx::refusal_args(reason);
        let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let [title, what, next] = [title, what, next].map(|key| self.tx.fill(key, &args));
        let (content, row) = split_bottom(m.body(), m.button_h, m.gap);
        let text_area = self.badge_beside(content, m.px(72.0), icons::Badge::Info)?;
        let paras = [para(title, Role::Title), para(what, Role::Body), para(next, Role::Strong)];
        self.block(&paras, text_area, Align::Left)?;
        let w = (row.size.width as i32).min(m.px(320.0).max(m.min_button));
        let centred = rect(row.center().x - w / 2, row.top_left.y, w, row.size.height as i32);
        self.button(ButtonId::Finish, centred, self.t("common.ok"), ButtonKind::Primary)
    }

    fn out_of_service(&mut self) -> Result<(), DisplayError> {
        let m = *self.m();
        let body = m.body();
        let badge = m.px(80.0);
        icons::badge(
            self.target,
            self.w.theme,
            Point::new(body.center().x, body.top_left.y + badge / 2),
            badge,
            icons::Badge::Info,
        )?;
        let area = rect(
            body.top_left.x,
            body.top_left.y + badge + m.gap,
            body.size.width as i32,
            body.size.height as i32 - badge - m.gap,
        );
        let (first, second) = (self.tx, self.tx.other());
        let paras = [
            para(first.get("out_of_service.title"), Role::Title),
            para(first.get("out_of_service.body"), Role::Body),
            para(second.get("out_of_service.title"), Role::Strong),
            para(second.get("out_of_service.body"), Role::Muted),
        ];
        self.block(&paras, area, Align::Center)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::text::LOOKED_UP;
    use crate::ui::{spoken_text, Guidance, Language};
    use kiosk_hal::display::MemoryDisplay;

    /// Every screen in every state that picks different words.
    fn all_screens() -> Vec<Screen> {
        let mut screens = vec![
            Screen::Welcome,
            Screen::Consent { version: "v".into(), text: "a b c".into(), page: 0, can_accept: false },
            Screen::Consent { version: "v".into(), text: "a b c".into(), page: 1, can_accept: true },
            Screen::PlaceDocument,
            Screen::ReadingDocument,
            Screen::Verifying,
            Screen::OutOfService,
        ];
        for step in [SocialStep::Categories, SocialStep::Answer] {
            screens.push(Screen::SocialPayments {
                step,
                categories: vec![
                    Choice { label: "x".into(), selected: true },
                    Choice { label: "y".into(), selected: false },
                ],
                kinds: vec!["k".into()],
            });
            screens.push(Screen::SocialPayments { step, categories: vec![], kinds: vec![] });
        }
        for g in std::iter::once(None).chain(Guidance::ALL.map(Some)) {
            screens.push(Screen::FaceCapture { guidance: g, face_box: None, preview: None });
        }
        for (can_print, receipt) in
            [(true, None), (false, Some(ReceiptStatus::Failed)), (true, Some(ReceiptStatus::Printed))]
        {
            for amount in [1, 2, 5] {
                screens.push(Screen::AccountIssued {
                    account_reference: "D-1".into(),
                    per_transaction_limit_rub: amount,
                    daily_limit_rub: amount,
                    monthly_limit_rub: amount,
                    activation_token: "KA1.x".into(),
                    expires_at: "14:35".into(),
                    can_print,
                    receipt,
                });
            }
        }
        for (receipt_printed, social_payments_requested) in [(false, false), (true, true)] {
            screens.push(Screen::Goodbye { receipt_printed, social_payments_requested });
        }
        for reason in Refusal::ALL {
            screens.push(Screen::Refused { reason });
        }
        screens.extend(keyed_screens());
        screens
    }

    /// The keyed-in MRZ entry: digits with a wrong date and the notice, letters, the chip refusing.
    pub(super) fn keyed_screens() -> Vec<Screen> {
        use crate::ui::{FieldState as F, KeyedField, MrzField, MrzNotice};
        let field = |text: &str, state| KeyedField { text: text.into(), state };
        let typed = [field("L898902C36", F::Valid), field("7413", F::Wrong), field("", F::Empty)];
        vec![
            Screen::MrzEntry { fields: typed.clone(), active: MrzField::BirthDate, letters: None, notice: Some(MrzNotice::CheckField) },
            Screen::MrzEntry {
                fields: [field("L898", F::Partial), field("", F::Empty), field("", F::Empty)],
                active: MrzField::DocumentNumber,
                letters: Some(0),
                notice: None,
            },
            Screen::MrzEntry {
                fields: [field("L898902C36", F::Valid), field("7408122", F::Valid), field("1204159", F::Valid)],
                active: MrzField::DocumentNumber,
                letters: None,
                notice: Some(MrzNotice::ChipRefused { attempts_left: 2 }),
            },
            Screen::MrzEntry {
                fields: [field("L898902C36", F::Valid), field("7408122", F::Valid), field("12041", F::Partial)],
                active: MrzField::ExpiryDate,
                letters: None,
                notice: None,
            },
            Screen::MrzEntry { fields: Default::default(), active: MrzField::DocumentNumber, letters: None, notice: None },
        ]
    }

    /// On a 5-inch 480×320 panel 26 letter keys of 15 mm do not fit: "more" pages through
    /// them, every letter on some page, and the page count wraps.
    #[test]
    fn the_letter_keys_page_on_a_small_panel_and_every_letter_is_reachable() {
        use crate::ui::{MrzField, Panel};
        let small = UiContext::standard(Panel::new(108.0)).unwrap();
        let letters_on = |page: u8| {
            let screen = Screen::MrzEntry { fields: Default::default(), active: MrzField::DocumentNumber, letters: Some(page), notice: None };
            let layout = render_with(&mut MemoryDisplay::new(480, 320), &screen, &UiOptions::default(), &small).unwrap();
            let ids: Vec<ButtonId> = layout.buttons.iter().map(|(id, _)| *id).collect();
            assert!(ids.contains(&ButtonId::Letters) && ids.contains(&ButtonId::Digits), "page {page}: {ids:?}");
            ids.into_iter().filter_map(|id| match id { ButtonId::Char(c) => Some(c), _ => None }).collect::<Vec<u8>>()
        };
        let mut seen = Vec::new();
        let mut page = 0;
        while !seen.contains(&b'Z') {
            let keys = letters_on(page);
            assert!(!keys.is_empty() && keys.len() < 26, "page {page}: {keys:?}");
            seen.extend(keys);
            page += 1;
        }
        assert_eq!(seen, (b'A'..=b'Z').collect::<Vec<_>>());
        assert_eq!(letters_on(page), letters_on(0), "the pages wrap after the last");
    }

    #[test]
    fn every_message_is_used_and_every_used_message_exists() {
        let messages = embedded_messages().unwrap();
        LOOKED_UP.with(|k| k.borrow_mut().clear());
        for screen in all_screens() {
            for language in [Language::Ru, Language::En] {
                let options = UiOptions { language, ..UiOptions::default() };
                let mut d = MemoryDisplay::new(800, 480);
                render(&mut d, &screen, &options).unwrap();
                assert!(!spoken_text(&screen, language).is_empty());
                // The smallest panel (5 inch, 480×320) pages the letter keys ("more").
                let small = UiContext::standard(crate::ui::Panel::new(108.0)).unwrap();
                render_with(&mut MemoryDisplay::new(480, 320), &screen, &options, &small).unwrap();
            }
        }
        let used = LOOKED_UP.with(|k| k.borrow().clone());
        let missing: Vec<_> =
            used.iter().filter(|k| messages.get(kiosk_config::ConsentLanguage::En, k).is_none()).collect();
        assert!(missing.is_empty(), "keys the UI uses but the message files lack: {missing:?}");
        let unused: Vec<_> = messages.keys().filter(|k| !used.contains(k)).collect();
        assert!(unused.is_empty(), "messages no screen uses: {unused:?}");
    }

    /// The ticks are read by people with poor sight: at least body size in normal mode, larger
    /// in large-text mode, on both panels (the longest labels of the rules file).
    #[test]
    fn category_labels_are_body_size_and_grow_with_large_text() {
        use crate::ui::{FontSizes, SocialStep};
        let labels = [
            ["Есть дети до 17 лет или жду ребёнка", "Children under 17, or expecting a child"],
            ["Многодетная семья", "Large family (3 or more children)"],
            ["Есть инвалидность", "I have a disability"],
            ["Ухаживаю за ребёнком-инвалидом", "I care for a disabled child"],
            ["Уже получаю пенсию", "I already receive a pension"],
            ["Потеря кормильца", "Loss of the family breadwinner"],
        ];
        for (w, h, mm) in [(800, 480, 154.0), (1280, 800, 217.0)] {
            for (l, language) in [Language::Ru, Language::En].into_iter().enumerate() {
                let categories: Vec<Choice> =
                    labels.iter().map(|x| Choice { label: x[l].into(), selected: false }).collect();
                let screen =
                    Screen::SocialPayments { step: SocialStep::Categories, categories, kinds: vec![] };
                let size_for = |large_text| {
                    let options = UiOptions { language, large_text, ..UiOptions::default() };
                    let ctx = UiContext::standard(Panel::new(mm)).unwrap();
                    let mut d = MemoryDisplay::new(w, h);
                    let layout = render_with(&mut d, &screen, &options, &ctx).unwrap();
                    let metrics = Metrics::new(Size::new(w, h), &options, ctx.panel);
                    let theme = Theme::new(false);
                    let writer = Writer { fonts: ctx.fonts, theme: &theme, metrics: &metrics };
                    layout
                        .buttons
                        .iter()
                        .filter_map(|(id, r)| match id {
                            ButtonId::Category(i) => Some(label_size(
                                &writer,
                                *r,
                                labels[usize::from(*i)][l],
                                ButtonKind::Toggle { on: false },
                            )),
                            _ => None,
                        })
                        .min()
                        .unwrap()
                };
                let (normal, large) = (size_for(false), size_for(true));
                let body = FontSizes::new(metrics_scale(w, h), false).body;
                assert!(normal >= body, "{w}x{h} {language:?}: labels {normal} px, body text {body} px");
                assert!(large > normal, "{w}x{h} {language:?}: large text {large} px, normal {normal} px");
            }
        }
    }

    fn metrics_scale(w: u32, h: u32) -> f32 {
        (w as f32 / 800.0).min(h as f32 / 480.0)
    }

    #[test]
    fn site_messages_change_the_screen() {
        let dir = tempfile::tempdir().unwrap();
        let ru = include_str!("../../kiosk-config/messages/ru.toml").replace("Начать", "Поехали");
        std::fs::write(dir.path().join("ru.toml"), ru).unwrap();
        std::fs::write(dir.path().join("en.toml"), include_str!("../../kiosk-config/messages/en.toml"))
            .unwrap();
        let site = Messages::load_dir(dir.path()).unwrap();
        let ctx = UiContext { messages: &site, ..UiContext::standard(Panel::default()).unwrap() };
        let (mut a, mut b) = (MemoryDisplay::new(800, 480), MemoryDisplay::new(800, 480));
        render_with(&mut a, &Screen::Welcome, &UiOptions::default(), &ctx).unwrap();
        render(&mut b, &Screen::Welcome, &UiOptions::default()).unwrap();
        assert_ne!(a.rgb_bytes(), b.rgb_bytes());
    }
}
