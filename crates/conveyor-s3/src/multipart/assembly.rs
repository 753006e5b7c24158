//! Where an upload's parts are written, so that completing it seldom copies a byte.
//!
//! Each upload has one *assembly file*. A part is written straight into it, at
//! `(number - 1) × stride`, when its declared length fits the upload's stride (the declared
//! length of the first part of at least 5 MiB to arrive: clients cut every part but the last
//! to one size). A completion whose parts lie end to end from offset 0 then only truncates the
//! assembly file and renames it into the bucket; ext4 and most filesystems here have no
//! reflinks, so joining separate part files would copy every byte once more.
//!
//! A region of the assembly file is written by one writer, once: a part sent again, a part
//! whose length does not fit, and every part of an upload this process did not create (after
//! a restart) go to a file of their own, named in the part's record. The record always names
//! the bytes it describes, so a reader never mixes two uploads of one part.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::sidecar::PartRecord;

use super::MIN_PART_BYTES;

pub const ASSEMBLY_FILE: &str = "assembly";

/// What this process knows of one upload's assembly file.
#[derive(Default)]
struct UploadRegions {
    /// Created by this process: its assembly file's regions are known here.
    claimable: bool,
    stride: Option<u64>,
    /// Part numbers whose region is being written or holds a recorded part.
    used: HashSet<u32>,
    writers: usize,
    completing: bool,
}

/// The regions of every upload under way, shared by all requests of one endpoint.
#[derive(Clone, Default)]
pub struct Regions(Arc<Mutex<HashMap<String, UploadRegions>>>);

/// The right to write one part's region; given back (the region free again) when dropped
/// without [`Claim::keep`], as when the body fails or the request is cancelled.
pub struct Claim {
    regions: Regions,
    upload: String,
    number: u32,
    pub offset: u64,
    /// The region's length: the part may not be longer.
    pub limit: u64,
    kept: bool,
}

impl Claim {
    /// The part's record now names this region: it stays used.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut all = self.regions.lock();
        if let Some(upload) = all.get_mut(&self.upload) {
            upload.writers -= 1;
            if !self.kept {
                upload.used.remove(&self.number);
            }
        }
    }
}

/// Another completion of the same upload is under way.
#[derive(Debug)]
pub struct CompletionUnderWay;

impl Regions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, UploadRegions>> {
        // A panic while holding this lock leaves plain counters behind; keep serving.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new upload whose assembly file this process created.
    pub fn open(&self, upload: &str) {
        self.lock().insert(
            upload.to_string(),
            UploadRegions {
                claimable: true,
                ..Default::default()
            },
        );
    }

    pub fn forget(&self, upload: &str) {
        self.lock().remove(upload);
    }

    /// Part `number`'s region, if a body of `declared` bytes belongs there; `None`: write the
    /// part to a file of its own.
    pub fn claim(&self, upload: &str, number: u32, declared: Option<u64>) -> Option<Claim> {
        let declared = declared?;
        let mut all = self.lock();
        let regions = all.get_mut(upload)?;
        if !regions.claimable || regions.completing || regions.used.contains(&number) {
            return None;
        }
        let stride = match regions.stride {
            Some(stride) => stride,
            None if declared >= MIN_PART_BYTES => *regions.stride.insert(declared),
            None => return None,
        };
        let offset = u64::from(number.checked_sub(1)?).checked_mul(stride)?;
        if declared > stride {
            return None;
        }
        regions.used.insert(number);
        regions.writers += 1;
        Some(Claim {
            regions: self.clone(),
            upload: upload.to_string(),
            number,
            offset,
            limit: stride,
            kept: false,
        })
    }

    /// No more claims on `upload`'s regions; whether a writer is still in its assembly file.
    pub fn begin_completion(&self, upload: &str) -> Result<bool, CompletionUnderWay> {
        let mut all = self.lock();
        let regions = all.entry(upload.to_string()).or_default();
        if regions.completing {
            return Err(CompletionUnderWay);
        }
        regions.completing = true;
        Ok(regions.writers > 0)
    }

    /// A completion failed: the upload takes parts (and completions) again.
    pub fn end_failed_completion(&self, upload: &str) {
        if let Some(regions) = self.lock().get_mut(upload) {
            regions.completing = false;
        }
    }
}

/// Bytes of one part: `len` bytes at `offset` of `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub path: PathBuf,
    pub offset: u64,
    pub len: u64,
}

/// Where a recorded part's bytes are, in the upload directory `dir`.
pub fn segment(dir: &Path, number: i32, part: &PartRecord) -> Segment {
    let (path, offset) = match (&part.file, part.offset) {
        (_, Some(offset)) => (dir.join(ASSEMBLY_FILE), offset),
        (Some(file), None) => (dir.join(file), 0),
        // Uploads recorded before assembly files: `{number}.part`.
        (None, None) => (dir.join(format!("{number}.part")), 0),
    };
    Segment {
        path,
        offset,
        len: part.size,
    }
}

/// How a completion builds the object's file.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// The assembly file already holds the first `kept` bytes; append `rest` after them, and
    /// cut it there.
    Extend { kept: u64, rest: Vec<Segment> },
    /// Copy every segment into a new file: some bytes must move within the assembly file, or
    /// writers are still in it.
    Fresh(Vec<Segment>),
}

/// The plan for the parts `chosen`, in order.
pub fn plan(dir: &Path, chosen: &[(i32, PartRecord)], writers_active: bool) -> Plan {
    let segments: Vec<Segment> = chosen
        .iter()
        .map(|(number, part)| segment(dir, *number, part))
        .collect();
    if writers_active {
        return Plan::Fresh(segments);
    }
    let mut kept = 0u64;
    let mut in_place = 0;
    for (_, part) in chosen {
        if part.offset != Some(kept) {
            break;
        }
        kept += part.size;
        in_place += 1;
    }
    let rest = segments[in_place..].to_vec();
    if rest.iter().any(|s| s.path == dir.join(ASSEMBLY_FILE)) {
        return Plan::Fresh(segments);
    }
    Plan::Extend { kept, rest }
}

fn copy_segment(segment: &Segment, out: &mut std::fs::File) -> std::io::Result<()> {
    let mut input = std::fs::File::open(&segment.path)?;
    input.seek(SeekFrom::Start(segment.offset))?;
    // `copy` between files is `copy_file_range` on Linux, `Take` included.
    let copied = std::io::copy(&mut input.take(segment.len), out)?;
    if copied != segment.len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!(
                "{} holds {copied} of the part's {} bytes at offset {}",
                segment.path.display(),
                segment.len,
                segment.offset
            ),
        ));
    }
    Ok(())
}

/// Build the object's file in `dir` by `plan` (blocking) and fsync it; its path. The file is
/// staged: nothing reads it until it is renamed into the bucket.
pub fn assemble(dir: &Path, plan: &Plan) -> std::io::Result<PathBuf> {
    let (path, mut out, mut end, segments) = match plan {
        Plan::Extend { kept, rest } => {
            let path = dir.join(ASSEMBLY_FILE);
            let out = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)?;
            (path, out, *kept, rest)
        }
        Plan::Fresh(segments) => {
            let path = dir.join("object.incoming");
            (path.clone(), std::fs::File::create(&path)?, 0, segments)
        }
    };
    for segment in segments {
        out.seek(SeekFrom::Start(end))?;
        copy_segment(segment, &mut out)?;
        end += segment.len;
    }
    out.flush()?;
    out.set_len(end)?;
    out.sync_all()?;
    Ok(path)
}

/// The bytes a failed [`Plan::Extend`] may have overwritten start here: records of parts at
/// or after it no longer describe their bytes.
pub fn touched_from(plan: &Plan) -> Option<u64> {
    match plan {
        Plan::Extend { kept, .. } => Some(*kept),
        Plan::Fresh(_) => None,
    }
}

#[cfg(test)]
mod tests;
