// Package ledger proves that a concurrent run lost and duplicated no LPI.
//
// # What it owns
//
//   - [Ledger]: every delivery, acknowledgement and removal (DISCARD, a
//     re-MAPD) of a run, each recorded as a span of one global sequence,
//     and [Ledger.Check], which matches every acknowledgement to a
//     delivery of its own and every last delivery to a later
//     acknowledgement or removal.
//
// # What it must not touch
//
// ledger imports the standard library and [model] (for INTIDs) only. It
// drives no backend and measures no time: callers (package
// bench/stress, tests) make the calls and record them here.
package ledger
