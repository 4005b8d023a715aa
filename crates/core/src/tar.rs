//! A push-based tar header state machine.
