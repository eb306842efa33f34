// Package script owns the .its scenario language of gicits: a plain-text
// way to drive one GICv3 ITS (or a GICv4.0 one, with vPEs) through the
// routing API of package model and to state what must come of it.
//
// It owns:
//
//   - the language: a lexer and parser ([Parse], [ParseFile]) turning a
//     script into a [Script], a list of typed statements ([Stmt]) that
//     carry their [Pos]; parse errors are [*Error]s of the form
//     "file:line:col: message" saying what was expected and what was
//     found. Every statement prints back ([Stmt.String]) in a form that
//     parses to the same statement, so generated streams and -v traces
//     can be pasted into a file;
//   - the runner ([Run]): it opens a backend by name through [model.Open],
//     executes the statements on it and checks the expectations;
//   - the result model ([Result], [Failure], [Skip], [Outcome]): what
//     passed, what failed with what was seen instead, what a backend could
//     not honour, and what every msi, trigger and ack observed.
//
// It depends on the standard library and package model only. It never
// imports a backend: backends are chosen by name, and programs and tests
// import the ones they want (tests blank-import backend/sim and
// backend/kvm). The differential-testing toolkit that generates random
// streams and compares two runs of them is not part of it: it lives in
// internal/difftest, which builds on [Run] and [Options.Observe].
//
// # The language
//
// One statement per line; '#' starts a comment; blank lines are ignored.
// Words are case-insensitive; fields are key=value with numbers in decimal
// or 0x hexadecimal. Settings come before the first action:
//
//	cpus 2
//	policy stall|continue          (stall: simulator only)
//	cache off|on                   (off: the simulator walks guest memory)
//	ram mib=64                     (guest RAM; above 64 MiB it is free for at= and itt=)
//	itt entrysize=8                (GITS_TYPER's ITT entry size, 8..16 bytes; QEMU's is 12, KVM's 8 only)
//	queue pages=1 [at=ADDR]        (command queue size in 4 KiB pages)
//	devtable flat|indirect [pagesize=4k|16k|64k] [pages=N] [l2=auto|manual] [at=ADDR]
//	colltable [pagesize=4k|16k|64k] [pages=N] [at=ADDR]
//	itses N                        (N ITSes sharing the redistributors, 1..16; model.Layout.ITSes)
//	gicv4 [version=4.0|4.1] [vmovp=0|1]
//	                               (a GICv4.0 ITS: GITS_TYPER.Virtual; with
//	                               version=4.1 a GICv4.1 one: VMAPP, VSGI; vmovp=0
//	                               clears GITS_TYPER.VMOVP; simulator only)
//	vpetable flat|indirect [pagesize=4k|16k|64k] [pages=N] [at=ADDR]
//	                               (GITS_BASER2, the vPE table; with gicv4)
//
// Actions:
//
//	lpi 8193[..8200] prio=0xa0 enabled|disabled
//	enablelpis cpu=N | enablelpis all
//	mapd dev= bits= [itt=] | mapd dev= valid=0
//	mapc icid= cpu=|rdbase= | mapc icid= valid=0
//	mapti dev= ev= lpi= icid=     mapi dev= ev= icid=
//	movi dev= ev= icid=           movall from=|rdbase1= to=|rdbase2=
//	discard|inv|int|clear dev= ev=
//	invall icid=                  sync cpu=|rdbase=
//	raw <64 hex digits>           (one command packet, bytes in memory order)
//	repeat N <action>
//	batch <command>; <command>; ... (one GITS_CWRITER write for them all)
//	l2page dev=                   (provide the L2 page of an indirect table)
//	msi dev= ev= [devid=auto|none|valid] [doorbell=]
//	route gsi= dev= ev= [devid=auto|none|valid]     trigger gsi=
//	unroute gsi=                  (remove the GSI's route)
//	ack cpu=    eoi cpu= [lpi=]   pmr cpu= value=
//	invlpir cpu= lpi=             invallr cpu=
//	write REGISTER [cpu=] value=  poke addr= value=
//	save        restore [inplace]
//	its N                         (the statements after it address ITS N)
//
// GICv4.0 actions (with the gicv4 setting), as a hypervisor drives vPEs:
//
//	vmapp vpe= cpu= vpt=ADDR [bits=16] | vmapp vpe= valid=0
//	vmapti dev= ev= vpe= vlpi= [db=N|none]
//	vmapi dev= ev= vpe= [db=N|none]
//	vmovi dev= ev= vpe= [db=N|none] (D=1 exactly when db= is given)
//	vmovp vpe= cpu= [seq=] [itslist=]
//	vsync vpe=                    vinvall vpe=
//	vlpi 8192[..8200] table=ADDR prio=0xa0 enabled|disabled
//	                              (bytes of a vLPI configuration table)
//	vschedule cpu= vpt=ADDR vprop=ADDR [bits=16] [idai]
//	vdeschedule cpu=              (GICR_VPENDBASER.Valid = 0)
//	vack cpu=   veoi cpu= [vlpi=]   vpmr cpu= value=
//
// GICv4.1 actions (with gicv4 version=4.1):
//
//	vmapp vpe= cpu= vpt=ADDR [bits=16] [vconf=ADDR] [db=N|none] [alloc] [ptz]
//	vmapp vpe= valid=0 [alloc]
//	vschedule cpu= vpe= [grp0] [grp1]   (GICR_VPENDBASER by vPEID; grp1 by default)
//	vdeschedule cpu= [db]         (db: GICR_VPENDBASER.Doorbell, the default doorbell)
//	vsgi vpe= sgi= [prio=] [group=] enable|disable|clear
//	sgir vpe= sgi=                (GITS_SGIR)
//	invdb vpe=                    (INVDB)
//	vinvlpir cpu= vpe= vlpi=      vinvallr cpu= vpe=   (GICR_INVLPIR/INVALLR, V = 1)
//
// The V* commands are ITS commands like the others: they go in batch and
// repeat, and db=none (the default) is Dbell_pINTID 1023, no doorbell.
// vmapp's bits= is the number of vINTID bits of the pending table
// (VPT_size + 1); its vpt= and vschedule's vpt= are 64 KiB aligned, a
// configuration table 4 KiB aligned. In a two-level vPE table the runner
// provides the level-2 page a vmapp needs, as for mapd. vschedule writes
// GICR_VPROPBASER, then GICR_VPENDBASER with Valid; vdeschedule writes
// GICR_VPENDBASER back with Valid clear. vack, veoi and vpmr use the
// virtual CPU interface of the vPE scheduled on the CPU; on a backend
// without vPEs they end the script as skipped.
//
// Expectations:
//
//	expect pending cpu= lpi=A[,B...]       (each is pending)
//	expect pending cpu= lpis=A[,B...]      (exactly these are pending)
//	expect notpending cpu= lpi=A[,B...]
//	expect idle cpu=                        (nothing pending)
//	expect ack cpu= lpi=N|spurious          (acknowledges)
//	expect msi delivered|blocked
//	expect error E_ITS_...                  (a command error; simulator)
//	expect fail [busy|invalid|notsupported|any]
//	expect reg REGISTER [cpu=] value= [mask=]
//	expect mem addr= value= [mask=]        (a doubleword of guest memory)
//	expect stalled | expect notstalled
//	expect dte dev= (invalid | [bits=] [itt=] [next=])
//	expect ite dev= ev= (invalid | [lpi=] [icid=] [next=])
//	expect cte icid= (absent | unmapped | cpu=N)
//	expect translate dev= ev= (lpi= cpu= | blocked)  (where an MSI would land)
//
// GICv4.0 expectations:
//
//	expect vpending cpu= vlpi=A[,B...]     (of the vPE scheduled on cpu)
//	expect vpending cpu= vlpis=A[,B...]    (exactly these)
//	expect vnotpending cpu= vlpi=A[,B...]
//	expect vidle cpu=
//	expect vack cpu= vlpi=N|spurious       (acknowledges, ICV_IAR1_EL1)
//	expect vpt at=ADDR vlpi=N pending|clear (bit N%8 of the byte at ADDR + N/8)
//	expect vte vpe= (invalid | [cpu=] [vpt=] [bits=])
//	expect ite dev= ev= (invalid | vpe= [vlpi=] [db=N|none] [next=])
//	expect vsgipending vpe= sgi=N,M...|none [cpu=]  (GICv4.1: GICR_VSGIR, then GICR_VSGIPENDR)
//
// expect vte walks the vPE table GITS_BASER2 points at, flat or
// two-level, after a save as expect dte does; an entry beyond the table
// or behind an invalid level-1 entry reads as invalid. On a virtual ITS
// expect ite reads the word after each ITE too ([model.DecodeVirtualITE]):
// an expectation with vpe= wants a virtual ITE, one with lpi= or icid= a
// physical ITE, and each fails on the other kind. On the kvm backend,
// which exposes a GICv3 ITS to guests, a script with gicv4 is skipped
// whole, the reason naming the setting.
//
// The model's own command strings ("MAPTI dev=0x10 ev=1 lpi=8193 icid=1",
// "MAPC icid=1 rdbase=1", "MOVALL rdbase1=0 rdbase2=1") are statements of
// the language as they are.
package script
