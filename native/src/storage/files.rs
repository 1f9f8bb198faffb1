//! The filesystem moves storage is built from: names with a zxid in them, listing them in zxid
//! order, and replacing a file atomically (write a temporary file, fsync it, rename it over the
//! old one, fsync the directory so the rename itself survives a crash), as ZooKeeper's
//! `AtomicFileOutputStream` does.

use super::StorageError;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use zk_core::Zxid;

/// The suffix of a file being written, before it is renamed into place.
pub(super) const TMP_SUFFIX: &str = ".tmp";

/// Wraps an IO error with what was being done and to which file.
pub(super) fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StorageError {
    let path = path.to_path_buf();
    move |source| StorageError::Io { op, path, source }
}

/// `log.<zxid hex>` / `snapshot.<zxid hex>`, as ZooKeeper's `Util.makeLogName` names them.
pub(super) fn zxid_name(prefix: &str, zxid: Zxid) -> String {
    format!("{prefix}.{:x}", zxid.0)
}

/// The zxid in a name made by [`zxid_name`]; `None` for any other name (temporary files too).
pub(super) fn parse_zxid_name(name: &str, prefix: &str) -> Option<Zxid> {
    let hex = name.strip_prefix(prefix)?.strip_prefix('.')?;
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(Zxid)
}

/// The files of `dir` named `<prefix>.<zxid hex>`, in zxid order.
pub(super) fn list(dir: &Path, prefix: &str) -> Result<Vec<(Zxid, PathBuf)>, StorageError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        if let Some(z) = entry
            .file_name()
            .to_str()
            .and_then(|n| parse_zxid_name(n, prefix))
        {
            out.push((z, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Removes leftovers of interrupted atomic writes: `<prefix>...tmp` files in `dir`.
pub(super) fn remove_temp_files(
    dir: &Path,
    prefixes: &[&str],
) -> Result<Vec<PathBuf>, StorageError> {
    let mut removed = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(TMP_SUFFIX) && prefixes.iter().any(|p| name.starts_with(p)) {
            let path = entry.path();
            fs::remove_file(&path).map_err(io_err("remove", &path))?;
            removed.push(path);
        }
    }
    Ok(removed)
}

/// Makes a directory's entries (files created, renamed or removed in it) durable.
pub(super) fn fsync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync directory", dir))
}

/// Creates `dir` and its parents if they are missing.
pub(super) fn create_dir(dir: &Path) -> Result<(), StorageError> {
    fs::create_dir_all(dir).map_err(io_err("create directory", dir))
}

pub(super) fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(TMP_SUFFIX);
    PathBuf::from(s)
}

/// The first half of an atomic write: `bytes` in `<path>.tmp`, fsynced. Nothing at `path`
/// changes until [`commit_temp`].
pub(super) fn write_temp(path: &Path, bytes: &[u8]) -> Result<PathBuf, StorageError> {
    let tmp = tmp_path(path);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io_err("create", &tmp))?;
    f.write_all(bytes).map_err(io_err("write", &tmp))?;
    f.sync_all().map_err(io_err("fsync", &tmp))?;
    Ok(tmp)
}

/// The second half: renames the temporary file into place and fsyncs the directory.
pub(super) fn commit_temp(tmp: &Path, path: &Path) -> Result<(), StorageError> {
    fs::rename(tmp, path).map_err(io_err("rename into place", path))?;
    match path.parent() {
        Some(dir) => fsync_dir(dir),
        None => Ok(()),
    }
}

/// Replaces `path` with `bytes` atomically: after a crash it holds either the old or the new
/// bytes, never a mix.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let tmp = write_temp(path, bytes)?;
    commit_temp(&tmp, path)
}

/// Removes files and then fsyncs their directory once.
pub(super) fn remove_all(dir: &Path, paths: &[PathBuf]) -> Result<(), StorageError> {
    for p in paths {
        fs::remove_file(p).map_err(io_err("remove", p))?;
    }
    if paths.is_empty() {
        Ok(())
    } else {
        fsync_dir(dir)
    }
}

/// The bytes an unprivileged writer may still use on the filesystem holding `dir`.
pub(super) fn available_bytes(dir: &Path) -> Result<u64, StorageError> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io_err("stat", dir)(io::Error::from(io::ErrorKind::InvalidInput)))?;
        // SAFETY: `c` is a valid NUL-terminated path and `st` a properly sized out-parameter
        // that statvfs fills in.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
            return Err(io_err("stat", dir)(io::Error::last_os_error()));
        }
        Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_zxid_in_hex() {
        let z = Zxid::new(3, 0x1f);
        assert_eq!(zxid_name("log", z), "log.30000001f");
        assert_eq!(parse_zxid_name("log.30000001f", "log"), Some(z));
        assert_eq!(parse_zxid_name("snapshot.0", "snapshot"), Some(Zxid(0)));
        for bad in [
            "log",
            "log.",
            "log.xyz",
            "log.1.tmp",
            "logs.1",
            "log.11111111111111111",
        ] {
            assert_eq!(parse_zxid_name(bad, "log"), None, "{bad}");
        }
    }
}
