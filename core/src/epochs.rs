//! The epoch files at start — `acceptedEpoch`, `currentEpoch`, what an interrupted write of
//! `currentEpoch` left in `currentEpoch.tmp`, and ZooKeeper 3.4's `updatingEpoch` mark — read
//! as ZooKeeper's `QuorumPeer.loadDataBase` reads them: a decision on the files' bytes, which
//! zkserver's storage and the simulator's disk both carry out.

use std::fmt;

/// One of the two epoch files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochFile {
    Accepted,
    Current,
}

impl EpochFile {
    /// The file's name in the data directory's `version-2`.
    pub const fn name(self) -> &'static str {
        match self {
            EpochFile::Accepted => "acceptedEpoch",
            EpochFile::Current => "currentEpoch",
        }
    }
}

/// What the data directory holds (`None`: no such file).
#[derive(Clone, Debug, Default)]
pub struct EpochFiles {
    pub accepted: Option<Vec<u8>>,
    pub current: Option<Vec<u8>>,
    /// `currentEpoch.tmp`: written, not yet renamed into place when the server stopped.
    pub current_tmp: Option<Vec<u8>>,
    /// ZooKeeper 3.4's `updatingEpoch` exists.
    pub updating: bool,
    /// The epoch of the last zxid in the log (or the snapshot).
    pub log_epoch: u32,
}

/// What recovery found, and what to write back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Epochs {
    pub accepted: u32,
    pub current: u32,
    /// Files to (re)write with these values, in order, before anything else starts.
    pub write: Vec<(EpochFile, u32)>,
    /// `updatingEpoch` to remove, after the writes.
    pub remove_updating: bool,
    /// What was not read as written, for the log.
    pub notes: Vec<EpochNote>,
}

/// A decision recovery made, worth a line in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EpochNote {
    /// The file was missing: its epoch is the log's.
    Derived(EpochFile, u32),
    /// `updatingEpoch` found (3.4 was changing epochs): currentEpoch is the log's.
    Updating(u32),
    /// currentEpoch was behind the log: `currentEpoch.tmp` held the epoch being written.
    FromTmp(u32),
}

impl fmt::Display for EpochNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EpochNote::Derived(file, e) => write!(
                f,
                "{} missing: {e}, the epoch of the last zxid",
                file.name()
            ),
            EpochNote::Updating(e) => {
                write!(
                    f,
                    "updatingEpoch found: currentEpoch is the log's epoch, {e}"
                )
            }
            EpochNote::FromTmp(e) => write!(
                f,
                "currentEpoch behind the log: taking {e} from currentEpoch.tmp"
            ),
        }
    }
}

/// Why the epoch files cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EpochError {
    NotAnEpoch {
        file: EpochFile,
        content: String,
    },
    /// A server accepts an epoch before it makes it current.
    OutOfOrder {
        accepted: u32,
        current: u32,
    },
}

impl fmt::Display for EpochError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EpochError::NotAnEpoch { file, content } => {
                write!(f, "{}: {content:?} is not an epoch", file.name())
            }
            EpochError::OutOfOrder { accepted, current } => write!(
                f,
                "acceptedEpoch {accepted} is less than currentEpoch {current}: a server accepts \
                 an epoch before it makes it current"
            ),
        }
    }
}

/// An epoch file's content: a decimal number, surrounding whitespace allowed.
pub fn parse(bytes: &[u8]) -> Option<u32> {
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
}

/// The bytes of an epoch file holding `e`, as ZooKeeper writes it.
pub fn bytes(e: u32) -> Vec<u8> {
    e.to_string().into_bytes()
}

/// Reads the epoch files as ZooKeeper does: a missing file takes the log's epoch (and is
/// written); with `updatingEpoch`, currentEpoch is the log's; a currentEpoch behind the log
/// takes what `currentEpoch.tmp` holds if that is not behind it too (an unreadable tmp is
/// ignored); and acceptedEpoch may not be below currentEpoch.
pub fn recover(files: &EpochFiles) -> Result<Epochs, EpochError> {
    let derived = files.log_epoch;
    let mut out = Epochs {
        accepted: 0,
        current: 0,
        write: Vec::new(),
        remove_updating: false,
        notes: Vec::new(),
    };
    let read = |file: EpochFile, bytes: &Option<Vec<u8>>, out: &mut Epochs| match bytes {
        Some(b) => parse(b).ok_or_else(|| EpochError::NotAnEpoch {
            file,
            content: String::from_utf8_lossy(b).into_owned(),
        }),
        None => {
            out.write.push((file, derived));
            out.notes.push(EpochNote::Derived(file, derived));
            Ok(derived)
        }
    };
    let mut current = read(EpochFile::Current, &files.current, &mut out)?;
    if files.updating {
        current = derived;
        out.write.push((EpochFile::Current, current));
        out.remove_updating = true;
        out.notes.push(EpochNote::Updating(derived));
    }
    if derived > current {
        if let Some(e) = files
            .current_tmp
            .as_deref()
            .and_then(parse)
            .filter(|e| *e >= derived)
        {
            current = e;
            out.write.push((EpochFile::Current, current));
            out.notes.push(EpochNote::FromTmp(e));
        }
    }
    let accepted = read(EpochFile::Accepted, &files.accepted, &mut out)?;
    if accepted < current {
        return Err(EpochError::OutOfOrder { accepted, current });
    }
    out.accepted = accepted;
    out.current = current;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(accepted: Option<&str>, current: Option<&str>, log_epoch: u32) -> EpochFiles {
        EpochFiles {
            accepted: accepted.map(|s| s.as_bytes().to_vec()),
            current: current.map(|s| s.as_bytes().to_vec()),
            log_epoch,
            ..Default::default()
        }
    }

    #[test]
    fn files_as_written_are_read_back() {
        let e = recover(&files(Some("5"), Some("4\n"), 4)).unwrap();
        assert_eq!((e.accepted, e.current), (5, 4));
        assert!(e.write.is_empty() && e.notes.is_empty() && !e.remove_updating);
    }

    #[test]
    fn a_missing_file_takes_the_logs_epoch_and_is_written() {
        let e = recover(&files(None, None, 3)).unwrap();
        assert_eq!((e.accepted, e.current), (3, 3));
        assert_eq!(
            e.write,
            vec![(EpochFile::Current, 3), (EpochFile::Accepted, 3)]
        );
    }

    #[test]
    fn updating_epoch_makes_current_the_logs() {
        let mut f = files(Some("7"), Some("5"), 6);
        f.updating = true;
        let e = recover(&f).unwrap();
        assert_eq!((e.accepted, e.current), (7, 6));
        assert!(e.remove_updating);
        assert_eq!(e.write, vec![(EpochFile::Current, 6)]);
    }

    #[test]
    fn a_current_epoch_behind_the_log_takes_the_tmp_file_unless_it_is_behind_too() {
        let mut f = files(Some("6"), Some("5"), 6);
        f.current_tmp = Some(b"6".to_vec());
        let e = recover(&f).unwrap();
        assert_eq!(e.current, 6);
        assert_eq!(e.notes, vec![EpochNote::FromTmp(6)]);
        f.current_tmp = Some(b"4".to_vec());
        assert_eq!(recover(&f).unwrap().current, 5);
        f.current_tmp = Some(b"garbage".to_vec());
        assert_eq!(recover(&f).unwrap().current, 5);
    }

    #[test]
    fn bad_files_are_refused_by_name() {
        assert_eq!(
            recover(&files(Some("x"), Some("1"), 1)),
            Err(EpochError::NotAnEpoch {
                file: EpochFile::Accepted,
                content: "x".into()
            })
        );
        assert_eq!(
            recover(&files(Some("1"), Some("2"), 1)),
            Err(EpochError::OutOfOrder {
                accepted: 1,
                current: 2
            })
        );
    }
}
