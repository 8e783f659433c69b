//! Duplicates that hold at scale (issue 12 item 6): 100 000 enrolments in the kiosk's gallery
//! (int8 rows as it stores them, split by the keyed hash of the birth date), then people never
//! enrolled, and people enrolled once coming back.
//!
//! The templates are synthetic, shaped to the impostor distribution measured on every face
//! image we have (docs/FACE-MATCHING.md, measured again here with the kiosk's own pipeline):
//! v = √μ·m + √(1−μ)·r, with m one direction shared by all and r a random unit vector in a
//! d-dimensional subspace orthogonal to it, so that two people's cosine is μ + (1−μ)·(r₁·r₂):
//! mean μ, standard deviation (1−μ)/√d = σ for d = ((1−μ)/σ)².

use kiosk::store::KeyStore;
use kiosk::vision::{cosine_similarity, BucketedGallery, Embedding, EMBEDDING_LEN};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

mod face_scores_support;

/// The targets docs/FACE-MATCHING.md states: one impostor in a thousand sessions accepted as the
/// document holder over `face.max_attempts` attempts; one new person in a thousand refused as
/// already enrolled; at most this many enrolments share one birth date in `face.gallery_size`.
const FMR_SESSION: f64 = 1e-3;
const FPIR: f64 = 1e-3;
const BUCKET: usize = 20;

const ENROLLED: usize = 100_000;
const NEW_PEOPLE: usize = 5_000;
const RETURNING: usize = 500;

/// A standard normal number (Box–Muller; no extra crate for one test).
fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

struct Population {
    mean: f64,
    dims: usize,
}

impl Population {
    fn new(mean: f64, sd: f64) -> Self {
        let dims = (((1.0 - mean) / sd).powi(2)).round().clamp(2.0, (EMBEDDING_LEN - 1) as f64) as usize;
        Self { mean, dims }
    }

    /// One person's template: component 0 the shared direction, 1..=dims their own.
    fn person(&self, rng: &mut StdRng) -> Vec<f64> {
        let mut own: Vec<f64> = (0..self.dims).map(|_| normal(rng)).collect();
        let norm = own.iter().map(|v| v * v).sum::<f64>().sqrt();
        own.iter_mut().for_each(|v| *v /= norm);
        let mut v = vec![0.0; EMBEDDING_LEN];
        v[0] = self.mean.sqrt();
        for (slot, value) in v[1..=self.dims].iter_mut().zip(own) {
            *slot = (1.0 - self.mean).sqrt() * value;
        }
        v
    }

    /// The same person captured again: cosine `genuine` with `v`, the difference in directions
    /// of their own subspace (what changes between captures is not the shared direction).
    fn again(&self, v: &[f64], genuine: f64, rng: &mut StdRng) -> Vec<f64> {
        let mut noise: Vec<f64> = (0..EMBEDDING_LEN).map(|i| if (1..=self.dims).contains(&i) { normal(rng) } else { 0.0 }).collect();
        // Orthogonal to v, unit length.
        let along: f64 = noise.iter().zip(v).map(|(n, x)| n * x).sum();
        noise.iter_mut().zip(v).for_each(|(n, x)| *n -= along * x);
        let norm = noise.iter().map(|n| n * n).sum::<f64>().sqrt();
        let side = (1.0 - genuine * genuine).sqrt();
        v.iter().zip(&noise).map(|(x, n)| genuine * x + side * n / norm).collect()
    }
}

fn embedding(v: &[f64]) -> Embedding {
    Embedding::from_values(v.iter().map(|x| *x as f32).collect()).unwrap()
}

/// A birth date (MRZ YYMMDD) of an adult of 18 to 80.
fn birth_date(rng: &mut StdRng) -> String {
    let day = time::Date::from_calendar_date(1946, time::Month::January, 1).unwrap()
        + time::Duration::days(rng.gen_range(0..62 * 365));
    format!("{:02}{:02}{:02}", day.year() % 100, u8::from(day.month()), day.day())
}

#[test]
fn a_hundred_thousand_enrolled_new_people_pass_and_a_returning_person_is_caught() {
    let config = kiosk_config::load(None).unwrap();
    let duplicate_threshold = config.face.duplicate_threshold;
    let measured = face_scores_support::impostor_scores();
    let (mean, sd) = face_scores_support::mean_sd(&measured);
    let population = Population::new(mean, sd);
    let mut rng = StdRng::seed_from_u64(12);

    // The synthetic population has the measured impostor distribution.
    let sample: Vec<f64> = (0..20_000)
        .map(|_| {
            let (a, b) = (population.person(&mut rng), population.person(&mut rng));
            f64::from(cosine_similarity(&embedding(&a), &embedding(&b)))
        })
        .collect();
    let (synthetic_mean, synthetic_sd) = face_scores_support::mean_sd(&sample);
    assert!((synthetic_mean - mean).abs() < 0.01 && (synthetic_sd - sd).abs() < 0.01, "synthetic {synthetic_mean:.3}±{synthetic_sd:.3}, measured {mean:.3}±{sd:.3}");

    let keys = KeyStore::from_secret(&[7u8; 32], "test").lookup_key();
    let mut gallery = BucketedGallery::new();
    let mut enrolled = Vec::with_capacity(RETURNING);
    for n in 0..ENROLLED {
        let (template, born) = (population.person(&mut rng), birth_date(&mut rng));
        gallery.push(Some(&keys.birth(&born)), &embedding(&template));
        if n < RETURNING {
            enrolled.push((template, born));
        }
    }
    assert_eq!(gallery.len(), ENROLLED);
    assert!(config.face.gallery_size as usize >= ENROLLED, "the thresholds are for {} enrolments", config.face.gallery_size);

    // People never enrolled: compared with their birth date's enrolments only.
    let mut refused = 0;
    let (mut searched, mut worst) = (0usize, f32::MIN);
    for _ in 0..NEW_PEOPLE {
        let (template, born) = (population.person(&mut rng), birth_date(&mut rng));
        let found = gallery.search(Some(&keys.birth(&born)), &embedding(&template));
        searched += found.searched;
        if let Some(best) = found.best {
            worst = worst.max(best);
            refused += usize::from(best >= duplicate_threshold);
        }
    }
    let per_search = searched as f64 / NEW_PEOPLE as f64;
    eprintln!("{NEW_PEOPLE} new people, {per_search:.1} templates compared each (largest bucket {}), best impostor cosine {worst:.3}, refused {refused}", gallery.largest_bucket());
    assert!(per_search < 10.0, "the birth date narrows 100 000 to a handful: {per_search}");
    assert!(gallery.largest_bucket() <= BUCKET, "fullest birth date {} > {BUCKET}", gallery.largest_bucket());
    assert_eq!(refused, 0, "new people refused as already enrolled at {duplicate_threshold}");

    // The same people against all 100 000 at the old 1:1 threshold (0.363), as before issue 12:
    // a search of the whole gallery refuses new people (the failure this design removes).
    let all_refused = (0..50)
        .filter(|_| {
            let template = population.person(&mut rng);
            gallery.search(None, &embedding(&template)).best.is_some_and(|best| best >= 0.363)
        })
        .count();
    eprintln!("whole gallery at 0.363: {all_refused} of 50 new people refused");
    assert!(all_refused >= 10, "{all_refused} of 50");

    // People enrolled once, back with another capture of their face (genuine cosine 0.60, below
    // the lowest genuine pair measured): caught in their bucket.
    for (template, born) in &enrolled {
        let again = population.again(template, 0.60, &mut rng);
        let found = gallery.search(Some(&keys.birth(born)), &embedding(&again));
        assert!(found.best.is_some_and(|best| best >= duplicate_threshold), "a returning person missed: {found:?}");
    }
}

/// z with P(Z ≥ z) = p for a standard normal Z (bisection on erfc; p well inside (0, 0.5)).
fn upper_quantile(p: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 10.0f64);
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if 0.5 * erfc(mid / std::f64::consts::SQRT_2) > p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Complementary error function (Numerical Recipes' erfcc, relative error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// The arithmetic of docs/FACE-MATCHING.md on the impostor scores measured now: the configured
/// thresholds are at or above what the targets need, and below every genuine pair.
#[test]
fn the_thresholds_follow_from_the_measured_impostor_distribution() {
    let config = kiosk_config::load(None).unwrap();
    let impostors = face_scores_support::impostor_scores();
    let genuine = face_scores_support::genuine_scores();
    let n = impostors.len() as f64;
    let (mean, sd) = face_scores_support::mean_sd(&impostors);
    // One-sided 95 % upper bounds: the mean (t ≈ z for 80+ pairs, 1.664 at 84 degrees of
    // freedom) and the standard deviation (χ²₀.₀₅ by Wilson–Hilferty).
    let df = n - 1.0;
    let z05 = upper_quantile(0.05);
    let chi2 = df * (1.0 - 2.0 / (9.0 * df) - z05 * (2.0 / (9.0 * df)).sqrt()).powi(3);
    let sd_up = sd * (df / chi2).sqrt();
    let mean_up = mean + 1.664 * sd / n.sqrt();

    let attempts = f64::from(config.face.max_attempts);
    let fmr = 1.0 - (1.0 - FMR_SESSION).powf(1.0 / attempts);
    let match_needed = mean_up + upper_quantile(fmr) * sd_up;
    let fmr_dup = 1.0 - (1.0 - FPIR).powf(1.0 / BUCKET as f64);
    let duplicate_needed = mean_up + upper_quantile(fmr_dup) * sd_up;
    eprintln!(
        "{} impostor pairs: mean {mean:.4} sd {sd:.4} (95 % bounds {mean_up:.4}, {sd_up:.4}); \
         1:1 FMR {fmr:.3e} per attempt needs {match_needed:.3}; 1:N FMR {fmr_dup:.3e} per comparison needs {duplicate_needed:.3}; \
         genuine {genuine:?}",
        impostors.len()
    );
    assert!(impostors.len() >= 80, "every face image we have: {} impostor pairs", impostors.len());
    assert!(f64::from(config.face.match_threshold) >= match_needed - 1e-6, "match_threshold {} < {match_needed:.4}", config.face.match_threshold);
    assert!(f64::from(config.face.duplicate_threshold) >= duplicate_needed - 1e-6, "duplicate_threshold {} < {duplicate_needed:.4}", config.face.duplicate_threshold);
    // Not so high that the same person is missed: every genuine pair clears both, by 0.1.
    let lowest_genuine = genuine.iter().copied().fold(f64::MAX, f64::min);
    assert!(genuine.len() >= 3 && lowest_genuine - 0.1 >= f64::from(config.face.duplicate_threshold), "{genuine:?}");
    assert!(erfc(0.0) > 0.999_999 && (upper_quantile(0.025) - 1.959_964).abs() < 1e-5);
}
