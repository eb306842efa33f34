// Package stats describes and compares samples of latencies: the
// statistics of package bench's results.
//
// # What it owns
//
//   - [Summary] and [Summarize]: moments, empirical quantiles and a 95%
//     confidence interval for the mean of a sorted sample, with gonum's
//     stat package. They describe one run.
//   - [CompareRuns] and [Comparison]: two sets of repeated runs compared
//     the way benchstat compares them, on one value per run (a run's
//     throughput, its median latency): the ratio of the medians, a
//     confidence interval for it ([RatioInterval], Hodges–Lehmann), and
//     the exact Mann–Whitney U test ([MannWhitney]), with a verdict in
//     words that never prints p=0 ([FormatP]) and says when there are too
//     few runs for any test.
//
// The samples inside one run are neither independent (successive
// latencies are autocorrelated) nor a sample of the runs (a run's level
// drifts with the machine), so tests over pooled samples call an A/A
// comparison significant; [MannWhitney] over the runs' values does not.
// cmd/itsbench's TestAACompareIsNotSignificant shows both, on 20 seeded
// A/A compares of synthetic runs (bench/benchtest's NoisyMachine).
//
// # What it must not touch
//
// stats imports the standard library and gonum's stat packages only: it
// knows nothing of workloads, backends or how runs were made, and draws and
// writes nothing. Numbers in, numbers out; a sample that is not sorted
// (Summarize) or empty (MannWhitney, CompareRuns) is a programming error
// and panics (the panics keep the "bench:" prefix they had when this
// package was part of bench).
package stats
