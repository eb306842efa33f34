// Package report writes the results of benchmark runs for people and for
// tools.
//
// # What it owns
//
//   - The four formats: a table of one run ([WriteTable]) or two side by
//     side ([Pair.WriteTable]), CSV ([WriteCSV]), JSON ([WriteJSON]) and
//     Go's benchmark format for benchstat ([WriteGoBench]).
//   - [ComparePair]: two runs of one workload compared, throughput ratio
//     and latency tests, as the reports print them.
//   - [LossBanner]: the loud line every report prints when deliveries
//     were lost or injections failed.
//
// # What it must not touch
//
// report imports the standard library, package bench (for [bench.Result])
// and bench/stats only. It runs nothing and draws nothing (package
// bench/plot draws); it writes only to the [io.Writer] it is given.
package report
