//! The receiver's file: chunks are written at their offsets into a
//! temporary file next to the destination, and only a complete, verified
//! file is renamed into place.
//!
//! Why a temporary file *next to* the destination? `rename` within one
//! directory (one file system) is atomic: whoever looks at the destination
//! sees either nothing (or the old file) or the whole new file, never half.
//! And dropping a [`PartFile`] that was not committed deletes the temporary
//! file, so a failed transfer (timeout, Ctrl+C, bad checksum, an error
//! anywhere) leaves nothing behind.
//!
//! Writes of consecutive chunks are gathered into one buffer, so that
//! 1024-byte chunks do not cost one system call each; a chunk that came
//! early is written at once, at its offset.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// How many bytes of consecutive chunks are gathered before one write.
const WRITE_BUFFER: usize = 1 << 20;

/// A file being received.
#[derive(Debug)]
pub struct PartFile {
    temp: PathBuf,
    dest: PathBuf,
    file: File,
    /// Where the file's cursor is, to skip needless seeks.
    position: u64,
    /// Consecutive bytes not yet written, starting at `pending_at`.
    pending: Vec<u8>,
    pending_at: u64,
    /// The end of the furthest write.
    end: u64,
    committed: bool,
}

impl PartFile {
    /// Create `.NAME.PID.part` next to `dest`.
    pub fn create(dest: &Path) -> io::Result<PartFile> {
        let name = dest.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} does not name a file", dest.display()),
            )
        })?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".{}.part", std::process::id()));
        let temp = dest.with_file_name(temp_name);
        // create_new: never overwrite a file that happens to have the name.
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| {
                io::Error::new(e.kind(), format!("cannot create {}: {e}", temp.display()))
            })?;
        Ok(PartFile {
            temp,
            dest: dest.to_path_buf(),
            file,
            position: 0,
            pending: Vec::new(),
            pending_at: 0,
            end: 0,
            committed: false,
        })
    }

    /// The temporary file's path.
    #[cfg(test)]
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Write `data` at `offset`.
    pub fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.end = self.end.max(offset + data.len() as u64);
        let follows = offset == self.pending_at + self.pending.len() as u64;
        if !(follows && self.pending.len() + data.len() <= WRITE_BUFFER) {
            self.flush()?;
            self.pending_at = offset;
        }
        if data.len() >= WRITE_BUFFER {
            return self.write_now(offset, data);
        }
        if self.pending.capacity() == 0 {
            self.pending.reserve_exact(WRITE_BUFFER);
        }
        self.pending.extend_from_slice(data);
        Ok(())
    }

    fn write_now(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        if self.position != offset {
            self.file.seek(SeekFrom::Start(offset))?;
        }
        self.file.write_all(data)?;
        self.position = offset + data.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let data = std::mem::take(&mut self.pending);
            let result = self.write_now(self.pending_at, &data);
            self.pending = data;
            self.pending.clear();
            result?;
        }
        Ok(())
    }

    /// Flush, make sure the bytes are on disk (`fsync`), and rename the
    /// file into place. `size` is what the file must hold.
    pub fn commit(mut self, size: u64) -> io::Result<()> {
        self.flush()?;
        let len = self.file.metadata()?.len();
        if len != size || self.end != size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the file holds {len} bytes, expected {size}"),
            ));
        }
        // Without the fsync a crash right after the rename could leave an
        // empty or partial file under the final name on some file systems.
        self.file.sync_all()?;
        fs::rename(&self.temp, &self.dest).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot rename {} to {}: {e}",
                    self.temp.display(),
                    self.dest.display()
                ),
            )
        })?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("chunked-output-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn out_of_order_chunks_make_the_right_file() {
        let dir = scratch("order");
        let dest = dir.join("out.bin");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut part = PartFile::create(&dest).unwrap();
        let chunk = 1000;
        for i in [0usize, 2, 1, 3, 5, 4, 6, 7, 9, 8] {
            let off = i * chunk;
            part.write_at(off as u64, &data[off..off + chunk]).unwrap();
        }
        let temp = part.temp_path().to_path_buf();
        assert!(temp.exists());
        assert!(!dest.exists());
        part.commit(10_000).unwrap();
        assert!(!temp.exists());
        assert_eq!(fs::read(&dest).unwrap(), data);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn dropped_without_commit_leaves_nothing() {
        let dir = scratch("drop");
        let dest = dir.join("out.bin");
        let mut part = PartFile::create(&dest).unwrap();
        part.write_at(0, b"half a file").unwrap();
        drop(part);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_short_file_is_not_committed() {
        let dir = scratch("short");
        let dest = dir.join("out.bin");
        let mut part = PartFile::create(&dest).unwrap();
        part.write_at(0, b"abc").unwrap();
        assert!(part.commit(4).is_err());
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn big_writes_bypass_the_buffer() {
        let dir = scratch("big");
        let dest = dir.join("out.bin");
        let data = vec![7u8; WRITE_BUFFER * 2 + 5];
        let mut part = PartFile::create(&dest).unwrap();
        part.write_at(0, &data[..5]).unwrap();
        part.write_at(5, &data[5..]).unwrap();
        part.commit(data.len() as u64).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), data);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_destination_without_a_name_is_refused() {
        assert!(PartFile::create(Path::new("/")).is_err());
    }
}
