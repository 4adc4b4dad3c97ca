//! Black-box tests of the real `kosuke` binary; see `tests/`.
