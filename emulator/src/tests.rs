use super::*;

#[test]
fn uid_is_16_digits_and_stable() {
    let a = account_uid(DEMO_ACCESS_KEY_ID);
    assert_eq!(a.len(), 16);
    assert!(a.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(a, account_uid(DEMO_ACCESS_KEY_ID));
    assert_ne!(a, account_uid("other"));
}

#[test]
fn request_ids_look_like_uuids() {
    let id = request_id();
    assert_eq!(id.len(), 36);
    assert_eq!(id.matches('-').count(), 4);
    assert!(
        id.chars()
            .all(|c| c == '-' || c.is_ascii_digit() || c.is_ascii_uppercase())
    );
    assert_ne!(id, request_id());
}
