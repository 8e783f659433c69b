//! 1:N search over every template enrolled on this kiosk.
//!
//! Templates are kept twice in memory: as 8-bit integers (per-row scale) for a scan that
//! reads 128 bytes a template, and as f32 for an exact re-score of the few best candidates.
//! At 100 000 templates the scan reads 12.8 MB instead of 51 MB, which is what makes it fast
//! on a 2-core kiosk CPU without platform-specific SIMD. [`BucketedGallery`] splits the
//! templates by the holder's birth date so that each search compares a handful of them.

use std::collections::HashMap;

use zeroize::Zeroize;

use super::{Embedding, EMBEDDING_LEN};

/// Candidates from the integer scan that are re-scored exactly.
const RESCORE: usize = 16;
/// Galleries at least this large are scanned by two threads (the kiosk's two cores); below it
/// a thread costs more than it saves.
const PARALLEL_FROM: usize = 20_000;

/// The closest enrolled template to a probe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GalleryHit {
    pub index: usize,
    pub score: f32,
}

#[derive(Default)]
pub struct Gallery {
    quantized: Vec<[i8; EMBEDDING_LEN]>,
    scales: Vec<f32>,
    exact: Vec<f32>,
}

fn quantize(values: &[f32]) -> ([i8; EMBEDDING_LEN], f32) {
    let max = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let mut row = [0i8; EMBEDDING_LEN];
    if max <= 0.0 {
        return (row, 0.0);
    }
    for (q, v) in row.iter_mut().zip(values) {
        *q = (v / max * 127.0).round().clamp(-127.0, 127.0) as i8;
    }
    (row, max / 127.0)
}

/// Lanes of the integer dot product: eight i32 sums over i16 products, a shape the compiler
/// vectorises with the baseline x86-64 instructions (SSE2: packed 16-bit multiplies and 32-bit
/// adds), where a single i32 sum over i8 pairs widened each byte on its own path. Integer
/// arithmetic is exact, so the scores and the order are what one running sum gives.
const LANES: usize = 8;

#[inline]
fn dot_i8(row: &[i8; EMBEDDING_LEN], query: &[i16; EMBEDDING_LEN]) -> i32 {
    let mut lanes = [0i32; LANES];
    for (r, q) in row.chunks_exact(LANES).zip(query.chunks_exact(LANES)) {
        for ((lane, x), y) in lanes.iter_mut().zip(r).zip(q) {
            // |x·y| ≤ 127·127 fits an i16.
            *lane += i32::from(i16::from(*x) * *y);
        }
    }
    lanes.iter().sum()
}

impl Gallery {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(templates: usize) -> Self {
        Self {
            quantized: Vec::with_capacity(templates),
            scales: Vec::with_capacity(templates),
            exact: Vec::with_capacity(templates * EMBEDDING_LEN),
        }
    }

    pub fn len(&self) -> usize {
        self.scales.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scales.is_empty()
    }

    pub fn push(&mut self, template: &Embedding) {
        let (row, scale) = quantize(template.as_slice());
        self.quantized.push(row);
        self.scales.push(scale);
        self.exact.extend_from_slice(template.as_slice());
    }

    fn exact_score(&self, index: usize, probe: &[f32]) -> f32 {
        self.exact
            .get(index * EMBEDDING_LEN..(index + 1) * EMBEDDING_LEN)
            .unwrap_or_default()
            .iter()
            .zip(probe)
            .map(|(a, b)| a * b)
            .sum()
    }

    /// The enrolled template most similar to `probe` (cosine), or `None` when empty.
    pub fn search(&self, probe: &Embedding) -> Option<GalleryHit> {
        self.search_from(0, probe)
    }

    /// As [`Gallery::search`], over the templates pushed at index `start` or later only (the
    /// bank core re-checks just those added since its last full search).
    pub fn search_from(&self, start: usize, probe: &Embedding) -> Option<GalleryHit> {
        // The query's own scale is common to every row: it cannot change the order.
        let (query, _) = quantize(probe.as_slice());
        // Widened once per search rather than once per template.
        let query: [i16; EMBEDDING_LEN] = std::array::from_fn(|i| i16::from(query[i]));
        let start = start.min(self.len());
        let candidates = if self.len() - start >= PARALLEL_FROM {
            let middle = start + (self.len() - start) / 2;
            std::thread::scope(|scope| {
                let upper = scope.spawn(|| self.scan(middle..self.len(), &query));
                let mut lower = self.scan(start..middle, &query);
                // A panicked scan thread cannot happen (no indexing outside the ranges), but if
                // it did, the lower half's candidates still give an answer.
                lower.extend(upper.join().unwrap_or_default());
                lower
            })
        } else {
            self.scan(start..self.len(), &query)
        };
        candidates
            .iter()
            .map(|(_, index)| GalleryHit { index: *index, score: self.exact_score(*index, probe.as_slice()) })
            .max_by(|a, b| a.score.total_cmp(&b.score))
    }

    /// The RESCORE best approximate scores among `rows` (small sorted buffer, best last).
    fn scan(&self, rows: std::ops::Range<usize>, query: &[i16; EMBEDDING_LEN]) -> Vec<(f32, usize)> {
        let mut best: Vec<(f32, usize)> = Vec::with_capacity(RESCORE + 1);
        let start = rows.start;
        let quantized = self.quantized.get(rows.clone()).unwrap_or_default();
        let scales = self.scales.get(rows).unwrap_or_default();
        for (offset, (row, scale)) in quantized.iter().zip(scales).enumerate() {
            let approx = dot_i8(row, query) as f32 * scale;
            if best.len() < RESCORE || best.first().is_some_and(|(worst, _)| approx > *worst) {
                let at = best.partition_point(|(s, _)| *s < approx);
                best.insert(at, (approx, start + offset));
                if best.len() > RESCORE {
                    best.remove(0);
                }
            }
        }
        best
    }
}

/// What a search among one bucket found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketSearch {
    /// The best cosine, `None` when nothing was searched.
    pub best: Option<f32>,
    /// Templates compared: the bucket's and those enrolled without a bucket.
    pub searched: usize,
}

/// The 1:N gallery split by a bucket key (the keyed hash of the holder's birth date): a probe is
/// compared only with the enrolments of its own bucket, so the number of impostor comparisons
/// per search — and with it the false-positive identification rate — stays that of a small
/// gallery however many are enrolled (docs/FACE-MATCHING.md). Templates enrolled before buckets
/// existed are in every search.
#[derive(Default)]
pub struct BucketedGallery {
    buckets: HashMap<[u8; 32], Gallery>,
    unbucketed: Gallery,
    len: usize,
}

impl BucketedGallery {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every template, all buckets together.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Templates in the fullest bucket (what the FPIR arithmetic assumes a bound for).
    pub fn largest_bucket(&self) -> usize {
        self.buckets.values().map(Gallery::len).max().unwrap_or(0) + self.unbucketed.len()
    }

    pub fn push(&mut self, bucket: Option<&[u8; 32]>, template: &Embedding) {
        match bucket {
            Some(key) => self.buckets.entry(*key).or_default().push(template),
            None => self.unbucketed.push(template),
        }
        self.len += 1;
    }

    /// The best match for `probe` among its bucket (and the unbucketed templates). With no
    /// bucket (a birth date the document did not give) every template is searched.
    pub fn search(&self, bucket: Option<&[u8; 32]>, probe: &Embedding) -> BucketSearch {
        let galleries: Vec<&Gallery> = match bucket {
            Some(key) => self.buckets.get(key).into_iter().chain([&self.unbucketed]).collect(),
            None => self.buckets.values().chain([&self.unbucketed]).collect(),
        };
        let searched = galleries.iter().map(|g| g.len()).sum();
        let best = galleries
            .iter()
            .filter_map(|g| g.search(probe))
            .map(|hit| hit.score)
            .max_by(f32::total_cmp);
        BucketSearch { best, searched }
    }
}

impl Drop for Gallery {
    fn drop(&mut self) {
        self.exact.zeroize();
        for row in &mut self.quantized {
            row.zeroize();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn embedding(seed: u64) -> Embedding {
        Embedding::synthetic(seed)
    }

    fn brute_force(gallery: &[Embedding], probe: &Embedding) -> GalleryHit {
        gallery
            .iter()
            .enumerate()
            .map(|(index, e)| GalleryHit { index, score: crate::vision::cosine_similarity(probe, e) })
            .max_by(|a, b| a.score.total_cmp(&b.score))
            .unwrap()
    }

    #[test]
    fn empty_gallery_finds_nothing() {
        assert!(Gallery::new().search(&embedding(1)).is_none());
    }

    #[test]
    fn a_large_gallery_scanned_by_two_threads_finds_faces_in_both_halves() {
        let templates: Vec<Embedding> = (0..PARALLEL_FROM as u64 + 10).map(embedding).collect();
        let mut gallery = Gallery::with_capacity(templates.len());
        templates.iter().for_each(|t| gallery.push(t));
        for wanted in [3, templates.len() - 2] {
            let hit = gallery.search(&templates[wanted]).unwrap();
            assert_eq!(hit.index, wanted);
        }
    }

    #[test]
    fn an_enrolled_face_is_found_with_its_exact_score() {
        let templates: Vec<Embedding> = (0..2000).map(embedding).collect();
        let mut gallery = Gallery::with_capacity(templates.len());
        templates.iter().for_each(|t| gallery.push(t));
        let hit = gallery.search(&templates[1234]).unwrap();
        assert_eq!(hit.index, 1234);
        assert!((hit.score - 1.0).abs() < 1e-5);
    }

    #[test]
    fn search_from_sees_only_the_later_templates() {
        let templates: Vec<Embedding> = (0..100).map(embedding).collect();
        let mut gallery = Gallery::new();
        templates.iter().for_each(|t| gallery.push(t));
        assert_eq!(gallery.search_from(40, &templates[60]).unwrap().index, 60);
        assert_ne!(gallery.search_from(40, &templates[10]).unwrap().index, 10);
        assert!(gallery.search_from(40, &templates[10]).unwrap().index >= 40);
        assert!(gallery.search_from(100, &templates[1]).is_none());
        assert!(gallery.search_from(500, &templates[1]).is_none());
    }

    #[test]
    fn a_bucketed_search_compares_only_the_probe_s_bucket_and_the_unbucketed() {
        let mut gallery = BucketedGallery::new();
        let (a, b) = ([1u8; 32], [2u8; 32]);
        for seed in 0..10 {
            gallery.push(Some(&a), &embedding(seed));
        }
        for seed in 10..15 {
            gallery.push(Some(&b), &embedding(seed));
        }
        gallery.push(None, &embedding(99));
        assert_eq!((gallery.len(), gallery.largest_bucket()), (16, 11));
        // Template 12 is in bucket b: a probe of bucket a does not see it.
        let in_a = gallery.search(Some(&a), &embedding(12));
        assert_eq!(in_a.searched, 11);
        assert!(in_a.best.is_some_and(|s| s < 0.99), "{in_a:?}");
        let in_b = gallery.search(Some(&b), &embedding(12));
        assert_eq!(in_b.searched, 6);
        assert!(in_b.best.is_some_and(|s| (s - 1.0).abs() < 1e-5), "{in_b:?}");
        // The unbucketed template is in every search; no bucket searches all.
        assert!(gallery.search(Some(&[9u8; 32]), &embedding(99)).best.is_some_and(|s| (s - 1.0).abs() < 1e-5));
        assert_eq!(gallery.search(None, &embedding(12)).searched, 16);
        assert_eq!(BucketedGallery::new().search(Some(&a), &embedding(1)), BucketSearch { best: None, searched: 0 });
    }

    proptest! {
        /// The lane-wise integer dot product is the plain one (integer sums are exact), up to
        /// the extremes of the quantised range.
        #[test]
        fn the_lane_dot_is_the_plain_dot(row in proptest::collection::vec(-127i8..=127, EMBEDDING_LEN), query in proptest::collection::vec(prop_oneof![Just(-127i8), Just(127i8), -127i8..=127], EMBEDDING_LEN)) {
            let row: [i8; EMBEDDING_LEN] = row.try_into().unwrap();
            let wide: [i16; EMBEDDING_LEN] = std::array::from_fn(|i| i16::from(query[i]));
            let plain: i32 = row.iter().zip(&query).map(|(a, b)| i32::from(*a) * i32::from(*b)).sum();
            prop_assert_eq!(dot_i8(&row, &wide), plain);
        }

        /// The two-stage search returns what an exhaustive f32 search returns.
        #[test]
        fn agrees_with_brute_force(seeds in proptest::collection::vec(0u64..1_000_000, 1..300), probe in 0u64..1_000_000) {
            let templates: Vec<Embedding> = seeds.iter().map(|s| embedding(*s)).collect();
            let mut gallery = Gallery::new();
            templates.iter().for_each(|t| gallery.push(t));
            let probe = embedding(probe);
            let fast = gallery.search(&probe).unwrap();
            let exact = brute_force(&templates, &probe);
            prop_assert!((fast.score - exact.score).abs() < 1e-6, "fast {fast:?} exact {exact:?}");
        }
    }
}
