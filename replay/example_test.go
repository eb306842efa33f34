package replay_test

import (
	"fmt"
	"strings"

	_ "github.com/gicits/gicits/backend/sim"
	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/replay"
)

// A guest maps device 0x10's event 0 to LPI 8192 on CPU 0 and sends the
// MSI; QEMU's table reads say where it went. The replay on the simulator
// agrees, inferring the SYNC's target on the way.
func ExampleRun() {
	const log = `gicv3_redist_write GICv3 redistributor 0x0 write: offset 0x0 data 0x1 size 4 secure 0
gicv3_its_cmd_mapc GICv3 ITS: command MAPC ICID 0x0 RDbase 0x0 V 1
gicv3_its_cte_write GICv3 ITS: Collection Table write for ICID 0x0: valid 1 RDBase 0x0
gicv3_its_cmd_mapd GICv3 ITS: command MAPD DeviceID 0x10 Size 0x0 ITT_addr 0x402000 V 1
gicv3_its_dte_write GICv3 ITS: Device Table write for DeviceID 0x10: valid 1 size 0x0 ITTaddr 0x402000
gicv3_its_cmd_mapti GICv3 ITS: command MAPTI DeviceID 0x10 EventID 0x0 ICID 0x0 pINTID 0x2000
gicv3_its_dte_read GICv3 ITS: Device Table read for DeviceID 0x10: valid 1 size 0x0 ITTaddr 0x40200000
gicv3_its_ite_write GICv3 ITS: Interrupt Table write for ITTaddr 0x40200000 EventID 0x0: valid 1 inttype 1 intid 0x2000 ICID 0x0 vPEID 0x0 doorbell 0x3ff
gicv3_its_cmd_sync GICv3 ITS: command SYNC
gicv3_its_translation_write GICv3 ITS TRANSLATER write: offset 0x40 data 0x0 size 4 requester_id 0x10
gicv3_its_dte_read GICv3 ITS: Device Table read for DeviceID 0x10: valid 1 size 0x0 ITTaddr 0x40200000
gicv3_its_ite_read GICv3 ITS: Interrupt Table read for ITTaddr 0x40200000 EventID 0x0: valid 1 inttype 1 intid 0x2000 ICID 0x0 vPEID 0x0 doorbell 0x3ff
gicv3_its_cte_read GICv3 ITS: Collection Table read for ICID 0x0: valid 1 RDBase 0x0
`
	tr, err := replay.Parse(strings.NewReader(log))
	if err != nil {
		panic(err)
	}
	b, err := model.Open("sim", replay.BackendConfig(tr))
	if err != nil {
		panic(err)
	}
	defer b.Close()
	rep, err := replay.Run(tr, b, replay.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Println(rep.OK(), rep.Commands, "commands,", rep.Translations, "MSI")
	for _, n := range rep.Notes {
		if n.Kind == replay.Inferred {
			fmt.Println(n.Kind, "at line", n.Line)
		}
	}
	// Output:
	// true 4 commands, 1 MSI
	// inferred at line 0
	// inferred at line 0
	// inferred at line 9
}

// Parse turns each line into a typed event, which prints back as QEMU
// printed it.
func ExampleParse() {
	tr, err := replay.Parse(strings.NewReader("1234@1700000000.000001:gicv3_its_cmd_mapd GICv3 ITS: command MAPD DeviceID 0x8 Size 0x1 ITT_addr 0x401234 V 1\n"))
	if err != nil {
		panic(err)
	}
	r := tr.Records[0]
	mapd := r.Event.(replay.CmdMAPD)
	fmt.Printf("line %d: %s: device %#x, ITT at %v\n", r.Line, r.Event.Name(), uint32(mapd.DeviceID), mapd.ITT())
	fmt.Println(replay.Message(r.Event))
	// Output:
	// line 1: gicv3_its_cmd_mapd: device 0x8, ITT at 0x40123400
	// GICv3 ITS: command MAPD DeviceID 0x8 Size 0x1 ITT_addr 0x401234 V 1
}

// A guest maps an event of device 0x10 to LPI 8192 and, without a DISCARD,
// maps it again to LPI 8193: QEMU overwrites the entry; KVM keeps the old.
func ExampleLint() {
	const log = `gicv3_its_cmd_mapc GICv3 ITS: command MAPC ICID 0x0 RDbase 0x0 V 1
gicv3_its_cmd_sync GICv3 ITS: command SYNC
gicv3_its_cmd_mapd GICv3 ITS: command MAPD DeviceID 0x10 Size 0x0 ITT_addr 0x402000 V 1
gicv3_its_cmd_mapti GICv3 ITS: command MAPTI DeviceID 0x10 EventID 0x0 ICID 0x0 pINTID 0x2000
gicv3_its_cmd_sync GICv3 ITS: command SYNC
gicv3_its_cmd_mapti GICv3 ITS: command MAPTI DeviceID 0x10 EventID 0x0 ICID 0x0 pINTID 0x2001
gicv3_its_cmd_sync GICv3 ITS: command SYNC
`
	tr, err := replay.Parse(strings.NewReader(log))
	if err != nil {
		panic(err)
	}
	for _, m := range replay.Lint(tr, nil) {
		fmt.Printf("line %d: %s (IHI 0069 %s): %s\n", m.Line, m.Rule.Name, m.Rule.Section, m.What)
	}
	// Output:
	// line 6: map-over-live-event (IHI 0069 6.3.13, 6.3.12): event 0 of device 0x10 is already mapped (to LPI 8192, at line 4) and was not DISCARDed
}
