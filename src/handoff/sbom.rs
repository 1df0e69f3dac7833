//! A CycloneDX 1.5 JSON SBOM of the distributions a slimmed tree ships, made from their
//! METADATA before slimming (slimming keeps only the header, but a scanner should not depend on
//! that). Scanners such as Trivy and Syft read dist-info on disk; a final image without pip and
//! with a trimmed dist-info is easier to audit with the list written down. Deterministic: sorted
//! components, no random serial number (it is derived from the content), a timestamp only when
//! one is given (SOURCE_DATE_EPOCH / --mtime), so the same venv gives the same bytes.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::dists::normalize_name;

/// One distribution, as its METADATA header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// `Name:`.
    pub name: String,
    /// `Version:`.
    pub version: String,
    /// Its licences (see `licenses_from_header`).
    pub licenses: Vec<License>,
}

/// One licence of a component, as CycloneDX distinguishes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum License {
    /// An SPDX expression (`License-Expression`, or a classifier with a known SPDX id).
    Expression(String),
    /// Free text (`License:` or a classifier without an SPDX id).
    Name(String),
}

/// Licences from a METADATA header block: `License-Expression` (PEP 639) when present, else a
/// short `License:` value, else the `License ::` classifiers.
pub fn licenses_from_header(header: &str) -> Vec<License> {
    let values = |key: &str| -> Vec<String> {
        header
            .lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()
    };
    if let Some(e) = values("License-Expression").into_iter().next() {
        return vec![License::Expression(e)];
    }
    if let Some(l) = values("License").into_iter().next() {
        let known = ["UNKNOWN", "none", "None"];
        if l.len() <= 100 && !known.contains(&l.as_str()) {
            return vec![spdx_or_name(&l)];
        }
    }
    let mut out: Vec<License> = values("Classifier")
        .iter()
        .filter_map(|c| c.strip_prefix("License ::"))
        .filter_map(|c| c.rsplit("::").next().map(str::trim))
        .filter(|c| *c != "OSI Approved")
        .map(spdx_or_name)
        .collect();
    out.dedup();
    out
}

/// A few common licence names and classifier leaves whose SPDX id is unambiguous.
fn spdx_or_name(text: &str) -> License {
    const KNOWN: &[(&str, &str)] = &[
        ("MIT", "MIT"),
        ("MIT License", "MIT"),
        ("BSD-3-Clause", "BSD-3-Clause"),
        ("BSD-2-Clause", "BSD-2-Clause"),
        ("Apache-2.0", "Apache-2.0"),
        ("Apache 2.0", "Apache-2.0"),
        ("Apache License 2.0", "Apache-2.0"),
        ("ISC", "ISC"),
        ("ISC License (ISCL)", "ISC"),
        ("Python Software Foundation License", "PSF-2.0"),
        ("Mozilla Public License 2.0 (MPL 2.0)", "MPL-2.0"),
        ("MPL-2.0", "MPL-2.0"),
        ("The Unlicense (Unlicense)", "Unlicense"),
        ("GNU General Public License v3 (GPLv3)", "GPL-3.0-only"),
        ("GNU General Public License v2 (GPLv2)", "GPL-2.0-only"),
        (
            "GNU Lesser General Public License v3 (LGPLv3)",
            "LGPL-3.0-only",
        ),
        ("Zope Public License", "ZPL-2.1"),
    ];
    match KNOWN.iter().find(|(k, _)| *k == text) {
        Some((_, id)) => License::Expression((*id).to_string()),
        None => License::Name(text.to_string()),
    }
}

/// `pkg:pypi/<normalized name>@<version>` (the purl spec: lowercase, `_` and `.` as `-`), both
/// parts percent-encoded as the spec asks: only ASCII letters, digits and `.-_~` stay as they
/// are. A name or version venvslim rejects (`/x/advz`) thus stays one opaque purl segment
/// (`%2Fx%2Fadvz`) instead of reading as a namespace or a path.
pub fn purl(name: &str, version: &str) -> String {
    format!(
        "pkg:pypi/{}@{}",
        percent_encode(&normalize_name(name)),
        percent_encode(version)
    )
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The SBOM document. `subject` names the venv (its final path, or its directory name).
pub fn render(subject: &str, components: &[Component], timestamp: Option<i64>) -> Vec<u8> {
    let mut sorted: Vec<&Component> = components.iter().collect();
    sorted.sort_by(|a, b| {
        (normalize_name(&a.name), &a.version).cmp(&(normalize_name(&b.name), &b.version))
    });
    let comps: Vec<Value> = sorted
        .iter()
        .map(|c| {
            let p = purl(&c.name, &c.version);
            let mut v = json!({
                "type": "library",
                "bom-ref": p,
                "name": c.name,
                "version": c.version,
                "purl": p,
            });
            if !c.licenses.is_empty() {
                v["licenses"] = license_json(&c.licenses);
            }
            v
        })
        .collect();
    let mut metadata = json!({
        "tools": { "components": [{
            "type": "application",
            "name": "venvslim",
            "version": env!("CARGO_PKG_VERSION"),
        }]},
        "component": {
            "type": "application",
            "bom-ref": "venv",
            "name": subject,
        },
    });
    if let Some(ts) = timestamp.and_then(rfc3339) {
        metadata["timestamp"] = Value::String(ts);
    }
    let body = json!({ "metadata": metadata, "components": comps });
    let digest = Sha256::digest(body.to_string().as_bytes());
    let mut doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{}", uuid_v8(&digest)),
        "version": 1,
    });
    doc["metadata"] = body["metadata"].clone();
    doc["components"] = body["components"].clone();
    doc["dependencies"] = json!([{
        "ref": "venv",
        "dependsOn": sorted.iter().map(|c| purl(&c.name, &c.version)).collect::<Vec<_>>(),
    }]);
    let mut out = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    out.push(b'\n');
    out
}

/// A list of either one SPDX expression, or licence entries (CycloneDX allows one or the other).
fn license_json(licenses: &[License]) -> Value {
    let exprs: Vec<&String> = licenses
        .iter()
        .filter_map(|l| match l {
            License::Expression(e) => Some(e),
            License::Name(_) => None,
        })
        .collect();
    if exprs.len() == licenses.len() {
        let joined = exprs
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(" OR ");
        return json!([{ "expression": joined }]);
    }
    Value::Array(
        licenses
            .iter()
            .map(|l| match l {
                License::Expression(e) => json!({ "license": { "name": e } }),
                License::Name(n) => json!({ "license": { "name": n } }),
            })
            .collect(),
    )
}

/// A UUID (RFC 9562 version 8: custom) from the first 16 bytes of a digest.
fn uuid_v8(digest: &[u8]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// `2024-01-02T03:04:05Z` from a Unix time (UTC), without a date crate.
fn rfc3339(t: i64) -> Option<String> {
    if t < 0 {
        return None;
    }
    let (days, secs) = (t / 86_400, t % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn licences_by_precedence() {
        let h = "Name: a\nLicense-Expression: MIT OR Apache-2.0\nLicense: MIT\n";
        assert_eq!(
            licenses_from_header(h),
            vec![License::Expression("MIT OR Apache-2.0".into())]
        );
        let h =
            "Name: a\nLicense: BSD License\nClassifier: License :: OSI Approved :: MIT License\n";
        assert_eq!(
            licenses_from_header(h),
            vec![License::Name("BSD License".into())]
        );
        let h = "Name: a\nLicense: UNKNOWN\nClassifier: License :: OSI Approved :: MIT License\nClassifier: Programming Language :: Python\n";
        assert_eq!(
            licenses_from_header(h),
            vec![License::Expression("MIT".into())]
        );
        assert!(licenses_from_header("Name: a\n").is_empty());
    }

    #[test]
    fn purls() {
        assert_eq!(
            purl("Typing_Extensions", "4.12.2"),
            "pkg:pypi/typing-extensions@4.12.2"
        );
        assert_eq!(purl("torch", "2.3.0+cpu"), "pkg:pypi/torch@2.3.0%2Bcpu");
        assert_eq!(purl("a", "1!2.0"), "pkg:pypi/a@1%212.0");
        assert_eq!(
            purl("/x/advz", "/x/advz"),
            "pkg:pypi/%2Fx%2Fadvz@%2Fx%2Fadvz"
        );
        assert_eq!(purl("é x", "1"), "pkg:pypi/%C3%A9%20x@1");
    }

    #[test]
    fn deterministic_document() {
        let c = |n: &str, v: &str| Component {
            name: n.into(),
            version: v.into(),
            licenses: vec![License::Expression("MIT".into())],
        };
        let a = render("/venv", &[c("b", "1"), c("A", "2")], Some(1_700_000_000));
        let b = render("/venv", &[c("A", "2"), c("b", "1")], Some(1_700_000_000));
        assert_eq!(a, b, "order of input does not matter");
        let doc: Value = serde_json::from_slice(&a).unwrap();
        assert_eq!(doc["bomFormat"], "CycloneDX");
        assert_eq!(doc["specVersion"], "1.5");
        assert_eq!(doc["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(doc["components"][0]["name"], "A");
        assert_eq!(doc["components"][1]["purl"], "pkg:pypi/b@1");
        assert_eq!(doc["components"][0]["licenses"][0]["expression"], "MIT");
        let serial = doc["serialNumber"].as_str().unwrap();
        assert_eq!(serial.len(), "urn:uuid:".len() + 36);
        assert_eq!(&serial[9 + 14..9 + 15], "8");
        let other = render("/venv", &[c("A", "3")], Some(1_700_000_000));
        let other: Value = serde_json::from_slice(&other).unwrap();
        assert_ne!(other["serialNumber"], doc["serialNumber"]);
        let no_ts: Value = serde_json::from_slice(&render("/venv", &[], None)).unwrap();
        assert!(no_ts["metadata"].get("timestamp").is_none());
    }
}
