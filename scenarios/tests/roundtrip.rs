//! Every generated scenario is valid, and writing it out and reading it back changes nothing.

use baoan_scenarios::Scenario;
use baoan_scenarios::strategies::small_scenario;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn generated_scenarios_are_valid_and_round_trip(s in small_scenario()) {
        prop_assert!(s.check().is_ok(), "{:?}", s.check());
        let text = s.to_toml();
        let mut back = Scenario::parse("generated.toml", &text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        back.source = Default::default();
        prop_assert_eq!(back, s);
    }
}
