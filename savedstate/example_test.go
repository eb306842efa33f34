package savedstate_test

import (
	"fmt"
	"log"

	"github.com/gicits/gicits/backend/sim"
	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/savedstate"
)

// Carry an ITS from one backend to another through the saved-state file:
// a guest driver's set-up and a pending LPI on one simulator, restored
// into a second one, which then holds the same LPI pending and translates
// the same MSI to the same CPU. Opening "kvm" instead of "sim" on either
// side moves the state into or out of a real KVM VM.
func Example() {
	src, err := model.Open(sim.Name, model.Config{CPUs: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	mapc, err := model.EnableCollections(src, 2)
	if err != nil {
		log.Fatal(err)
	}
	ev := model.Event{EventID: 1, INTID: 8193, ICID: 1, Config: model.MakeLPIConfig(0xa0, true)}
	_, mapd, err := model.MapDevice(src, src.Layout().ITTAllocator(), 0x10, []model.Event{ev})
	if err != nil {
		log.Fatal(err)
	}
	if err := model.SubmitCommands(src, append(mapc, mapd...)...); err != nil {
		log.Fatal(err)
	}
	msi := src.Capabilities().Prepare(model.MSI{Doorbell: src.Layout().Doorbell(), Data: 1, DeviceID: 0x10})
	if _, err := src.SignalMSI(msi); err != nil {
		log.Fatal(err)
	}

	st, err := savedstate.Capture(src)
	if err != nil {
		log.Fatal(err)
	}
	file, err := st.MarshalBinary() // what itsbench state -save writes
	if err != nil {
		log.Fatal(err)
	}
	if st, err = savedstate.Parse(file); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d bytes from %s, %d CPUs:\n", len(file), st.Source, st.CPUs)
	for _, r := range st.Regions {
		fmt.Println(" ", r)
	}

	dst, err := model.Open(sim.Name, st.Config())
	if err != nil {
		log.Fatal(err)
	}
	defer dst.Close()
	if err := savedstate.Restore(dst, st); err != nil {
		log.Fatal(err)
	}
	pending, _ := dst.Pending(1)
	fmt.Println("restored: pending on CPU 1:", pending)
	id, _ := dst.Acknowledge(1)
	d, _ := dst.SignalMSI(msi)
	again, _ := dst.Pending(1)
	fmt.Println("acknowledged", id, "then the MSI is", d, "and pends", again)
	// Output:
	// 684 bytes from sim, 2 CPUs:
	//   command queue [0x40000000, +0x10000)
	//   device table [0x40010000, +0x80000)
	//   ITT of DeviceID 0x10 [0x40800000, +0x10)
	//   collection table [0x40090000, +0x10000)
	//   LPI configuration table [0x40100000, +0xe000)
	//   pending table of CPU 0 [0x40200000, +0x2000)
	//   pending table of CPU 1 [0x40210000, +0x2000)
	// restored: pending on CPU 1: [8193]
	// acknowledged 8193 then the MSI is delivered and pends [8193]
}
