package savedstate_test

import (
	"strings"
	"testing"

	"github.com/gicits/gicits/backend/kvm"
	"github.com/gicits/gicits/backend/kvm/kvmtest"
	"github.com/gicits/gicits/backend/sim"
	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/savedstate"
)

func openKVM(t *testing.T, cfg model.Config) model.Backend {
	t.Helper()
	return kvmtest.Open(t, cfg)
}

// TestTransferKVM carries each scenario's state between the simulator and
// real KVM, both ways, through the file: KVM's SAVE_TABLES and
// SAVE_PENDING_TABLES output restored into the simulator, and the
// simulator's tables restored by KVM's RESTORE_TABLES, agree in every
// translation, collection, LPI configuration byte and pending LPI. Inside
// scripts/kvm-harness (GICITS_KVM_REQUIRED=1) it must run; elsewhere it
// skips, saying why:
//
//	scripts/kvm-harness -run TestTransferKVM -v ./savedstate/
func TestTransferKVM(t *testing.T) {
	kvmtest.Require(t, model.Config{CPUs: 2})
	for _, sc := range scenarios {
		name := strings.TrimSuffix(strings.TrimPrefix(sc, "testdata/"), ".its")
		for _, c := range []struct {
			from string
			to   opener
			name string
		}{
			{sim.Name, openKVM, "sim-to-kvm"},
			{kvm.Name, openSim, "kvm-to-sim"},
			{kvm.Name, openKVM, "kvm-to-kvm"},
		} {
			if c.name == "kvm-to-kvm" && sc != scenarios[0] {
				continue // one real migration is enough; each VM costs seconds under QEMU
			}
			t.Run(name+"/"+c.name, func(t *testing.T) {
				diff, err := transfer(t, sc, c.from, c.to, nil)
				if err != nil {
					t.Fatal(err)
				}
				if diff != "" {
					t.Error(diff)
				}
			})
		}
	}
}

// TestTransferKVMNeedsPendingTables: KVM takes a restored LPI's pending
// state from its pending-table bit only; without the pending tables'
// contents the restored VM has nothing pending, and the comparison of
// TestTransferKVM sees it.
//
//	scripts/kvm-harness -run TestTransferKVMNeedsPendingTables -v ./savedstate/
func TestTransferKVMNeedsPendingTables(t *testing.T) {
	kvmtest.Require(t, model.Config{CPUs: 2})
	diff, err := transfer(t, scenarios[0], sim.Name, openKVM, func(st *savedstate.State) {
		for i := range st.Regions {
			if st.Regions[i].Kind == savedstate.PendingTable {
				st.Regions[i].Extents = nil
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(diff, "Pending") {
		t.Errorf("KVM restored without pending tables, and the comparison saw no pending difference:\n%s", diff)
	}
	t.Logf("without pending tables:\n%s", diff)
}
