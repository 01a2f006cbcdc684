//! The behaviour both TCP servers share, as test scenarios.
