//! Where the bytes are after slimming: the `breakdown` of the JSON report adds up (its
//! distributions and its kinds each sum to its total, which is the plan's `after` plus the
//! compiled bytecode minus what ELF stripping takes out), on the hand-made venv and on the real
//! web venv, in a dry run and a real one; and `--treemap` draws it as SVG that `rsvg-convert`
//! (Debian's librsvg2-bin) really renders: a PNG of the stated size, many colours, the biggest
//! distribution's first rectangle painted where and in the colour the SVG says, and another
//! venv's map a different picture; a METADATA name made of markup and control characters is
//! drawn as text in an SVG that stays well-formed. Without rsvg-convert the rendering prints a
//! SKIP note.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::util::{real_venv, show, skip, slim, slim_venv, Fixture};

/// Every sum the breakdown promises; returns it.
fn check_sums(report: &Value) -> &Value {
    let b = &report["breakdown"];
    let n = |v: &Value| {
        v.as_u64()
            .unwrap_or_else(|| panic!("not a count: {v} in {b:#}"))
    };
    let total = n(&b["total_bytes"]);
    let dists = b["dists"].as_array().expect("breakdown.dists");
    let kinds = b["kinds"].as_array().expect("breakdown.kinds");
    let sum = |xs: &[Value], key: &str| xs.iter().map(|x| n(&x[key])).sum::<u64>();
    assert_eq!(sum(dists, "bytes"), total, "distributions sum to the total");
    assert_eq!(sum(kinds, "bytes"), total, "kinds sum to the total");
    assert_eq!(sum(dists, "files"), n(&b["total_files"]));
    assert_eq!(sum(kinds, "files"), n(&b["total_files"]));
    for d in dists {
        let by_kind: u64 = d["kinds"].as_object().unwrap().values().map(n).sum();
        assert_eq!(by_kind, n(&d["bytes"]), "{d:#}");
    }
    let basis = &b["basis"];
    assert_eq!(
        n(&basis["files_bytes"]) + n(&basis["bytecode_bytes"]) - n(&basis["elf_saved_bytes"]),
        total,
        "{basis:#}"
    );
    let bytes: Vec<u64> = dists.iter().map(|d| n(&d["bytes"])).collect();
    assert!(
        bytes.windows(2).all(|w| w[0] >= w[1]),
        "biggest first: {bytes:?}"
    );
    assert!(total > 0);
    b
}

#[test]
fn dry_run_breakdown_adds_up_to_the_plan() {
    let fx = Fixture::new("venvslim-sizes-");
    let report = slim_venv(&fx.root).args(["-n"]).report();
    let b = check_sums(&report);
    assert_eq!(
        b["basis"]["files_bytes"], report["totals"]["after_bytes"],
        "a dry run's kept files are the plan's after"
    );
    assert_eq!(b["basis"]["measured"], false);
    let names: Vec<&str> = b["dists"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names[0], "demo", "{names:?}");
    // pyvenv.cfg belongs to no distribution; pip is removed, so it has no kept bytes.
    assert!(names.contains(&"(no distribution)"), "{names:?}");
    assert!(!names.contains(&"pip"), "{names:?}");
    let kinds: Vec<&str> = b["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kind"].as_str().unwrap())
        .collect();
    for k in ["source", "bytecode", "metadata", "licences", "scripts"] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    // The treemap is an output: never inside the venv.
    let inside = fx.root.join("sizes.svg");
    let run = slim_venv(&fx.root)
        .args(["-n", "--treemap"])
        .arg(&inside)
        .run();
    run.assert_code(2);
    assert!(
        run.stderr().contains("--treemap") && !inside.exists(),
        "{run}"
    );
    // The text report shows it too.
    let text = slim_venv(&fx.root).args(["-n"]).ok().stdout();
    assert!(
        text.contains("left after slimming (estimated)") && text.contains("  by kind of file\n"),
        "{text}"
    );
}

#[test]
fn real_web_breakdown_adds_up_dry_and_real() {
    let venv = real_venv("web");
    let tmp = tempfile::tempdir().unwrap();
    let dry = slim_venv(&venv).args(["-n"]).report();
    let b = check_sums(&dry);
    assert_eq!(b["basis"]["files_bytes"], dry["totals"]["after_bytes"]);
    let native = b["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "native")
        .expect("the web venv keeps native code (pydantic_core)");
    assert!(native["bytes"].as_u64().unwrap() > 1 << 20, "{native:#}");

    let out = tmp.path().join("out");
    let real = slim(&venv, &out).report();
    let m = check_sums(&real);
    assert_eq!(m["basis"]["measured"], true);
    // Measured: the files are the output's, each once (only the RECORDs, which list the
    // compiled pycs after the count, are counted at their planned size).
    assert_eq!(m["total_files"], real["totals"]["after_files"]);
    let (total, after) = (
        m["total_bytes"].as_u64().unwrap(),
        real["totals"]["after_bytes"].as_u64().unwrap(),
    );
    assert!(
        total <= after && after - total < after / 100,
        "breakdown {total} vs after {after}"
    );
    // The same plan: the distributions' files agree with the dry run's.
    let files = |b: &Value| -> Vec<(String, u64)> {
        b["dists"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["name"].as_str().unwrap().to_string(),
                    d["files"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(files(b), files(m));
}

/// A PNG decoded: width, height, and RGB pixels (row by row).
struct Png {
    width: u32,
    height: u32,
    rgb: Vec<[u8; 3]>,
}

impl Png {
    /// Decode the 8-bit RGB or RGBA, non-interlaced PNG rsvg-convert writes.
    fn decode(bytes: &[u8]) -> Png {
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
        let (mut pos, mut idat, mut header) = (8, Vec::new(), None);
        while pos + 8 <= bytes.len() {
            let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
            let kind = &bytes[pos + 4..pos + 8];
            let data = &bytes[pos + 8..pos + 8 + len];
            match kind {
                b"IHDR" => header = Some(data.to_vec()),
                b"IDAT" => idat.extend_from_slice(data),
                _ => {}
            }
            pos += 12 + len;
        }
        let h = header.expect("IHDR");
        let width = u32::from_be_bytes(h[0..4].try_into().unwrap());
        let height = u32::from_be_bytes(h[4..8].try_into().unwrap());
        assert_eq!((h[8], h[12]), (8, 0), "8-bit, not interlaced");
        let channels = match h[9] {
            2 => 3,
            6 => 4,
            other => panic!("colour type {other}"),
        };
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&idat[..])
            .read_to_end(&mut raw)
            .expect("inflate IDAT");
        let stride = width as usize * channels;
        assert_eq!(raw.len(), height as usize * (stride + 1), "scanlines");
        let mut prev = vec![0u8; stride];
        let mut rgb = Vec::with_capacity((width * height) as usize);
        for line in raw.chunks(stride + 1) {
            let mut cur = line[1..].to_vec();
            for i in 0..stride {
                let a = if i >= channels { cur[i - channels] } else { 0 };
                let (b, c) = (prev[i], if i >= channels { prev[i - channels] } else { 0 });
                let add = match line[0] {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => ((a as u16 + b as u16) / 2) as u8,
                    4 => paeth(a, b, c),
                    f => panic!("filter {f}"),
                };
                cur[i] = cur[i].wrapping_add(add);
            }
            rgb.extend(cur.chunks(channels).map(|p| [p[0], p[1], p[2]]));
            prev = cur;
        }
        Png { width, height, rgb }
    }

    fn at(&self, x: u32, y: u32) -> [u8; 3] {
        self.rgb[(y * self.width + x) as usize]
    }
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = a as i16 + b as i16 - c as i16;
    let (pa, pb, pc) = (
        (p - a as i16).abs(),
        (p - b as i16).abs(),
        (p - c as i16).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

/// `name="value"` of the first element in `svg` that starts with `start`, after `after`.
fn attr(svg: &str, after: &str, start: &str, name: &str) -> String {
    let from = svg.find(after).expect(after);
    let el = &svg[from..][svg[from..].find(start).expect(start)..];
    let el = &el[..el.find('>').unwrap()];
    let key = format!(" {name}=\"");
    let v = &el[el.find(&key).unwrap_or_else(|| panic!("{name} in {el}")) + key.len()..];
    v[..v.find('"').unwrap()].to_string()
}

fn render(svg: &Path, png: &Path) -> Png {
    let run = crate::util::TestCommand::new("rsvg-convert")
        .arg(svg)
        .arg("-o")
        .arg(png)
        .run();
    assert!(run.status.success(), "{}", show(&run));
    Png::decode(&fs::read(png).unwrap())
}

/// The treemap of `venv` (dry run), rendered: checks it and returns the PNG.
fn treemap_of(venv: &Path, dir: &Path, name: &str) -> Png {
    let svg = dir.join(format!("{name}.svg"));
    slim_venv(venv).args(["-n", "--treemap"]).arg(&svg).ok();
    let text = fs::read_to_string(&svg).unwrap();
    let (w, h): (u32, u32) = (
        attr(&text, "<svg", "<svg", "width").parse().unwrap(),
        attr(&text, "<svg", "<svg", "height").parse().unwrap(),
    );
    let png = render(&svg, &dir.join(format!("{name}.png")));
    assert_eq!((png.width, png.height), (w, h), "the SVG's size");
    let colours: std::collections::HashSet<[u8; 3]> = png.rgb.iter().copied().collect();
    assert!(colours.len() > 8, "{name}: {} colours", colours.len());
    // The first distribution's first rectangle (its biggest kind), painted as the SVG says.
    let (x, y, rw, rh) = (
        attr(&text, "<g><title>", "<rect", "x")
            .parse::<f64>()
            .unwrap(),
        attr(&text, "<g><title>", "<rect", "y")
            .parse::<f64>()
            .unwrap(),
        attr(&text, "<g><title>", "<rect", "width")
            .parse::<f64>()
            .unwrap(),
        attr(&text, "<g><title>", "<rect", "height")
            .parse::<f64>()
            .unwrap(),
    );
    let fill = attr(&text, "<g><title>", "<rect", "fill");
    let want: Vec<u8> = (0..3)
        .map(|i| u8::from_str_radix(&fill[1 + 2 * i..3 + 2 * i], 16).unwrap())
        .collect();
    // Below the label, away from the edges.
    let at = png.at((x + rw * 0.75) as u32, (y + rh * 0.75) as u32);
    assert_eq!(
        at.to_vec(),
        want,
        "{name}: pixel in {x},{y} {rw}x{rh} is {at:?}, not {fill}"
    );
    png
}

#[test]
fn treemap_renders_with_rsvg() {
    if Command::new("rsvg-convert")
        .arg("--version")
        .output()
        .is_err()
    {
        skip(
            "treemap_renders_with_rsvg",
            "rsvg-convert not found (Debian: apt-get install librsvg2-bin)",
        );
        return;
    }
    let fx = Fixture::new("venvslim-treemap-");
    let small = treemap_of(&fx.root, fx.tmp.path(), "fixture");
    let web = treemap_of(&real_venv("web"), fx.tmp.path(), "web");
    assert_eq!((small.width, small.height), (web.width, web.height));
    let differ = small
        .rgb
        .iter()
        .zip(&web.rgb)
        .filter(|(a, b)| a != b)
        .count();
    assert!(
        differ > small.rgb.len() / 10,
        "two venvs, two pictures: only {differ} pixels differ"
    );
}

/// A distribution whose METADATA any wheel could write: markup, a CDATA end, an escape
/// sequence, NUL, a vertical tab, U+FFFE (none of which XML 1.0 allows even escaped) and a
/// right-to-left override in its name and version. Its rectangle is the biggest, so its label is
/// drawn as well as its tooltip; the SVG must stay well-formed (rsvg-convert refuses it
/// otherwise) and carry no markup of the wheel's, and the text report no control character.
#[test]
fn hostile_metadata_names_stay_text() {
    let fx = Fixture::new("venvslim-treemap-hostile-");
    let sp = fx.sp();
    let di = sp.join("hostile-1.0.dist-info");
    fs::create_dir_all(&di).unwrap();
    fs::create_dir_all(sp.join("hostile")).unwrap();
    fs::write(sp.join("hostile/blob.bin"), vec![b'x'; 200_000]).unwrap();
    let mut meta = b"Metadata-Version: 2.1\nName: h<i>\x1b[2J\x00\x0b\xef\xbf\xbe\xe2\x80\xaeZ&\"x]]></text><script>alert(1)</script>\n".to_vec();
    meta.extend_from_slice(b"Version: 1.0\x01\xff\n\n");
    fs::write(di.join("METADATA"), meta).unwrap();
    fs::write(
        di.join("RECORD"),
        "hostile/blob.bin,,\nhostile-1.0.dist-info/METADATA,,\nhostile-1.0.dist-info/RECORD,,\n",
    )
    .unwrap();
    let svg = fx.path("hostile.svg");
    let text_report = slim_venv(&fx.root)
        .args(["-n", "--treemap"])
        .arg(&svg)
        .ok()
        .stdout();
    // The text report's tables show the name too: no escape sequence reaches the terminal.
    assert!(
        text_report.contains("h<i>\u{fffd}[2J") && !text_report.contains('\x1b'),
        "{text_report}"
    );
    let raw: Vec<char> = text_report
        .chars()
        .filter(|&c| (c.is_control() && c != '\n') || c == '\u{202e}')
        .collect();
    assert!(raw.is_empty(), "unprintable in the text report: {raw:?}");
    let text = fs::read_to_string(&svg).unwrap();
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{fffe}' | '\u{ffff}' | '\u{202e}')
        })
        .collect();
    assert!(
        bad.is_empty(),
        "characters XML or the eye cannot take: {bad:?}"
    );
    assert!(
        !text.contains("<script") && !text.contains("]]>"),
        "the wheel's markup is text: {text}"
    );
    assert!(
        text.contains("h&lt;i&gt;\u{fffd}[2J\u{fffd}\u{fffd}\u{fffd}\u{fffd}Z&amp;&quot;x]]&gt;&lt;/text&gt;&lt;script&gt;"),
        "{text}"
    );
    if Command::new("rsvg-convert")
        .arg("--version")
        .output()
        .is_err()
    {
        skip(
            "hostile_metadata_names_stay_text (rendering)",
            "rsvg-convert not found (Debian: apt-get install librsvg2-bin)",
        );
        return;
    }
    let png = render(&svg, &fx.path("hostile.png"));
    assert!(png.width > 0 && png.height > 0);
}

/// The treemap is written when the run is over, after OUT is published: a path that cannot
/// take it (a directory, OUT or a file in it, the SBOM, a directory that does not exist) is
/// refused before anything is written (exit 2, no OUT); one the kernel refuses only at the end
/// (a new file in /proc) is a failure of the run (exit 1, in the report), never an exit 2 with
/// OUT already there.
#[test]
fn treemap_path_is_checked_before_out_is_written() {
    let fx = Fixture::new("venvslim-treemap-path-");
    let out = fx.path("out");
    let dir = fx.path("a-dir");
    fs::create_dir(&dir).unwrap();
    let refused = [
        vec![dir.clone()],
        vec![out.clone()],
        vec![out.join("sizes.svg")],
        vec![fx.path("missing/sizes.svg")],
        vec![fx.path("s.json"), "--sbom".into(), fx.path("s.json")],
    ];
    for args in refused {
        let run = slim(&fx.root, &out).arg("--treemap").args(&args).run();
        run.assert_code(2);
        assert!(run.stderr().contains("--treemap"), "{run}");
        assert!(!out.exists(), "nothing is written: {run}");
    }
    // OUT may be an empty directory; a file in it is still refused.
    fs::create_dir(&out).unwrap();
    let run = slim(&fx.root, &out)
        .arg("--treemap")
        .arg(out.join("sizes.svg"))
        .run();
    run.assert_code(2);
    assert_eq!(fs::read_dir(&out).unwrap().count(), 0, "{run}");
    fs::remove_dir(&out).unwrap();

    let late = Path::new("/proc/venvslim-treemap.svg");
    let run = slim(&fx.root, &out)
        .args(["--json", "--treemap"])
        .arg(late)
        .run();
    run.assert_code(1);
    let failures = run.json()["failures"].clone();
    assert_eq!(failures[0]["path"], "/proc/venvslim-treemap.svg", "{run}");
    assert!(out.join("pyvenv.cfg").is_file(), "{run}");
}
