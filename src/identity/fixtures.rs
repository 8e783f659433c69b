//! Test vectors shared by several test modules (kept out of any one module's tests so those
//! stay private).

/// A German ID card's EF.CardAccess: PACE, Chip Authentication and Terminal Authentication
/// entries, an unknown (proprietary) entry ignored. Also a fuzz seed
/// (`fuzz/corpus/card_access/german-id-card`, checked by `fuzz_seed_corpora_are_the_simulators_files`).
pub(crate) const GERMAN_ID_CARD_ACCESS: &str = "318182300D060804007F00070202020201023012060A04007F000702020302020201020201413012060A04007F0007020204020202010202010D301C060904007F000702020302300C060704007F0007010202010D020141302B060804007F0007020206161F655041202D2042447220476D6248202D20546573746B617274652076322E3004491715411928800A01B421FA07000000000000000000000000000000000000201010291010";
