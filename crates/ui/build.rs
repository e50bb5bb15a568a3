//! Embeds the built front end (`dist/`, produced by `npm run build` in `web/` and committed)
//! into the crate: for every file a static entry with its bytes, a gzip copy when that is
//! smaller, its content type and an ETag computed from its content. The output depends only on
//! the files' bytes, so the build is reproducible.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let dist = manifest.join("dist");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=dist");
    let mut files = Vec::new();
    if dist.is_dir() {
        collect(&dist, &dist, &mut files);
    }
    files.sort();
    let mut table = String::from("&[\n");
    for (route, path) in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let etag = format!("\"{:016x}\"", fnv1a(&bytes));
        let gzip_expr = if is_compressible(route) {
            let mut encoder = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::best());
            encoder.write_all(&bytes).expect("gzip into memory");
            let gz = encoder.finish().expect("gzip into memory");
            if gz.len() < bytes.len() {
                let name = format!("{:016x}.gz", fnv1a(route.as_bytes()));
                std::fs::write(out.join(&name), gz).expect("write gzip asset");
                format!("Some(include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{name}\")))")
            } else {
                "None".to_owned()
            }
        } else {
            "None".to_owned()
        };
        writeln!(
            table,
            "    Asset {{ path: {route:?}, body: include_bytes!({:?}), gzip: {gzip_expr}, content_type: {:?}, etag: {etag:?} }},",
            path.display().to_string(),
            content_type(route)
        )
        .expect("write to string");
    }
    table.push(']');
    std::fs::write(out.join("assets.rs"), table).expect("write assets.rs");
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<_> =
        std::fs::read_dir(dir).expect("read dist").map(|e| e.expect("dist entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let relative = path.strip_prefix(root).expect("under dist").to_string_lossy().replace('\\', "/");
            files.push((format!("/{relative}"), path));
        }
    }
}

fn is_compressible(route: &str) -> bool {
    [".js", ".css", ".html", ".svg", ".json", ".map", ".txt"].iter().any(|ext| route.ends_with(ext))
}

fn content_type(route: &str) -> &'static str {
    let ext = route.rsplit('.').next().unwrap_or("");
    match ext {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" => "application/json",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// FNV-1a, 64 bits: enough to tell two versions of an asset apart for caching.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
