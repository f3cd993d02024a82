//! `veilbox keys init` and `veilbox keys rotate` on a real SQLite file: the key file is
//! private, never overwritten, and after a rotation the data keys open with the new master
//! key only.
#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests fail loudly")]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::Output;

use veilbox_server::config::Config;
use veilbox_server::keyring::unlock;
use veilbox_vault::MasterKey;

fn veilbox(dir: &std::path::Path, key_file: &std::path::Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_veilbox"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "VEILBOX_DATABASE_URL",
            format!("sqlite://{}", dir.join("v.db").display()),
        )
        .env("VEILBOX_MASTER_KEY_FILE", key_file)
        .env("VEILBOX_LOG", "warn")
        .current_dir(dir)
        .output()
        .expect("run veilbox")
}

fn config_with_key_file(dir: &std::path::Path, key_file: &std::path::Path) -> Config {
    let mut config = support::test_config(&format!("sqlite://{}", dir.join("v.db").display()));
    config.master_key = None;
    config.master_key_file = key_file.to_path_buf();
    config
}

#[tokio::test]
async fn keys_are_created_private_and_rotation_rewraps_every_data_key() {
    let dir = tempfile::tempdir().unwrap();
    let old_file = dir.path().join("keys/master.key");

    let made = veilbox(dir.path(), &old_file, &["keys", "init"]);
    assert!(made.status.success(), "{made:?}");
    let stdout = String::from_utf8_lossy(&made.stdout);
    let old_key = MasterKey::load_file(&old_file).unwrap();
    assert!(stdout.contains(&old_key.id()), "{stdout}");
    assert!(
        !stdout.contains(old_key.to_text().as_str()),
        "the key itself is never printed"
    );
    let mode = std::fs::metadata(&old_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let again = veilbox(dir.path(), &old_file, &["keys", "init"]);
    assert!(!again.status.success(), "never overwrites a key");
    assert_eq!(MasterKey::load_file(&old_file).unwrap().id(), old_key.id());

    // A running Veilbox makes its staff data key under the old master key.
    let config = config_with_key_file(dir.path(), &old_file);
    let store = veilbox_server::open_store(&config).await.unwrap();
    let store = unlock(&config, store).await.unwrap();
    let before = store.data_keys().await.unwrap();
    // The system keys: staff secrets, raw events and the blind index root.
    assert_eq!(before.len(), 3);
    assert!(before.iter().all(|k| k.kek_id == old_key.id()));
    store.close().await;

    let new_file = dir.path().join("keys/master-2.key");
    let rotated = veilbox(
        dir.path(),
        &old_file,
        &["keys", "rotate", "--new-file", new_file.to_str().unwrap()],
    );
    assert!(rotated.status.success(), "{rotated:?}");
    assert!(String::from_utf8_lossy(&rotated.stdout).contains("3 data keys re-wrapped"));
    let new_key = MasterKey::load_file(&new_file).unwrap();

    let store = veilbox_server::open_store(&config).await.unwrap();
    let after = store.data_keys().await.unwrap();
    assert_eq!(after.len(), 3);
    assert!(after.iter().all(|k| k.kek_id == new_key.id()));
    assert_ne!(after[0].wrapped, before[0].wrapped);
    // The new key opens them; the old one no longer does.
    unlock(&config_with_key_file(dir.path(), &new_file), store.clone())
        .await
        .expect("opens with the new key");
    let stale = unlock(&config, store.clone()).await;
    assert!(stale.is_err(), "the old key no longer opens the data keys");
    store.close().await;
}
