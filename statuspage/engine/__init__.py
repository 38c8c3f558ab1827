"""Pure evaluation: state and `now` in, transitions out. No I/O in this package."""
