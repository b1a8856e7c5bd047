//! The jobs the suite submits: generated PDFs of mixed sizes (each page's text known, so the
//! stored result can be checked) and a few poison files that must fail, permanently, at once.
//! A job's file name says what it is, so a job found in the database (even one whose upload
//! answer was lost) can be judged from its row alone.

use pdfq_test_support::pdf::text_pdf;

/// Why a poison file fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poison {
    /// `%PDF-` and then noise: no xref, no objects (`damaged`).
    Damaged,
    /// An array nested 200,000 deep: refused before parsing (`too_large`).
    Nesting,
    /// Valid pages with nothing written on them (`no_text_layer`).
    NoText,
}

impl Poison {
    const ALL: [Poison; 3] = [Poison::Damaged, Poison::Nesting, Poison::NoText];

    fn tag(self) -> &'static str {
        match self {
            Poison::Damaged => "damaged",
            Poison::Nesting => "nesting",
            Poison::NoText => "notext",
        }
    }
}

/// What a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A valid PDF of this many pages, two sentences each.
    Pages(u32),
    Poison(Poison),
}

/// One job of the run: which user submits it and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobSpec {
    pub index: usize,
    pub user: usize,
    pub kind: Kind,
}

impl JobSpec {
    #[must_use]
    pub fn file_name(&self) -> String {
        let what = match self.kind {
            Kind::Pages(pages) => format!("p{pages}"),
            Kind::Poison(poison) => format!("poison-{}", poison.tag()),
        };
        format!("chaos-u{}-j{}-{what}.pdf", self.user, self.index)
    }

    /// Reads a spec back from [`JobSpec::file_name`].
    #[must_use]
    pub fn from_file_name(name: &str) -> Option<Self> {
        let rest = name.strip_prefix("chaos-u")?.strip_suffix(".pdf")?;
        let (user, rest) = rest.split_once("-j")?;
        let (index, what) = rest.split_once('-')?;
        let kind = if let Some(tag) = what.strip_prefix("poison-") {
            Kind::Poison(Poison::ALL.into_iter().find(|p| p.tag() == tag)?)
        } else {
            Kind::Pages(what.strip_prefix('p')?.parse().ok()?)
        };
        Some(Self {
            index: index.parse().ok()?,
            user: user.parse().ok()?,
            kind,
        })
    }

    #[must_use]
    pub fn is_poison(&self) -> bool {
        matches!(self.kind, Kind::Poison(_))
    }

    /// The PDF's bytes.
    #[must_use]
    pub fn bytes(&self) -> Vec<u8> {
        match self.kind {
            Kind::Pages(pages) => {
                let texts: Vec<String> = (1..=pages).map(|p| page_text(self.index, p)).collect();
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                text_pdf(&refs)
            }
            Kind::Poison(Poison::Damaged) => {
                let mut out = b"%PDF-1.7\n".to_vec();
                let mut rng = XorShift::new(self.index as u64 + 1);
                out.extend((0..4096).map(|_| (rng.next_u64() >> 24) as u8));
                out
            }
            Kind::Poison(Poison::Nesting) => {
                let depth = 200_000;
                let mut out = b"%PDF-1.4\n1 0 obj\n".to_vec();
                out.extend(std::iter::repeat_n(b'[', depth));
                out.extend(std::iter::repeat_n(b']', depth));
                out.extend_from_slice(b"\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
                out
            }
            Kind::Poison(Poison::NoText) => text_pdf(&["", ""]),
        }
    }

    /// The sentences a completed job must hold, in order.
    #[must_use]
    pub fn expected_sentences(&self) -> u32 {
        match self.kind {
            Kind::Pages(pages) => pages * 2,
            Kind::Poison(_) => 0,
        }
    }
}

/// The text of page `page` of job `index`: two sentences, the first naming both.
#[must_use]
pub fn page_text(index: usize, page: u32) -> String {
    format!("Page {page} of job {index} begins here. It ends with a second sentence.")
}

/// `count` jobs from `users` users: one in twenty is poison (the three kinds in turn); the
/// rest have 1 to 8 pages (most), 20 to 120, or now and then `large` pages. Deterministic.
#[must_use]
pub fn plan_jobs(count: usize, users: usize, large: (u32, u32)) -> Vec<JobSpec> {
    let mut rng = XorShift::new(0x5EED_CA05);
    let users = users.max(1);
    let mut poison = Poison::ALL.into_iter().cycle();
    (0..count)
        .map(|index| {
            let user = index % users;
            let kind = if index % 20 == 13 {
                Kind::Poison(poison.next().unwrap_or(Poison::Damaged))
            } else {
                let roll = rng.next_u64() % 100;
                let (low, high) = match roll {
                    0..65 => (1, 8),
                    65..93 => (20, 120),
                    _ => large,
                };
                let span = u64::from(high.saturating_sub(low)) + 1;
                let pages = low + u32::try_from(rng.next_u64() % span).unwrap_or(0);
                Kind::Pages(pages.max(1))
            };
            JobSpec { index, user, kind }
        })
        .collect()
}

/// Makes the first `per_burst` valid jobs of each of the last `bursts` chunks of `burst` specs
/// heavy (`heavy` pages), so that the burst sent before a fault keeps workers busy when it hits.
pub fn heavy_bursts(
    specs: &mut [JobSpec],
    bursts: usize,
    burst: usize,
    per_burst: usize,
    heavy: (u32, u32),
) {
    let reserved = (bursts * burst).min(specs.len());
    let first = specs.len() - reserved;
    let span = u64::from(heavy.1.saturating_sub(heavy.0)) + 1;
    for chunk in specs[first..].chunks_mut(burst.max(1)) {
        for spec in chunk.iter_mut().filter(|s| !s.is_poison()).take(per_burst) {
            let extra = u32::try_from((spec.index as u64 * 7919) % span).unwrap_or(0);
            spec.kind = Kind::Pages(heavy.0 + extra);
        }
    }
}

/// A tiny deterministic generator (xorshift64): the run must be the same every time.
#[derive(Debug)]
pub struct XorShift(u64);

impl XorShift {
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "in tests an unwrap failing is the test failing"
    )]

    use super::*;

    #[test]
    fn file_names_round_trip() {
        for spec in plan_jobs(60, 3, (300, 400)) {
            assert_eq!(JobSpec::from_file_name(&spec.file_name()), Some(spec));
        }
        assert_eq!(JobSpec::from_file_name("paper.pdf"), None);
    }

    #[test]
    fn the_plan_mixes_sizes_and_poison() {
        let jobs = plan_jobs(1000, 8, (300, 1200));
        let poison = jobs.iter().filter(|j| j.is_poison()).count();
        assert_eq!(poison, 50);
        let large = jobs
            .iter()
            .filter(|j| matches!(j.kind, Kind::Pages(p) if p >= 300))
            .count();
        assert!((30..=120).contains(&large), "{large}");
        assert_eq!(plan_jobs(1000, 8, (300, 1200)), jobs, "deterministic");
        // Every poison file still passes the API's %PDF- signature check.
        for spec in jobs.iter().filter(|j| j.is_poison()).take(3) {
            assert!(spec.bytes().starts_with(b"%PDF-"));
        }
    }
}
