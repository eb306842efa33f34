// Package fidelity owns the catalogue of known divergences between the
// simulator and Linux KVM's vITS: each [Entry] names the kernels it shows
// on, the architecture's rule, KVM's code path and a minimal .its case,
// and classifies a divergence the differential finds ([Classify]).
//
// docs/fidelity.md is the catalogue for people, with the counts the
// differential measured.
//
// It builds on internal/difftest (what a divergence is), script and
// inspect, and replays stream prefixes on the simulator to see the state
// a classifier asks about; it never opens KVM.
package fidelity
