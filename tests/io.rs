//! Real photos in, safe outputs out: orientation, colour profiles, depth, alpha, privacy and hostile files,
//! through the real binary.

use assert_cmd::Command;
use image::metadata::Orientation;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageReader, Luma, Rgb, RgbImage, Rgba, RgbaImage};
use std::path::{Path, PathBuf};

mod common;
use common::{fixture_params, FIXTURE_MASK, FIXTURE_PHOTO};

fn smpsim() -> Command {
    Command::cargo_bin("smpsim").unwrap()
}

fn stderr_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const W: u32 = 240;
const H: u32 = 160;

/// An upright photo with four flat quadrants of distinct colours, so any rotation or flip shows.
fn quadrants() -> RgbImage {
    RgbImage::from_fn(W, H, |x, y| match (x < W / 2, y < H / 2) {
        (true, true) => Rgb([220, 60, 60]),
        (false, true) => Rgb([60, 200, 60]),
        (true, false) => Rgb([60, 60, 220]),
        (false, false) => Rgb([230, 230, 120]),
    })
}

/// A mask on the upright photo: the top half treated.
fn top_half_mask(dir: &Path) -> PathBuf {
    let path = dir.join("mask.png");
    GrayImage::from_fn(W, H, |_, y| Luma([if y < H / 2 { 255 } else { 0 }]))
        .save(&path)
        .unwrap();
    path
}

/// A minimal EXIF block holding only an orientation tag.
fn exif_orientation(o: u8) -> Vec<u8> {
    let mut v = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
    v.extend_from_slice(&[0, 1]); // one IFD entry
    v.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, o, 0, 0]); // Orientation, SHORT, 1, value
    v.extend_from_slice(&[0, 0, 0, 0]); // no next IFD
    v
}

fn write_jpeg(path: &Path, img: &RgbImage, app: &[(u8, Vec<u8>)], icc: Option<&[u8]>) {
    let mut encoder = jpeg_encoder::Encoder::new_file(path, 95).unwrap();
    for (nr, data) in app {
        encoder.add_app_segment(*nr, data.clone()).unwrap();
    }
    if let Some(icc) = icc {
        encoder.add_icc_profile(icc).unwrap();
    }
    encoder
        .encode(
            img.as_raw(),
            img.width() as u16,
            img.height() as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap();
}

const ORIENTATIONS: [Orientation; 8] = [
    Orientation::NoTransforms,
    Orientation::FlipHorizontal,
    Orientation::Rotate180,
    Orientation::FlipVertical,
    Orientation::Rotate90FlipH,
    Orientation::Rotate90,
    Orientation::Rotate270FlipH,
    Orientation::Rotate270,
];

/// What a camera stores so that applying `o` shows `upright`.
fn stored_for(upright: &RgbImage, o: Orientation) -> RgbImage {
    for t in ORIENTATIONS {
        let mut stored = DynamicImage::ImageRgb8(upright.clone());
        stored.apply_orientation(t);
        let mut shown = stored.clone();
        shown.apply_orientation(o);
        if shown.to_rgb8() == *upright {
            return stored.into_rgb8();
        }
    }
    unreachable!()
}

fn near(a: Rgb<u8>, b: [u8; 3], tol: u8) -> bool {
    a.0.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= tol)
}

#[test]
fn all_eight_exif_orientations_render_upright_with_an_upright_mask() {
    let dir = tempfile::tempdir().unwrap();
    let upright = quadrants();
    let mask = top_half_mask(dir.path());
    for (k, o) in ORIENTATIONS.iter().enumerate() {
        let tag = (k + 1) as u8;
        let photo = dir.path().join(format!("o{tag}.jpg"));
        write_jpeg(&photo, &stored_for(&upright, *o), &[(1, exif_orientation(tag))], None);
        let out = dir.path().join(format!("o{tag}_after.png"));
        let o = smpsim()
            .arg("render")
            .arg(&photo)
            .arg("--mask")
            .arg(&mask)
            .args(["--px-per-mm", "4", "--density", "400", "--dot-size", "0.3", "-o"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "orientation {tag}: {}", stderr_of(&o));
        let after = image::open(&out).unwrap().into_rgb8();
        assert_eq!(after.dimensions(), (W, H), "orientation {tag}");
        // Untreated bottom quadrants: unchanged colours in their upright places.
        assert!(
            near(*after.get_pixel(30, 130), [60, 60, 220], 6),
            "orientation {tag}: bottom-left"
        );
        assert!(
            near(*after.get_pixel(210, 130), [230, 230, 120], 6),
            "orientation {tag}: bottom-right"
        );
        // Treated top: darker than the photo on average, still red on the left and green on the right.
        let mean = |x0: u32| {
            let mut s = [0u32; 3];
            for y in 10..70 {
                for x in x0..x0 + 60 {
                    for (acc, v) in s.iter_mut().zip(after.get_pixel(x, y).0) {
                        *acc += v as u32;
                    }
                }
            }
            s.map(|v| v / 3600)
        };
        let (left, right) = (mean(20), mean(150));
        assert!(
            left[0] > left[1] + 60 && left[0] < 215,
            "orientation {tag}: top-left {left:?}"
        );
        assert!(
            right[1] > right[0] + 60 && right[1] < 196,
            "orientation {tag}: top-right {right:?}"
        );
    }
}

fn icc_of(path: &Path) -> Option<Vec<u8>> {
    let mut decoder = ImageReader::open(path)
        .unwrap()
        .with_guessed_format()
        .unwrap()
        .into_decoder()
        .unwrap();
    decoder.icc_profile().unwrap()
}

#[test]
fn the_colour_profile_is_carried_into_outputs_and_no_other_metadata() {
    let dir = tempfile::tempdir().unwrap();
    // Any profile bytes do: the tool must carry them, not interpret them.
    let icc: Vec<u8> = (0..3000u32).map(|i| (i * 31 % 251) as u8).collect();
    let photo = dir.path().join("phone.jpg");
    let gps_exif = [exif_orientation(1), b"GPS 51.5N 0.1W Canon EOS".to_vec()].concat();
    write_jpeg(&photo, &quadrants(), &[(1, gps_exif)], Some(&icc));
    let mask = top_half_mask(dir.path());
    for ext in ["jpg", "png", "webp"] {
        let out = dir.path().join(format!("after.{ext}"));
        let o = smpsim()
            .arg("render")
            .arg(&photo)
            .arg("--mask")
            .arg(&mask)
            .args(["--px-per-mm", "4", "-o"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{ext}: {}", stderr_of(&o));
        let carried = icc_of(&out);
        assert!(
            carried.as_deref() == Some(&icc[..]),
            "{ext}: profile not carried byte for byte ({:?} bytes)",
            carried.map(|c| c.len())
        );
        let bytes = std::fs::read(&out).unwrap();
        assert!(!bytes.windows(4).any(|w| w == b"Exif"), "{ext}: EXIF leaked");
        assert!(!bytes.windows(3).any(|w| w == b"GPS"), "{ext}: GPS leaked");
    }
}

#[test]
fn sixteen_bit_and_alpha_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mask = top_half_mask(dir.path());
    // 16-bit RGB with low bits that an 8-bit round trip would lose.
    let deep = image::ImageBuffer::<Rgb<u16>, _>::from_fn(W, H, |x, y| {
        Rgb([40_000 + (x * 7 % 251) as u16, 30_001 + (y * 3 % 97) as u16, 20_003])
    });
    let photo16 = dir.path().join("deep.png");
    deep.save(&photo16).unwrap();
    let out16 = dir.path().join("deep_after.png");
    let o = smpsim()
        .arg("render")
        .arg(&photo16)
        .arg("--mask")
        .arg(&mask)
        .args(["--px-per-mm", "4", "--density", "300", "-o"])
        .arg(&out16)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    let after = image::open(&out16).unwrap();
    let after = after.as_rgb16().expect("16-bit RGB output");
    let (mut same_outside, mut changed_inside) = (true, 0);
    for (x, y, p) in after.enumerate_pixels() {
        if y >= H / 2 {
            same_outside &= p == deep.get_pixel(x, y);
        } else if p != deep.get_pixel(x, y) {
            changed_inside += 1;
        }
    }
    assert!(same_outside, "untreated 16-bit pixels changed");
    assert!(changed_inside > 100, "only {changed_inside} treated pixels changed");

    // RGBA: the alpha channel comes through untouched.
    let rgba = RgbaImage::from_fn(W, H, |x, y| Rgba([200, 170, 150, ((x + y) % 256) as u8]));
    let photo_a = dir.path().join("alpha.png");
    rgba.save(&photo_a).unwrap();
    let out_a = dir.path().join("alpha_after.png");
    let o = smpsim()
        .arg("render")
        .arg(&photo_a)
        .arg("--mask")
        .arg(&mask)
        .args(["--px-per-mm", "4", "-o"])
        .arg(&out_a)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    let after = image::open(&out_a).unwrap().into_rgba8();
    assert!(
        after.pixels().zip(rgba.pixels()).all(|(a, b)| a.0[3] == b.0[3]),
        "alpha changed"
    );
    assert!(after != rgba, "nothing rendered");

    // Greyscale input renders (in colour: pigment has a hue).
    let grey = dir.path().join("grey.png");
    GrayImage::from_pixel(W, H, Luma([180])).save(&grey).unwrap();
    let out_g = dir.path().join("grey_after.jpg");
    let o = smpsim()
        .arg("render")
        .arg(&grey)
        .arg("--mask")
        .arg(&mask)
        .args(["--px-per-mm", "4", "-o"])
        .arg(&out_g)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= b as u32;
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

/// A valid PNG header and IHDR claiming `w`×`h` pixels, with no pixel data behind it.
fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    // One IDAT chunk of junk, so the header parses and the size is what fails.
    let idat = b"IDAT\x78\x9c\x03\x00\x00\x00\x00\x01";
    png.extend_from_slice(&((idat.len() - 4) as u32).to_be_bytes());
    png.extend_from_slice(idat);
    png.extend_from_slice(&crc32(idat).to_be_bytes());
    png.extend_from_slice(&[0, 0, 0, 0]);
    png.extend_from_slice(b"IEND");
    png.extend_from_slice(&crc32(b"IEND").to_be_bytes());
    png
}

#[test]
fn hostile_and_broken_files_give_one_line_errors_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mask = top_half_mask(d);
    let good = d.join("good.jpg");
    write_jpeg(&good, &quadrants(), &[], None);
    let mut good_png = Vec::new();
    quadrants()
        .write_to(&mut std::io::Cursor::new(&mut good_png), image::ImageFormat::Png)
        .unwrap();
    std::fs::write(d.join("empty.jpg"), b"").unwrap();
    std::fs::write(d.join("truncated.png"), &good_png[..good_png.len() / 2]).unwrap();
    std::fs::write(
        d.join("corrupt.jpg"),
        [&[0xFF, 0xD8, 0xFF, 0xDB][..], &[0x55; 300]].concat(),
    )
    .unwrap();
    std::fs::write(d.join("notes.jpg"), b"Consultation notes, not a photo.\n").unwrap();
    std::fs::write(d.join("bomb.png"), png_bomb(100_000, 100_000)).unwrap();
    std::fs::write(d.join("picture.gif"), b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").unwrap();
    std::fs::create_dir(d.join("folder.jpg")).unwrap();
    // (photo, expected exit code, words the one-line error must contain)
    let cases: [(&str, i32, &[&str]); 8] = [
        ("empty.jpg", 1, &["empty.jpg", "empty"]),
        ("truncated.png", 1, &["truncated.png"]),
        ("corrupt.jpg", 1, &["corrupt.jpg"]),
        ("notes.jpg", 1, &["notes.jpg", "not an image"]),
        ("bomb.png", 1, &["bomb.png", "100000x100000", "more than"]),
        ("picture.gif", 1, &["picture.gif"]),
        ("folder.jpg", 1, &["folder.jpg", "directory"]),
        ("missing.jpg", 1, &["missing.jpg", "No such file"]),
    ];
    for (name, code, words) in cases {
        let out = d.join(format!("{name}.out.jpg"));
        let o = smpsim()
            .arg("render")
            .arg(d.join(name))
            .arg("--mask")
            .arg(&mask)
            .args(["--px-per-mm", "4", "-o"])
            .arg(&out)
            .output()
            .unwrap();
        let err = stderr_of(&o);
        assert_eq!(o.status.code(), Some(code), "{name}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: not one line: {err}");
        for w in words {
            assert!(err.contains(w), "{name}: expected {w:?} in {err}");
        }
        assert!(!out.exists(), "{name}: an output was written");
    }
    // A PNG with a .jpg name is read by its content.
    let disguised = d.join("really_png.jpg");
    std::fs::write(&disguised, &good_png).unwrap();
    let out = d.join("disguised_after.png");
    let o = smpsim()
        .arg("render")
        .arg(&disguised)
        .arg("--mask")
        .arg(&mask)
        .args(["--px-per-mm", "4", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    // A missing output folder is named.
    let o = smpsim()
        .arg("render")
        .arg(&good)
        .arg("--mask")
        .arg(&mask)
        .args(["--px-per-mm", "4", "-o"])
        .arg(d.join("no/such/dir/out.jpg"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr_of(&o).contains("does not exist"), "{}", stderr_of(&o));
    // The decode limits are configurable: a 240×160 photo is over a 0-megapixel cap.
    let o = smpsim()
        .arg("render")
        .arg(&good)
        .arg("--mask")
        .arg(&mask)
        .args(["--max-megapixels", "0", "-o"])
        .arg(d.join("x.jpg"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr_of(&o).contains("240x160 pixels is more than"),
        "{}",
        stderr_of(&o)
    );
    // Inputs untouched, and no temporary files left behind.
    assert_eq!(std::fs::read(d.join("bomb.png")).unwrap(), png_bomb(100_000, 100_000));
    assert!(std::fs::read_dir(d)
        .unwrap()
        .all(|e| !e.unwrap().file_name().to_string_lossy().contains(".part")));
}

/// A colour profile larger than one JPEG segment (64 KB) is split over several and reads back whole, with
/// either JPEG encoder (jpeg-encoder, or libjpeg-turbo with the `turbojpeg` feature).
#[test]
fn a_large_colour_profile_spans_segments_and_reads_back_whole() {
    let icc: Vec<u8> = (0..150_000u32).map(|i| (i * 7 % 253) as u8).collect();
    let image = DynamicImage::ImageRgb8(quadrants());
    let bytes = smpsim::io::encode_image(Path::new("out.jpg"), &image, Some(&icc), 90).unwrap();
    let mut decoder = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(&bytes)).unwrap();
    assert_eq!(decoder.icc_profile().unwrap().as_deref(), Some(&icc[..]));
    let decoded = image::load_from_memory(&bytes).unwrap().to_rgb8();
    assert_eq!(decoded.dimensions(), quadrants().dimensions());
    // 4:2:0 at q90 keeps flat quadrants within a few levels.
    let original = quadrants();
    let (a, b) = (decoded.get_pixel(5, 5), original.get_pixel(5, 5));
    assert!(a.0.iter().zip(b.0).all(|(x, y)| x.abs_diff(y) <= 4), "{a:?} vs {b:?}");
}

#[test]
fn a_photo_and_its_masks_read_together_match_reading_them_in_turn_and_name_the_first_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("photo.jpg");
    write_jpeg(&photo, &quadrants(), &[], None);
    let mask = top_half_mask(dir.path());
    let density = dir.path().join("density.png");
    GrayImage::from_fn(W, H, |x, _| Luma([(x * 255 / W) as u8]))
        .save(&density)
        .unwrap();
    let exclusion = dir.path().join("exclude.png");
    GrayImage::from_fn(W, H, |x, y| Luma([if x < 20 && y < 20 { 255 } else { 0 }]))
        .save(&exclusion)
        .unwrap();
    let limits = smpsim::io::DecodeLimits::default();
    let files = smpsim::io::SourceFiles {
        mask: Some(&mask),
        density_map: Some(&density),
        exclusions: vec![&exclusion, &mask],
        ..Default::default()
    };

    let (loaded, together) = smpsim::io::load_photo_with_sources(&photo, &limits, &files).unwrap();
    let alone = smpsim::io::load_with_limits(&photo, &limits).unwrap();
    assert!(loaded.image == alone.image);
    let in_turn = smpsim::io::load_sources(&files, W, H).unwrap();
    let images = |s: &smpsim::treatment::FieldSources| {
        let mut v = vec![
            s.mask.as_ref().unwrap().to_image(),
            s.density_map.as_ref().unwrap().to_image(),
        ];
        v.extend(s.exclusions.iter().map(|f| f.to_image()));
        v
    };
    let (a, b) = (images(&together), images(&in_turn));
    assert_eq!(a.len(), 4);
    assert!(a == b);
    // Each in its place: the exclusions in the order given.
    assert_eq!(a[1].get_pixel(W - 1, 0).0[0], ((W - 1) * 255 / W) as u8);
    assert_eq!(a[2].get_pixel(0, 0).0[0], 255);
    assert_eq!(a[2].get_pixel(0, H - 1).0[0], 0);
    assert!(a[3] == a[0]);

    // Errors: a bad photo before a bad mask; among the masks, the first bad one in order.
    let garbage = dir.path().join("garbage.jpg");
    std::fs::write(&garbage, b"not an image at all").unwrap();
    let small = dir.path().join("small.png");
    GrayImage::new(W / 2, H / 2).save(&small).unwrap();
    let missing = dir.path().join("missing.png");
    let error = |photo: &Path, files: &smpsim::io::SourceFiles| {
        smpsim::io::load_photo_with_sources(photo, &limits, files)
            .unwrap_err()
            .to_string()
    };
    let bad_mask = smpsim::io::SourceFiles {
        mask: Some(&small),
        ..Default::default()
    };
    let message = error(&garbage, &bad_mask);
    assert!(
        message.contains("garbage.jpg") && !message.contains("small.png"),
        "{message}"
    );
    let message = error(&photo, &bad_mask);
    assert!(message.contains("small.png") && message.contains("120"), "{message}");
    let two_bad = smpsim::io::SourceFiles {
        mask: Some(&mask),
        density_map: Some(&missing),
        exclusions: vec![&garbage],
        ..Default::default()
    };
    let message = error(&photo, &two_bad);
    assert!(
        message.contains("missing.png") && !message.contains("garbage"),
        "{message}"
    );
}

/// `load_photo_beside` hands its task the photo's upright size, read from the header, for every EXIF
/// orientation (a 90° turn swaps width and height), and does not run it when the header is bad.
#[test]
fn work_beside_the_decode_gets_the_upright_size() {
    let dir = tempfile::tempdir().unwrap();
    let limits = smpsim::io::DecodeLimits::default();
    let upright = quadrants();
    for (o, tag) in ORIENTATIONS.iter().zip(1u8..) {
        let photo = dir.path().join(format!("o{tag}.jpg"));
        let stored = stored_for(&upright, *o);
        write_jpeg(&photo, &stored, &[(1, exif_orientation(tag))], None);
        let (loaded, size) = smpsim::io::load_photo_beside(&photo, &limits, |w, h| (w, h)).unwrap();
        assert_eq!(size, (W, H), "orientation {tag} (stored {:?})", stored.dimensions());
        assert_eq!((loaded.image.width(), loaded.image.height()), size, "orientation {tag}");
        assert!(loaded.image == smpsim::io::load_with_limits(&photo, &limits).unwrap().image);
    }
    let garbage = dir.path().join("garbage.jpg");
    std::fs::write(&garbage, b"not an image at all").unwrap();
    let ran = std::sync::atomic::AtomicBool::new(false);
    let error = smpsim::io::load_photo_beside(&garbage, &limits, |_, _| {
        ran.store(true, std::sync::atomic::Ordering::Relaxed)
    })
    .unwrap_err()
    .to_string();
    assert!(error.contains("garbage.jpg"), "{error}");
    assert!(!ran.load(std::sync::atomic::Ordering::Relaxed));
}

/// A baseline 4:2:0 JPEG decodes band by band: the same size as `image`'s whole decode and, band by band,
/// within a fraction of a level of it (the chroma upsampling differs), so every band is in its place.
#[test]
fn a_camera_jpeg_decodes_band_by_band_close_to_image_s_decoder() {
    let ours = smpsim::io::load_photo(Path::new(FIXTURE_PHOTO)).unwrap();
    let theirs = image::open(FIXTURE_PHOTO).unwrap().to_rgb8();
    assert_eq!(ours.dimensions(), theirs.dimensions());
    let diffs: Vec<u8> = ours
        .as_raw()
        .iter()
        .zip(theirs.as_raw())
        .map(|(a, b)| a.abs_diff(*b))
        .collect();
    let mean = |d: &[u8]| d.iter().map(|&v| v as f64).sum::<f64>() / d.len() as f64;
    assert!(mean(&diffs) < 0.3, "mean difference {}", mean(&diffs));
    for (band, d) in diffs.chunks(ours.width() as usize * 3 * 16).enumerate() {
        assert!(mean(d) < 1.0, "band {band}: mean difference {}", mean(d));
    }
}

/// `load_photo_beside_stamping` stamps each band of a camera's JPEG as soon as it is decoded: the bytes of
/// decoding first and rendering after. When the stamp declines, or the photo must be turned upright (its
/// rows are not the upright photo's), nothing is stamped and the photo is as `load_image` decodes it.
#[test]
fn bands_stamped_as_they_decode_give_the_bytes_of_a_render_after() {
    let (photo, mask) = (Path::new(FIXTURE_PHOTO), Path::new(FIXTURE_MASK));
    let limits = smpsim::io::DecodeLimits::default();
    let params = fixture_params();
    let (loaded, _, stamped) = smpsim::io::load_photo_beside_stamping(
        photo,
        &limits,
        |w, h| {
            let field = smpsim::io::load_mask(mask, w, h).unwrap();
            let planned = smpsim::plan_and_prepare(w, h, &field, &params).unwrap();
            (field, planned)
        },
        |(field, planned), band, pixels| smpsim::stamp_planned_band(planned, field, &params, band, pixels),
    )
    .unwrap();
    assert!(stamped);
    let plain = smpsim::io::load_image(photo).unwrap();
    let mut after = plain.clone();
    let field = smpsim::io::load_mask(mask, plain.width(), plain.height()).unwrap();
    let stats = smpsim::render_image_mut(&mut after, &field, &params).unwrap();
    assert!(stats.impressions > 1000, "{} impressions", stats.impressions);
    assert!(
        loaded.image == after,
        "stamped while decoding differs from stamped after"
    );
    assert!(loaded.image != plain);

    let (loaded, (), stamped) =
        smpsim::io::load_photo_beside_stamping(photo, &limits, |_, _| (), |_, _, _| false).unwrap();
    assert!(!stamped);
    assert!(loaded.image == plain);

    let dir = tempfile::tempdir().unwrap();
    let turned = dir.path().join("turned.jpg");
    // At 4:2:0, so that it would decode band by band (`write_jpeg`'s quality 95 writes 4:4:4).
    let stored = stored_for(&quadrants(), Orientation::Rotate90);
    let mut encoder = jpeg_encoder::Encoder::new_file(&turned, 95).unwrap();
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    encoder.add_app_segment(1, exif_orientation(6)).unwrap();
    let (w, h) = (stored.width() as u16, stored.height() as u16);
    encoder
        .encode(stored.as_raw(), w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    let called = std::sync::atomic::AtomicBool::new(false);
    let (loaded, size, stamped) = smpsim::io::load_photo_beside_stamping(
        &turned,
        &limits,
        |w, h| (w, h),
        |_, _, _| {
            called.store(true, std::sync::atomic::Ordering::Relaxed);
            true
        },
    )
    .unwrap();
    assert!(!stamped && !called.load(std::sync::atomic::Ordering::Relaxed));
    assert_eq!(size, (W, H));
    assert!(loaded.image == smpsim::io::load_image(&turned).unwrap());
}
