//! 1:1 decisions and 1:N gallery search on SFace embeddings.

use super::Embedding;

/// Cosine similarity of two L2-normalised embeddings (their dot product).
pub fn cosine_similarity(a: &Embedding, b: &Embedding) -> f32 {
    a.as_slice()
        .iter()
        .zip(b.as_slice())
        .map(|(x, y)| x * y)
        .sum()
}

/// A 1:1 comparison and its outcome against the configured threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchDecision {
    pub score: f32,
    pub threshold: f32,
    pub same_person: bool,
}

impl MatchDecision {
    pub fn compare(a: &Embedding, b: &Embedding, threshold: f32) -> Self {
        let score = cosine_similarity(a, b);
        Self {
            score,
            threshold,
            same_person: score >= threshold,
        }
    }
}

/// The closest enrolled template to a probe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GalleryHit {
    pub index: usize,
    pub score: f32,
}

/// Best match of `probe` among `gallery` (1:N), or `None` for an empty gallery.
pub fn search_gallery<'a>(
    probe: &Embedding,
    gallery: impl IntoIterator<Item = &'a Embedding>,
) -> Option<GalleryHit> {
    gallery
        .into_iter()
        .enumerate()
        .map(|(index, candidate)| GalleryHit {
            index,
            score: cosine_similarity(probe, candidate),
        })
        .max_by(|a, b| a.score.total_cmp(&b.score))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::EMBEDDING_LEN;

    fn unit(axis: usize) -> Embedding {
        let mut v = vec![0.0; EMBEDDING_LEN];
        v[axis] = 1.0;
        Embedding::from_values(v).unwrap()
    }

    #[test]
    fn identical_embeddings_match_orthogonal_do_not() {
        assert!(MatchDecision::compare(&unit(0), &unit(0), 0.363).same_person);
        let d = MatchDecision::compare(&unit(0), &unit(1), 0.363);
        assert!(!d.same_person && d.score.abs() < 1e-6);
    }

    #[test]
    fn gallery_search_finds_the_closest() {
        let gallery = [unit(3), unit(7), unit(0)];
        let hit = search_gallery(&unit(7), &gallery).unwrap();
        assert_eq!(hit.index, 1);
        assert!(search_gallery(&unit(7), &[]).is_none());
    }

    #[test]
    fn malformed_templates_are_refused() {
        assert!(Embedding::from_values(vec![1.0; 3]).is_none());
        assert!(Embedding::from_values(vec![f32::NAN; EMBEDDING_LEN]).is_none());
        assert!(Embedding::from_values(vec![0.0; EMBEDDING_LEN]).is_none());
    }
}
