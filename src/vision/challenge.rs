//! Active liveness: a randomised head-turn challenge ("turn your head left, then back"),
//! verified from the head pose tracked across frames.
//!
//! A still photo never turns; a replayed clip turns the wrong way or at the wrong time; a photo
//! swapped in mid-challenge jumps. Each fails. Pure: frames arrive as pose samples with their
//! time, so every path is tested without a camera or a clock.

use std::time::Duration;

/// The direction the person is asked to turn, from their own point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnDirection {
    Left,
    Right,
}

impl TurnDirection {
    /// Yaw sign of a turn this way. A person turning to their own left shows the camera the
    /// right side of their face: the nose moves to the image's right, yaw grows (see `head_pose`).
    fn sign(self) -> f32 {
        match self {
            Self::Left => 1.0,
            Self::Right => -1.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChallengeRules {
    /// Yaw the turn must reach, degrees.
    pub turn_deg: f32,
    /// Distance from the starting yaw at or below which the head counts as back.
    pub frontal_deg: f32,
    /// Time from the instruction to the return to frontal.
    pub time_limit: Duration,
    /// Largest movement of the face centre between two frames, in inter-eye distances:
    /// a real head turns smoothly, a swapped photo jumps.
    pub max_jump: f32,
    /// Largest yaw change between two frames, degrees: a head turning at 90°/s moves 3° per
    /// frame at 30 frames/s; alternating two photos of different poses jumps by far more.
    pub max_yaw_step_deg: f32,
}

impl ChallengeRules {
    /// Rules with the configured turn, return and time limit (`[face.challenge]`), and the
    /// continuity limits every real head meets (not configurable).
    ///
    /// `Default` is the built-in configuration's `[face.challenge]`, for tests (see
    /// `wiring::challenge_rules`).
    pub fn new(turn_deg: f32, frontal_deg: f32, time_limit: Duration) -> Self {
        Self { turn_deg, frontal_deg, time_limit, max_jump: 1.0, max_yaw_step_deg: 15.0 }
    }
}

/// What one frame showed of the face (nothing, when no face was found).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoseSample {
    pub yaw: f32,
    pub centre: [f32; 2],
    pub inter_eye: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeFailure {
    /// The head turned the other way first.
    WrongDirection,
    /// The turn (or the return) did not happen in time: a still photo, or no reaction.
    TimedOut,
    /// The face jumped between frames, or vanished for too long: a swapped picture.
    Discontinuity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeStatus {
    /// Waiting for the next step; `turned` tells whether the turn was seen already.
    InProgress { turned: bool },
    Passed,
    Failed(ChallengeFailure),
}

/// Follows one challenge frame by frame.
#[derive(Debug, Clone)]
pub struct ChallengeTracker {
    direction: TurnDirection,
    rules: ChallengeRules,
    previous: Option<PoseSample>,
    /// Yaw of the first frame: turns are measured from the person's own resting pose, which
    /// landmark-based pose estimates bias by a few degrees per face.
    baseline: Option<f32>,
    missing_frames: u32,
    peak: f32,
    status: ChallengeStatus,
}

/// Frames in a row without a face after which the challenge fails.
const MAX_MISSING_FRAMES: u32 = 5;

impl ChallengeTracker {
    pub fn new(direction: TurnDirection, rules: ChallengeRules) -> Self {
        Self {
            direction,
            rules,
            previous: None,
            baseline: None,
            missing_frames: 0,
            peak: 0.0,
            status: ChallengeStatus::InProgress { turned: false },
        }
    }

    pub fn direction(&self) -> TurnDirection {
        self.direction
    }

    pub fn status(&self) -> ChallengeStatus {
        self.status
    }

    /// The largest yaw reached in the asked direction so far, degrees.
    pub fn peak_yaw(&self) -> f32 {
        self.peak
    }

    /// Feeds one frame taken `elapsed` after the instruction was shown.
    pub fn observe(&mut self, elapsed: Duration, sample: Option<PoseSample>) -> ChallengeStatus {
        let ChallengeStatus::InProgress { turned } = self.status else {
            return self.status;
        };
        self.status = self.next(turned, elapsed, sample);
        self.status
    }

    fn next(&mut self, turned: bool, elapsed: Duration, sample: Option<PoseSample>) -> ChallengeStatus {
        use ChallengeStatus::*;
        if elapsed > self.rules.time_limit {
            return Failed(ChallengeFailure::TimedOut);
        }
        let Some(sample) = sample else {
            self.missing_frames += 1;
            return if self.missing_frames > MAX_MISSING_FRAMES {
                Failed(ChallengeFailure::Discontinuity)
            } else {
                InProgress { turned }
            };
        };
        self.missing_frames = 0;
        if let Some(previous) = self.previous {
            let moved = (sample.centre[0] - previous.centre[0]).hypot(sample.centre[1] - previous.centre[1]);
            let yaw_step = (sample.yaw - previous.yaw).abs();
            if moved > self.rules.max_jump * previous.inter_eye.max(1.0) || yaw_step > self.rules.max_yaw_step_deg {
                return Failed(ChallengeFailure::Discontinuity);
            }
        }
        self.previous = Some(sample);
        let baseline = *self.baseline.get_or_insert(sample.yaw);
        let toward = (sample.yaw - baseline) * self.direction.sign();
        self.peak = self.peak.max(toward);
        if !turned {
            if toward <= -self.rules.turn_deg {
                return Failed(ChallengeFailure::WrongDirection);
            }
            return InProgress { turned: toward >= self.rules.turn_deg };
        }
        if (sample.yaw - baseline).abs() <= self.rules.frontal_deg {
            Passed
        } else {
            InProgress { turned: true }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(yaw: f32) -> Option<PoseSample> {
        Some(PoseSample { yaw, centre: [320.0, 240.0], inter_eye: 60.0 })
    }

    /// Feeds yaws one frame every 100 ms.
    fn run(direction: TurnDirection, yaws: &[Option<PoseSample>]) -> ChallengeStatus {
        let mut tracker = ChallengeTracker::new(direction, ChallengeRules::default());
        for (i, s) in yaws.iter().enumerate() {
            tracker.observe(Duration::from_millis(100 * i as u64), *s);
        }
        tracker.status()
    }

    fn turn(peak: f32) -> Vec<Option<PoseSample>> {
        [0.0, 5.0, 12.0, 20.0, peak, 20.0, 10.0, 3.0].iter().map(|y| sample(*y)).collect()
    }

    #[test]
    fn turning_the_asked_way_and_back_passes() {
        assert_eq!(run(TurnDirection::Left, &turn(28.0)), ChallengeStatus::Passed);
        let right: Vec<_> = turn(28.0).into_iter().map(|s| s.map(|p| PoseSample { yaw: -p.yaw, ..p })).collect();
        assert_eq!(run(TurnDirection::Right, &right), ChallengeStatus::Passed);
    }

    #[test]
    fn a_still_photo_times_out() {
        let still: Vec<_> = (0..100).map(|_| sample(2.0)).collect();
        assert_eq!(run(TurnDirection::Left, &still), ChallengeStatus::Failed(ChallengeFailure::TimedOut));
    }

    #[test]
    fn a_clip_turning_the_other_way_fails() {
        assert_eq!(run(TurnDirection::Right, &turn(28.0)), ChallengeStatus::Failed(ChallengeFailure::WrongDirection));
    }

    #[test]
    fn turning_without_coming_back_is_not_enough() {
        let stuck: Vec<_> = [0.0, 10.0, 20.0, 25.0].iter().chain(&[25.0; 80]).map(|y| sample(*y)).collect();
        assert_eq!(run(TurnDirection::Left, &stuck), ChallengeStatus::Failed(ChallengeFailure::TimedOut));
    }

    #[test]
    fn turns_count_from_the_persons_resting_pose() {
        let offset: Vec<_> = [-15.0, -10.0, 0.0, 8.0, 0.0, -12.0].iter().map(|y| sample(*y)).collect();
        assert_eq!(run(TurnDirection::Left, &offset), ChallengeStatus::Passed);
        let not_enough: Vec<_> = [-15.0, -5.0, -1.5, -8.0, -14.0].iter().chain(&[-14.0; 90]).map(|y| sample(*y)).collect();
        assert_eq!(run(TurnDirection::Left, &not_enough), ChallengeStatus::Failed(ChallengeFailure::TimedOut));
    }

    #[test]
    fn a_swapped_picture_jumps() {
        let mut frames = turn(28.0);
        frames[3] = Some(PoseSample { yaw: 22.0, centre: [500.0, 240.0], inter_eye: 60.0 });
        assert_eq!(run(TurnDirection::Left, &frames), ChallengeStatus::Failed(ChallengeFailure::Discontinuity));
    }

    #[test]
    fn alternating_two_photos_of_different_poses_fails() {
        let flicker: Vec<_> = [-16.0, 10.0, -16.0, 10.0, -16.0].iter().map(|y| sample(*y)).collect();
        assert_eq!(run(TurnDirection::Left, &flicker), ChallengeStatus::Failed(ChallengeFailure::Discontinuity));
    }

    #[test]
    fn a_face_lost_for_many_frames_fails() {
        let mut frames = vec![sample(0.0)];
        frames.extend(std::iter::repeat_n(None, 6));
        assert_eq!(run(TurnDirection::Left, &frames), ChallengeStatus::Failed(ChallengeFailure::Discontinuity));
    }

    proptest! {
        /// Whatever the frames, a challenge never passes without the asked turn having been seen.
        #[test]
        fn never_passes_without_the_turn(start in -20f32..20.0, moves in proptest::collection::vec(-14.9f32..60.0, 1..80)) {
            // (Jumps between frames may end it as a discontinuity: that is a failure too.)
            // Every later frame is less than the turn to the left of the first one.
            let frames: Vec<_> = std::iter::once(start).chain(moves.iter().map(|m| start - m)).map(sample).collect();
            prop_assert_ne!(run(TurnDirection::Left, &frames), ChallengeStatus::Passed);
        }
    }
}
