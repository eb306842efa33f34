// Command itsbench runs GICv3 ITS workloads, scripts and explorations on the
// simulator or on real Linux KVM.
//
// Usage:
//
//	itsbench [command] [flags]
//
// With no command it runs the default job on the simulator. Each command
// lives in its own file and registers itself in [commands]; `itsbench help`
// lists them. Flags and parameters that are not accepted produce an error
// saying what is accepted, and exit status 2; every exit status is in
// docs/exit-status.md.
//
// A command given a kvm backend on a host without arm64 KVM runs in an
// arm64 QEMU guest: parseFlags sees it, and the whole command line goes to
// the linux/arm64 itsbench there, through tools/qemuexec, with the files
// it reads and writes (guest.go, guestsetup.go).
//
// The command owns flag parsing, output formats and exit statuses; what it
// runs belongs to the packages below it (model, the backends, bench).
package main
