// Package ledger proves that a concurrent run lost and duplicated no LPI.
//
// # What it owns
//
//   - [Ledger]: every delivery, acknowledgement and removal of a run, each
//     recorded as a span of one global sequence, and barriers (points
//     where every CPU was drained); [Ledger.Check], which matches every
//     acknowledgement to a delivery of its own and every last delivery
//     before a barrier or the end to a later acknowledgement or removal,
//     and reports, per cause of removal, the deliveries it excused and the
//     acknowledgements that survived it.
//   - [Cause] (DISCARD, MAPD V=0, MAPD re-map, EnableLPIs toggle),
//     [Effect] (keeps, drops, may drop) and [Rules], which say per cause
//     what the backend under test does to a pending LPI: a backend whose
//     rule says a cause drops must not have an LPI acknowledged after it
//     that only a delivery before it could explain (a ghost), and one whose
//     rule says it keeps gets no excuse from it.
//
// # What it must not touch
//
// ledger imports the standard library and [model] (for INTIDs) only. It
// drives no backend, knows no backend's rules (their tests state them,
// with reasons) and measures no time: callers (package bench/stress,
// tests) make the calls and record them here.
package ledger
