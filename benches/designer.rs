//! The designer's responsiveness on a 12 MP photo (issue 9: "the preview updates within about half a second
//! of a change"). `cargo bench --bench designer` prints a table: opening the photo (decode + preview), one
//! preview render per kind of change (hairline point, density, shade, session, years, a painted mask), and
//! the full-resolution after image an export makes. The same library calls the server makes, without HTTP
//! (on loopback HTTP adds well under a millisecond; the JPEG it returns is included).

use std::time::Instant;

use smpsim::serve::{DesignState, Export, Session};

mod common;

fn state() -> DesignState {
    serde_json::from_value(serde_json::json!({
        "hairline": [[0.3, 0.38], [0.5, 0.32], [0.7, 0.38]],
        "region": [[0.18, 0.4], [0.3, 0.12], [0.5, 0.06], [0.7, 0.12], [0.82, 0.4]],
        "style": "soft", "transition_mm": null, "density": 100, "dot_size": 0.15, "shade": "auto",
        "sessions": 3, "session": 3, "years": 0, "fresh": false, "seed": 1
    }))
    .expect("valid state")
}

fn main() {
    let scene = common::head_scene(common::WIDTH, common::HEIGHT);
    let photo = smpsim::io::encode_jpeg(&scene.photo, 90).expect("jpeg");
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };

    let mut open = Vec::new();
    let mut session = None;
    for _ in 0..3 {
        let t = Instant::now();
        session = Some(Session::open(&photo, "head.jpg", smpsim::serve::Options::default().preview_side).unwrap());
        open.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let mut session = session.unwrap();
    let (pw, ph) = session.preview.dimensions();

    let base = state();
    let mut changes: Vec<(&str, DesignState)> = Vec::new();
    let mut s = base.clone();
    s.hairline[1][1] = 0.30;
    changes.push(("move a hairline point", s));
    let mut s = base.clone();
    s.density = 140.0;
    changes.push(("density 100 → 140", s));
    let mut s = base.clone();
    s.shade = "medium".into();
    changes.push(("shade auto → medium", s));
    let mut s = base.clone();
    s.session = 1;
    changes.push(("session 3 → 1", s));
    let mut s = base.clone();
    s.years = 5.0;
    changes.push(("years 0 → 5", s));

    let mut rows = Vec::new();
    let job = session.preview_job();
    job.run(&base).unwrap(); // warm-up
    for (what, s) in &changes {
        let times: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                job.run(s).unwrap();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        rows.push((what.to_string(), median(times)));
    }
    // A painted density mask (a soft patch at 60%) sent as the page sends it: PNG at the preview's size.
    let mask = image::GrayImage::from_fn(pw, ph, |x, y| {
        let d = ((x as f32 - pw as f32 * 0.5).powi(2) + (y as f32 - ph as f32 * 0.2).powi(2)).sqrt();
        image::Luma([if d < pw as f32 * 0.08 { 153 } else { 255 }])
    });
    let mut png = Vec::new();
    mask.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let times: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            session.set_brush(smpsim::serve::Brush::Density, &png).unwrap();
            session.preview_job().run(&base).unwrap();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    rows.push(("paint density (mask upload + render)".into(), median(times)));

    let export = session.export_job();
    let times: Vec<f64> = (0..3)
        .map(|_| {
            let t = Instant::now();
            export.run(&base, Export::After).unwrap();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let export_ms = median(times);

    println!(
        "## smpsim designer: 4000×3000 JPEG, preview {pw}×{ph}, {} logical CPUs\n",
        common::all_cores()
    );
    println!("Medians; the target is a preview within about 500 ms of a change.\n");
    println!("| step | median ms | target |");
    println!("|---|---:|---|");
    println!(
        "| open the photo (decode, preview, its JPEG) | {:.0} | once per photo |",
        median(open)
    );
    let worst = rows.iter().map(|r| r.1).fold(0.0, f64::max);
    for (what, ms) in &rows {
        println!("| preview after: {what} | {ms:.0} | ≤ 500 |");
    }
    println!("| export: after image at full resolution (JPEG) | {export_ms:.0} | on request |");
    println!(
        "\nSlowest preview: {worst:.0} ms — {}",
        if worst <= 500.0 { "PASS" } else { "MISS" }
    );
}
