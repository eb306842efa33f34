// Package stress runs MSIs against concurrent re-mapping on a backend and
// proves with a [ledger.Ledger] that no LPI was lost or duplicated.
//
// # What it owns
//
//   - [Run]: one device's events mapped over every CPU's collection;
//     senders signalling MSIs, one goroutine per CPU acknowledging, and
//     one churning through the operations [Options.Mix] weighs ([Op]:
//     MOVI, DISCARD + MAPTI, MAPD re-map and unmap, MAPC, MOVALL, INV
//     after an enable-bit toggle, EnableLPIs toggles); then a restore, a
//     probe of each operation with every LPI pending, a last round of
//     MSIs, and the ledger's check under [Options.Rules].
//   - What the churn knows of the mapping (each collection's CPU, each
//     event's collection and enable bit, the CPUs each LPI may target),
//     from which it records each removal on the LPIs it applies to.
//
// # What it must not touch
//
// stress imports the standard library, [model] and bench/ledger only. It
// drives the backend it is given through [model.Backend] and never opens
// one; it measures no latency (package bench does) and draws or writes
// nothing.
package stress
