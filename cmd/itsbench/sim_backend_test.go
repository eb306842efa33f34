package main

// The tests of explain, state, the trace flag and the tutorial run on the
// simulator.
import _ "github.com/gicits/gicits/backend/sim"
