//! Helpers shared by the engine tests: building tar layers in memory and
//! finding the peer fixtures.
#![allow(dead_code)]

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

#[allow(unused_imports)]
pub use layerscope_test_support::peers;

/// Builds a tar layer in memory.
pub struct LayerBuilder {
    builder: tar::Builder<Vec<u8>>,
}

impl Default for LayerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h.set_size(size);
    h
}

impl LayerBuilder {
    pub fn new() -> LayerBuilder {
        LayerBuilder {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    pub fn file(&mut self, path: &str, content: &[u8]) -> &mut Self {
        self.file_bytes(path.as_bytes(), content, 0o644)
    }

    pub fn file_mode(&mut self, path: &str, content: &[u8], mode: u32) -> &mut Self {
        self.file_bytes(path.as_bytes(), content, mode)
    }

    /// A file whose name may not be UTF-8 (long names become GNU long names).
    pub fn file_bytes(&mut self, path: &[u8], content: &[u8], mode: u32) -> &mut Self {
        let mut h = header(tar::EntryType::Regular, mode, content.len() as u64);
        let p = Path::new(std::ffi::OsStr::from_bytes(path));
        self.builder.append_data(&mut h, p, content).unwrap();
        self
    }

    pub fn dir(&mut self, path: &str) -> &mut Self {
        let mut h = header(tar::EntryType::Directory, 0o755, 0);
        self.builder.append_data(&mut h, path, &[][..]).unwrap();
        self
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        self.builder.append_link(&mut h, path, target).unwrap();
        self
    }

    pub fn hardlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut h = header(tar::EntryType::Link, 0o644, 0);
        self.builder.append_link(&mut h, path, target).unwrap();
        self
    }

    pub fn fifo(&mut self, path: &str) -> &mut Self {
        let mut h = header(tar::EntryType::Fifo, 0o644, 0);
        self.builder.append_data(&mut h, path, &[][..]).unwrap();
        self
    }

    pub fn char_device(&mut self, path: &str) -> &mut Self {
        let mut h = header(tar::EntryType::Char, 0o600, 0);
        h.set_device_major(1).unwrap();
        h.set_device_minor(3).unwrap();
        self.builder.append_data(&mut h, path, &[][..]).unwrap();
        self
    }

    /// A file whose path is carried by a PAX `path` record.
    pub fn pax_file(&mut self, path: &[u8], content: &[u8]) -> &mut Self {
        self.builder
            .append_pax_extensions([("path", path)])
            .unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(content.len() as u64);
        h.set_mtime(1_700_000_000);
        h.as_old_mut().name[..11].copy_from_slice(b"placeholder");
        h.set_cksum();
        self.builder.append(&h, content).unwrap();
        self
    }

    /// Raw PAX records before the next entry.
    pub fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        self.builder
            .append_pax_extensions(records.iter().copied())
            .unwrap();
        self
    }

    /// An entry whose name (at most 100 bytes) is written as is, even the
    /// `..` and absolute names the tar crate refuses to write.
    pub fn raw(
        &mut self,
        kind: tar::EntryType,
        name: &[u8],
        content: &[u8],
        link: Option<&[u8]>,
    ) -> &mut Self {
        let mut h = header(kind, 0o644, content.len() as u64);
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        if let Some(link) = link {
            h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        }
        h.set_cksum();
        self.builder.append(&h, content).unwrap();
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.builder.into_inner().unwrap()
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn sha256(data: &[u8]) -> layerscope_core::model::digest::Digest {
    layerscope_core::model::digest::Digest::sha256_of(data)
}
