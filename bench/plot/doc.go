// Package plot draws the latencies of benchmark runs, as SVG or PNG.
//
// # What it owns
//
//   - [Plot]: one figure of any number of [bench.Result]s. A column per
//     latency the runs measured (the injection call; inject → acknowledge
//     when they had consumers), each with three panels: the CDF, the
//     percentiles out to p99.99 on a scale where each step right is ten
//     times rarer (the tail view, where p99 and p99.9 stand apart), and a
//     histogram. When the runs churned, a row for the churn commands'
//     latency. One legend above the panels, never over the data.
//   - [CheckPath]: whether Plot can write a file of a given name, for
//     commands to check before a long run.
//
// Each run keeps one look on every panel: a colour of Okabe and Ito's
// colour-blind-safe palette, a dash pattern and a marker shape, so runs
// read apart in greyscale too. Markers sit at each run's p50, p90, p99,
// p99.9 and p99.99. Latency axes are logarithmic, with tick labels in one
// notation, a number and a unit (ns, µs, ms, s), and at least two of them
// however narrow the range.
//
// The tests read the SVG back as XML and check what a reader would: tick
// labels on every axis, in one notation, not overlapping; the legend in
// the picture and off the data; runs told apart by more than colour.
// GICITS_PLOT_DIR=DIR go test ./bench/plot/ keeps their SVG files in DIR
// to look at.
//
// # What it must not touch
//
// plot is the only package of the library that imports gonum's plot
// packages (about 86 packages with their dependencies): it is kept apart
// so that nothing which runs workloads, computes statistics or writes
// reports carries them, and only programs that draw (cmd/itsbench) import
// it. It reads results and never runs, measures or opens anything but the
// file it writes.
package plot
