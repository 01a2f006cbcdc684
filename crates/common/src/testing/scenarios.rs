//! [`scenario_tests!`](crate::scenario_tests): one `#[test]` per shared
//! scenario, so a lesson's test file lists the scenarios it passes instead
//! of repeating a three-line wrapper for each.

/// One `#[test]` per name, each calling the scenario of that name in
/// `$scenarios` (a module such as [`crate::testing::udp_server`]) with the
/// binary `$bin`:
///
/// ```text
/// use common::testing::udp_server as scenario;
/// const BIN: &str = env!("CARGO_BIN_EXE_udp-server");
/// common::scenario_tests!(scenario, BIN,
///     every_reply_mode,
///     #[cfg_attr(windows, ignore = "why")] some_scenario,
///     ctrl_c terminate_idle,
/// );
/// ```
///
/// Attributes written before a name go on its test. `ctrl_c NAME` marks a
/// scenario that sends Ctrl+C: it is ignored on Windows, with the reason the
/// Windows run (docs/portability.md) lists.
#[macro_export]
macro_rules! scenario_tests {
    ($scenarios:ident, $bin:expr $(,)?) => {};
    ($scenarios:ident, $bin:expr, ctrl_c $name:ident $($rest:tt)*) => {
        $crate::scenario_tests!($scenarios, $bin,
            #[cfg_attr(
                windows,
                ignore = "Ctrl+C is a signal here: Windows has none to send, and Wine cannot deliver a console Ctrl+C to a child (scripts/wine-smoke.sh checks Ctrl+C under Wine)"
            )]
            $name $($rest)*
        );
    };
    ($scenarios:ident, $bin:expr, $(#[$attr:meta])* $name:ident $($rest:tt)*) => {
        #[test]
        $(#[$attr])*
        fn $name() {
            $scenarios::$name($bin);
        }
        $crate::scenario_tests!($scenarios, $bin $($rest)*);
    };
}
