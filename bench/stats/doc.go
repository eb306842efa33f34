// Package stats describes and compares samples of latencies: the
// statistics of package bench's results.
//
// # What it owns
//
//   - [Summary] and [Summarize]: moments, empirical quantiles and a 95%
//     confidence interval for the mean of a sorted sample, with gonum's
//     stat package.
//   - [Comparison] and [Compare]: the ratio of medians and the
//     Mann–Whitney U test of two sorted samples.
//
// # What it must not touch
//
// stats imports the standard library and gonum's stat packages only: it
// knows nothing of workloads, runs or backends, and draws and writes
// nothing. Samples in, numbers out; a sample that is not sorted is a
// programming error and panics (the panics keep the "bench:" prefix they
// had when this package was part of bench).
package stats
