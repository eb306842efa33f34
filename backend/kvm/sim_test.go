package kvm_test

// The simulator is the other side of the backend-swapped suite.
import _ "github.com/gicits/gicits/backend/sim"
