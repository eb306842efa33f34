package model_test

import (
	"fmt"

	"github.com/gicits/gicits/model"
)

// Encode a command into the 32-byte packet a driver writes into the command
// queue, and decode a packet read back from a queue.
func ExampleDecodeCommand() {
	p, err := model.MAPTI{DeviceID: 0x10, EventID: 1, INTID: 8193, ICID: 1}.Encode()
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Hex())

	cmd, err := model.DecodeCommand(p)
	fmt.Println(cmd, err)

	// GICv4 commands decode too (neither backend executes them).
	v4, err := model.ParsePacket("2a00000010000000 0300000005000000 03200000ff030000 0000000000000000")
	if err != nil {
		panic(err)
	}
	fmt.Println(model.DecodeCommand(v4))

	var bad model.Packet
	bad[0] = 0x42
	_, err = model.DecodeCommand(bad)
	fmt.Println(err)
	// Output:
	// 0a00000010000000010000000120000001000000000000000000000000000000
	// MAPTI dev=0x10 ev=1 lpi=8193 icid=1 <nil>
	// VMAPTI dev=0x10 ev=3 vintid=8195 vpeid=5 db=1023 <nil>
	// unknown opcode 0x42
}

// Routing code always computes the DeviceID (for PCI, the requester ID) and
// hands it to the backend as valid only when the backend needs one.
func ExampleCapabilities_Prepare() {
	devfn, _ := model.PCIDevFn(3, 0)
	msi := model.MSI{
		Doorbell: model.DefaultLayout().Doorbell(),
		Data:     2, // EventID
		DeviceID: model.PCIRequesterID(0, devfn),
	}
	its := model.Capabilities{NeedsDeviceID: true} // KVM_CAP_MSI_DEVID = 1
	noITS := model.Capabilities{}                  // KVM_CAP_MSI_DEVID = 0
	fmt.Println(its.Prepare(msi))
	fmt.Println(noITS.Prepare(msi))
	// Output:
	// MSI dev=0x18 ev=2 doorbell=0x8090040
	// MSI ev=2 doorbell=0x8090040 (no DeviceID)
}

// Decode the table entries Linux KVM saved with KVM_DEV_ARM_ITS_SAVE_TABLES.
func ExampleDecodeDTE() {
	fmt.Println(model.DecodeDTE(0x800000000800E004))
	fmt.Println(model.DecodeITE(0x0001000020010001))
	fmt.Println(model.DecodeCTE(0x8000000000010001))
	// Output:
	// DTE valid itt=0x40070000 bits=5 next=0
	// ITE lpi=8193 icid=1 next=1
	// CTE icid=1 rdbase=1
}
