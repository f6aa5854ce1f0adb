//! Batch from code: make a small folder of consultation photos with designs beside them, render them all
//! with `smpsim::batch::run`, and print the report.
//!
//! `cargo run --release --example batch_from_code` (works in a temporary folder, prints where).

use smpsim::batch::{run, BatchOptions, Status};
use smpsim::synth::SyntheticHead;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::temp_dir().join(format!("smpsim-batch-example-{}", std::process::id()));
    let input = root.join("photos");
    std::fs::create_dir_all(&input)?;
    for (i, hair) in [[0x2b, 0x21, 0x1c], [0x14, 0x12, 0x12], [0x6a, 0x4c, 0x36]]
        .into_iter()
        .enumerate()
    {
        let head = SyntheticHead {
            width: 800,
            height: 600,
            px_per_mm: 4.5,
            hair,
            seed: i as u32,
            ..Default::default()
        };
        let (photo, mask) = head.generate();
        smpsim::io::save_rgb(&input.join(format!("client{i}.jpg")), &photo, 92)?;
        mask.save(input.join(format!("client{i}.mask.png")))?;
    }
    // The folder's configuration: every photo gets its pigment matched to its own hair.
    std::fs::write(
        input.join("smpsim.toml"),
        "[treatment]\nshade = \"auto\"\n[output]\ncompare = true\n",
    )?;

    let options = BatchOptions {
        input: input.clone(),
        output: root.join("results"),
        config: None,
        recursive: false,
        jobs: 2,
        force: false,
        shard: None,
        limits: Default::default(),
    };
    let report = run(&options, |done, total, photo| {
        println!("[{done}/{total}] {:?} {}", photo.status, photo.photo.display());
    })?;
    println!(
        "{} rendered, {} failed; results in {}",
        report.count(Status::Rendered),
        report.count(Status::Failed),
        options.output.display()
    );
    Ok(())
}
