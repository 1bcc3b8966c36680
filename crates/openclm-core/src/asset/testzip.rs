//! Zips built in memory for the tests: honest ones written by the `zip` crate, and hand-made
//! ones whose headers say whatever a test needs them to say (sizes that lie, symlinks,
//! encryption flags, names no writer would produce).

use std::io::{Cursor, Write};

use flate2::{Compression, write::DeflateEncoder};
use zip::{CompressionMethod, ZipWriter, write::SimpleFileOptions};

/// A zip holding `entries`, deflated, as the `zip` crate writes it.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, bytes) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// A raw deflate stream of `len` zero bytes.
pub fn deflated_zeros(len: usize) -> Vec<u8> {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::best());
    let chunk = vec![0u8; 1 << 16];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len());
        encoder.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    encoder.finish().unwrap()
}

/// One entry of a hand-made zip: its data is written as given (already compressed when
/// `deflated`), and its header declares `declared_size`, whatever the data inflates to.
pub struct RawEntry {
    pub name: Vec<u8>,
    pub deflated: bool,
    pub encrypted: bool,
    pub unix_mode: u32,
    pub declared_size: u64,
    pub data: Vec<u8>,
    pub crc: u32,
}

impl RawEntry {
    /// A stored entry whose header tells the truth.
    pub fn stored(name: &str, data: &[u8]) -> Self {
        Self {
            name: name.as_bytes().to_vec(),
            deflated: false,
            encrypted: false,
            unix_mode: 0o100644,
            declared_size: data.len() as u64,
            data: data.to_vec(),
            crc: crc32(data),
        }
    }

    /// A deflated entry declaring `declared_size` (and a CRC of zero: it is refused before its
    /// end is reached).
    pub fn deflated(name: &str, data: Vec<u8>, declared_size: u64) -> Self {
        Self {
            name: name.as_bytes().to_vec(),
            deflated: true,
            declared_size,
            data,
            crc: 0,
            ..Self::stored(name, b"")
        }
    }
}

/// A zip of `entries` laid out by hand: local headers, central directory (made by Unix, so the
/// mode is read), end record; ZIP64 size fields where a declared size needs them.
pub fn raw_zip(entries: &[RawEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for entry in entries {
        let offset = out.len() as u32;
        let zip64 = entry.declared_size >= u64::from(u32::MAX);
        let (size32, compressed32) = if zip64 {
            (u32::MAX, u32::MAX)
        } else {
            (entry.declared_size as u32, entry.data.len() as u32)
        };
        let mut extra = Vec::new();
        if zip64 {
            extra.extend(1u16.to_le_bytes());
            extra.extend(16u16.to_le_bytes());
            extra.extend(entry.declared_size.to_le_bytes());
            extra.extend((entry.data.len() as u64).to_le_bytes());
        }
        let version: u16 = if zip64 { 45 } else { 20 };
        let flags: u16 = u16::from(entry.encrypted);
        let method: u16 = if entry.deflated { 8 } else { 0 };
        let common = |buf: &mut Vec<u8>| {
            buf.extend(version.to_le_bytes());
            buf.extend(flags.to_le_bytes());
            buf.extend(method.to_le_bytes());
            buf.extend(0u16.to_le_bytes()); // time
            buf.extend(0x21u16.to_le_bytes()); // date: 1980-01-01
            buf.extend(entry.crc.to_le_bytes());
            buf.extend(compressed32.to_le_bytes());
            buf.extend(size32.to_le_bytes());
            buf.extend((entry.name.len() as u16).to_le_bytes());
            buf.extend((extra.len() as u16).to_le_bytes());
        };
        out.extend(0x0403_4b50u32.to_le_bytes());
        common(&mut out);
        out.extend(&entry.name);
        out.extend(&extra);
        out.extend(&entry.data);

        central.extend(0x0201_4b50u32.to_le_bytes());
        central.extend((0x0300u16 | version).to_le_bytes()); // made by Unix
        common(&mut central);
        central.extend(0u16.to_le_bytes()); // comment length
        central.extend(0u16.to_le_bytes()); // disk
        central.extend(0u16.to_le_bytes()); // internal attributes
        central.extend((entry.unix_mode << 16).to_le_bytes());
        central.extend(offset.to_le_bytes());
        central.extend(&entry.name);
        central.extend(&extra);
    }
    let central_offset = out.len() as u32;
    out.extend(&central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(central_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

/// CRC-32 (IEEE), bit by bit: slow, and only for the few bytes the tests store.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
