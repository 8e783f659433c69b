//! The session's pure parts: the codes it stores, the screen ids it reports, and how it reads
//! the reader's answers (not there yet, device fault, document problem).

use std::collections::HashSet;

use kiosk_hal::card_reader::DeviceErrorKind;
use kiosk_hal::CardReaderError;

use super::document::{document_read, is_device_fault, not_placed_yet};
use super::{refusal_code, screen_id, WALKED_AWAY};
use crate::flow::{Event, Guidance, Refusal, Screen};
use crate::identity::IdentityError;

#[test]
fn every_refusal_has_its_own_stable_code() {
    let codes: HashSet<&str> = Refusal::ALL.iter().map(|r| refusal_code(*r)).collect();
    assert_eq!(codes.len(), Refusal::ALL.len());
    assert!(!codes.contains(WALKED_AWAY));
    assert!(codes.iter().all(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_')), "{codes:?}");
    assert_eq!(refusal_code(Refusal::ConsentDeclined), "consent_declined");
}

#[test]
fn the_head_turn_screens_have_ids_of_their_own() {
    let face = |guidance| screen_id(&Screen::FaceCapture { guidance, face_box: None, preview: None });
    assert_eq!(face(Some(Guidance::TurnLeft)), "face-capture-turn-left");
    assert_eq!(face(Some(Guidance::TurnRight)), "face-capture-turn-right");
    assert_eq!(face(Some(Guidance::HoldStill)), "face-capture");
    assert_eq!(face(None), "face-capture");
    assert_eq!(screen_id(&Screen::Welcome), "welcome");
}

#[test]
fn no_document_read_counts_as_expired_with_no_age() {
    let event = document_read(&None, time::OffsetDateTime::now_utc());
    assert_eq!(event, Event::DocumentRead { expired: true, age_years: None });
}

#[test]
fn an_empty_window_is_waited_for_and_a_dead_reader_is_a_device_fault() {
    let device = |kind| IdentityError::Reader(CardReaderError::Device { code: "00".into(), kind });
    for waiting in [IdentityError::NoDocument, IdentityError::Reader(CardReaderError::Reconnected), device(DeviceErrorKind::NoDocument)] {
        assert!(not_placed_yet(&waiting), "{waiting:?}");
        assert!(!is_device_fault(&waiting), "{waiting:?}");
    }
    for dead in [
        IdentityError::Reader(CardReaderError::Timeout { timeout_ms: 500 }),
        IdentityError::Reader(CardReaderError::NoAcknowledge { attempts: 3 }),
        device(DeviceErrorKind::CardJam),
    ] {
        assert!(!not_placed_yet(&dead), "{dead:?}");
        assert!(is_device_fault(&dead), "{dead:?}");
    }
    // A chip that answered badly is the document's problem, not the kiosk's.
    let chip = device(DeviceErrorKind::ChipCommunication);
    assert!(!not_placed_yet(&chip) && !is_device_fault(&chip));
}

/// A long device or vision task counts as the loop's progress for its allowance, then no more
/// (a hung task lets the watchdog act); a zero allowance never does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_task_is_progress_only_within_its_allowance() {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    use std::time::Duration;
    let told = Arc::new(AtomicU32::new(0));
    let tell: Arc<dyn Fn() + Send + Sync> = {
        let told = Arc::clone(&told);
        Arc::new(move || {
            told.fetch_add(1, Ordering::SeqCst);
        })
    };
    // Told at once, then each second while under 2.5 s: 3 times (2 on a late scheduler);
    // without the allowance it would be 5.
    let (value, result) = super::off_thread(7, Some((Arc::clone(&tell), Duration::from_millis(2500))), |v| {
        std::thread::sleep(Duration::from_millis(4500));
        *v + 1
    })
    .await
    .unwrap();
    assert_eq!((value, result), (7, 8));
    let within = told.swap(0, Ordering::SeqCst);
    assert!((2..=3).contains(&within), "told {within} times");
    let _ = super::off_thread((), None, |()| std::thread::sleep(Duration::from_millis(1500))).await.unwrap();
    assert_eq!(told.load(Ordering::SeqCst), 0);
}
