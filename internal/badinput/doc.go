// Package badinput reads the table of docs/bad-input.md: every bad input
// gicits knows of, where it enters (guest, user or host), the exact text it
// gets, and the test that checks it. The tests that check those rows (in
// docs, cmd/itsbench and backend/kvm) and the test that keeps the table and
// the tests in step all read the table through [Parse], so it has one
// parser. (tools/qemuexec keeps its own: it imports nothing of the module.)
//
// # What it must not touch
//
// It is for tests: it parses text it is given or reads one file, and
// imports nothing of the module, so it can sit below everything that tests
// with it.
package badinput
