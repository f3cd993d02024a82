//! Master keys, the vault's key ring and rotation, and key files.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

use std::fs;
use std::path::Path;

use veilbox_vault::{DataKey, Field, MasterKey, Vault, VaultError, WrappedKey};

const OWNER: &str = "customer:c_7Qx2";

fn copy(key: &MasterKey) -> MasterKey {
    MasterKey::parse(&key.to_text()).unwrap()
}

#[test]
fn wrap_then_unwrap_opens_what_the_key_sealed() {
    let vault = Vault::new(MasterKey::generate());
    let key = DataKey::generate();
    let field = Field::new("customers", "phone", "c_7Qx2");
    let sealed = key.seal_str(1, field, "+447700900461");

    let wrapped = vault.wrap(&key, OWNER);
    assert_eq!(wrapped.kek_id, vault.current_id());
    assert!(wrapped.wrapped.starts_with("vbw1:"));
    drop(key);

    let key = vault.unwrap(&wrapped, OWNER).unwrap();
    assert_eq!(
        key.open_string(field, &sealed).unwrap().as_str(),
        "+447700900461"
    );
}

#[test]
fn two_wraps_of_one_key_differ() {
    let vault = Vault::new(MasterKey::generate());
    let key = DataKey::generate();
    assert_ne!(vault.wrap(&key, OWNER), vault.wrap(&key, OWNER));
}

#[test]
fn a_wrapped_key_copied_to_another_owner_does_not_unwrap() {
    let vault = Vault::new(MasterKey::generate());
    let wrapped = vault.wrap(&DataKey::generate(), OWNER);
    for other in ["customer:c_9Zk4", "customer:c_7Qx", "", "index"] {
        assert!(matches!(
            vault.unwrap(&wrapped, other),
            Err(VaultError::Open)
        ));
    }
}

#[test]
fn a_damaged_wrapped_key_does_not_unwrap() {
    let vault = Vault::new(MasterKey::generate());
    let wrapped = vault.wrap(&DataKey::generate(), OWNER);
    let text = &wrapped.wrapped;
    let mut cases = vec![
        String::new(),
        "vbw1:".to_owned(),
        text.replacen("vbw1:", "vbw2:", 1),
        text[..text.len() - 1].to_owned(),
        format!("{text}A"),
        format!("{text}="),
        text.replace("vbw1:", "vb1:"),
    ];
    for position in 5..text.len() {
        let mut changed = text.clone().into_bytes();
        changed[position] = if changed[position] == b'A' {
            b'B'
        } else {
            b'A'
        };
        cases.push(String::from_utf8(changed).unwrap());
    }
    for case in cases {
        let damaged = WrappedKey {
            kek_id: wrapped.kek_id.clone(),
            wrapped: case,
        };
        assert!(
            matches!(vault.unwrap(&damaged, OWNER), Err(VaultError::Open)),
            "{damaged:?}"
        );
    }
}

#[test]
fn a_relabelled_master_key_id_does_not_unwrap() {
    // Both keys are in the ring, so the id resolves; the AAD still binds the original id.
    let a = MasterKey::generate();
    let b = MasterKey::generate();
    let b_id = b.id();
    let vault = Vault::new(a).with_previous(b);
    let mut wrapped = vault.wrap(&DataKey::generate(), OWNER);
    wrapped.kek_id = b_id;
    assert!(matches!(
        vault.unwrap(&wrapped, OWNER),
        Err(VaultError::Open)
    ));
}

#[test]
fn unknown_master_key_error_names_the_id() {
    let old = Vault::new(MasterKey::generate());
    let wrapped = old.wrap(&DataKey::generate(), OWNER);
    let other = Vault::new(MasterKey::generate());
    match other.unwrap(&wrapped, OWNER) {
        Err(VaultError::UnknownMasterKey(id)) => {
            assert_eq!(id, old.current_id());
        }
        result => panic!("expected UnknownMasterKey, got {result:?}"),
    }
    let message = other.unwrap(&wrapped, OWNER).unwrap_err().to_string();
    assert!(message.contains(&old.current_id()), "{message}");
}

#[test]
fn rotation_unwraps_old_keys_then_rewraps_under_the_new_one() {
    let old = MasterKey::generate();
    let new = MasterKey::generate();
    let data = DataKey::generate();
    let field = Field::new("customers", "email", "c_7Qx2");
    let sealed = data.seal_str(1, field, "priya@example.com");
    let wrapped_old = Vault::new(copy(&old)).wrap(&data, OWNER);
    assert_eq!(wrapped_old.kek_id, old.id());

    let rotating = Vault::new(copy(&new)).with_previous(copy(&old));
    assert_eq!(rotating.current_id(), new.id());
    let unwrapped = rotating.unwrap(&wrapped_old, OWNER).unwrap();
    assert_eq!(
        unwrapped.open_string(field, &sealed).unwrap().as_str(),
        "priya@example.com"
    );

    // Re-wrapping by hand and with `rewrap` both land under the new key.
    let rewrapped = rotating.wrap(&unwrapped, OWNER);
    assert_eq!(rewrapped.kek_id, new.id());
    let also = rotating.rewrap(&wrapped_old, OWNER).unwrap();
    assert_eq!(also.kek_id, new.id());

    let after = Vault::new(copy(&new));
    for wrapped in [&rewrapped, &also] {
        let key = after.unwrap(wrapped, OWNER).unwrap();
        assert_eq!(
            key.open_string(field, &sealed).unwrap().as_str(),
            "priya@example.com"
        );
    }
    assert!(matches!(
        after.unwrap(&wrapped_old, OWNER),
        Err(VaultError::UnknownMasterKey(id)) if id == old.id()
    ));
}

#[test]
fn vault_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<Vault>();
    assert_send_sync::<veilbox_vault::BlindIndex>();

    let vault = Vault::new(MasterKey::generate());
    let wrapped = vault.wrap(&DataKey::generate(), OWNER);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let vault = vault.clone();
            let wrapped = wrapped.clone();
            std::thread::spawn(move || vault.unwrap(&wrapped, OWNER).is_ok())
        })
        .collect();
    for handle in handles {
        assert!(handle.join().unwrap());
    }
}

#[test]
fn debug_output_shows_ids_and_no_key_material() {
    let current = MasterKey::generate();
    let older = MasterKey::generate();
    let texts = [current.to_text(), older.to_text()];
    let ids = [current.id(), older.id()];

    let shown = format!("{current:?} {current:#?}");
    assert!(shown.contains(&ids[0]), "{shown}");
    let vault = Vault::new(current).with_previous(older);
    let shown = format!("{shown} {vault:?} {vault:#?}");
    assert!(
        shown.contains(&ids[0]) && shown.contains(&ids[1]),
        "{shown}"
    );

    let data = DataKey::generate();
    let shown = format!("{shown} {data:?} {data:#?}");
    assert!(!shown.contains("vbk1:"));
    for text in &texts {
        let base64 = text.strip_prefix("vbk1:").unwrap();
        assert!(!shown.contains(base64), "{shown}");
        assert!(!shown.contains(&base64[..12]), "{shown}");
    }
}

#[test]
fn master_key_text_round_trips() {
    let key = MasterKey::generate();
    let text = key.to_text();
    assert_eq!(text.len(), "vbk1:".len() + 43);
    let again = MasterKey::parse(&format!("\n\t{} \r\n", text.as_str())).unwrap();
    assert_eq!(again.id(), key.id());
    assert_eq!(again.to_text().as_str(), text.as_str());
    assert!(matches!(
        MasterKey::parse("vbk1:short"),
        Err(VaultError::BadKey)
    ));
    let message = MasterKey::parse(&text[..text.len() - 1])
        .unwrap_err()
        .to_string();
    assert!(
        !message.contains(&text[5..20]),
        "error repeats the key: {message}"
    );
}

#[test]
fn create_file_writes_a_private_key_that_loads_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys/nested/master.key");
    let created = MasterKey::create_file(&path).unwrap();
    let loaded = MasterKey::load_file(&path).unwrap();
    assert_eq!(loaded.id(), created.id());
    let contents = fs::read_to_string(&path).unwrap();
    assert_eq!(contents, format!("{}\n", created.to_text().as_str()));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("keys")), 0o700);
        assert_eq!(mode(&dir.path().join("keys/nested")), 0o700);
    }
}

#[test]
fn create_file_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    let first = MasterKey::create_file(&path).unwrap();
    match MasterKey::create_file(&path) {
        Err(VaultError::Io(err)) => assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(MasterKey::load_file(&path).unwrap().id(), first.id());
}

#[cfg(unix)]
#[test]
fn load_file_refuses_keys_others_can_reach() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    let key = MasterKey::create_file(&path).unwrap();

    for mode in [0o644, 0o640, 0o604, 0o620, 0o602, 0o660] {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        match MasterKey::load_file(&path) {
            Err(VaultError::Permissions(message)) => {
                assert!(message.contains(&format!("{mode:04o}")), "{message}");
                assert!(message.contains("master.key"), "{message}");
                assert!(!message.contains(&key.to_text()[5..]), "{message}");
            }
            other => panic!("mode {mode:o}: expected Permissions, got {other:?}"),
        }
    }
    for mode in [0o600, 0o400] {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        assert_eq!(MasterKey::load_file(&path).unwrap().id(), key.id());
    }
}

#[test]
fn load_file_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.key");
    assert!(matches!(
        MasterKey::load_file(&missing),
        Err(VaultError::Io(_))
    ));
    assert!(matches!(
        MasterKey::load_file(dir.path()),
        Err(VaultError::Io(_))
    ));

    let write_private = |name: &str, contents: &[u8]| {
        let path = dir.path().join(name);
        fs::write(&path, contents).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        }
        path
    };
    for (name, contents) in [
        ("empty.key", b"".to_vec()),
        ("garbage.key", b"hello\n".to_vec()),
        ("binary.key", vec![0xFF, 0xFE, 0x00]),
        ("huge.key", vec![b'A'; 10_000]),
    ] {
        let path = write_private(name, &contents);
        assert!(
            matches!(MasterKey::load_file(&path), Err(VaultError::BadKey)),
            "{name}"
        );
    }
    let hand_written = write_private(
        "by-hand.key",
        format!("  {}  \n\n", MasterKey::generate().to_text().as_str()).as_bytes(),
    );
    assert!(MasterKey::load_file(&hand_written).is_ok());
}
