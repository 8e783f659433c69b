//! 1:1 decisions and 1:N gallery search on SFace embeddings.

use super::Embedding;

/// Cosine similarity of two L2-normalised embeddings (their dot product).
pub fn cosine_similarity(a: &Embedding, b: &Embedding) -> f32 {
    a.as_slice().iter().zip(b.as_slice()).map(|(x, y)| x * y).sum()
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
        Self { score, threshold, same_person: score >= threshold }
    }
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
    fn malformed_templates_are_refused() {
        assert!(Embedding::from_values(vec![1.0; 3]).is_none());
        assert!(Embedding::from_values(vec![f32::NAN; EMBEDDING_LEN]).is_none());
        assert!(Embedding::from_values(vec![0.0; EMBEDDING_LEN]).is_none());
    }
}
