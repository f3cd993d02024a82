//! Master key files: created private (0600 in 0700 directories), never overwritten, and
//! refused when other users could read or replace them.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use zeroize::Zeroizing;

use crate::{MasterKey, VaultError};

/// A key file is one line of 48 characters; anything much larger is not a key file, and
/// reading it whole would be a way to make the server allocate without bound.
const MAX_KEY_FILE_BYTES: u64 = 1024;

impl MasterKey {
    /// Reads a key file written by [`MasterKey::create_file`] (or by hand: the text form
    /// of [`MasterKey::parse`], surrounding whitespace allowed).
    ///
    /// On unix the file must give its group and others no access at all (mode `0600` or
    /// `0400`): a key readable by others has leaked, and one writable by others can be
    /// swapped for the attacker's. Otherwise [`VaultError::Permissions`] names the path and
    /// the mode. The mode is read from the opened file, so it is the file actually read.
    pub fn load_file(path: &Path) -> Result<MasterKey, VaultError> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(VaultError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a regular file", path.display()),
            )));
        }
        check_private(path, &meta)?;
        if meta.len() > MAX_KEY_FILE_BYTES {
            return Err(VaultError::BadKey);
        }
        // Exact capacity and a bounded read: no reallocation leaves key bytes behind.
        let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_KEY_FILE_BYTES as usize + 1));
        file.take(MAX_KEY_FILE_BYTES + 1).read_to_end(&mut bytes)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| VaultError::BadKey)?;
        MasterKey::parse(text)
    }

    /// Generates a master key and writes it to a new file with mode `0600`.
    ///
    /// Never overwrites: an existing file is an [`io::ErrorKind::AlreadyExists`] error,
    /// because replacing a master key would make every data key it wrapped unreadable.
    /// Missing parent directories are created with mode `0700`. If writing fails after the
    /// file was created, the partial file is removed.
    pub fn create_file(path: &Path) -> Result<MasterKey, VaultError> {
        let key = MasterKey::try_generate()?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_dirs(parent)?;
        }
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path)?;
        let text = key.to_text();
        let written = file
            .write_all(text.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.sync_all());
        if let Err(err) = written {
            drop(file);
            // Best effort: the write error is the one worth reporting.
            fs::remove_file(path).ok();
            return Err(err.into());
        }
        Ok(key)
    }
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &fs::Metadata) -> Result<(), VaultError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(VaultError::Permissions(format!(
            "master key file {} has mode {mode:04o}: its group and others must have no access \
             (chmod 600 it)",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _meta: &fs::Metadata) -> Result<(), VaultError> {
    Ok(())
}

fn create_private_dirs(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
