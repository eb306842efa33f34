package main

// The backends itsbench can run on. Each registers itself with model.Register;
// backend/kvm builds everywhere and, where it cannot run, refuses at Open
// with an error saying what it needs.
import (
	_ "github.com/gicits/gicits/backend/kvm"
	_ "github.com/gicits/gicits/backend/sim"
)
