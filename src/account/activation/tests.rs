use super::*;
use crate::testing;
use proptest::prelude::*;
use time::macros::datetime;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn claims() -> Claims {
    let account = DemoAccount::issue(testing::demo_limits(), datetime!(2024-05-15 12:00 UTC));
    Claims::for_account(&account, "kiosk-msk-0042", datetime!(2024-05-15 12:00 UTC), Duration::minutes(30))
}

#[test]
fn roundtrip() {
    let c = claims();
    let token = issue_token(&key(1), &c);
    assert!(token.starts_with("KA1."));
    assert!(token.len() < 700, "QR-friendly length, got {}", token.len());
    let back = verify_token(&key(1).verifying_key(), &token, datetime!(2024-05-15 12:10 UTC)).unwrap();
    assert_eq!(back, c);
    assert_eq!(back.token_id, c.token_id);
    let shown = serde_json::to_value(&back).unwrap();
    assert_eq!(shown["token_id"], c.token_id.to_string());
    assert_eq!(shown["expires_at"], "2024-05-15T12:30:00Z");
    assert_eq!(shown["limits"]["per_transaction"], 1_500_000);
}

#[test]
fn tampered_payload_rejected() {
    let c = claims();
    let token = issue_token(&key(1), &c);
    let parts: Vec<&str> = token.split('.').collect();
    let json = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let forged = json.replace("1500000", "5000000");
    assert_ne!(forged, json);
    let forged_token = format!("KA1.{}.{}", URL_SAFE_NO_PAD.encode(forged), parts[2]);
    let now = datetime!(2024-05-15 12:10 UTC);
    assert_eq!(verify_token(&key(1).verifying_key(), &forged_token, now), Err(TokenError::BadSignature));
    // Flipping one character of the payload is caught too.
    let mut bytes = token.into_bytes();
    bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(bytes).unwrap();
    assert!(verify_token(&key(1).verifying_key(), &flipped, now).is_err());
}

#[test]
fn expired_rejected() {
    let c = claims();
    let token = issue_token(&key(1), &c);
    let err = verify_token(&key(1).verifying_key(), &token, datetime!(2024-05-15 12:30 UTC)).unwrap_err();
    assert!(matches!(err, TokenError::Expired { .. }));
    assert!(err.to_string().contains("expired"));
}

#[test]
fn wrong_key_rejected() {
    let token = issue_token(&key(1), &claims());
    assert_eq!(
        verify_token(&key(2).verifying_key(), &token, datetime!(2024-05-15 12:10 UTC)),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn bad_format_is_named() {
    let vk = key(1).verifying_key();
    let now = datetime!(2024-05-15 12:10 UTC);
    for bad in ["", "KA1", "KA1.abc", "KA2.e30.AAAA", "KA1.e30.!!!", "KA1.e30.AAAA", "KA1.a.b.c"] {
        assert!(matches!(verify_token(&vk, bad, now), Err(TokenError::BadFormat(_))), "{bad}");
    }
}

#[test]
fn token_id_parses_back() {
    let id = TokenId::random();
    assert_eq!(id.to_string().len(), 32);
    assert_eq!(id.to_string().parse::<TokenId>().unwrap(), id);
    assert!("xyz".parse::<TokenId>().is_err());
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(s in ".{0,300}", dotted in "KA1\\.[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,100}") {
        let vk = key(1).verifying_key();
        let now = datetime!(2024-05-15 12:10 UTC);
        let _ = verify_token(&vk, &s, now);
        prop_assert!(verify_token(&vk, &dotted, now).is_err());
    }

    #[test]
    fn mutated_tokens_never_verify_with_changed_claims(pos in 0usize..600, byte in any::<u8>()) {
        let c = claims();
        let token = issue_token(&key(1), &c);
        let mut bytes = token.clone().into_bytes();
        let pos = pos % bytes.len();
        bytes[pos] = byte;
        if let Ok(s) = String::from_utf8(bytes) {
            if let Ok(back) = verify_token(&key(1).verifying_key(), &s, datetime!(2024-05-15 12:10 UTC)) {
                prop_assert_eq!(back, c);
            }
        }
    }
}
