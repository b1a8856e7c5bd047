//! CID -> Unicode for the Adobe CJK character collections (Japan1, GB1, CNS1, Korea1),
//! read from poppler-data's `cidToUnicode` tables (Debian/Ubuntu package `poppler-data`),
//! the same data pdftotext uses. The directory is `$PDFQ_CID_TO_UNICODE_DIR`, else
//! `/usr/share/poppler/cidToUnicode`; without it such fonts yield no text.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

const DEFAULT_DIR: &str = "/usr/share/poppler/cidToUnicode";
/// The real tables are ~150 KB; anything much larger is not one.
const MAX_TABLE_BYTES: u64 = 4 * 1024 * 1024;

type Table = Option<&'static [u32]>;

fn tables() -> &'static Mutex<HashMap<&'static str, Table>> {
    static TABLES: OnceLock<Mutex<HashMap<&'static str, Table>>> = OnceLock::new();
    TABLES.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The collection name for a `/CIDSystemInfo` ordering, if a table exists for it.
pub(crate) fn collection(registry: &[u8], ordering: &[u8]) -> Option<&'static str> {
    if registry != b"Adobe" {
        return None;
    }
    Some(match ordering {
        b"Japan1" | b"Japan2" => "Adobe-Japan1",
        b"GB1" => "Adobe-GB1",
        b"CNS1" => "Adobe-CNS1",
        b"Korea1" | b"KR" => "Adobe-Korea1",
        _ => return None,
    })
}

pub(crate) fn table(name: &'static str) -> Table {
    let Ok(mut map) = tables().lock() else {
        return None;
    };
    *map.entry(name).or_insert_with(|| load(name))
}

fn load(name: &str) -> Table {
    let dir = std::env::var_os("PDFQ_CID_TO_UNICODE_DIR").unwrap_or_else(|| DEFAULT_DIR.into());
    let path = std::path::Path::new(&dir).join(name);
    if std::fs::metadata(&path).ok()?.len() > MAX_TABLE_BYTES {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let values: Vec<u32> = text
        .lines()
        .map(|l| {
            l.split_whitespace()
                .next()
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .unwrap_or(0)
        })
        .collect();
    // Loaded once per process and shared by every document: leaking is the cache.
    Some(Vec::leak(values))
}
