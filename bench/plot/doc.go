// Package plot draws the latencies of benchmark runs: CDFs of the
// injection-call and end-to-end latencies, and a histogram of the
// injection-call latencies, as SVG or PNG.
//
// # What it owns
//
//   - [Plot]: one picture of any number of [bench.Result]s, each run in
//     its own colour.
//
// # What it must not touch
//
// plot is the only package of the library that imports gonum's plot
// packages (about 86 packages with their dependencies): it is kept apart
// so that nothing which runs workloads, computes statistics or writes
// reports carries them, and only programs that draw (cmd/itsbench) import
// it. It reads results and never runs, measures or opens anything.
package plot
