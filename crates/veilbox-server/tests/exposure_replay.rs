//! The exposure figure: the demo conversations worked by a scripted agent over HTTP (take,
//! read, answer, confirm the address by blind placeholder, resolve) expose none of the
//! personal data found in them, need no reveal, and the customers receive the real address.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_is_served_without_exposure_or_reveals() {
    let figures = veilbox_server::replay::measure(false)
        .await
        .expect("the replay runs");
    figures.print();
    assert!(figures.conversations >= 5, "{figures:?}");
    // The demo's messages carry addresses, phones, a card, an OTP: findings to measure.
    assert!(figures.findings >= 10, "{figures:?}");
    assert_eq!(figures.shown, 0, "{figures:?}");
    assert_eq!(figures.reveals, 0, "{figures:?}");
    assert_eq!(figures.without_reveal, figures.conversations);
    assert!(figures.placeholder_sends >= 3, "{figures:?}");
    assert_eq!(
        figures.placeholder_delivered, figures.placeholder_sends,
        "every placeholder reply reached the customer with the real address"
    );
    assert!(figures.bytes_seen > 10_000, "the agent read real pages");
}
