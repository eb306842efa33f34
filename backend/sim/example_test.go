package sim_test

import (
	"fmt"

	_ "github.com/gicits/gicits/backend/sim"
	"github.com/gicits/gicits/model"
)

// The canonical flow: open the simulator, enable LPIs, configure an LPI,
// map a device, a collection and an event, send the MSI, take the
// interrupt.
func Example() {
	b, err := model.Open("sim", model.Config{CPUs: 2})
	if err != nil {
		panic(err)
	}
	defer b.Close()
	l := b.Layout()

	if err := model.EnableLPIs(b, 1); err != nil {
		panic(err)
	}
	const lpi = model.INTID(8200)
	if err := model.SetLPIConfig(b, lpi, model.MakeLPIConfig(0xA0, true)); err != nil {
		panic(err)
	}
	itt, err := l.ITTAllocator().Alloc(model.ITTSize(5, model.TableEntrySize), 256)
	if err != nil {
		panic(err)
	}
	dev := model.PCIRequesterID(0, 0x08)
	err = model.SubmitCommands(b,
		model.MAPD{DeviceID: dev, Size: 4, ITTAddr: itt, Valid: true},
		model.MAPC{ICID: 3, RDbase: 1, Valid: true},
		model.MAPTI{DeviceID: dev, EventID: 7, INTID: lpi, ICID: 3},
		model.SYNC{RDbase: 1},
	)
	if err != nil {
		panic(err)
	}

	msi := b.Capabilities().Prepare(model.MSI{Doorbell: l.Doorbell(), Data: 7, DeviceID: dev})
	d, err := b.SignalMSI(msi)
	fmt.Println(d, err)

	got, _ := b.Acknowledge(1)
	fmt.Println("CPU 1 acknowledges", got)
	again, _ := b.Acknowledge(1)
	fmt.Println("then", again)
	fmt.Println("EOI:", b.EOI(1, got))
	// Output:
	// delivered <nil>
	// CPU 1 acknowledges 8200
	// then 1023
	// EOI: <nil>
}

// A command that fails comes back as a *model.CommandError with the
// architectural error code; KVM would drop it silently.
func Example_commandError() {
	b, err := model.Open("sim", model.Config{})
	if err != nil {
		panic(err)
	}
	defer b.Close()
	err = model.SubmitCommands(b, model.MAPTI{DeviceID: 0x10, EventID: 1, INTID: 8193, ICID: 0})
	for _, ce := range model.CommandErrors(err) {
		fmt.Printf("offset %#x: %v\n", ce.Offset, ce.Code)
	}
	// Output:
	// offset 0x0: E_ITS_MAPTI_UNMAPPED_DEVICE
}
