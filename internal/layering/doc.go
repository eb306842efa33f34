// Package layering owns gicits' import rules, and holds nothing but the test
// that enforces them (layering_test.go), so that a rule broken by a change
// fails go test instead of waiting for a reviewer.
//
// The rules, for the non-test code of the module, on linux/amd64,
// linux/arm64, darwin/arm64 and windows/amd64 (build tags decide what a
// package imports, so each platform's import graph is checked):
//
//   - only backend/kvm/internal/kvmsys imports golang.org/x/sys/unix;
//   - model depends on the standard library only, directly or transitively;
//   - imports flow one way, from cmd at the top to model at the bottom
//     through the layers listed in the test; a package imports only packages
//     of lower layers, or its own internal subpackages, and every package
//     of the module must be placed in a layer;
//   - tools/qemuexec and its subpackages import nothing of the module but
//     themselves;
//   - the module and the itsbench command build for darwin/arm64,
//     windows/amd64 and linux/arm64 (not under -short).
//
// The test reads the import graph with the go command (go list -deps), as
// the build sees it. Nothing imports this package, and it imports nothing.
package layering
