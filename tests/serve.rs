//! `smpsim serve` on loopback: the real binary, started on a free port, driven over HTTP.
//!
//! Upload, preview, export, and the promise that matters most: an exported design re-runs through
//! `smpsim render` to the same bytes. Also what must be refused (non-images, oversized uploads, wrong-sized
//! masks, foreign hosts), that no request path reaches the file system, and that sessions are private.
//! The same page in a real browser is driven in `designer_in_a_real_browser` (Chromium + playwright-core).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use image::{GrayImage, Luma};

const BIN: &str = env!("CARGO_BIN_EXE_smpsim");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// A running `smpsim serve`, stopped when dropped.
struct Server {
    child: Child,
    url: String,
    agent: ureq::Agent,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("smpsim serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .unwrap()
            .trim_end_matches('/')
            .to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{line:?}");
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        Server { child, url, agent }
    }

    fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// (status, content type, body) of a request.
    fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> (u16, String, Vec<u8>) {
        let url = format!("{}{path}", self.url);
        let mut response = match (method, body) {
            ("GET", _) => {
                let mut r = self.agent.get(&url);
                for (k, v) in headers {
                    r = r.header(*k, *v);
                }
                r.call()
            }
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => {
                let mut r = self.agent.post(&url);
                for (k, v) in headers {
                    r = r.header(*k, *v);
                }
                r.send(body.unwrap_or(&[]))
            }
        }
        .expect("request");
        let status = response.status().as_u16();
        let kind = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = response
            .body_mut()
            .with_config()
            .limit(200 << 20)
            .read_to_vec()
            .unwrap();
        (status, kind, body)
    }

    fn upload(&self, bytes: &[u8], name: &str) -> serde_json::Value {
        let (status, _, body) = self.call("POST", "/api/photos", &[("X-File-Name", name)], Some(bytes));
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap()
    }

    fn post_json(&self, path: &str, json: &serde_json::Value) -> (u16, String, Vec<u8>) {
        let text = json.to_string();
        self.call(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            Some(text.as_bytes()),
        )
    }

    /// A raw request line, exactly as written (no client-side path normalisation).
    fn raw(&self, request: &str) -> String {
        self.raw_with_body(request, &[])
    }

    /// A raw request followed by `body`, written until the server stops reading; then its answer.
    fn raw_with_body(&self, request: &str, body: &[u8]) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port())).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        stream
            .set_write_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let _ = stream.write_all(body);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn design(points: &[[f64; 2]]) -> serde_json::Value {
    serde_json::json!({
        "hairline": points, "region": [[0.18, 0.4], [0.3, 0.12], [0.5, 0.06], [0.7, 0.12], [0.82, 0.4]],
        "style": "soft", "transition_mm": null, "density": 100, "dot_size": 0.15, "shade": "dark",
        "sessions": 3, "session": 3, "years": 0, "fresh": false, "seed": 7
    })
}

/// The bytes `smpsim render` makes of the fixture from an exported design, settings file and exclusion mask
/// (written as `cli.jpg` in `dir`).
fn render_exported(design: &Path, settings: &Path, exclude: &Path, dir: &Path) -> Vec<u8> {
    let out = dir.join("cli.jpg");
    let status = Command::new(BIN)
        .arg("render")
        .arg(fixture("head.jpg"))
        .arg("--hairline")
        .arg(design)
        .arg("--config")
        .arg(settings)
        .arg("--exclude")
        .arg(exclude)
        .arg("-o")
        .arg(&out)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "smpsim render failed");
    std::fs::read(out).unwrap()
}

const THREE_POINTS: [[f64; 2]; 3] = [[0.3, 0.38], [0.5, 0.32], [0.7, 0.38]];

fn error_of(body: &[u8]) -> String {
    let v: serde_json::Value =
        serde_json::from_slice(body).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(body)));
    v["error"].as_str().unwrap().to_string()
}

#[test]
fn page_is_served_from_the_binary_with_a_strict_policy() {
    let server = Server::start(&[]);
    let url = format!("{}/", server.url);
    let response = server.agent.get(&url).call().unwrap();
    let csp = response
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
    for path in ["/", "/app.js", "/app.css"] {
        let (status, _, body) = server.call("GET", path, &[], None);
        assert_eq!(status, 200, "{path}");
        let text = String::from_utf8(body).unwrap();
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{path} refers to the network"
        );
    }
    // A page from another site (DNS rebinding) names its own host: refused.
    let (status, _, body) = server.call("GET", "/", &[("Host", "evil.example:80")], None);
    assert_eq!(status, 421);
    assert!(error_of(&body).contains("evil.example"));
}

#[test]
fn exported_design_re_runs_through_render_to_the_same_bytes() {
    let server = Server::start(&[]);
    let photo = std::fs::read(fixture("head.jpg")).unwrap();
    let opened = server.upload(&photo, "client%2012.jpg");
    let id = opened["id"].as_str().unwrap();
    assert_eq!(opened["name"], "client_12");
    assert_eq!(
        (opened["width"].as_u64(), opened["height"].as_u64()),
        (Some(1600), Some(1200))
    );
    let (pw, ph) = (
        opened["preview_width"].as_u64().unwrap() as u32,
        opened["preview_height"].as_u64().unwrap() as u32,
    );

    // Without three points the preview is the photo.
    let (_, _, before) = server.call("GET", &format!("/api/photos/{id}/before"), &[], None);
    let mut two_points = design(&THREE_POINTS[..2]);
    two_points["region"] = serde_json::json!([]);
    let (status, kind, unchanged) = server.post_json(&format!("/api/photos/{id}/preview"), &two_points);
    assert_eq!((status, kind.as_str()), (200, "image/jpeg"));
    assert!(unchanged == before, "a preview without a design is not the photo");

    // Paint an exclusion over part of the crown (a preview-sized mask, white = excluded).
    let (ex0, ey0, ex1, ey1) = (pw * 40 / 100, ph * 15 / 100, pw * 50 / 100, ph * 25 / 100);
    let brush = GrayImage::from_fn(pw, ph, |x, y| {
        Luma([if (ex0..ex1).contains(&x) && (ey0..ey1).contains(&y) {
            255
        } else {
            0
        }])
    });
    let mut png = Vec::new();
    brush
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let (status, _, _) = server.call("POST", &format!("/api/photos/{id}/brush/exclude"), &[], Some(&png));
    assert_eq!(status, 204);

    let state = design(&THREE_POINTS);
    let (status, _, preview) = server.post_json(&format!("/api/photos/{id}/preview"), &state);
    assert_eq!(status, 200);
    let (b, a) = (
        image::load_from_memory(&before).unwrap().to_rgb8(),
        image::load_from_memory(&preview).unwrap().to_rgb8(),
    );
    assert_eq!(a.dimensions(), (pw, ph));
    // Impressions: pixels clearly darker than the photo (JPEG noise moves a pixel by a few levels at most).
    let darker = b
        .pixels()
        .zip(a.pixels())
        .filter(|(p, q)| p.0.iter().zip(q.0).map(|(&x, y)| x as i32 - y as i32).sum::<i32>() > 45)
        .count();
    assert!(darker > 2000, "only {darker} preview pixels darkened by the design");

    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for what in ["design", "settings", "exclude", "after"] {
        let (status, kind, body) = server.post_json(&format!("/api/photos/{id}/export?what={what}"), &state);
        assert_eq!(status, 200, "{what}: {}", String::from_utf8_lossy(&body));
        let name = match what {
            "design" => "client_12.hairline.toml",
            "settings" => "client_12.toml",
            "exclude" => "client_12.exclude.png",
            _ => "client_12.after.jpg",
        };
        assert!(!kind.is_empty());
        std::fs::write(dir.path().join(name), &body).unwrap();
        files.push(dir.path().join(name));
    }
    let design_text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        design_text.contains("[hairline]") && design_text.contains("[region]"),
        "{design_text}"
    );

    // The command line, from the exported files alone, makes the same bytes.
    assert!(
        render_exported(&files[0], &files[1], &files[2], dir.path()) == std::fs::read(&files[3]).unwrap(),
        "export and `smpsim render` differ"
    );

    // Full resolution, darker under the design, and untouched under the exclusion (inset 2 px for its soft
    // resized edge; compared after JPEG, so within a small tolerance of the re-encoded photo).
    let full_after = image::load_from_memory(&std::fs::read(&files[3]).unwrap())
        .unwrap()
        .to_rgb8();
    let full_before = image::load_from_memory(&photo).unwrap().to_rgb8();
    assert_eq!(full_after.dimensions(), (1600, 1200));
    let scale = 1600.0 / pw as f64;
    let (fx0, fy0, fx1, fy1) = (
        (ex0 as f64 * scale) as u32 + 2,
        (ey0 as f64 * scale) as u32 + 2,
        (ex1 as f64 * scale) as u32 - 2,
        (ey1 as f64 * scale) as u32 - 2,
    );
    let dark_in = |x0: u32, y0: u32, x1: u32, y1: u32| {
        let mut dark = 0;
        for y in y0..y1 {
            for x in x0..x1 {
                let (p, q) = (full_before.get_pixel(x, y).0, full_after.get_pixel(x, y).0);
                let drop: i32 = p.iter().zip(q).map(|(&a, b)| a as i32 - b as i32).sum();
                if drop > 45 {
                    dark += 1;
                }
            }
        }
        dark
    };
    assert_eq!(dark_in(fx0, fy0, fx1, fy1), 0, "pigment inside the exclusion");
    let (w, h) = (fx1 - fx0, fy1 - fy0);
    assert!(
        dark_in(fx0 + 2 * w, fy0, fx1 + 2 * w, fy1) > 20,
        "no pigment beside the exclusion"
    );
    let _ = h;
}

#[test]
fn bad_uploads_get_a_message_and_nothing_else() {
    let server = Server::start(&["--max-upload-mb", "1"]);
    let (status, _, body) = server.call("POST", "/api/photos", &[("X-File-Name", "notes.txt")], Some(b"hello"));
    assert_eq!(status, 415);
    let e = error_of(&body);
    assert!(e.contains("notes.txt") && e.contains("not an image"), "{e}");

    let photo = std::fs::read(fixture("head.jpg")).unwrap();
    let (status, _, body) = server.call(
        "POST",
        "/api/photos",
        &[("X-File-Name", "cut.jpg")],
        Some(&photo[..photo.len() / 2]),
    );
    assert_eq!(status, 415);
    assert!(error_of(&body).contains("truncated"), "{}", error_of(&body));

    // Refused once it passes the limit (a raw request: a client still sending its body when the answer comes
    // may see a broken pipe instead; the page checks the size before sending).
    let host = format!("127.0.0.1:{}", server.port());
    let answer = server.raw_with_body(
        &format!(
            "POST /api/photos HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            2 << 20
        ),
        &vec![0u8; 2 << 20],
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("larger than the 1 MB"), "{answer}");

    // A painted mask of the wrong size.
    let small = std::fs::read(fixture("head_mask.png")).unwrap();
    let small_img =
        image::load_from_memory(&small)
            .unwrap()
            .resize_exact(320, 240, image::imageops::FilterType::Nearest);
    let mut bytes = Vec::new();
    small_img
        .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
        .unwrap();
    let id = server.upload(&bytes, "small.png")["id"].as_str().unwrap().to_string();
    let (status, _, body) = server.call("POST", &format!("/api/photos/{id}/brush/density"), &[], Some(&photo));
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("320"), "{}", error_of(&body));

    // An invalid design value names the key.
    let mut state = design(&THREE_POINTS);
    state["density"] = serde_json::json!(-5);
    let (status, _, body) = server.post_json(&format!("/api/photos/{id}/preview"), &state);
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("density"), "{}", error_of(&body));
}

#[test]
fn no_request_path_reaches_the_file_system() {
    let server = Server::start(&[]);
    let host = format!("127.0.0.1:{}", server.port());
    for path in [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/app.js/../../../etc/passwd",
        "/api/photos/..%2f..%2fetc%2fpasswd/before",
        "/api/photos/../../etc/passwd",
        "//etc/passwd",
        "/etc/passwd",
    ] {
        let answer = server.raw(&format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        ));
        let status_line = answer.lines().next().unwrap_or("");
        assert!(
            status_line.contains(" 404 ") || status_line.contains(" 400 "),
            "{path}: {status_line}"
        );
        assert!(!answer.contains("root:"), "{path} leaked a file");
    }
}

#[test]
fn sessions_are_private_and_forgotten_when_closed() {
    let server = Server::start(&[]);
    let photo = std::fs::read(fixture("head.jpg")).unwrap();
    let a = server.upload(&photo, "a.jpg")["id"].as_str().unwrap().to_string();
    let b = server.upload(&photo, "b.jpg")["id"].as_str().unwrap().to_string();
    assert_ne!(a, b);
    assert_eq!(a.len(), 32);
    // A guessed id sees nothing.
    let (status, _, body) = server.call("GET", "/api/photos/00000000000000000000000000000000/before", &[], None);
    assert_eq!(status, 404);
    assert!(error_of(&body).contains("no longer open"));
    // Closing one leaves the other.
    let (status, _, _) = server.call("POST", &format!("/api/photos/{a}/close"), &[], Some(b""));
    assert_eq!(status, 204);
    let (status, _, _) = server.post_json(&format!("/api/photos/{a}/preview"), &design(&THREE_POINTS));
    assert_eq!(status, 404);
    let (status, _, _) = server.call("GET", &format!("/api/photos/{b}/before"), &[], None);
    assert_eq!(status, 200);
    let (status, _, _) = server.call("DELETE", &format!("/api/photos/{b}"), &[], None);
    assert_eq!(status, 204);
    let (status, _, _) = server.call("GET", &format!("/api/photos/{b}/before"), &[], None);
    assert_eq!(status, 404);
}

#[test]
fn an_unused_photo_is_forgotten() {
    // The library's server, with a two-second idle limit (the command line's is in minutes).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let options = smpsim::serve::Options {
            addr: "127.0.0.1:0".parse().unwrap(),
            idle: std::time::Duration::from_secs(2),
            ..Default::default()
        };
        smpsim::serve::run(options, |addr| tx.send(addr).unwrap()).unwrap();
    });
    let addr = rx.recv().unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let photo = std::fs::read(fixture("head.jpg")).unwrap();
    let mut response = agent
        .post(format!("http://{addr}/api/photos"))
        .send(&photo[..])
        .unwrap();
    let opened: serde_json::Value = serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap();
    let before = format!("http://{addr}/api/photos/{}/before", opened["id"].as_str().unwrap());
    assert_eq!(agent.get(&before).call().unwrap().status().as_u16(), 200);
    std::thread::sleep(std::time::Duration::from_millis(5000));
    assert_eq!(agent.get(&before).call().unwrap().status().as_u16(), 404);
}

#[test]
fn more_photos_than_allowed_are_refused_politely() {
    let server = Server::start(&["--max-photos", "1"]);
    let photo = std::fs::read(fixture("head.jpg")).unwrap();
    server.upload(&photo, "a.jpg");
    let (status, _, body) = server.call("POST", "/api/photos", &[("X-File-Name", "b.jpg")], Some(&photo));
    assert_eq!(status, 503);
    assert!(error_of(&body).contains("close another"), "{}", error_of(&body));
}

#[test]
fn binding_beyond_loopback_warns() {
    let mut child = Command::new(BIN)
        .args(["serve", "--port", "0", "--bind", "0.0.0.0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(line.contains("http://0.0.0.0:"), "{line}");
    assert!(err.contains("warning") && err.contains("other computers"), "{err}");
}

#[test]
fn designer_in_a_real_browser() {
    let Some(browser_dir) = common::browser_dir() else {
        return;
    };
    let server = Server::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("node")
        .arg(browser_dir.join("designer.mjs"))
        .arg(format!("{}/", server.url))
        .arg(fixture("head.jpg"))
        .arg(dir.path())
        .output()
        .expect("node runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Only the deliberate bad number (density −5) may log a failed request.
    let console: Vec<&str> = r["consoleErrors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(console.iter().all(|e| e.contains("400")) && console.len() <= 1, "{r}");
    assert_eq!(r["pageErrors"].as_array().unwrap().len(), 0, "{r}");
    assert_eq!(r["foreignRequests"].as_array().unwrap().len(), 0, "{r}");
    assert!(
        r["meanAfter"].as_f64().unwrap() < r["meanBefore"].as_f64().unwrap(),
        "{r}"
    );
    assert!(r["stats"].as_str().unwrap().contains("impressions"), "{r}");
    assert!(r["afterHiddenInBefore"].as_bool().unwrap(), "{r}");
    assert!(r["sliderClip"].as_str().unwrap().contains("50%"), "{r}");
    assert!(r["badNumberMessage"].as_str().unwrap().contains("density"), "{r}");
    assert!(
        r["commandWithExclusion"]
            .as_str()
            .unwrap()
            .contains("--exclude head.exclude.png"),
        "{r}"
    );

    // The downloads re-run from the command line to the downloaded after image's bytes.
    let file = |what: &str| PathBuf::from(r["files"][what].as_str().unwrap());
    assert!(
        render_exported(&file("design"), &file("settings"), &file("exclude"), dir.path())
            == std::fs::read(file("after")).unwrap(),
        "the browser's export and `smpsim render` differ"
    );
    // The design the browser made has the three clicked points (the middle one dragged).
    let design = std::fs::read_to_string(file("design")).unwrap();
    let parsed = smpsim::design::Design::parse(&design, smpsim::design::DesignFormat::Toml, "d").unwrap();
    let points = parsed.hairline.unwrap().points;
    assert_eq!(points.len(), 3, "{design}");
    assert!((points[1][1].0 - 0.33).abs() < 0.01, "{design}");
}
