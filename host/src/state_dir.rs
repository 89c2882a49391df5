//! The host's state directory: created private to the host's user, and
//! refused when other users could write to it (it holds the compiled cache,
//! which the host loads as code, the caller's blobs and the jobs).

use std::path::Path;

/// Creates `dir` (private to this user) if it does not exist, and checks
/// that no other user can write to it or to its compiled cache.
///
/// # Errors
///
/// A message naming the directory, its mode and the command that fixes it.
pub(crate) fn prepare(dir: &Path) -> Result<(), String> {
    if !dir.exists() {
        create_private(dir)
            .map_err(|e| format!("cannot create the state directory `{}`: {e}", dir.display()))?;
    }
    check_not_shared(dir)?;
    let cache = dir.join("cache");
    if cache.exists() {
        check_not_shared(&cache)?;
    }
    Ok(())
}

#[cfg(unix)]
fn create_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn check_not_shared(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(dir)
        .map_err(|e| format!("cannot read the state directory `{}`: {e}", dir.display()))?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(format!(
            "the state directory `{}` can be written by other users (mode {mode:o}); it holds \
             compiled plugins the host loads as code: run `chmod go-w {}` (or use another \
             --state-dir)",
            dir.display(),
            dir.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_not_shared(_dir: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_state_directory_is_private_and_a_shared_one_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("state");
        prepare(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = prepare(&dir).unwrap_err();
        assert!(
            err.contains("mode 777") && err.contains("chmod go-w"),
            "{err}"
        );
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        prepare(&dir).unwrap();
    }
}
