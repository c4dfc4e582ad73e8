//! What the file system calls of this crate do differently on Unix and on Windows, in one place,
//! so that `files`, `index_file`, `lock` and the pid file say what they need and not how each
//! system does it: which file an open file or a path is (its identity), positioned reads,
//! opening without following a link, free space, flushing a folder, and the lock a writer
//! holds on a file whose line others must still read.
//!
//! The Unix side is what the crate always did (`fstat`, `pread`, `O_NOFOLLOW`, `statvfs`,
//! `fsync` of the folder, `flock`). The Windows side differs where Windows does:
//!
//! - A file's identity is its volume serial number and 64-bit file index
//!   (`GetFileInformationByHandle`) for device and inode, its last-write time in 100 ns for
//!   the modification time. A file system without 64-bit file IDs reports 0 (MS-FSCC 2.4.26;
//!   some network file systems do, for the serial number too): there every file has the same
//!   device and inode, the identities this crate compares rest on size and time (the read
//!   index's stamp also on the file's first 12,288 bytes), and the check that a lock file's
//!   path still names the file locked cannot see a replacement.
//! - `LockFileEx` locks are mandatory: a whole-file lock, as std's `File::lock` takes, makes
//!   every other process's read of the file fail, and the line naming the holder of the
//!   writer lock or the pid file could not be read. The lock is taken on one byte far past
//!   any content instead (`LOCK_OFFSET`), which excludes the same lockers and no reader.
//! - A folder cannot be flushed: Windows has no call that flushes one folder's entries
//!   (`FlushFileBuffers` flushes a folder only through a volume handle, which needs
//!   administrator rights). A rename there is atomic, but a power cut right after a publish
//!   may bring back the file published before it.
//!
//! What must not be known here: which files the crate keeps (`files::Beside`), what is in them,
//! and what a caller does with a refusal.

use std::fs::{File, OpenOptions};
use std::path::Path;

/// Which file an open file is, and its size and modification time: `Identity` and the read
/// index's stamp are made of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    /// The device (Unix) or the volume serial number (Windows).
    pub(crate) dev: u64,
    /// The inode (Unix) or the file index (Windows).
    pub(crate) ino: u64,
    /// Bytes.
    pub(crate) len: u64,
    /// Modification time in ns, since 1970 (Unix) or since 1601 (Windows): only compared.
    pub(crate) mtime_ns: i128,
}

/// A link at the end of a path that was opened without following it (Windows; Unix's
/// `O_NOFOLLOW` refuses with `ELOOP` itself).
#[cfg(windows)]
#[derive(Debug, thiserror::Error)]
#[error("it is a symbolic link or junction, which is not followed here")]
pub(crate) struct LinkNotFollowed;

#[cfg(unix)]
mod imp {
    use std::fs::{File, OpenOptions};
    use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
    use std::path::Path;

    use super::Stat;

    fn stat_of(m: &std::fs::Metadata) -> Stat {
        Stat {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        }
    }

    pub(super) fn stat(file: &File) -> std::io::Result<Stat> {
        file.metadata().map(|m| stat_of(&m))
    }

    pub(super) fn stat_path(path: &Path) -> std::io::Result<Stat> {
        std::fs::metadata(path).map(|m| stat_of(&m))
    }

    pub(super) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        file.read_exact_at(buf, offset)
    }

    pub(super) fn open_no_follow(options: &mut OpenOptions, path: &Path) -> std::io::Result<File> {
        options.custom_flags(libc::O_NOFOLLOW).open(path)
    }

    pub(super) fn free_bytes(dir: &Path) -> std::io::Result<u64> {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: `c` is a NUL-terminated path and `st` a buffer of the right type, which
        // `statvfs` fills completely when it returns 0.
        if unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: filled by the successful call above.
        let st = unsafe { st.assume_init() };
        #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
        Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
    }

    pub(super) fn sync_file(path: &Path) -> std::io::Result<()> {
        File::open(path).and_then(|f| f.sync_all())
    }

    pub(super) fn sync_dir(dir: &Path) -> std::io::Result<()> {
        File::open(dir).and_then(|f| f.sync_all())
    }

    pub(super) fn try_lock(file: &File) -> Result<(), std::fs::TryLockError> {
        file.try_lock()
    }

    pub(super) fn try_lock_shared(file: &File) -> Result<(), std::fs::TryLockError> {
        file.try_lock_shared()
    }
}

#[cfg(windows)]
mod imp {
    use std::fs::{File, OpenOptions, TryLockError};
    use std::os::windows::ffi::OsStrExt;
    use std::os::windows::fs::{FileExt, MetadataExt, OpenOptionsExt};
    use std::os::windows::io::AsRawHandle;
    use std::path::Path;

    use windows_sys::Win32::Foundation::ERROR_LOCK_VIOLATION;
    use windows_sys::Win32::Storage::FileSystem::{
        BY_HANDLE_FILE_INFORMATION, FILE_ATTRIBUTE_REPARSE_POINT, FILE_FLAG_BACKUP_SEMANTICS,
        FILE_FLAG_OPEN_REPARSE_POINT, FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
        GetDiskFreeSpaceExW, GetFileInformationByHandle, LOCKFILE_EXCLUSIVE_LOCK,
        LOCKFILE_FAIL_IMMEDIATELY, LockFileEx,
    };
    use windows_sys::Win32::System::IO::OVERLAPPED;

    use super::{LinkNotFollowed, Stat};

    /// The byte the writer lock and the pid file's lock are taken on: 2^62, past any file
    /// here (they hold one line), so no reader of that line is refused. Windows lets a lock
    /// lie past the end of the file.
    const LOCK_OFFSET: u64 = 1 << 62;

    pub(super) fn stat(file: &File) -> std::io::Result<Stat> {
        let mut info = BY_HANDLE_FILE_INFORMATION::default();
        // SAFETY: the handle is open for the life of `file`; `info` is the structure the call
        // fills.
        if unsafe { GetFileInformationByHandle(file.as_raw_handle(), &mut info) } == 0 {
            return Err(std::io::Error::last_os_error());
        }
        let join = |high: u32, low: u32| (u64::from(high) << 32) | u64::from(low);
        Ok(Stat {
            dev: u64::from(info.dwVolumeSerialNumber),
            ino: join(info.nFileIndexHigh, info.nFileIndexLow),
            len: join(info.nFileSizeHigh, info.nFileSizeLow),
            mtime_ns: i128::from(join(
                info.ftLastWriteTime.dwHighDateTime,
                info.ftLastWriteTime.dwLowDateTime,
            )) * 100,
        })
    }

    pub(super) fn stat_path(path: &Path) -> std::io::Result<Stat> {
        // No access asked, every sharing allowed: this open conflicts with no other process's
        // handle (DuckDB's writer shares only deletion). Backup semantics open folders too.
        let file = OpenOptions::new()
            .access_mode(0)
            .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)
            .custom_flags(FILE_FLAG_BACKUP_SEMANTICS)
            .open(path)?;
        stat(&file)
    }

    pub(super) fn read_exact_at(
        file: &File,
        mut buf: &mut [u8],
        mut offset: u64,
    ) -> std::io::Result<()> {
        // `seek_read` may read less than asked, as `pread` may; Unix's `read_exact_at` loops
        // the same way.
        while !buf.is_empty() {
            match file.seek_read(buf, offset) {
                Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub(super) fn open_no_follow(options: &mut OpenOptions, path: &Path) -> std::io::Result<File> {
        // Opens a link itself rather than its target; a link found is refused, as `O_NOFOLLOW`
        // refuses it, before anything is written through the handle.
        let file = options
            .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
            .open(path)?;
        if file.metadata()?.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            return Err(std::io::Error::other(LinkNotFollowed));
        }
        Ok(file)
    }

    pub(super) fn free_bytes(dir: &Path) -> std::io::Result<u64> {
        let wide: Vec<u16> = dir.as_os_str().encode_wide().chain([0]).collect();
        let mut available = 0u64;
        // SAFETY: `wide` is a NUL-terminated UTF-16 path; the one out-pointer asked for is a
        // valid u64, the two not asked for are null, as the call allows.
        let ok = unsafe {
            GetDiskFreeSpaceExW(
                wide.as_ptr(),
                &mut available,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        if ok == 0 {
            return Err(std::io::Error::last_os_error());
        }
        // Free bytes available to this user: quotas included, as `f_bavail` leaves root's
        // reserve out on Unix.
        Ok(available)
    }

    pub(super) fn sync_file(path: &Path) -> std::io::Result<()> {
        // `FlushFileBuffers` needs a handle with write access.
        OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.sync_all())
    }

    pub(super) fn sync_dir(_dir: &Path) -> std::io::Result<()> {
        // See the module doc: Windows has no call for it.
        Ok(())
    }

    fn lock(file: &File, flags: u32) -> Result<(), TryLockError> {
        let mut at = OVERLAPPED::default();
        at.Anonymous.Anonymous.Offset = LOCK_OFFSET as u32;
        at.Anonymous.Anonymous.OffsetHigh = (LOCK_OFFSET >> 32) as u32;
        // SAFETY: the handle is open for the life of `file`; `at` names the byte to lock and
        // the call returns at once (LOCKFILE_FAIL_IMMEDIATELY on a synchronous handle).
        let ok = unsafe {
            LockFileEx(
                file.as_raw_handle(),
                flags | LOCKFILE_FAIL_IMMEDIATELY,
                0,
                1,
                0,
                &mut at,
            )
        };
        if ok != 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(code) if code == ERROR_LOCK_VIOLATION as i32 => Err(TryLockError::WouldBlock),
            _ => Err(TryLockError::Error(e)),
        }
    }

    pub(super) fn try_lock(file: &File) -> Result<(), TryLockError> {
        lock(file, LOCKFILE_EXCLUSIVE_LOCK)
    }

    pub(super) fn try_lock_shared(file: &File) -> Result<(), TryLockError> {
        lock(file, 0)
    }
}

/// The identity, size and time of the open `file`.
pub(crate) fn stat(file: &File) -> std::io::Result<Stat> {
    imp::stat(file)
}

/// The identity, size and time of the file `path` names, a link followed.
pub(crate) fn stat_path(path: &Path) -> std::io::Result<Stat> {
    imp::stat_path(path)
}

/// Reads exactly `buf.len()` bytes at `offset` of `file`. On Windows the file's position moves;
/// no caller reads these files by position and sequentially both.
pub(crate) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    imp::read_exact_at(file, buf, offset)
}

/// Opens `path` with `options`, refusing a link at its end rather than following it.
pub(crate) fn open_no_follow(options: &mut OpenOptions, path: &Path) -> std::io::Result<File> {
    imp::open_no_follow(options, path)
}

/// Bytes this user may still write in the folder `dir`.
pub(crate) fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    imp::free_bytes(dir)
}

/// Flushes the file `path` to disk.
pub(crate) fn sync_file(path: &Path) -> std::io::Result<()> {
    imp::sync_file(path)
}

/// Flushes the folder `dir`'s entries to disk, so that a rename in it survives a power cut
/// (nothing on Windows: see the module doc).
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    imp::sync_dir(dir)
}

/// Takes the exclusive lock of `file`, or says another handle holds a lock on it.
pub(crate) fn try_lock(file: &File) -> Result<(), std::fs::TryLockError> {
    imp::try_lock(file)
}

/// Takes a shared lock of `file`, or says another handle holds the exclusive one.
pub(crate) fn try_lock_shared(file: &File) -> Result<(), std::fs::TryLockError> {
    imp::try_lock_shared(file)
}

#[cfg(test)]
mod tests {
    use std::fs::TryLockError;
    use std::io::Read;

    use super::*;

    /// The point of the Windows lock on a byte past the content: while a writer holds the lock,
    /// another handle is refused the lock (shared or exclusive) but reads the holder's line.
    #[test]
    fn a_held_lock_refuses_lockers_and_not_readers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.lock");
        std::fs::write(&path, "pid 1 running `update`").unwrap();
        let holder = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        try_lock(&holder).unwrap();
        let mut other = File::open(&path).unwrap();
        assert!(matches!(try_lock(&other), Err(TryLockError::WouldBlock)));
        assert!(matches!(
            try_lock_shared(&other),
            Err(TryLockError::WouldBlock)
        ));
        let mut line = String::new();
        other.read_to_string(&mut line).unwrap();
        assert_eq!(line, "pid 1 running `update`");
        drop(holder);
        try_lock(&other).unwrap();
    }

    #[test]
    fn shared_locks_coexist_and_keep_the_exclusive_one_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.lock");
        std::fs::write(&path, "x").unwrap();
        let (a, b, c) = (
            File::open(&path).unwrap(),
            File::open(&path).unwrap(),
            File::open(&path).unwrap(),
        );
        try_lock_shared(&a).unwrap();
        try_lock_shared(&b).unwrap();
        assert!(matches!(try_lock(&c), Err(TryLockError::WouldBlock)));
    }

    /// Another file put at a path gives it another identity; the open file keeps its own. (The
    /// open file is moved aside first: replacing a file held open is what Windows refuses
    /// without POSIX renames, Wine 8 among them, and is not this test's question.)
    #[test]
    fn identity_follows_the_file_not_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let (path, new) = (dir.path().join("db"), dir.path().join("db.new"));
        std::fs::write(&path, "old").unwrap();
        let opened = File::open(&path).unwrap();
        let before = stat(&opened).unwrap();
        assert_eq!(stat_path(&path).unwrap(), before);
        assert_eq!(before.len, 3);
        std::fs::rename(&path, dir.path().join("db.old")).unwrap();
        std::fs::write(&new, "newer").unwrap();
        std::fs::rename(&new, &path).unwrap();
        let after = stat_path(&path).unwrap();
        assert_ne!((after.dev, after.ino), (before.dev, before.ino));
        assert_eq!(after.len, 5);
        assert_eq!(stat(&opened).unwrap(), before);
        assert_eq!(
            stat_path(&dir.path().join("absent")).unwrap_err().kind(),
            std::io::ErrorKind::NotFound
        );
    }

    #[test]
    fn positioned_reads_read_exactly_or_fail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        let file = File::open(&path).unwrap();
        let mut buf = [0; 4];
        read_exact_at(&file, &mut buf, 3).unwrap();
        assert_eq!(&buf, b"3456");
        assert_eq!(
            read_exact_at(&file, &mut buf, 8).unwrap_err().kind(),
            std::io::ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn open_no_follow_creates_and_reopens_a_plain_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let open = || {
            open_no_follow(
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false),
                &path,
            )
        };
        std::io::Write::write_all(&mut open().unwrap(), b"line").unwrap();
        assert_eq!(stat(&open().unwrap()).unwrap().len, 4);
    }

    // Unix only: making a symlink on Windows needs a privilege or developer mode.
    #[cfg(unix)]
    #[test]
    fn open_no_follow_refuses_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let (victim, link) = (dir.path().join("victim"), dir.path().join("link"));
        std::fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(open_no_follow(OpenOptions::new().write(true).create(true), &link).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }

    #[test]
    fn free_space_and_flushes_answer_for_a_real_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "x").unwrap();
        assert!(free_bytes(dir.path()).unwrap() > 0);
        sync_file(&path).unwrap();
        sync_dir(dir.path()).unwrap();
        assert!(free_bytes(&dir.path().join("absent")).is_err());
    }
}
