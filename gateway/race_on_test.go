//go:build race

package gateway_test

// raceEnabled shrinks the largest tests under the race detector, which slows them tenfold.
const raceEnabled = true
