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

/// A labelled corpus posted through the webhook: the values masking finds never reach the
/// agent's browser, one it cannot know (an ordinary word used as a name, no cue) does, and
/// the replay says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corpus_replay_counts_what_reaches_the_agent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let corpus = dir.path().join("corpus.jsonl");
    let lines = [
        serde_json::json!({"id": 1, "text": "call me on +44 7700 966456 before noon",
            "spans": [{"start": 11, "end": 26, "label": "PHONE"}]}),
        serde_json::json!({"id": 2, "text": "card 4111  1111  1111  1111 cvv 737, parcel EE123456785IN",
            "spans": [{"start": 5, "end": 27, "label": "CARD"}, {"start": 32, "end": 35, "label": "CVV"},
                      {"start": 44, "end": 57, "label": "TRACKING"}]}),
        serde_json::json!({"id": 3, "text": "leave it with sunflower at the gate",
            "spans": [{"start": 14, "end": 23, "label": "PERSON"}]}),
    ];
    let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    std::fs::write(&corpus, text.join("\n")).expect("write corpus");
    let figures = veilbox_server::replay::measure_corpus(&corpus, usize::MAX)
        .await
        .expect("the corpus replay runs");
    figures.print(&corpus, true);
    assert_eq!(figures.messages, 3);
    assert_eq!(figures.shown_messages, 3, "every message is in the thread");
    assert_eq!(figures.values, 4, "the tracking number is meant to be seen");
    assert_eq!(figures.reached, 1, "{figures:?}");
    assert_eq!(figures.reached_at, vec![(3, "PERSON".to_owned())]);
}
