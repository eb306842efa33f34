//go:build !race

package gicr_test

const raceEnabled = false
