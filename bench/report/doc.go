// Package report writes the results of benchmark runs for people and for
// tools.
//
// # What it owns
//
//   - The four formats: a table of one run ([WriteTable]) or of repeated
//     runs of two sides compared ([Comparison.WriteTable]), CSV
//     ([WriteCSV]) and JSON ([WriteJSON]), one row or object per run, and
//     Go's benchmark format for benchstat ([WriteGoBench]), one line per
//     run.
//   - [CompareRuns]: repeated runs of one workload on two sides compared
//     measure by measure ([Measures]: throughput, median and p99
//     latencies), one value per run, with bench/stats' test and interval;
//     [Group] splits a list of runs by label, [Pool] merges one side's
//     runs for a plot.
//   - [LossBanner]: the loud line every report prints when deliveries
//     were lost or injections failed.
//
// # What it must not touch
//
// report imports the standard library, package bench (for [bench.Result])
// and bench/stats only. It runs nothing and draws nothing (package
// bench/plot draws); it writes only to the [io.Writer] it is given.
package report
