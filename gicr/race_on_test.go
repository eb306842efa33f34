//go:build race

package gicr_test

// raceEnabled: the race detector slows the stress tests tenfold.
const raceEnabled = true
