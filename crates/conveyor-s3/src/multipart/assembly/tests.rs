use super::*;

const MIB: u64 = 1024 * 1024;

fn part(size: u64, offset: Option<u64>, file: Option<&str>) -> PartRecord {
    PartRecord {
        size,
        md5: "00".repeat(16),
        modified_ms: 0,
        checksums: Default::default(),
        offset,
        file: file.map(str::to_string),
    }
}

#[test]
fn the_first_full_sized_part_sets_the_stride_and_each_region_has_one_writer() {
    let regions = Regions::default();
    regions.open("u");
    assert!(
        regions.claim("u", 3, Some(MIB)).is_none(),
        "a small part sets no stride"
    );
    assert!(
        regions.claim("u", 1, None).is_none(),
        "no declared length, no region"
    );
    let two = regions
        .claim("u", 2, Some(8 * MIB))
        .expect("sets the stride");
    assert_eq!((two.offset, two.limit), (8 * MIB, 8 * MIB));
    assert!(
        regions.claim("u", 2, Some(8 * MIB)).is_none(),
        "one writer per region"
    );
    assert!(
        regions.claim("u", 1, Some(9 * MIB)).is_none(),
        "longer than the stride"
    );
    let last = regions
        .claim("u", 4, Some(MIB))
        .expect("a short last part fits");
    assert_eq!(last.offset, 24 * MIB);
    drop(last);
    let again = regions
        .claim("u", 4, Some(2 * MIB))
        .expect("a dropped claim frees its region");
    again.keep();
    assert!(
        regions.claim("u", 4, Some(MIB)).is_none(),
        "a kept region is written once"
    );
    assert_eq!(
        regions.begin_completion("u").ok(),
        Some(true),
        "part 2 is still being written"
    );
    assert!(
        regions.begin_completion("u").is_err(),
        "one completion at a time"
    );
    assert!(
        regions.claim("u", 5, Some(MIB)).is_none(),
        "no claims while completing"
    );
    drop(two);
    regions.end_failed_completion("u");
    assert_eq!(regions.begin_completion("u").ok(), Some(false));
    assert!(
        regions.claim("other", 1, Some(8 * MIB)).is_none(),
        "not created here: files"
    );
    assert_eq!(regions.begin_completion("other").ok(), Some(false));
}

#[test]
fn parts_end_to_end_from_the_start_are_kept_where_they_are() {
    let dir = Path::new("/up");
    let assembly = dir.join(ASSEMBLY_FILE);
    let whole = [
        (1, part(5 * MIB, Some(0), None)),
        (2, part(5 * MIB, Some(5 * MIB), None)),
        (3, part(7, Some(10 * MIB), None)),
    ];
    assert_eq!(
        plan(dir, &whole, false),
        Plan::Extend {
            kept: 10 * MIB + 7,
            rest: vec![]
        }
    );
    // The short last part came first, so it has a file of its own: appended.
    let last_in_file = [
        (1, part(5 * MIB, Some(0), None)),
        (2, part(7, None, Some("2.part-x"))),
    ];
    assert_eq!(
        plan(dir, &last_in_file, false),
        Plan::Extend {
            kept: 5 * MIB,
            rest: vec![Segment {
                path: dir.join("2.part-x"),
                offset: 0,
                len: 7
            }]
        }
    );
    // A part sent again lives in a file, and a later part must move: copy it all.
    let resent = [
        (1, part(5 * MIB, None, Some("1.part-y"))),
        (2, part(5 * MIB, Some(5 * MIB), None)),
    ];
    let fresh = plan(dir, &resent, false);
    assert_eq!(
        fresh,
        Plan::Fresh(vec![
            Segment {
                path: dir.join("1.part-y"),
                offset: 0,
                len: 5 * MIB
            },
            Segment {
                path: assembly.clone(),
                offset: 5 * MIB,
                len: 5 * MIB
            },
        ])
    );
    // Parts 1 and 3 only: 3's bytes sit one region too far.
    let gap = [
        (1, part(5 * MIB, Some(0), None)),
        (3, part(5 * MIB, Some(10 * MIB), None)),
    ];
    assert!(matches!(plan(dir, &gap, false), Plan::Fresh(_)));
    assert!(
        matches!(plan(dir, &whole, true), Plan::Fresh(_)),
        "a writer still in the file"
    );
    let legacy = [(1, part(3, None, None))];
    assert_eq!(
        plan(dir, &legacy, false),
        Plan::Extend {
            kept: 0,
            rest: vec![Segment {
                path: dir.join("1.part"),
                offset: 0,
                len: 3
            }]
        }
    );
}

#[test]
fn assembling_appends_copies_and_cuts() {
    let dir = tempfile::tempdir().unwrap();
    let assembly = dir.path().join(ASSEMBLY_FILE);
    // Regions of 4 bytes: part 1 "aaaa", part 2 "bbbb", an unused part 3 "zzzz".
    std::fs::write(&assembly, b"aaaabbbbzzzz").unwrap();
    std::fs::write(dir.path().join("3.part-x"), b"cc").unwrap();
    let file = |name: &str, len| Segment {
        path: dir.path().join(name),
        offset: 0,
        len,
    };
    let extend = Plan::Extend {
        kept: 8,
        rest: vec![file("3.part-x", 2)],
    };
    let staged = assemble(dir.path(), &extend).unwrap();
    assert_eq!(staged, assembly);
    assert_eq!(std::fs::read(&staged).unwrap(), b"aaaabbbbcc");

    let fresh = Plan::Fresh(vec![
        file("3.part-x", 2),
        Segment {
            path: assembly.clone(),
            offset: 4,
            len: 4,
        },
    ]);
    let staged = assemble(dir.path(), &fresh).unwrap();
    assert_ne!(staged, assembly);
    assert_eq!(std::fs::read(&staged).unwrap(), b"ccbbbb");

    let short = Plan::Fresh(vec![file("3.part-x", 5)]);
    let e = assemble(dir.path(), &short).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");
}
