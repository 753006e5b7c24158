//! Uploads end to end on a real directory: whatever the order parts arrive in, whether they
//! are sent again, fail half-way or outlive a restart, the object is the parts asked for, in
//! order, under S3's ETag; and the common case keeps the assembly file as the object.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;

use bytes::Bytes;

use super::*;
use crate::buckets::{Buckets, BucketsLayout};

const MIB: usize = 1024 * 1024;

struct Env {
    _dir: tempfile::TempDir,
    layout: BucketsLayout,
    buckets: Buckets,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let layout = BucketsLayout {
        env_bucket: "data".into(),
        env_root: dir.path().join("objects"),
        created_root: dir.path().join("buckets"),
        sidecar: dir.path().join("s3.db"),
        uploads_root: dir.path().join("s3-uploads"),
    };
    let buckets = Buckets::open(layout.clone()).unwrap();
    Env {
        _dir: dir,
        layout,
        buckets,
    }
}

/// `len` bytes that differ by `seed`, so a part in the wrong place shows.
fn bytes(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

fn blob(data: Bytes) -> StreamingBlob {
    let pieces: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(MIB)
        .map(|piece| Ok(data.slice_ref(piece)))
        .collect();
    StreamingBlob::wrap(futures_util::stream::iter(pieces))
}

fn md5_hex(data: &[u8]) -> String {
    use s3s::crypto::{Checksum as _, Md5};
    crate::digests::hex(&Md5::checksum(data))
}

async fn send(uploads: &Uploads, upload: &UploadRow, number: i32, data: &Bytes) -> String {
    let digests = Digests::new(None, None, BTreeMap::new()).unwrap();
    let declared = Some(data.len() as u64);
    let part = uploads
        .put_part(
            upload,
            number,
            declared,
            Some(blob(data.clone())),
            digests,
            || None,
        )
        .await
        .unwrap();
    assert_eq!(part.md5, md5_hex(data));
    part.md5
}

async fn start(env: &Env, key: &str) -> (Uploads, Bucket, UploadRow) {
    let uploads = env.buckets.uploads();
    let bucket = env.buckets.get("data").await.unwrap();
    let id = uploads
        .create(&bucket, key, ObjectRecord::default())
        .await
        .unwrap();
    let row = uploads.get("data", key, &id).await.unwrap();
    (uploads, bucket, row)
}

fn assembly_inode(env: &Env, upload: &UploadRow) -> u64 {
    std::fs::metadata(env.layout.uploads_root.join(&upload.id).join(ASSEMBLY_FILE))
        .unwrap()
        .ino()
}

fn object_inode(env: &Env, key: &str) -> u64 {
    std::fs::metadata(env.layout.env_root.join(key))
        .unwrap()
        .ino()
}

async fn complete_and_check(
    uploads: &Uploads,
    bucket: &Bucket,
    upload: &UploadRow,
    asked: &[(i32, String)],
    expected: &[&Bytes],
) {
    let record = uploads.complete(bucket, upload, asked).await.unwrap();
    let whole: Vec<u8> = expected.iter().flat_map(|b| b.iter().copied()).collect();
    let read = bucket.store.get(&upload.key).await.unwrap();
    assert!(
        read.as_ref() == whole.as_slice(),
        "the object is the parts asked, in order"
    );
    let md5s: Vec<[u8; 16]> = asked
        .iter()
        .map(|(_, tag)| crate::digests::md5_from_hex(tag).unwrap())
        .collect();
    assert_eq!(record.e_tag, crate::buckets::multipart_e_tag(&md5s));
    assert!(uploads.get("data", &upload.key, &upload.id).await.is_err());
    assert!(
        !env_dir_has(&uploads.root, &upload.id),
        "the upload's directory is gone"
    );
}

fn env_dir_has(root: &Path, id: &str) -> bool {
    root.join(id).exists()
}

#[tokio::test]
async fn parts_in_any_order_become_the_assembly_file_itself() {
    let env = env();
    let (uploads, bucket, upload) = start(&env, "a/whole.bin").await;
    let parts = [
        bytes(5 * MIB, 1),
        bytes(5 * MIB, 2),
        bytes(5 * MIB, 3),
        bytes(1234, 4),
    ];
    let mut tags = BTreeMap::new();
    for number in [2, 1, 4, 3] {
        let tag = send(&uploads, &upload, number, &parts[number as usize - 1]).await;
        tags.insert(number, tag);
    }
    let inode = assembly_inode(&env, &upload);
    let asked: Vec<(i32, String)> = tags.into_iter().collect();
    let expected: Vec<&Bytes> = parts.iter().collect();
    complete_and_check(&uploads, &bucket, &upload, &asked, &expected).await;
    assert_eq!(
        object_inode(&env, "a/whole.bin"),
        inode,
        "renamed, not copied"
    );
}

#[tokio::test]
async fn a_short_last_part_sent_first_is_appended() {
    let env = env();
    let (uploads, bucket, upload) = start(&env, "last-first.bin").await;
    let (one, two) = (bytes(5 * MIB, 7), bytes(26, 8));
    let e2 = send(&uploads, &upload, 2, &two).await;
    let e1 = send(&uploads, &upload, 1, &one).await;
    let inode = assembly_inode(&env, &upload);
    complete_and_check(
        &uploads,
        &bucket,
        &upload,
        &[(1, e1), (2, e2)],
        &[&one, &two],
    )
    .await;
    assert_eq!(object_inode(&env, "last-first.bin"), inode);
}

#[tokio::test]
async fn a_part_sent_again_replaces_the_first_copy() {
    let env = env();
    let (uploads, bucket, upload) = start(&env, "again.bin").await;
    let parts = [bytes(5 * MIB, 1), bytes(5 * MIB, 2), bytes(10, 3)];
    let mut tags = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        tags.push((
            i as i32 + 1,
            send(&uploads, &upload, i as i32 + 1, data).await,
        ));
    }
    let newer = bytes(5 * MIB, 99);
    tags[0].1 = send(&uploads, &upload, 1, &newer).await;
    assert_ne!(tags[0].1, md5_hex(&parts[0]));
    complete_and_check(
        &uploads,
        &bucket,
        &upload,
        &tags,
        &[&newer, &parts[1], &parts[2]],
    )
    .await;
}

#[tokio::test]
async fn two_copies_of_one_part_at_once_leave_a_record_that_matches_its_bytes() {
    let env = env();
    let (uploads, bucket, upload) = start(&env, "race.bin").await;
    let (first, second, last) = (bytes(5 * MIB, 1), bytes(5 * MIB, 2), bytes(3, 3));
    let (a, b) = tokio::join!(
        send(&uploads, &upload, 1, &first),
        send(&uploads, &upload, 1, &second)
    );
    let e2 = send(&uploads, &upload, 2, &last).await;
    let recorded = uploads.parts(&upload).await.unwrap()[0].1.md5.clone();
    let winner = if recorded == a { &first } else { &second };
    assert!(recorded == a || recorded == b);
    complete_and_check(
        &uploads,
        &bucket,
        &upload,
        &[(1, recorded), (2, e2)],
        &[winner, &last],
    )
    .await;
}

#[tokio::test]
async fn a_body_that_fails_half_way_frees_its_region() {
    let env = env();
    let (uploads, bucket, upload) = start(&env, "retry.bin").await;
    let one = bytes(5 * MIB, 5);
    let broken = StreamingBlob::wrap(futures_util::stream::iter(vec![
        Ok(one.slice(..MIB)),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client gone",
        )),
    ]));
    let digests = Digests::new(None, None, BTreeMap::new()).unwrap();
    let failed = uploads
        .put_part(
            &upload,
            1,
            Some(one.len() as u64),
            Some(broken),
            digests,
            || None,
        )
        .await;
    assert!(failed.is_err());
    assert!(
        uploads.parts(&upload).await.unwrap().is_empty(),
        "nothing recorded"
    );
    let e1 = send(&uploads, &upload, 1, &one).await;
    let part = &uploads.parts(&upload).await.unwrap()[0].1;
    assert_eq!(part.offset, Some(0), "the retry has the region again");
    let inode = assembly_inode(&env, &upload);
    complete_and_check(&uploads, &bucket, &upload, &[(1, e1)], &[&one]).await;
    assert_eq!(object_inode(&env, "retry.bin"), inode);
}

#[tokio::test]
async fn a_body_longer_than_declared_is_refused_before_it_overruns_the_next_region() {
    let env = env();
    let (uploads, _bucket, upload) = start(&env, "long.bin").await;
    let next = bytes(5 * MIB, 2);
    send(&uploads, &upload, 2, &next).await;
    let digests = Digests::new(None, None, BTreeMap::new()).unwrap();
    let long = bytes(5 * MIB + 1, 1);
    let refused = uploads
        .put_part(
            &upload,
            1,
            Some(5 * MIB as u64),
            Some(blob(long)),
            digests,
            || None,
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), &s3s::S3ErrorCode::IncompleteBody);
    let dir = uploads.root.join(&upload.id).join(ASSEMBLY_FILE);
    let held = std::fs::read(dir).unwrap();
    assert!(held[5 * MIB..] == next[..], "part 2 is intact");
}

#[tokio::test]
async fn completing_some_of_the_parts_cuts_the_rest_away() {
    let env = env();
    let (uploads, bucket, upload) = start(&env, "some.bin").await;
    let parts = [bytes(5 * MIB, 1), bytes(5 * MIB, 2), bytes(5 * MIB, 3)];
    let mut tags = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        tags.push((
            i as i32 + 1,
            send(&uploads, &upload, i as i32 + 1, data).await,
        ));
    }
    tags.truncate(2);
    complete_and_check(&uploads, &bucket, &upload, &tags, &[&parts[0], &parts[1]]).await;
}

#[tokio::test]
async fn a_refused_completion_leaves_the_parts_for_the_next_one() {
    let env = env();
    let (uploads, bucket, upload) = start(&env, "blocked/obj.bin").await;
    let (one, two) = (bytes(5 * MIB, 1), bytes(9, 2));
    let e2 = send(&uploads, &upload, 2, &two).await;
    let e1 = send(&uploads, &upload, 1, &one).await;
    std::fs::write(
        env.layout.env_root.join("blocked"),
        b"a file where a folder must be",
    )
    .unwrap();
    let asked = [(1, e1), (2, e2)];
    let refused = uploads
        .complete(&bucket, &upload, &asked)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), &s3s::S3ErrorCode::InvalidArgument);
    std::fs::remove_file(env.layout.env_root.join("blocked")).unwrap();
    complete_and_check(&uploads, &bucket, &upload, &asked, &[&one, &two]).await;
}

#[tokio::test]
async fn after_a_restart_parts_go_to_files_and_join_the_earlier_ones() {
    let env = env();
    let (uploads, _bucket, upload) = start(&env, "restart.bin").await;
    let parts = [bytes(5 * MIB, 1), bytes(5 * MIB, 2), bytes(77, 3)];
    let e1 = send(&uploads, &upload, 1, &parts[0]).await;
    drop(uploads);
    let reopened = Buckets::open(env.layout.clone()).unwrap();
    let uploads = reopened.uploads();
    let bucket = reopened.get("data").await.unwrap();
    let e3 = send(&uploads, &upload, 3, &parts[2]).await;
    let e2 = send(&uploads, &upload, 2, &parts[1]).await;
    let recorded = uploads.parts(&upload).await.unwrap();
    assert_eq!(recorded[0].1.offset, Some(0));
    assert!(recorded[1..]
        .iter()
        .all(|(_, p)| p.offset.is_none() && p.file.is_some()));
    let asked = [(1, e1), (2, e2), (3, e3)];
    let expected: Vec<&Bytes> = parts.iter().collect();
    complete_and_check(&uploads, &bucket, &upload, &asked, &expected).await;
}

#[tokio::test]
async fn a_part_recorded_after_its_upload_ended_is_not_kept() {
    let env = env();
    let (uploads, _bucket, upload) = start(&env, "late.bin").await;
    uploads.remove(&upload.id).await.unwrap();
    let part = PartRecord {
        size: 1,
        md5: md5_hex(b"x"),
        modified_ms: 0,
        checksums: BTreeMap::new(),
        offset: None,
        file: Some("1.part-late".into()),
    };
    uploads
        .sidecar
        .set_part(&upload.id, 1, &part)
        .await
        .unwrap();
    assert!(uploads.sidecar.parts(&upload.id).await.unwrap().is_empty());
}

#[test]
fn only_generated_ids_name_directories() {
    assert!(valid_id(&uuid::Uuid::new_v4().simple().to_string()));
    for bad in ["", "../../etc", "0123456789abcdef0123456789abcdeg", "short"] {
        assert!(!valid_id(bad), "{bad}");
    }
}
