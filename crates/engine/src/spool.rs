//! Holds a container's bytes for expansion: in memory up to a threshold, then in an
//! anonymous temporary file, so memory stays bounded whatever the input size.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

pub(crate) struct SpoolWriter {
    threshold: usize,
    temp_dir: Option<PathBuf>,
    memory: Vec<u8>,
    file: Option<File>,
}

impl SpoolWriter {
    pub fn new(threshold: usize, temp_dir: Option<PathBuf>) -> Self {
        Self {
            threshold,
            temp_dir,
            memory: Vec::new(),
            file: None,
        }
    }

    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if let Some(f) = self.file.as_mut() {
            return f.write_all(data);
        }
        if self.memory.len() + data.len() <= self.threshold {
            self.memory.extend_from_slice(data);
            return Ok(());
        }
        let mut f = match &self.temp_dir {
            Some(dir) => tempfile::tempfile_in(dir)?,
            None => tempfile::tempfile()?,
        };
        f.write_all(&self.memory)?;
        f.write_all(data)?;
        self.memory = Vec::new();
        self.file = Some(f);
        Ok(())
    }

    pub fn finish(self) -> io::Result<SpoolReader> {
        match self.file {
            Some(mut f) => {
                f.flush()?;
                f.seek(SeekFrom::Start(0))?;
                Ok(SpoolReader::File(BufReader::with_capacity(64 * 1024, f)))
            }
            None => Ok(SpoolReader::Memory(Cursor::new(self.memory))),
        }
    }
}

/// A finished spool, readable and seekable (zip needs both).
pub(crate) enum SpoolReader {
    Memory(Cursor<Vec<u8>>),
    File(BufReader<File>),
}

impl Read for SpoolReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Memory(c) => c.read(buf),
            Self::File(f) => f.read(buf),
        }
    }
}

impl Seek for SpoolReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            Self::Memory(c) => c.seek(pos),
            Self::File(f) => f.seek(pos),
        }
    }
}
