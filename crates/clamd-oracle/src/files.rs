//! Writing the oracle's files, with errors that name the path.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use crate::Error;

pub(crate) fn set_mode(p: &Path, mode: u32) -> Result<(), Error> {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).map_err(|e| Error::io(p, e))
}

pub(crate) fn write_file(p: &Path, data: &[u8], mode: u32) -> Result<(), Error> {
    let mut f = fs::File::create(p).map_err(|e| Error::io(p, e))?;
    f.write_all(data).map_err(|e| Error::io(p, e))?;
    drop(f);
    set_mode(p, mode)
}

pub(crate) fn make_symlink(target: &str, link: &Path) -> Result<(), Error> {
    symlink(target, link).map_err(|e| Error::io(link, e))
}
