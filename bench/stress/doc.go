// Package stress runs MSIs against concurrent re-mapping on a backend and
// proves with a [ledger.Ledger] that no LPI was lost or duplicated.
//
// # What it owns
//
//   - [Run]: one device's events mapped over every CPU's collection;
//     senders signalling MSIs, one goroutine per CPU acknowledging, and
//     one churning (MOVI, DISCARD + MAPTI, re-MAPD), then a drain and the
//     ledger's check.
//
// # What it must not touch
//
// stress imports the standard library, [model] and bench/ledger only. It
// drives the backend it is given through [model.Backend] and never opens
// one; it measures no latency (package bench does) and draws or writes
// nothing.
package stress
