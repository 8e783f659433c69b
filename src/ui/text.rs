//! Every text on the kiosk, Russian and English. Short, warm, plain words: the kiosk
//! serves pensioners and people in a hurry alike.

use super::{Guidance, Language, Refusal};

/// One message in both languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tr {
    pub ru: &'static str,
    pub en: &'static str,
}

impl Tr {
    pub const fn get(&self, lang: Language) -> &'static str {
        match lang {
            Language::Ru => self.ru,
            Language::En => self.en,
        }
    }

    /// The other language (the Welcome screen shows both).
    pub const fn other(&self, lang: Language) -> &'static str {
        match lang {
            Language::Ru => self.en,
            Language::En => self.ru,
        }
    }
}

const fn tr(ru: &'static str, en: &'static str) -> Tr {
    Tr { ru, en }
}

pub const HEADER: Tr = tr("Открытие счёта", "Opening an account");
pub const STEPS: [Tr; 4] =
    [tr("Согласие", "Consent"), tr("Паспорт", "Passport"), tr("Лицо", "Face"), tr("Счёт", "Account")];

pub const WELCOME_TITLE: Tr = tr("Откройте счёт за 5 минут", "Open an account in 5 minutes");
pub const WELCOME_BODY: Tr =
    tr("Нужен только паспорт с чипом. Это бесплатно.", "All you need is a passport with a chip. It is free.");
pub const LANG_RU: &str = "Русский";
pub const LANG_EN: &str = "English";
pub const LARGE_TEXT: Tr = tr("Крупный текст", "Large text");
pub const HIGH_CONTRAST: Tr = tr("Контраст", "High contrast");
pub const START: Tr = tr("Начать", "Start");

pub const CONSENT_TITLE: Tr = tr("Согласие на обработку данных", "Consent to data processing");
pub const CONSENT_VERSION: Tr = tr("Редакция", "Version");
pub const CONSENT_MORE: Tr =
    tr("Это начало текста. Листайте кнопками ▲ ▼", "This is the beginning. Scroll with ▲ ▼");
pub const ACCEPT: Tr = tr("Согласен", "I agree");
pub const DECLINE: Tr = tr("Не согласен", "Decline");

pub const PLACE_TITLE: Tr = tr("Положите паспорт на считыватель", "Place your passport on the reader");
pub const PLACE_BODY: Tr = tr(
    "Подойдёт паспорт с чипом, например загранпаспорт. Откройте страницу с фото и положите её вниз, на считыватель под экраном.",
    "Use a passport with a chip. Open it at the photo page and put that page face down on the reader below the screen.",
);
pub const CANCEL: Tr = tr("Отмена", "Cancel");

pub const READING_TITLE: Tr = tr("Читаем паспорт…", "Reading your passport…");
pub const READING_HOLD: Tr = tr("Не убирайте паспорт", "Please do not remove the passport");
pub const READING_BODY: Tr = tr(
    "Это займёт до 20 секунд. Мы скажем, когда можно забрать.",
    "It takes up to 20 seconds. We will tell you when to take it.",
);

pub const FACE_TITLE: Tr = tr("Посмотрите в камеру", "Look at the camera");
pub const FACE_DEFAULT: Tr = tr("Поместите лицо в овал", "Fit your face in the oval");
pub const FACE_HINT: Tr =
    tr("Тёмные очки и головной убор лучше снять.", "Please take off sunglasses and hat.");

pub const VERIFYING_TITLE: Tr =
    tr("Сверяем лицо с фото в паспорте", "Comparing your face with the passport photo");
pub const VERIFYING_BODY: Tr = tr("Несколько секунд, пожалуйста.", "Just a few seconds, please.");

pub const ISSUED_TITLE: Tr = tr("Счёт открыт!", "Your account is open!");
pub const ISSUED_REFERENCE: Tr = tr("Номер для справок:", "Reference:");
pub const ISSUED_LIMITS: Tr = tr("Лимиты демо-счёта:", "Demo account limits:");
pub const LIMIT_PER_TRANSACTION: Tr = tr("за одну операцию", "per payment");
pub const LIMIT_DAILY: Tr = tr("в день", "per day");
pub const LIMIT_MONTHLY: Tr = tr("в месяц", "per month");
pub const ISSUED_SCAN: Tr = tr(
    "Наведите камеру телефона на QR-код, чтобы включить счёт. Код действует до",
    "Point your phone camera at the QR code to activate the account. The code works until",
);
pub const FINISH: Tr = tr("Готово", "Finish");

pub const REFUSED_FINISH: Tr = tr("Понятно", "OK");

pub const OUT_OF_SERVICE_TITLE: Tr =
    tr("Терминал временно не работает", "This kiosk is temporarily out of service");
pub const OUT_OF_SERVICE_BODY: Tr = tr(
    "Извините! Открыть счёт можно в любом отделении банка.",
    "Sorry! You can open an account at any bank branch.",
);

pub fn guidance(g: Option<Guidance>) -> Tr {
    match g {
        None => FACE_DEFAULT,
        Some(Guidance::LookAtCamera) => tr("Смотрите прямо в камеру", "Look straight at the camera"),
        Some(Guidance::ComeCloser) => tr("Подойдите чуть ближе", "Come a little closer"),
        Some(Guidance::MoveBack) => tr("Отойдите чуть назад", "Step back a little"),
        Some(Guidance::OnePersonOnly) => {
            tr("В кадре должен быть только один человек", "Only one person in the picture, please")
        }
        Some(Guidance::HoldStill) => tr("Замрите на пару секунд", "Hold still for a couple of seconds"),
        Some(Guidance::TooDark) => {
            tr("Слишком темно: встаньте лицом к свету", "Too dark: please face the light")
        }
        Some(Guidance::TooBright) => {
            tr("Слишком ярко: отойдите от яркого света", "Too bright: step out of the glare")
        }
        Some(Guidance::UnevenLight) => {
            tr("Свет падает сбоку: встаньте прямо к экрану", "Light from one side: face the screen squarely")
        }
        Some(Guidance::TurnLeft) => tr(
            "Медленно поверните голову влево, потом обратно",
            "Slowly turn your head to the left, then back",
        ),
        Some(Guidance::TurnRight) => tr(
            "Медленно поверните голову вправо, потом обратно",
            "Slowly turn your head to the right, then back",
        ),
    }
}

/// Title, what happened, and what to do next.
pub fn refusal(reason: Refusal) -> [Tr; 3] {
    match reason {
        Refusal::ConsentDeclined => [
            tr("Хорошо, мы ничего не начали", "All right, nothing was started"),
            tr("Без согласия мы не можем открыть счёт.", "We cannot open an account without your consent."),
            tr(
                "Если передумаете, начните заново или зайдите в отделение банка.",
                "If you change your mind, start again or visit a bank branch.",
            ),
        ],
        Refusal::DocumentUnreadable => [
            tr("Не получилось прочитать паспорт", "We could not read the passport"),
            tr(
                "Чип паспорта не ответил. Так бывает, если паспорт лежит неровно.",
                "The passport chip did not answer. This happens when it is not lying flat.",
            ),
            tr(
                "Попробуйте ещё раз. Если не выйдет, вам помогут в отделении банка.",
                "Please try again. If it still fails, a bank branch will help you.",
            ),
        ],
        Refusal::DocumentNotTrusted => [
            tr("Не удалось проверить паспорт", "We could not verify the passport"),
            tr("Мы не смогли подтвердить подлинность чипа.", "We could not confirm the chip is genuine."),
            tr(
                "Пожалуйста, откройте счёт в любом отделении банка.",
                "Please open your account at any bank branch.",
            ),
        ],
        Refusal::NoFaceFound => [
            tr("Камера не увидела лицо", "The camera could not see your face"),
            tr(
                "Возможно, мешал свет, очки или головной убор.",
                "Light, glasses or a hat may have been in the way.",
            ),
            tr(
                "Попробуйте ещё раз, встав прямо перед экраном.",
                "Please try again, standing right in front of the screen.",
            ),
        ],
        Refusal::FaceMismatch => [
            tr("Не удалось сверить лицо с фото", "We could not match your face to the photo"),
            tr("Так бывает, если фото в паспорте давнее.", "This happens when the passport photo is old."),
            tr(
                "Сотрудник отделения банка поможет открыть счёт.",
                "Staff at a bank branch will help you open an account.",
            ),
        ],
        Refusal::LivenessFailed => [
            tr("Проверка не прошла", "The check did not pass"),
            tr("Камера не смогла как следует вас рассмотреть.", "The camera could not see you well enough."),
            tr(
                "Попробуйте ещё раз, глядя прямо в камеру, или зайдите в отделение.",
                "Try again looking straight at the camera, or visit a branch.",
            ),
        ],
        Refusal::AlreadyEnrolled => [
            tr("У вас уже есть счёт", "You already have an account"),
            tr("Второй счёт здесь открыть нельзя.", "A second account cannot be opened here."),
            tr(
                "Войдите в приложение банка или зайдите в отделение.",
                "Sign in to the bank app or visit a branch.",
            ),
        ],
        Refusal::Timeout => [
            tr("Время вышло", "Time is up"),
            tr(
                "Мы долго не получали ответа и всё отменили.",
                "We did not hear from you for a while and cancelled.",
            ),
            tr("Начните заново, когда будете готовы.", "Start again whenever you are ready."),
        ],
        Refusal::Cancelled => [
            tr("Вы отменили открытие счёта", "You cancelled opening the account"),
            tr("Мы ничего не сохранили.", "Nothing about you has been kept."),
            tr("Начните заново, когда будете готовы.", "Start again whenever you are ready."),
        ],
    }
}

/// "50 000 ₽" in Russian, "50,000 ₽" in English. No-break spaces keep the amount on one line.
pub fn money(amount_rub: u64, lang: Language) -> String {
    let digits = amount_rub.to_string();
    let sep = match lang {
        Language::Ru => '\u{a0}',
        Language::En => ',',
    };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(sep);
        }
        out.push(c);
    }
    out.push('\u{a0}');
    out.push('₽');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_grouped_with_the_rouble_sign() {
        assert_eq!(money(50_000, Language::Ru), "50\u{a0}000\u{a0}₽");
        assert_eq!(money(1_500_000, Language::En), "1,500,000\u{a0}₽");
        assert_eq!(money(0, Language::Ru), "0\u{a0}₽");
        assert_eq!(money(999, Language::Ru), "999\u{a0}₽");
    }

    #[test]
    fn every_refusal_has_both_languages() {
        use Refusal::*;
        for r in [
            ConsentDeclined,
            DocumentUnreadable,
            DocumentNotTrusted,
            NoFaceFound,
            FaceMismatch,
            LivenessFailed,
            AlreadyEnrolled,
            Timeout,
            Cancelled,
        ] {
            for t in refusal(r) {
                assert!(!t.ru.is_empty() && !t.en.is_empty());
                assert!(t.ru.chars().any(|c| ('а'..='я').contains(&c)), "{}", t.ru);
            }
        }
    }
}
